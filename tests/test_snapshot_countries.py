"""The compiled snapshot carries the parsed country tables (issue 10): a check that loads it answers from
them exactly as from the files, a damaged state is never used, and the tables' files are part of its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecscreen.domain import countries as C
from ecscreen.engine import snapshot
from ecscreen.engine.snapshot import load_registry_snapshot

NAMES = ["CN", "China", "DE", "Deutschland", "UA-43", "Crimea", "Korea", "XK", "Hong Kong", "USA", "ir", "Burma"]


def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget every parsed table (as a new process starts)."""
    monkeypatch.setattr(C, "_SEEDED", {})
    for f in (C._data, C._tables, C._ambiguous, C._iso_rows, C._iso_index, C._party_country_groups, C.resolve):
        f.cache_clear()


def _answers() -> list[Any]:
    return ([C.resolve(n) for n in NAMES] + [C.ambiguous(n) for n in NAMES]
            + [sorted(C.party_country_codes(c)) for c in ("CN", "HK", "RU", "US")]
            + [(c.alpha_2, c.alpha_3, c.name, c.common_name) for c in C.iso_countries()])


def test_seeded_tables_answer_as_the_files(monkeypatch: pytest.MonkeyPatch) -> None:
    _fresh(monkeypatch)
    from_files = _answers()
    state = C.tables_state()
    _fresh(monkeypatch)
    assert C.seed_tables(state)
    assert _answers() == from_files
    assert C._SEEDED  # the answers came from the seeded tables


def test_snapshot_seeds_the_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    load_registry_snapshot(cache_dir=cache)  # written
    _fresh(monkeypatch)
    load_registry_snapshot(cache_dir=cache)  # read: seeds
    assert set(C._SEEDED) == {"data", "groups", "iso_rows"}
    seeded = _answers()
    _fresh(monkeypatch)
    assert _answers() == seeded


@pytest.mark.parametrize("damage", [None, {"data": {}}, {"data": {}, "groups": (frozenset({"CN"}),), "iso_rows": [("CN",)]},
                                    {"data": {}, "groups": ["CN"], "iso_rows": None}])
def test_damaged_state_is_not_used(monkeypatch: pytest.MonkeyPatch, damage: Any) -> None:
    _fresh(monkeypatch)
    assert not C.seed_tables(damage)
    assert not C._SEEDED


def test_tables_read_first_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    _fresh(monkeypatch)
    state = C.tables_state()  # reads the files
    assert not C.seed_tables(state)


def test_table_files_are_part_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot._code_fingerprint.__wrapped__()
    monkeypatch.setattr(snapshot, "TABLE_FILES", (C.TABLE_FILES[0], "resources/no-such-table.yaml"))
    assert snapshot._code_fingerprint.__wrapped__() != before
