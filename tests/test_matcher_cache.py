"""The on-disk index cache: a loaded index gives byte-identical results; bad files are ignored and rebuilt."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ecscreen.cli.lists import app
from ecscreen.parties import matching as M
from ecscreen.parties import store as L
from ecscreen.parties.matching import ListEntry, Matcher, ScoreConfig, index_cache_dir
from ecscreen.parties.store import load_default, matcher_cache_status, matcher_for, read_list

FIX = Path(__file__).parent / "fixtures" / "lists"

QUERIES = [
    "Huawei Technologies Co., Ltd.",
    "华为技术有限公司",
    "华为",
    "SMIC",
    "Semiconductor Manufacturing International Corporation",
    "Hisilicon Technologies",
    "Hi Silicon Tech Co Ltd",
    "OAO Gazprom",
    "Rosoboronexport",
    "Mohammed Al Ahmad",
    "Muhamad Ahmed",
    "Vladimir Putin",
    "Electronics Trading Group",
    "Moskovskiy Institut Teplotekhniki",
    "Beijing University of Aeronautics and Astronautics",
    "Beihang University",
    "Iran Aircraft Manufacturing Industries",
    "Sberbank",
    "ZTE",
    "Тегеран",
    "Московский институт",
    "Acme Widgets Inc",
    "",
]


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache directory (never the user's), caching enabled for small lists too."""
    d = tmp_path / "cache"
    monkeypatch.setenv("ECSCREEN_CACHE_DIR", str(d))
    monkeypatch.delenv("ECSCREEN_NO_CACHE", raising=False)
    monkeypatch.setattr(M, "CACHE_MIN_NAMES", 0)
    return d


@pytest.fixture(scope="module")
def csl_entries() -> list[ListEntry]:
    return load_default().entries


@pytest.fixture(scope="module")
def sample(csl_entries: list[ListEntry]) -> list[ListEntry]:
    """Every 8th CSL entry plus every entry with a non-ASCII name (Chinese, Cyrillic ...): ~3,500 entries."""
    return [e for i, e in enumerate(csl_entries) if i % 8 == 0 or not all(a.isascii() for a in [e.name, *e.aliases])]


def _queries(entries: list[ListEntry]) -> list[str]:
    """The fixed queries plus listed names as given, with a typo, and with the words reversed."""
    out = list(QUERIES)
    for e in entries[::97]:
        out.append(e.name)
        out.append(e.name[:-2] + e.name[-1:] if len(e.name) > 6 else e.name)
        out.append(" ".join(reversed(e.name.split())))
        out.extend(e.aliases[:1])
    return out


