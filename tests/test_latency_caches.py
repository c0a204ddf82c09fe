"""The start-up caches of a one-shipment ``check`` (issue 10 item 5): entries decoded on first use, index parts
read per key, the background frequencies not copied into every index file. Results stay identical; a bad
cache file is ignored."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from ecscreen.parties import matching as M
from ecscreen.parties import store as L
from ecscreen.parties.indexcache import LazyDict, pack_dict, unpack_dict
from ecscreen.parties.lazyentries import ConcatEntries, LazyEntries, encode_rows, name_count
from ecscreen.parties.matching import ListEntry, Matcher

QUERIES = ["Huawei Technologies Co., Ltd.", "华为", "SMIC", "Hi Silicon Tech Co Ltd", "Rosoboronexport",
           "Muhamad Ahmed", "Beihang University", "Acme Widgets Inc", "Kunlun Bank", "Karamay Comercial Bank"]


def _dump(entries: object) -> list[tuple[dict[str, object], set[str]]]:
    return [(e.model_dump(), set(e.model_fields_set)) for e in entries]  # type: ignore[attr-defined]


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.delenv("ECSCREEN_NO_CACHE", raising=False)
    L._load_default.cache_clear()
    yield d
    L._load_default.cache_clear()


def test_warm_embedded_list_decodes_no_entry_until_read(cache_dir: Path) -> None:
    """Regression: the decoded-list cache unpickled all 26,000 entries (pydantic models) on every run (~0.13 s
    of a one-shipment check); it now holds plain rows and an entry is made when first read, equal to the
    entry decoded from the stored JSON in every field and in its fields set."""
    cold = L.load_default(cache_dir)
    assert list(cache_dir.glob("list-*.bin")), "the decoded list was cached"
    L._load_default.cache_clear()
    warm = L.load_default(cache_dir)
    assert isinstance(warm.entries, LazyEntries) and isinstance(cold.entries, LazyEntries)
    assert warm.entries.content_key == cold.entries.content_key  # the party index cache is keyed by it
    assert warm.entries.decodes == 0, "nothing decoded by the load itself"
    one = warm.entries[123]
    assert warm.entries.decodes == 1
    assert warm.entries[123] is one  # decoded once, kept
    assert _dump(warm.entries) == _dump(cold.entries)
    assert warm.info == cold.info and warm.format == cold.format
    assert name_count(warm.entries) == sum(1 + len(e.aliases) for e in cold.entries)


def test_damaged_decoded_list_cache_is_ignored(cache_dir: Path) -> None:
    cold = L.load_default(cache_dir)
    (path,) = cache_dir.glob("list-*.bin")
    digest = path.name[len("list-"):-len(".bin")]
    state = M.read_cache_file(path, digest)
    assert state is not None
    # another layout of the rows (fields in another order): not used, the stored JSON is decoded again
    M.write_cache_file(path, digest, state | {"fields": tuple(reversed(state["fields"]))})
    L._load_default.cache_clear()
    again = L.load_default(cache_dir)
    assert _dump(again.entries[:50]) == _dump(cold.entries[:50])
    assert M.read_cache_file(path, digest)["fields"] == state["fields"]  # rewritten in the right layout
    # offsets that do not fit the rows
    M.write_cache_file(path, digest, state | {"row_offsets": state["row_offsets"][:-8]})
    L._load_default.cache_clear()
    assert _dump(L.load_default(cache_dir).entries[:50]) == _dump(cold.entries[:50])


@pytest.fixture(scope="module")
def some_entries() -> list[ListEntry]:
    L._load_default.cache_clear()
    sl = L.load_default(None)
    L._load_default.cache_clear()
    return list(sl.entries[:1500]) + [e for e in sl.entries if any("华" in a for a in (e.name, *e.aliases))][:5]


def test_lazy_entries_index_identical_and_reads_only_hits(some_entries: list[ListEntry], tmp_path: Path) -> None:
    """A Matcher over lazily decoded entries loads its cached index without reading an entry, and gives the
    results of a Matcher over the plain entries."""
    plain = Matcher(some_entries, cache_key=None)
    rows = encode_rows(some_entries)
    assert rows is not None
    cold = Matcher(ConcatEntries([LazyEntries(rows, "k1")]), cache_key="lists:test", cache_dir=tmp_path)
    assert cold.cache_status == "saved"
    lazy = LazyEntries(rows, "k1")
    warm = Matcher(ConcatEntries([lazy]), cache_key="lists:test", cache_dir=tmp_path)
    assert warm.cache_status == "loaded"
    assert lazy.decodes == 0
    for q in QUERIES:
        got = [h.model_dump() for h in warm.search(q, threshold=60, limit=None)]
        assert got == [h.model_dump() for h in plain.search(q, threshold=60, limit=None)], q
    assert 0 < lazy.decodes < len(lazy) // 10  # only the entries hit were made


def test_names_list_index_files_do_not_copy_background(tmp_path: Path) -> None:
    """Regression: every names-list index file (one per rule pack names list with Han-script names) carried
    its own copy of the 0.5 MB background frequencies; they are taken from the package on load."""
    entries = [ListEntry(id=f"n{i}", source="names", source_code="custom", name=n)
               for i, n in enumerate(["华为技术有限公司", "中芯国际", "Sugon", "Inspur Group"])]
    cold = Matcher(entries, cache_key="names-list:test", cache_dir=tmp_path)
    assert cold.cache_status == "saved" and cold.cache_file is not None
    assert cold.cache_file.stat().st_size < 100_000
    digest = cold.cache_file.name[len("index-"):-len(".bin")]
    state = M.read_cache_file(cold.cache_file, digest)
    assert state is not None and state["_bg_df"] is None and state["bg_shared"] is True
    warm = Matcher(entries, cache_key="names-list:test", cache_dir=tmp_path)
    assert warm.cache_status == "loaded" and warm._bg_df is M.background_df()[1]
    for q in ["华为", "Sugon Information", "Huawei Technologies", "Inspur"]:
        assert [h.model_dump() for h in warm.search(q, threshold=50)] == [
            h.model_dump() for h in cold.search(q, threshold=50)], q


def test_lazy_dict_behaves_like_the_dict() -> None:
    d = {"bnk": (["bank", "banco"], [0, 7]), "krm": (["karim"], [3]), ("ba", 4): (["bank"], [0]), "e": []}
    packed = pack_dict(d)
    assert packed is not None
    lazy = unpack_dict(packed)
    assert isinstance(lazy, LazyDict) and len(lazy) == 4 and list(lazy) == list(d)
    assert lazy.get("bnk") == d["bnk"] and lazy.get("zzz") is None and lazy.get("zzz", ()) == ()
    assert lazy[("ba", 4)] == d[("ba", 4)] and "krm" in lazy and "zzz" not in lazy
    with pytest.raises(KeyError):
        lazy["zzz"]
    assert lazy.get("bnk") is lazy.get("bnk")  # decoded once
    assert list(lazy.items()) == list(d.items()) and lazy == d
    assert pickle.loads(pickle.dumps(unpack_dict(packed))) == d
    assert pack_dict({"x": object()}) is None  # not plain data: stored as it is
    with pytest.raises(ValueError):
        unpack_dict(("packed-dict-1", packed[1], packed[2][:-8], packed[3]))


def test_damaged_packed_index_part_rebuilds(some_entries: list[ListEntry], tmp_path: Path) -> None:
    entries = some_entries[:1200]
    cold = Matcher(entries, cache_key="lists:dmg", cache_dir=tmp_path)
    assert cold.cache_file is not None
    digest = cold.cache_file.name[len("index-"):-len(".bin")]
    state = M.read_cache_file(cold.cache_file, digest)
    assert state is not None and type(state["_jw_buckets"]) is tuple  # stored packed
    kind, keys, offs, vals, table = state["_jw_buckets"]
    M.write_cache_file(cold.cache_file, digest, state | {"_jw_buckets": (kind, keys, offs[:-8], vals, table)})
    again = Matcher(entries, cache_key="lists:dmg", cache_dir=tmp_path)
    assert again.cache_status == "saved"  # ignored and rebuilt
    for q in QUERIES:
        assert [h.model_dump() for h in again.search(q, threshold=60)] == [
            h.model_dump() for h in cold.search(q, threshold=60)], q
