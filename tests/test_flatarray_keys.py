"""FlatArray.bisect_keys / key_at: the deletion index's lookup on a cache load decodes only the probed keys
(issue 10: it decoded every key of a length, up to ~1 MB, ~2 ms CPU of a check) with the same answers."""

from __future__ import annotations

import random
from bisect import bisect_left

import numpy as np

from ecscreen.parties.candidates import deletion_lookup
from ecscreen.parties.indexcache import FlatArray


def _keys(n: int, count: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    alphabet = "abcxyz09é中ß\u3400\uffff"
    return sorted({"".join(rnd.choice(alphabet) for _ in range(n)) for _ in range(count)})


def test_bisect_keys_and_key_at_match_bisect_on_the_decoded_keys() -> None:
    for n, count, seed in ((1, 5, 1), (3, 400, 2), (5, 2000, 3)):
        keys = _keys(n, count, seed)
        arr = FlatArray.of(np.array(keys, dtype=f"<U{n}"))
        probes = keys[:: max(1, len(keys) // 50)] + _keys(n, 60, seed + 100) + ["\x00" * n, "\U0010ffff" * n]
        for cached in (False, True):
            if cached:
                arr.text_all()
            for p in probes:
                assert arr.bisect_keys(p) == bisect_left(keys, p), (n, p, cached)
            assert [arr.key_at(i) for i in range(len(keys))] == keys


def test_deletion_lookup_over_flat_arrays() -> None:
    keys = _keys(4, 300, 7)
    ids = list(range(len(keys) * 2))
    starts = list(range(0, len(ids) + 1, 2))
    flat = {4: FlatArray.of(np.array(keys, dtype="<U4"))}
    st = {4: FlatArray.of(np.array(starts, dtype="<i8"))}
    idx = {4: FlatArray.of(np.array(ids, dtype="<i8"))}
    want = [keys[0], keys[-1], keys[len(keys) // 2], "zzzz", "aaa", "é中é中"]
    got = deletion_lookup(flat, st, idx, want)
    expect = [[2 * keys.index(k), 2 * keys.index(k) + 1] if k in keys else None for k in want]
    assert got == expect