def _results(m: Matcher, names: list[str]) -> str:
    """Search results as JSON text: byte-for-byte comparable."""
    hits = m.search_many(names, ["CN" if i % 3 == 0 else None for i in range(len(names))], threshold=70, limit=None)
    raw = m.match_raw(names[:40], threshold=60, exhaustive=True)
    pairs = [m.compare(a, b) for a, b in zip(names[:60], names[1:61], strict=False)]
    return json.dumps(
        {
            "hits": [[h.model_dump(mode="json") for h in hl] for hl in hits],
            "raw": raw,
            "pairs": pairs,
            "stats": m.stats(),
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def _state_equal(a: Matcher, b: Matcher) -> None:
    sa, sb = a._export_state("x"), b._export_state("x")
    assert sa.keys() == sb.keys()
    for k, v in sa.items():
        if isinstance(v, np.ndarray):
            assert v.dtype == sb[k].dtype and np.array_equal(v, sb[k]), k
        elif isinstance(v, dict) and any(isinstance(x, np.ndarray) for x in v.values()):  # frozen postings
            assert v.keys() == sb[k].keys(), k
            for kk, x in v.items():
                assert (np.array_equal(x, sb[k][kk]) if isinstance(x, np.ndarray) else x == sb[k][kk]), (k, kk)
        else:
            assert v == sb[k], k
    assert a.vocab == b.vocab
    for name in ("idf_list", "_vbit", "_vocab_len", "_p_len_list", "_df_list"):  # lists, or views over the cache
        assert list(getattr(a, name)) == list(getattr(b, name)), name
    assert list(a.vocab) == list(b.vocab)
    assert list(a.alias_norm) == list(b.alias_norm)


def _cache_files(d: Path) -> list[Path]:
    return sorted(d.glob("index-*.bin"))


# --------------------------------------------------------------------------- identical results


def test_cold_then_warm_identical(cache_dir: Path, sample: list[ListEntry]) -> None:
    names = _queries(sample)
    plain = Matcher(sample)
    assert plain.cache_status == "off"
    cold = Matcher(sample, cache_key="k1")
    assert cold.cache_status == "saved" and cold.cache_file is not None and cold.cache_file.parent == cache_dir
    assert _cache_files(cache_dir) == [cold.cache_file]
    warm = Matcher(sample, cache_key="k1")
    assert warm.cache_status == "loaded" and warm.cache_file == cold.cache_file
    _state_equal(cold, warm)
    _state_equal(plain, warm)
    expected = _results(plain, names)
    assert '"hits": [[' in expected and "华为" in expected  # the queries do hit (Chinese aliases included)
    assert _results(cold, names) == expected
    assert _results(warm, names) == expected
    # a second warm load, queried in another order first, still agrees
    again = Matcher(sample, cache_key="k1")
    again.search_many(list(reversed(names)))
    assert _results(again, names) == expected


def test_full_csl_through_matcher_for(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(M, "CACHE_MIN_NAMES", 1000)  # the real setting
    lists = [load_default(), read_list(FIX / "own_parties.yaml")]
    assert matcher_cache_status(lists)["state"] == "cold"
    L._MATCHERS.clear()
    try:
        cold = matcher_for(lists)
        assert cold.cache_status == "saved"
        assert matcher_cache_status(lists)["state"] == "warm"
        L._MATCHERS.clear()
        warm = matcher_for(lists)
        assert warm.cache_status == "loaded" and warm is not cold
    finally:
        L._MATCHERS.clear()
    names = _queries(lists[0].entries[::5]) + _queries(lists[1].entries)
    assert _results(warm, names) == _results(cold, names)
    # small lists are cached too, under their own kind of file (issue 10: building one imports numpy, ~41 ms;
    # Han-script names import the romanisation tables, ~0.4 s): a names-list file, Latin script or not
    assert any(M._HAN_TEXT.search(t) for e in lists[1].entries for t in (e.name, *e.aliases))
    assert matcher_cache_status([lists[1]])["state"] == "cold"
    latin = [e for e in lists[1].entries if not any(M._HAN_TEXT.search(t) for t in (e.name, *e.aliases))]
    assert latin and M.index_cache_status(latin, cache_key="k")["state"] == "cold"
    small = Matcher(latin, cache_key="k")
    assert small.cache_status == "saved" and small.cache_file is not None
    assert small.cache_file.name.startswith("names-")


def test_small_han_names_list_loaded_without_romanisation(cache_dir: Path) -> None:
    """A names list with Han-script names is cached; loaded from the cache, reporting normalises its
    names from the index (the same NormalizedName) instead of romanising them again."""
    entries = [ListEntry(id="h1", source="t", source_code="custom", name="华为技术有限公司"),
               ListEntry(id="h2", source="t", source_code="custom", name="Acme Trading", aliases=["中兴通讯"])]
    cold = Matcher(entries, cache_key="names-list:t")
    assert cold.cache_status == "saved"
    warm = Matcher(entries, cache_key="names-list:t")
    assert warm.cache_status == "loaded"
    for text in ("华为技术有限公司", "中兴通讯", "Acme Trading"):
        assert warm.normalized(text) == cold.normalized(text) == M.normalize(text)
    assert "华为技术有限公司" in warm._han_texts


# --------------------------------------------------------------------------- misses


def test_other_key_entries_or_config_miss(cache_dir: Path, sample: list[ListEntry]) -> None:
    first = Matcher(sample, cache_key="lists:aaa")
    assert first.cache_status == "saved"
    other_key = Matcher(sample, cache_key="lists:bbb")  # another list hash
    assert other_key.cache_status == "saved" and other_key.cache_file != first.cache_file
    assert Matcher(sample, cache_key="lists:aaa").cache_status == "loaded"
    fewer = Matcher(sample[:-1], cache_key="lists:aaa")  # same key, other names
    assert fewer.cache_status == "saved" and fewer.cache_file != first.cache_file
    renamed = [*sample[:-1], sample[-1].model_copy(update={"name": sample[-1].name + " X"})]
    assert Matcher(renamed, cache_key="lists:aaa").cache_status == "saved"
    stricter = Matcher(sample, ScoreConfig(threshold=85.0), cache_key="lists:aaa")
    assert stricter.cache_status == "saved" and stricter.cache_file != first.cache_file
    no_bg = Matcher(sample, background=False, cache_key="lists:aaa")
    assert no_bg.cache_status == "saved" and no_bg.cache_file != first.cache_file
    # six files written (fewer than CACHE_KEEP: all stay; pruning is tested below)
    assert len(_cache_files(cache_dir)) == min(6, M.CACHE_KEEP)


def test_list_hash_change_misses_in_matcher_for(cache_dir: Path) -> None:
    own = read_list(FIX / "own_parties.yaml")
    L._MATCHERS.clear()
    try:
        assert matcher_for([own]).cache_status == "saved"
        L._MATCHERS.clear()
        assert matcher_for([own]).cache_status == "loaded"
        L._MATCHERS.clear()
        changed = L.ScreeningList(info=own.info.model_copy(update={"sha256": "0" * 64}), entries=own.entries)
        assert matcher_for([changed]).cache_status == "saved"
    finally:
        L._MATCHERS.clear()
    assert len(_cache_files(cache_dir)) == 2


# --------------------------------------------------------------------------- bad files are ignored


def _corruptions(path: Path) -> dict[str, bytes]:
    data = path.read_bytes()
    mid = len(data) // 2
    header = M._CACHE_HEADER.size
    other_version = bytearray(data)
    other_version[15] ^= 0xFF  # last byte of the magic: the format version
    other_digest = bytearray(data)
    other_digest[16] ^= 0x01
    flipped = bytearray(data)
    flipped[mid] ^= 0x55
    flipped_last = bytearray(data)
    flipped_last[-2] ^= 0x01  # one bit near the end (the STOP opcode is the last byte)
    swapped = bytearray(data)  # two 4 KB blocks of the payload swapped: same size, same bytes, other order
    a, b = header + 4096, header + 3 * 4096
    swapped[a:a + 4096], swapped[b:b + 4096] = data[b:b + 4096], data[a:a + 4096]
    # a valid header and checksum around a payload that is not an index
    import pickle

    junk = pickle.dumps({"digest": "nope"}, protocol=5)
    magic, digest, _, _ = M._CACHE_HEADER.unpack(data[:header])
    wrong_state = M._CACHE_HEADER.pack(magic, digest, len(junk), M.payload_checksum(junk)) + junk
    # right digest inside, but the content does not fit the entries
    state = M.load_payload(memoryview(data[header:]))  # arrays and packed tables out of band (issue 10)
    state["n_alias"] = int(state["n_alias"]) + 1
    bad = M.dump_payload(state)
    inconsistent = M._CACHE_HEADER.pack(magic, digest, len(bad), M.payload_checksum(bad)) + bad
    return {
        "empty": b"",
        "garbage": os.urandom(4096),
        "header only": data[:header],
        "truncated": data[:mid],
        "one byte short": data[:-1],
        "extra byte": data + b"\0",
        "flipped payload byte": bytes(flipped),
        "flipped bit near the end": bytes(flipped_last),
        "swapped blocks": bytes(swapped),
        "other format version": bytes(other_version),
        "other digest": bytes(other_digest),
        "wrong length": data[:32] + struct.pack("<Q", 7) + data[40:],
        "not an index": wrong_state,
        "inconsistent": inconsistent,
    }


def test_corrupt_cache_files_are_ignored(cache_dir: Path, sample: list[ListEntry]) -> None:
    entries = sample[:1500]
    names = _queries(entries)
    ref = Matcher(entries, cache_key="k")
    assert ref.cache_status == "saved" and ref.cache_file is not None
    path = ref.cache_file
    good = path.read_bytes()
    expected = _results(ref, names)
    for label, content in _corruptions(path).items():
        path.write_bytes(content)
        # the status reads the header only: damage behind a sound header shows when the file is loaded
        damaged = label in ("flipped payload byte", "flipped bit near the end", "swapped blocks")
        header_ok = damaged or label in ("not an index", "inconsistent")
        assert matcher_cache_status_of(entries) == ("warm" if header_ok else "invalid"), label
        if damaged:  # the payload checksum (CRC-32) is what rejects it, before anything is unpickled
            size = M._CACHE_HEADER.size
            assert len(content) > size + 4 * 4096, label
            assert M.payload_checksum(content[size:]) != M._CACHE_HEADER.unpack(content[:size])[3], label
            assert M.read_cache_file(path, ref.cache_file.name[len("index-"):-len(".bin")]) is None, label
        m = Matcher(entries, cache_key="k")
        assert m.cache_status == "saved", label  # ignored, rebuilt and saved again
        assert path.read_bytes() == good, label
        assert _results(m, names) == expected, label
    assert Matcher(entries, cache_key="k").cache_status == "loaded"


def matcher_cache_status_of(entries: list[ListEntry]) -> str:
    return str(M.index_cache_status(entries, cache_key="k")["state"])


def test_unwritable_or_foreign_cache(
    cache_dir: Path, tmp_path: Path, sample: list[ListEntry], monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = sample[:800]
    names = _queries(entries)
    expected = _results(Matcher(entries), names)
    # the cache "directory" is a file: nothing can be written, screening goes on
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("ECSCREEN_CACHE_DIR", str(blocker / "cache"))
    assert M.index_cache_status(entries, cache_key="k")["state"] == "unwritable"
    m = Matcher(entries, cache_key="k")
    assert m.cache_status == "not saved"
    assert _results(m, names) == expected
    # a file others may write is not trusted
    monkeypatch.setenv("ECSCREEN_CACHE_DIR", str(cache_dir))
    saved = Matcher(entries, cache_key="k")
    assert saved.cache_status == "saved" and saved.cache_file is not None
    os.chmod(saved.cache_file, 0o666)
    assert M.index_cache_status(entries, cache_key="k")["state"] == "invalid"
    again = Matcher(entries, cache_key="k")
    assert again.cache_status == "saved" and _results(again, names) == expected
    assert not (os.stat(saved.cache_file).st_mode & 0o022)
    assert Matcher(entries, cache_key="k").cache_status == "loaded"
    assert not list(cache_dir.glob("*.tmp"))  # temporary files never stay behind


def test_no_cache_env_and_locations(
    cache_dir: Path, tmp_path: Path, sample: list[ListEntry], monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = sample[:300]
    monkeypatch.setenv("ECSCREEN_NO_CACHE", "1")
    assert index_cache_dir() is None
    m = Matcher(entries, cache_key="k")
    assert m.cache_status == "off" and not cache_dir.exists()
    assert M.index_cache_status(entries, cache_key="k")["state"] == "disabled"
    monkeypatch.setenv("ECSCREEN_NO_CACHE", "0")
    assert index_cache_dir() == cache_dir
    monkeypatch.delenv("ECSCREEN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert index_cache_dir() == tmp_path / "xdg" / "ecscreen"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert index_cache_dir() == tmp_path / "home" / ".cache" / "ecscreen"


def test_old_index_files_are_pruned(cache_dir: Path, sample: list[ListEntry]) -> None:
    entries = sample[:200]
    for i in range(M.CACHE_KEEP + 2):
        assert Matcher(entries, cache_key=f"k{i}").cache_status == "saved"
    assert len(_cache_files(cache_dir)) == M.CACHE_KEEP


def test_lists_status_shows_cache(cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECSCREEN_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    res = runner.invoke(app, ["status", "--json"])
    assert res.exit_code == 0, res.output
    cache = json.loads(res.output)["index_cache"]
    assert cache["state"] == "cold" and cache["dir"] == str(cache_dir)
    res = runner.invoke(app, ["status"])
    assert "index cache: cold" in res.output
    monkeypatch.setenv("ECSCREEN_NO_CACHE", "yes")
    assert "index cache: disabled" in runner.invoke(app, ["status"]).output


# --------------------------------------------------------------------------- decoded-list cache


def test_stored_list_decode_cache(cache_dir: Path, csl_entries: list[ListEntry]) -> None:
    from importlib import resources

    raw = resources.files("ecscreen").joinpath("data", L.DEFAULT_LIST_FILE).read_bytes()
    cold = L._decode_store(raw, "x.json.gz")
    files = sorted(cache_dir.glob("list-*.bin"))
    assert len(files) == 1
    warm = L._decode_store(raw, "y.json.gz")
    assert warm.path == "y.json.gz" and warm.format == cold.format
    # load_default() adds the snapshot label (origin, limits) to the decoded info
    assert warm.info == cold.info == load_default().info.model_copy(update={"origin": None, "limits": []})
    # (load_default keys its own cache file by the embedded file's state: store._settled_stamp)
    known = set(cache_dir.glob("list-*.bin"))
    assert warm.entries == cold.entries == csl_entries
    assert [e.model_fields_set for e in warm.entries] == [e.model_fields_set for e in cold.entries]
    assert [e.model_dump_json() for e in warm.entries] == [e.model_dump_json() for e in csl_entries]
    assert L._digest(warm.entries) == L._digest(cold.entries)
    # damaged files are ignored (and replaced)
    good = files[0].read_bytes()
    for bad in (good[: len(good) // 3], good[:-5] + b"xxxxx", b""):
        files[0].write_bytes(bad)
        again = L._decode_store(raw, "z.json.gz")
        assert again.entries == csl_entries and files[0].read_bytes() == good
    # another file, another key; small files are not cached
    # (stored lists are verified against their recorded count and sha256: record the true ones)
    fewer = cold.info.model_copy(update={"entries": len(cold.entries) - 1, "sha256": L._digest(cold.entries[:-1])})
    other = L._to_store(L.ScreeningList(info=fewer, entries=cold.entries[:-1], format="stored"))
    assert L._decode_store(other, "o.json.gz").entries == cold.entries[:-1]
    ten = cold.info.model_copy(update={"entries": 10, "sha256": L._digest(cold.entries[:10])})
    small = L._to_store(L.ScreeningList(info=ten, entries=cold.entries[:10], format="stored"))
    L._decode_store(small, "s.json.gz")
    assert len(set(cache_dir.glob("list-*.bin")) - known) == 1  # the other list's file; none for the small one
