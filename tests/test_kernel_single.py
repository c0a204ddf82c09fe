"""The plain-Python single-query kernel (ecscreen.parties.kernel_single) equals the numpy kernel (issue 10).

A one-shipment ``check`` screens a few names; it no longer imports numpy (~41 ms) for them: the party index
cache stores its arrays flat (:class:`~ecscreen.parties.indexcache.FlatArray`) and a few queries are screened
by :mod:`ecscreen.parties.kernel_single`. These tests hold that path to the numpy kernel on real names:

* the raw hits (alias, name score to the bit, acronym flag, in order) of every name of
  ``fixtures/matching/kernel_names.csv`` (2,000 real company names and yente negatives), the 400 pinned names
  and 600 list aliases with a seeded typo, one name at a time and in chunks of eight names of different
  lengths (the numpy kernel pads the weight rows of a chunk);
* the full search results (every hit with its explanation and features);
* numpy's pairwise sum, the deletion-index look-up by bisection, the FlatArray round trip;
* a warm ``ecscreen check`` with two parties imports no numpy (this failed before: matching.py imported it).
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ecscreen.parties import kernel_single as K
from ecscreen.parties import matching as M
from ecscreen.parties.indexcache import FlatArray
from ecscreen.parties.matching import Matcher, PartyHit

FIX = Path(__file__).parent / "fixtures" / "matching"
ROOT = Path(__file__).resolve().parents[1]


def _names(alias_text: Any) -> list[str]:
    with (FIX / "kernel_names.csv").open(encoding="utf-8", newline="") as fh:
        names = [r["name"] for r in csv.DictReader(fh)]
    with (FIX / "real_names.csv").open(encoding="utf-8", newline="") as fh:
        names += [r["name"] for r in csv.DictReader(fh)]
    rng = random.Random(24)
    for k in rng.sample(range(len(alias_text)), 600):  # listed names with one typo (two letters swapped)
        t = alias_text[k]
        i = rng.randrange(max(len(t) - 1, 1))
        names.append(t[:i] + t[i + 1:i + 2] + t[i:i + 1] + t[i + 2:])
    return names


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Matcher, Matcher]:
    """(a CSL index loaded from its cache file, as a check loads it: flat arrays; the same index with numpy
    arrays, as the bulk kernel reads it)."""
    from ecscreen.parties.store import load_default

    entries = load_default().entries
    cache = tmp_path_factory.mktemp("kernel-cache")
    built = Matcher(entries, cache_key="kernel-test", cache_dir=cache)
    assert built.cache_status == "saved"
    flat = Matcher(entries, cache_key="kernel-test", cache_dir=cache)
    twin = Matcher(entries, cache_key="kernel-test", cache_dir=cache)
    assert flat.cache_status == twin.cache_status == "loaded"
    assert isinstance(flat.a_tok, FlatArray) and isinstance(flat.a_sig, FlatArray)
    twin._numpy_arrays()
    twin._del_index._to_numpy()
    assert isinstance(twin.a_tok, np.ndarray)
    return flat, twin


def _raw(hits: list[Any]) -> list[tuple[int, float, bool]]:
    return [(h.alias, h.name_score, h.acronym) for h in hits]


def _queries(m: Matcher, names: list[str]) -> list[Any]:
    queries = [m._prepare(n) for n in names]
    for q in list(queries):
        queries.extend(alt for _, alt in m._readings(q))
    return queries


@pytest.mark.parametrize("threshold", [80.0, 60.0])
def test_single_kernel_raw_hits_equal_the_numpy_kernel(pair: tuple[Matcher, Matcher], threshold: float) -> None:
    flat, twin = pair
    names = _names(flat.alias_text)
    assert len(names) >= 3000
    n_hits = 0
    for name in names:  # one name (with its readings) per chunk, as a check screens it
        qs = _queries(flat, [name])
        single = K.match_chunk(flat, qs, threshold)
        bulk = twin._match_chunk(_queries(twin, [name]), threshold, False)
        assert [_raw(h) for h in single] == [_raw(h) for h in bulk], name
        n_hits += sum(len(h) for h in single)
    assert n_hits >= 500  # the names exercise hits, not only misses
    rng = random.Random(5)
    for _ in range(150):  # chunks of names of different lengths: the numpy kernel pads the weight rows
        chunk = rng.sample(names, 8)
        single = K.match_chunk(flat, _queries(flat, chunk), threshold)
        bulk = twin._match_chunk(_queries(twin, chunk), threshold, False)
        assert [_raw(h) for h in single] == [_raw(h) for h in bulk], chunk


def _dump(hits: list[PartyHit]) -> list[Any]:
    return [h.model_dump(mode="json") for h in hits]


def test_search_results_equal_through_either_kernel(pair: tuple[Matcher, Matcher],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    flat, twin = pair
    names = _names(flat.alias_text)[::3]
    monkeypatch.setattr(K, "LONG_LIVED_CHUNKS", 10**9)  # every name through the single kernel
    flat.clear_caches()
    twin.clear_caches()
    a = [_dump(h) for h in flat.search_many(names, limit=None, chunk_size=1)]
    b = [_dump(h) for h in twin.search_many(names, limit=None, chunk_size=1)]
    assert a == b
    assert isinstance(flat.a_tok, FlatArray)  # screened by the single kernel (no numpy arrays made)
    assert sum(1 for h in a if h) >= 150


def test_wanted_only_for_a_flat_index_and_few_postings(pair: tuple[Matcher, Matcher],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    flat, twin = pair
    qs = _queries(flat, ["Huawei Technologies Co., Ltd."])
    monkeypatch.setitem(flat.__dict__, "_single_chunks", 0)
    assert K.wanted(flat, qs, 80.0)
    monkeypatch.setitem(flat.__dict__, "_single_chunks", K.LONG_LIVED_CHUNKS)  # a long-lived process: numpy
    assert not K.wanted(flat, qs, 80.0)
    monkeypatch.setitem(flat.__dict__, "_single_chunks", 0)
    assert not K.wanted(twin, _queries(twin, ["Huawei Technologies Co., Ltd."]), 80.0)
    monkeypatch.setattr(K, "MAX_POSTINGS", 0)
    assert not K.wanted(flat, qs, 80.0)


def test_wanted_for_few_candidate_rows_in_any_process(pair: tuple[Matcher, Matcher],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The one small-chunk path (h22's ``_Kernel._small_chunk`` merged into this kernel): a chunk of at most
    ``SMALL_KERNEL_ROWS`` candidate rows is screened here whatever the arrays (numpy ones read in place through
    memoryviews) and however long the process has lived, and is not counted towards ``LONG_LIVED_CHUNKS``."""
    from ecscreen.parties import candidates

    flat, twin = pair
    qs = _queries(twin, ["Rosoboronexport"])
    rows = sum(twin._p_len_list[u] for q in qs for u in twin._blocked(q, 80.0)[0])
    assert 0 < rows <= candidates.SMALL_KERNEL_ROWS
    monkeypatch.setitem(flat.__dict__, "_single_chunks", K.LONG_LIVED_CHUNKS)
    for m in (twin, flat):
        assert K.wanted(m, _queries(m, ["Rosoboronexport"]), 80.0)
    assert flat.__dict__["_single_chunks"] == K.LONG_LIVED_CHUNKS
    assert isinstance(twin.a_tok, np.ndarray)
    hits = K.match_chunk(twin, qs, 80.0)
    assert [_raw(h) for h in hits] == [_raw(h) for h in K.match_chunk(flat, _queries(flat, ["Rosoboronexport"]), 80.0)]
    monkeypatch.setattr(candidates, "SMALL_KERNEL_ROWS", -1)  # then the numpy kernel, the same hits
    assert [_raw(h) for h in twin._match_chunk(_queries(twin, ["Rosoboronexport"]), 80.0, False)] == [
        _raw(h) for h in hits]
    assert any(hits)


