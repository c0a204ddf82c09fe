"""The candidate index's data structures and the scoring kernel's arithmetic (split out of ``Matcher``, issue 10).

* :class:`_DeletionIndex`: one-deletion keys -> vocabulary ids, as sorted arrays (the fuzzy word index);
* :class:`_Chunk`: a chunk of prepared queries as the kernel reads it (blocking words, signature groups);
* :class:`_KeyTable`: the vectorised open-addressing table the kernel probes ((query, word) -> related word);
* :func:`_combine` / :func:`_combine_one`: the name-score formula, vectorised and for one pair (same bits).

The kernel that drives them is :class:`ecscreen.parties.kernel._Kernel`."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecscreen.parties.indexcache import FlatArray
from ecscreen.parties.lazynp import numpy_loaded

if TYPE_CHECKING:
    import numpy as np

    from ecscreen.parties.matching import ScoreConfig
    from ecscreen.parties.query import _Query
else:  # imported on first use (issue 10): a one-shipment check screens without numpy
    from ecscreen.parties.lazynp import np


# chunks with at most this many candidate rows (postings of their blocking words) are scored in plain Python
# (ecscreen.parties.kernel_single): below it, the numpy kernel's fixed cost per chunk is more than the rows' work
SMALL_KERNEL_ROWS = 64

# deletion indexes up to this many keys (names lists of rule packs, small custom lists) are also held as a
# dict: one query word's lookups then cost dict gets instead of numpy calls (~45 us per new word)
SMALL_DELETION_INDEX = 50_000
MAX_DELETION_KEYS = 2_000  # deletion-index keys looked up by bisection over the flat arrays (else numpy)


def _deletes(tok: str) -> set[str]:
    return {tok[:i] + tok[i + 1 :] for i in range(len(tok))}


class _DeletionIndex:
    """One-deletion keys -> vocabulary ids, as sorted arrays per key length (numpy strings, offsets, ids).

    Replaces a dict of ~260,000 strings and lists of ints (54 MB of Python objects for the CSL, whose
    pages every ``--jobs`` worker copied as lookups wrote reference counts) with about 12 MB of arrays;
    lookups give the same ids in the same order."""

    def __init__(self, index: dict[str, list[int]]) -> None:
        by_len: dict[int, list[str]] = {}
        for k in index:
            by_len.setdefault(len(k), []).append(k)
        self.keys: dict[int, np.ndarray] = {}
        self.starts: dict[int, np.ndarray] = {}
        self.ids: dict[int, np.ndarray] = {}
        for n, ks in by_len.items():
            ks.sort()  # code-point order, the order of numpy's unicode arrays
            self.keys[n] = np.array(ks, dtype=f"<U{max(n, 1)}")
            starts = np.zeros(len(ks) + 1, dtype=np.int64)
            np.cumsum([len(index[k]) for k in ks], out=starts[1:])
            self.starts[n] = starts
            self.ids[n] = np.fromiter((v for k in ks for v in index[k]), dtype=np.int32, count=int(starts[-1]))
        self.n = len(index)
        self._small: dict[str, list[int]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_small"] = None  # derived: never pickled (index cache), rebuilt on first lookup
        # stored flat (ecscreen.parties.indexcache.FlatArray): loading the cache imports no numpy
        for name in ("keys", "starts", "ids"):
            state[name] = {n: a if isinstance(a, FlatArray) else FlatArray.of(a) for n, a in state[name].items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("_small", None)
        self.__dict__.update(state)

    def __len__(self) -> int:
        return self.n

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _DeletionIndex):
            return NotImplemented
        self._to_numpy()
        other._to_numpy()
        return self.n == other.n and all(
            mine.keys() == theirs.keys() and all(np.array_equal(a, theirs[k]) for k, a in mine.items())
            for mine, theirs in ((self.keys, other.keys), (self.starts, other.starts), (self.ids, other.ids))
        )

    __hash__ = None  # type: ignore[assignment]

    def get(self, key: str, default: Sequence[int] = ()) -> Sequence[int]:
        got = self.get_many([key])[0]
        return default if got is None else got

    def as_dict(self) -> dict[str, list[int]]:
        """Every key with its ids (the dict the index was built from, in the same order)."""
        out: dict[str, list[int]] = {}
        for n, arr in self.keys.items():
            starts, ids = self.starts[n].tolist(), self.ids[n].tolist()
            for k, key in enumerate(arr.tolist()):
                out[key] = ids[starts[k] : starts[k + 1]]
        return out

    def _to_numpy(self) -> None:
        """The arrays as numpy arrays (a loaded index holds them flat until a bulk lookup needs numpy)."""
        for d in (self.keys, self.starts, self.ids):
            for n, a in d.items():
                if isinstance(a, FlatArray):
                    d[n] = a.numpy()

    def get_many(self, keys: list[str]) -> list[list[int] | None]:
        """The ids of each key (None when absent); keys of one length are looked up together."""
        if self.n <= SMALL_DELETION_INDEX:  # a names list's index: plain dict lookups beat numpy's per-call cost
            small = self._small
            if small is None:
                small = self._small = self.as_dict()
            return [small.get(k) for k in keys]
        if flat_lookup_wanted(self.keys, len(keys)):  # a cache load, a few keys: bisection, no numpy (issue 10)
            return deletion_lookup(self.keys, self.starts, self.ids, keys)
        self._to_numpy()
        out: list[list[int] | None] = [None] * len(keys)
        by_len: dict[int, list[int]] = {}
        for i, k in enumerate(keys):
            by_len.setdefault(len(k), []).append(i)
        for n, pos in by_len.items():
            arr = self.keys.get(n)
            if arr is None or not len(arr):
                continue
            want = np.array([keys[i] for i in pos], dtype=arr.dtype)
            at = np.minimum(np.searchsorted(arr, want), len(arr) - 1)
            found = np.flatnonzero(arr[at] == want)
            if not len(found):
                continue
            starts, ids = self.starts[n], self.ids[n]
            js = at[found]
            for p, a, b in zip(found.tolist(), starts[js].tolist(), starts[js + 1].tolist(), strict=True):
                out[pos[p]] = ids[a:b].tolist()
        return out


def flat_lookup_wanted(keys: Mapping[int, Any], n_keys: int) -> bool:
    """Whether a deletion-index lookup of ``n_keys`` keys should bisect the flat arrays (a cache load not
    converted to numpy, few keys, numpy not imported yet: once a long-lived process has it, its
    ``searchsorted`` is the faster way) rather than convert them for numpy."""
    return (n_keys <= MAX_DELETION_KEYS and not numpy_loaded()
            and any(isinstance(a, FlatArray) for a in keys.values()))


def deletion_lookup(keys: Mapping[int, Any], starts: Mapping[int, Any], ids: Mapping[int, Any],
                    want: Sequence[str]) -> list[list[int] | None]:
    """``_DeletionIndex.get_many`` over flat arrays: per key, the ids of the equal key of its length (keys of a
    length are sorted in code-point order, as numpy's ``searchsorted`` reads them), None when absent."""
    out: list[list[int] | None] = [None] * len(want)
    for i, k in enumerate(want):
        n = len(k)
        arr = keys.get(n)
        if arr is None or not len(arr):
            continue
        if isinstance(arr, FlatArray) and n:
            # bisect_left over the keys of this length (each has exactly n characters: no NUL padding), decoding
            # only the probed keys
            j = min(arr.bisect_keys(k), len(arr) - 1)
            if arr.key_at(j) != k:
                continue
        else:
            j = min(bisect_left(arr, k), len(arr) - 1)
            if arr[j] != k:
                continue
        st = starts[n]
        out[i] = ids[n][st[j]:st[j + 1]].tolist()
    return out


class _Chunk:
    """A chunk of queries as the kernel reads it (see :meth:`Matcher._chunk_arrays`)."""

    def __init__(self) -> None:
        self.bu: list[int] = []  # per blocking vocabulary word: the word, the query token
        self.bt: list[int] = []
        self.b_query: list[int] = []  # per query with blocking words: the query, its number of blocking words,
        self.b_count: list[int] = []  # its first signature group (expanded per word in Matcher._candidates)
        self.b_group: list[int] = []
        self.g_bytes: list[bytes] = []  # per query token: signatures of the other words and of itself
        self.g_qdom: list[bool] = []  # the token alone carries enough of the query for a hit
        self.n_groups = 0
        self.qw = np.zeros((0, 1))
        self.q_total = np.zeros(0)
        self.e_key = np.zeros(0, dtype=np.int64)
        self.e_sim = np.zeros(0)
        self.e_tloc = np.zeros(0, dtype=np.int64)
        self._g_words: np.ndarray | None = None

    def group_words(self) -> np.ndarray:
        """The signature groups as a (groups x 2 * _SIG_WORDS) uint64 array: the other words', then the word's own."""
        if self._g_words is None:
            self._g_words = np.frombuffer(b"".join(self.g_bytes), dtype="<u8").reshape(-1, 2 * _SIG_WORDS)
        return self._g_words

    def add_blocked(self, qi: int, q: _Query, blocked: tuple[list[int], list[int]], m_min: float) -> None:
        if not blocked[0]:
            return
        self.bu.extend(blocked[0])
        self.bt.extend(blocked[1])
        self.b_query.append(qi)
        self.b_count.append(len(blocked[0]))
        self.b_group.append(self.n_groups)
        # one group per query word: signatures of the other words and of the word itself
        sigs = q.sigs
        weights = q.weights
        need = m_min * sum(weights)
        n = len(sigs)
        if n == 1:
            self.g_bytes.append((sigs[0] << _SIG_SHIFT).to_bytes(2 * _SIG_BYTES, "little"))
            self.g_qdom.append(weights[0] >= need)
        else:
            # the other words' signatures: ORs of the words before and after each word
            after = [0] * (n + 1)
            for ti in range(n - 1, 0, -1):
                after[ti] = after[ti + 1] | sigs[ti]
            before = 0
            g_bytes, g_qdom = self.g_bytes, self.g_qdom
            for ti, own in enumerate(sigs):
                # the other words' signature in the low _SIG_BYTES, the word's own in the high ones
                g_bytes.append(((own << _SIG_SHIFT) | before | after[ti + 1]).to_bytes(2 * _SIG_BYTES, "little"))
                g_qdom.append(weights[ti] >= need)
                before |= own
        self.n_groups += n


@dataclass(slots=True)
class _RawHit:
    alias: int
    name_score: float
    acronym: bool


_HASH_MUL = 0x9E3779B97F4A7C15  # as np.uint64 where used (numpy is imported on first use)


_SIG_WORDS = 4


_SIG_BITS_LOG2 = 8  # 64 * _SIG_WORDS bits


_SIG_BYTES = 8 * _SIG_WORDS

_SIG_SHIFT = 64 * _SIG_WORDS  # a group's own signature above the other words' (one int, one to_bytes)

# signature bits per alias whose running weight shares the index keeps for the pair bound (alias_bit_shares in
# ecscreen.parties.index_build; a further column of 1: a pair matching more of the alias's bits is bounded by 1)
BOUND_BITS = 4

# what the pair bound leaves for the score's rounding to 2 decimals (0.005) and the float sums' order
BOUND_SLACK = 0.01


class _KeyTable:
    """Open-addressing hash table over distinct int64 keys (vectorised insert and lookup).

    Maps each key to its position in the array it was built from; replaces a sort + searchsorted in
    the scoring kernel (lookups are the hot spot: several per candidate pair).
    """

    def __init__(self, keys: np.ndarray) -> None:
        n = len(keys)
        bits = max(4, int(np.ceil(np.log2(max(n, 1)))) + 2)  # load factor <= 1/4
        self.shift = np.uint64(64 - bits)
        self.mask = (1 << bits) - 1
        self.keys = np.full(1 << bits, -1, dtype=np.int64)
        self.vals = np.zeros(1 << bits, dtype=np.int64)
        slot = self._hash(keys)
        pending = np.arange(n, dtype=np.int64)
        vals = self.vals
        vals[:] = -1
        while len(pending):
            s = slot[pending]
            free = np.flatnonzero(vals[s] == -1)
            cand, cs = pending[free], s[free]
            # keys wanting the same free slot: one of them takes it (which one only changes probe lengths,
            # never a lookup's answer), the others probe on
            vals[cs] = cand
            won = vals[cs] == cand
            self.keys[cs[won]] = keys[cand[won]]
            left = np.ones(len(pending), dtype=bool)
            left[free[won]] = False
            pending = pending[left]
            slot[pending] = (slot[pending] + 1) & self.mask

    def _hash(self, keys: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((keys.astype(np.uint64) * np.uint64(_HASH_MUL)) >> self.shift).astype(np.int64)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Position of every key in the build array, -1 when absent."""
        slot = self._hash(keys)
        # first probe over the whole arrays (most keys end there: found, or an empty slot), then the rest
        tk = self.keys[slot]
        found = tk == keys
        out = np.where(found, self.vals[slot], -1)
        active = np.flatnonzero(~found & (tk != -1))
        if len(active):
            slot[active] = (slot[active] + 1) & self.mask
        while len(active):
            s = slot[active]
            tk = self.keys[s]
            found = tk == keys[active]
            out[active[found]] = self.vals[s[found]]
            active = active[~(found | (tk == -1))]
            slot[active] = (slot[active] + 1) & self.mask
        return out


def _combine(
    cfg: ScoreConfig,
    p_num: np.ndarray,
    q_total: np.ndarray,
    r_num: np.ndarray,
    a_total: np.ndarray,
    matched_qw: np.ndarray,
    matched_aw: np.ndarray,
    max_matched_w: np.ndarray,
    weak: np.ndarray,
) -> np.ndarray:
    """The score formula (vectorised; used by the kernel and by the pairwise scorer alike)."""
    p = p_num / np.maximum(q_total, 1e-9)
    r = r_num / np.maximum(a_total, 1e-9)
    hi = np.maximum(p, r)
    lo = np.minimum(p, r)
    base = cfg.balance * hi + (1.0 - cfg.balance) * lo
    # substitution: words left unmatched on both sides (a different surname, a different firm)
    un_q = 1.0 - matched_qw / np.maximum(q_total, 1e-9)
    un_a = 1.0 - matched_aw / np.maximum(a_total, 1e-9)
    base = np.maximum(0.0, base - cfg.substitution_penalty * np.maximum(0.0, np.minimum(un_q, un_a)))
    # evidence: the matched query words must weigh enough; generic words alone cannot carry a
    # partial match (a complete match of an all-generic name still counts)
    factor = np.minimum(1.0, matched_qw / cfg.evidence)
    generic = (max_matched_w < cfg.distinct_min) & (lo < cfg.full_match)
    factor = factor * np.where(generic, cfg.generic_factor, 1.0)
    factor = factor * np.where(weak & (un_q > 0.001), cfg.weak_alias_factor, 1.0)
    return np.asarray(np.round(100.0 * base * factor, 2))


def _combine_one(
    cfg: ScoreConfig,
    p_num: float,
    q_total: float,
    r_num: float,
    a_total: float,
    matched_qw: float,
    matched_aw: float,
    max_matched_w: float,
    weak: bool,
) -> float:
    """:func:`_combine` for one pair, in plain floats (the pairwise scorer calls it per candidate; numpy's
    per-call overhead on one-element arrays was most of its cost). Same IEEE operations in the same order,
    so the same result to the bit, including ``np.round(x, 2)`` (multiply by 100, round half to even,
    divide by 100, sign kept)."""
    qt = q_total if q_total > 1e-9 else 1e-9
    at = a_total if a_total > 1e-9 else 1e-9
    p = p_num / qt
    r = r_num / at
    hi, lo = (p, r) if p >= r else (r, p)
    base = cfg.balance * hi + (1.0 - cfg.balance) * lo
    un_q = 1.0 - matched_qw / qt
    un_a = 1.0 - matched_aw / at
    un = un_q if un_q < un_a else un_a
    base = max(0.0, base - cfg.substitution_penalty * max(0.0, un))
    factor = min(1.0, matched_qw / cfg.evidence)
    factor = factor * (cfg.generic_factor if (max_matched_w < cfg.distinct_min and lo < cfg.full_match) else 1.0)
    factor = factor * (cfg.weak_alias_factor if (weak and un_q > 0.001) else 1.0)
    y = 100.0 * base * factor * 100.0
    return math.copysign(round(y) / 100.0, y)


def pair_bound_applies(cfg: ScoreConfig) -> bool:
    """Whether :func:`pair_bound` is a bound for this configuration (the formula's factors at most 1, the
    substitution penalty not negative, the balance a weighting)."""
    return (0.0 <= cfg.balance <= 1.0 and cfg.substitution_penalty >= 0.0 and cfg.evidence > 0.0
            and 0.0 <= cfg.generic_factor <= 1.0 and 0.0 <= cfg.weak_alias_factor <= 1.0)


def pair_bound(
    cfg: ScoreConfig,
    pq: np.ndarray,
    pa: np.ndarray,
    n_bits: np.ndarray,
    a_ndup: np.ndarray,
    a_bitshare: np.ndarray,
    q_weights: np.ndarray,
) -> np.ndarray:
    """An upper bound of :func:`_combine`'s score of each candidate pair (query ``pq``, alias ``pa``), from
    integers and a few gathers.

    ``n_bits``: per pair, the signature bits of the alias that the query's expansions also have (the bits of every
    alias word the query can match are among them: at least the blocking word's). Per alias: ``a_ndup`` (its words
    sharing a bit) and ``a_bitshare`` (running weight shares of its heaviest bits, then 1:
    :func:`ecscreen.parties.index_build.alias_bit_shares`). Per query of the chunk: ``q_weights``, its weights
    zero-padded (the kernel's ``qw``). Why it bounds the score:

    * a matched query word is the one query word of some matched alias word (each list word is related to one
      query word), so at most ``n_bits + ndup`` query words match: their weight ``MQ`` is at most the sum of
      that many heaviest query weights; the matched alias words' share ``R`` is at most the share of the alias's
      ``n_bits`` heaviest bits (1 past the table);
    * with ``M = max(MQ / total, R)``: ``hi <= M`` (similarities are at most 1), ``lo <= hi``, and both sides
      leave at least ``1 - M`` unmatched, so ``base <= hi - g * (1 - M) <= (1 + g) * M - g``; every factor is at
      most 1 (:func:`pair_bound_applies`) and the evidence factor is ``min(1, MQ / evidence)``.

    The caller keeps a pair when its bound reaches the threshold less :data:`BOUND_SLACK`."""
    nq, maxt = q_weights.shape
    # per query and number of matched words k (column k - 1): the share of the k heaviest words, and the evidence
    # factor of their weight
    q_cum = np.cumsum(-np.sort(-q_weights, axis=1), axis=1)
    p_tab = (q_cum / np.maximum(q_weights.sum(axis=1), 1e-9)[:, None]).ravel()
    e_tab = np.minimum(1.0, q_cum / cfg.evidence).ravel()
    n_bits = np.maximum(n_bits, 1)
    at = pq * maxt + (np.minimum(n_bits + a_ndup[pa], maxt) - 1)
    cols = a_bitshare.shape[1]
    r = a_bitshare.ravel()[pa * cols + (np.minimum(n_bits, cols) - 1)]
    g = cfg.substitution_penalty
    return np.asarray(100.0 * np.maximum(0.0, (1.0 + g) * np.maximum(p_tab[at], r) - g) * e_tab[at])
