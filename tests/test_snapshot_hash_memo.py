"""The compiled snapshot's key reads pack hashes from a stat-keyed memo (issue 10): the same digest as hashing
every pack, a changed pack always re-hashed, a foreign, damaged or racy memo never trusted."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ecscreen import settings
from ecscreen.engine.snapshot import HASH_MEMO, registry_digest

PACK = """\
kind: rules
pack: {id: memo-pack, version: "1", jurisdiction: TEST, title: Memo test}
rules: []
"""


def _old_pack(tmp_path: Path, text: str = PACK) -> Path:
    """A user pack last changed well before RACY_SECONDS (its times set back; the change time stays now, so
    the memo is written only once the racy window has passed: see _settle)."""
    d = tmp_path / "packs"
    d.mkdir(exist_ok=True)
    f = d / "memo.yaml"
    f.write_text(text, encoding="utf-8")
    return d


def _settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the files were hashed RACY_SECONDS after their last change (no sleeping in tests)."""
    monkeypatch.setattr(settings, "RACY_SECONDS", 0.0)


def test_memo_gives_the_same_digest_and_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _settle(monkeypatch)
    packs = _old_pack(tmp_path)
    cache = tmp_path / "cache"
    plain = registry_digest([packs], True)
    assert registry_digest([packs], True, cache_dir=cache) == plain
    memo = json.loads((cache / HASH_MEMO).read_text())
    assert str((packs / "memo.yaml").resolve()) in memo["files"]
    reads: list[Path] = []
    real = Path.read_bytes

    def counting(self: Path) -> bytes:
        reads.append(self)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    assert registry_digest([packs], True, cache_dir=cache) == plain
    assert reads == []  # every hash came from the memo


def test_changed_pack_is_hashed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _settle(monkeypatch)
    packs = _old_pack(tmp_path)
    cache = tmp_path / "cache"
    d1 = registry_digest([packs], True, cache_dir=cache)
    f = packs / "memo.yaml"
    st = f.stat()
    time.sleep(0.05)  # past the coarse clock's tick: the rewrite gets a later change time (as any later edit does)
    f.write_text(PACK.replace('version: "1"', 'version: "2"'), encoding="utf-8")  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # even with the modification time put back
    d2 = registry_digest([packs], True, cache_dir=cache)
    assert d2 != d1
    assert d2 == registry_digest([packs], True)


def test_racy_file_is_not_memoised(tmp_path: Path) -> None:
    packs = _old_pack(tmp_path)  # just written: within RACY_SECONDS of now
    cache = tmp_path / "cache"
    registry_digest([packs], True, cache_dir=cache)
    memo = json.loads((cache / HASH_MEMO).read_text())
    assert str((packs / "memo.yaml").resolve()) not in memo["files"]


@pytest.mark.parametrize("damage", ["foreign", "garbage"])
def test_untrusted_or_damaged_memo_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    _settle(monkeypatch)
    packs = _old_pack(tmp_path)
    cache = tmp_path / "cache"
    plain = registry_digest([packs], True)
    registry_digest([packs], True, cache_dir=cache)
    memo_file = cache / HASH_MEMO
    data = json.loads(memo_file.read_text())
    key = str((packs / "memo.yaml").resolve())
    data["files"][key][4] = "00" * 32  # a wrong hash for the file as it is
    memo_file.write_text(json.dumps(data))
    if damage == "foreign":
        memo_file.chmod(0o666)  # writable by others: never read
    elif damage == "garbage":
        memo_file.write_text("{not json")
    assert registry_digest([packs], True, cache_dir=cache) == plain