def test_pairwise_sum_equals_numpy_sum_to_the_bit() -> None:
    rng = np.random.default_rng(3)
    for n in [*range(1, 40), 127, 128, 129, 200, 255, 256, 257, 300, 1000]:
        for width in (n, n + 3, n + 9):  # zero padding changes numpy's grouping
            row = np.zeros((2, width))
            row[:, :n] = rng.random((2, n)) * rng.choice([1e-3, 1.0, 7.5, 1e3])
            want = row.sum(axis=1)
            for k in range(2):
                got = K.pairwise_sum(row[k].tolist())
                assert got == want[k] and np.float64(got).tobytes() == want[k].tobytes(), (n, width)


def test_deletion_lookup_by_bisection_equals_numpy(pair: tuple[Matcher, Matcher]) -> None:
    flat, twin = pair
    keys = []
    for tok in ["huawei", "technolgy", "shenzen", "trading", "zte", "rosoboronexport", "a", "", "x" * 30, "ü",
                *flat.vocab_list[::997]]:
        keys.append(tok)
        keys.extend(sorted(M._deletes(tok)) if tok else [])
    got = K.deletion_lookup(flat._del_index.keys, flat._del_index.starts, flat._del_index.ids, keys)
    assert got == twin._del_index.get_many(keys)
    assert sum(1 for g in got if g) >= 20


def test_flat_array_round_trip_and_damage() -> None:
    for arr in (np.arange(7, dtype=np.int32), np.linspace(0, 1, 5), np.array([True, False]),
                np.arange(12, dtype=np.uint64).reshape(3, 4), np.array(["ab", "cd", "e"], dtype="<U2")):
        flat = pickle.loads(pickle.dumps(FlatArray.of(arr)))
        assert np.array_equal(flat.numpy(), arr) and flat.numpy().dtype == arr.dtype
        assert flat.tolist() == arr.ravel().tolist() and len(flat) == len(arr)
    with pytest.raises(ValueError):
        FlatArray("<i4", (3,), b"\x00" * 8)  # size does not fit the shape: the cache file is ignored
    with pytest.raises(ValueError):
        FlatArray("<c16", (1,), b"\x00" * 16)  # a dtype this reader does not know


def test_warm_check_with_parties_imports_no_numpy(tmp_path: Path) -> None:
    """Regression (issue 10): matching.py and variants.py imported numpy at module level, the index cache
    held numpy arrays and names lists were built in-process with numpy: every check paid ~41 ms for it."""
    ship = tmp_path / "s.yaml"
    ship.write_text("id: S-1\ndate: 2026-10-01\ndestination: CN\nparties:\n"
                    "  - {role: consignee, name: \"Shenzhen Example Trading Co., Ltd.\", country: CN}\n"
                    "  - {role: end_user, name: \"Huawei Technologies Co., Ltd.\", country: CN}\n"
                    "items:\n  - {description: Data-center GPU accelerator, eccn: 3A090.a, origin: US}\n",
                    encoding="utf-8")
    env = {**os.environ, "ECSCREEN_CACHE_DIR": str(tmp_path / "cache"), "ECSCREEN_HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(ROOT / "src")}
    code = ("import sys\nfrom ecscreen.cli.main import main\nsys.argv = ['ecscreen', 'check', sys.argv[1], "
            "'--format', 'json']\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write('NUMPY=%s' % ('numpy' in sys.modules))\n")
    outs = []
    for _ in range(2):  # the first run builds the caches (numpy used), the second is a warm check
        run = subprocess.run([sys.executable, "-c", code, str(ship)], env=env, capture_output=True, text=True,
                             cwd=ROOT, timeout=600)
        outs.append(run)
    warm = outs[1]
    assert "NUMPY=False" in warm.stderr, warm.stderr[-2000:]
    report = json.loads(warm.stdout)
    assert report["results"][0]["decision"] == json.loads(outs[0].stdout)["results"][0]["decision"]
    assert report["results"][0]["decision"] == "license_required"
    assert any(f["rule_id"] == "PARTY-EL" for f in report["results"][0]["findings"])


def test_index_arrays_and_tables_are_read_in_place(pair: tuple[Matcher, Matcher]) -> None:
    """The loaded index keeps its arrays and packed tables in the mapped file (no ~30 MB copy per check)."""
    flat, _ = pair
    assert flat.cache_file is not None
    fresh = Matcher(flat.entries, cache_key="kernel-test", cache_dir=flat.cache_file.parent)
    assert fresh.cache_status == "loaded"
    assert isinstance(fresh.a_tok.data, memoryview) and fresh.a_tok.data.readonly
    assert isinstance(fresh._del_index.ids[5].data, memoryview)
    assert isinstance(fresh._skel_lists._blob, memoryview)


def test_payload_round_trip_and_damage() -> None:
    from array import array

    from ecscreen.parties import indexcache as IC

    state = {"a": FlatArray.of(np.arange(3000, dtype=np.int64)), "s": FlatArray.of(np.array(["x", "yz"])),
             "p": IC.pack_dict({f"k{i}": [i, str(i)] for i in range(2000)}),
             "t": IC.pack_texts([f"name {i}" for i in range(2000)]), "n": 7}
    payload = IC.dump_payload(state)
    assert payload.startswith(IC._OOB)
    back = IC.load_payload(memoryview(payload))
    assert back["a"] == state["a"] and back["a"].tolist() == list(range(3000)) and back["n"] == 7
    assert isinstance(back["a"].data, memoryview) and back["s"].tolist() == ["x", "yz"]
    assert IC.unpack_dict(back["p"])["k1999"] == [1999, "1999"] and IC.unpack_texts(back["t"])[7] == "name 7"
    assert IC.load_payload(memoryview(IC.dump_payload(back))).keys() == state.keys()  # stored again
    assert IC.dump_payload({"x": 1}) == pickle.dumps({"x": 1}, protocol=5)  # no arrays: the plain pickle
    bad = bytearray(payload)
    n = array("q", bytes(bad[len(IC._OOB):len(IC._OOB) + 8]))[0]
    off = len(IC._OOB) + 16
    bad[off:off + 8] = array("q", [len(payload) + 1]).tobytes()  # a buffer beyond the payload
    assert n >= 2
    with pytest.raises(ValueError):
        IC.load_payload(memoryview(bytes(bad)))


def test_decoded_list_rows_are_read_in_place(tmp_path: Path) -> None:
    """The decoded-list cache's rows (~9 MB for the CSL) are read in place from the mapped file."""
    import mmap

    from ecscreen.parties import store

    raw = store.package_file("data", store.DEFAULT_LIST_FILE).read_bytes()
    first = store._decode_store(raw, "embedded", cache_dir=tmp_path)
    again = store._decode_store(raw, "embedded", cache_dir=tmp_path)
    assert isinstance(again.entries._blob.obj, mmap.mmap)  # type: ignore[attr-defined]
    picks = (0, 5, len(first.entries) - 1)
    assert [again.entries[i] for i in picks] == [first.entries[i] for i in picks]
