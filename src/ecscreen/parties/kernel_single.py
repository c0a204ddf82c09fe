"""The matcher's search kernel for a few queries, in plain Python (no numpy): the one small-chunk path.

Issue 10: a one-shipment ``ecscreen check`` screens two or three names; importing numpy for them cost ~41 ms of
a ~450 ms run, and the numpy kernel's fixed cost per chunk (~40 array calls, ~0.5-1 ms) is most of the time of
a chunk with few candidates (one name of a ``serve`` request, a party against a pack's names list). The bulk
kernel (``_Kernel._match_chunk``: numpy over whole chunks of names) stays the path of batches; this module
computes, for a chunk of a few queries, exactly what that kernel computes:

- the same candidate (query, alias) pairs in the same order: per query, per blocking word (``_Kernel._blocked``)
  its postings, kept when the word alone carries enough of the query or of the alias (``p_share``), or the
  alias's signature has another query word's bit, or two bits of the word's own expansions, or two of the alias's
  words share a bit (``a_ndup``) (a duplicate pair,
  an alias holding two blocking words, is kept twice as there);
- the same scores to the bit: the sums are taken in the order numpy's ``bincount`` takes them (alias words in
  order; matched query words in order), the query weight total as numpy's pairwise ``sum`` of the chunk's
  zero-padded weight row, and the formula is ``_combine_one`` (the scalar twin of ``_combine``);
- the same acronym hits (``_Kernel._add_acronyms``).

It reads the index arrays in place through memoryviews: the cache's
:class:`~ecscreen.parties.indexcache.FlatArray` (a check: numpy never imported) or numpy arrays (an index built
in-process, or converted by the bulk kernel). ``_Kernel._match_chunk`` calls :func:`match_chunk` when
:func:`wanted` says so. ``tests/test_kernel_single.py``, ``tests/test_matching_kernel.py`` and
``benchmarks/matching_equivalence.py --kernel single`` compare both kernels on real names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ecscreen.parties import candidates
from ecscreen.parties.candidates import _combine_one, _RawHit, deletion_lookup, flat_lookup_wanted
from ecscreen.parties.indexcache import FlatArray

if TYPE_CHECKING:
    from ecscreen.parties.index_build import _IndexBuild
    from ecscreen.parties.kernel import _Kernel as Matcher
    from ecscreen.parties.query import _Query

__all__ = ["MAX_POSTINGS", "wanted", "match_chunk", "flat_lookup_wanted", "deletion_lookup", "pairwise_sum",
           "export_vocab", "import_vocab"]

# candidate postings of a chunk above which the numpy kernel is used (its import then pays for itself): the
# plain loop costs ~0.5 us per posting, the import ~41 ms
MAX_POSTINGS = 40_000
# chunks screened by this kernel after which the process is taken to be long-lived (serve, the Python API, a
# batch): the numpy kernel is then used (about twice as fast on names with many candidates; its import is paid
# once). A one-shipment check screens a handful. Chunks of at most candidates.SMALL_KERNEL_ROWS postings are
# screened here in any process (the numpy kernel's fixed cost is more than their work) and are not counted
LONG_LIVED_CHUNKS = 32

_ARRAYS = ("a_start", "a_len", "a_tok", "a_w", "a_W", "a_weak", "p_start", "p_alias", "p_share", "a_sig", "a_ndup")


def wanted(m: Matcher, queries: Sequence[_Query], threshold: float) -> bool:
    """Whether :func:`match_chunk` should screen this chunk: its blocking words' postings are at most
    :data:`~ecscreen.parties.candidates.SMALL_KERNEL_ROWS`, or the index is a cache load still held flat (numpy
    not needed so far), the postings are few (:data:`MAX_POSTINGS`) and the process is not long-lived."""
    p_len = m._p_len_list
    # counting stops once the answer is known (a batch chunk of an index built in-process or converted for numpy:
    # past SMALL_KERNEL_ROWS; the sum over every query of the chunk cost ~10 us a name); the kernels make the
    # other queries' blocking words as they read them
    flat = isinstance(m.a_tok, FlatArray)
    cap = MAX_POSTINGS if flat else candidates.SMALL_KERNEL_ROWS
    volume = 0
    for q in queries:
        for u in m._blocked(q, threshold)[0]:
            volume += p_len[u]
        if volume > cap:
            break
    if volume <= candidates.SMALL_KERNEL_ROWS:
        return True
    if not flat or volume > MAX_POSTINGS:
        return False
    served = m.__dict__.get("_single_chunks", 0)
    if served >= LONG_LIVED_CHUNKS:
        return False
    m.__dict__["_single_chunks"] = served + 1
    return True


def pairwise_sum(values: Sequence[float]) -> float:
    """``numpy.add.reduce`` of a float64 row, to the bit: numpy's pairwise summation (sequential below 8 items,
    eight interleaved partial sums up to 128, halves above)."""
    n = len(values)
    if n < 8:
        res = -0.0
        for v in values:
            res += v
        return res
    if n <= 128:
        r = list(values[:8])
        i = 8
        end = n - n % 8
        while i < end:
            for j in range(8):
                r[j] += values[i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res += values[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return pairwise_sum(values[:n2]) + pairwise_sum(values[n2:])


class _Arrays:
    """The index arrays the kernel reads, as memoryviews (``a_sig``: its raw bytes, 32 per alias)."""

    __slots__ = _ARRAYS

    def __init__(self, m: Matcher) -> None:
        for name in _ARRAYS:
            a = getattr(m, name)
            if isinstance(a, FlatArray):
                view = a.data if name == "a_sig" else a.view
            else:  # a numpy array (built in-process, or converted for the bulk kernel): read in place
                # (a_sig's raw bytes through a 1-D byte view: a memoryview of an empty 2-D array cannot be cast)
                view = memoryview(a.reshape(-1).view("u1") if name == "a_sig" else a)
            setattr(self, name, view)


def match_chunk(m: Matcher, queries: Sequence[_Query], threshold: float) -> list[list[_RawHit]]:
    """The raw hits of each query at ``threshold``: what the numpy kernel of ``_Kernel._match_chunk`` returns for
    a non-exhaustive search of the same chunk, in the same order."""
    ar = _Arrays(m)
    maxt = max([len(q.tokens) for q in queries] + [1])
    m_min = m._single_word_min(threshold)
    out: list[list[_RawHit]] = [[] for _ in queries]
    for qi, q in enumerate(queries):
        bu, bt = m._blocked(q, threshold)
        if bu:
            for alias, score in _query_hits(m, ar, q, bu, bt, maxt, m_min, threshold):
                out[qi].append(_RawHit(alias, score, False))
    return m._add_acronyms(list(queries), threshold, out)


def _groups(q: _Query, need: float) -> tuple[list[int], list[int], list[bool]]:
    """Per query word: the signature of the other words, its own, and whether it alone carries enough."""
    sigs, weights = q.sigs, q.weights
    if len(sigs) == 1:
        return [0], [sigs[0]], [weights[0] >= need]
    others = []
    for ti in range(len(sigs)):
        other = 0
        for tj, sg in enumerate(sigs):
            if tj != ti:
                other |= sg
        others.append(other)
    return others, list(sigs), [w >= need for w in weights]


def _query_hits(m: Matcher, ar: _Arrays, q: _Query, bu: list[int], bt: list[int], maxt: int, m_min: float,
                threshold: float) -> list[tuple[int, float]]:
    """(alias, score) of the candidates of one query scoring at least ``threshold``, in candidate order."""
    others, owns, qdom = _groups(q, m_min * sum(q.weights))
    row = list(q.weights) + [0.0] * (maxt - len(q.weights))
    q_total = pairwise_sum(row)
    emap = {u: (s, t) for u, s, t in zip(q.e_u, q.e_s, q.e_t, strict=True)}
    p_start, p_alias, p_share, p_len = ar.p_start, ar.p_alias, ar.p_share, m._p_len_list  # type: ignore[attr-defined]
    sig_bytes = ar.a_sig  # type: ignore[attr-defined]
    ndup = ar.a_ndup  # type: ignore[attr-defined]  # two alias words on one bit: kept as two bits are
    scored: dict[int, float] = {}
    hits: list[tuple[int, float]] = []
    for u, t in zip(bu, bt, strict=True):
        other, own, dom = others[t], owns[t], qdom[t]
        start = p_start[u]
        for idx in range(start, start + p_len[u]):
            a = p_alias[idx]
            if not dom and not p_share[idx] >= m_min:
                s = int.from_bytes(sig_bytes[a * 32:a * 32 + 32], "little")
                if not s & other and (s & own).bit_count() < 2 and not ndup[a]:
                    continue
            score = scored.get(a)
            if score is None:
                score = scored[a] = _score(m, ar, a, emap, row, q_total)
            if score >= threshold:
                hits.append((a, score))
    return hits


def _score(m: Matcher, ar: _Arrays, a: int, emap: Mapping[int, tuple[float, int]], row: list[float],
           q_total: float) -> float:
    """The name score of (query, alias ``a``): ``Matcher._score_pairs`` for one pair."""
    a_tok, a_w = ar.a_tok, ar.a_w  # type: ignore[attr-defined]
    start = ar.a_start[a]  # type: ignore[attr-defined]
    r_num = 0.0
    matched_aw = 0.0
    cells: dict[int, float] = {}
    for f in range(start, start + ar.a_len[a]):  # type: ignore[attr-defined]
        e = emap.get(a_tok[f])
        if e is None:
            continue
        sim, t = e
        aw = a_w[f]
        r_num += aw * sim
        matched_aw += aw
        if sim > cells.get(t, 0.0):
            cells[t] = sim
    p_num = 0.0
    matched_qw = 0.0
    max_w = 0.0
    for t in sorted(cells):
        w = row[t]
        p_num += w * cells[t]
        matched_qw += w
        if w > max_w:
            max_w = w
    return _combine_one(m.config, p_num, q_total, r_num, ar.a_W[a], matched_qw, matched_aw, max_w,  # type: ignore[attr-defined]
                        bool(ar.a_weak[a]))  # type: ignore[attr-defined]


def export_vocab(m: _IndexBuild, state: dict[str, Any]) -> None:
    """Store the vocabulary for :func:`import_vocab`: the word -> id dict packed (read per key), the word lengths
    flat."""
    from array import array

    from ecscreen.parties.indexcache import pack_dict

    state["vocab_packed"] = pack_dict(m.vocab)
    state["vocab_len"] = FlatArray("<i4", (len(m.vocab_list),), array("i", [len(t) for t in m.vocab_list]).tobytes())


def import_vocab(m: _IndexBuild, state: dict[str, Any]) -> None:
    """The matcher's vocabulary tables from a cache state, without building them (issue 10: building the
    38,000-word dict and the per-word lists cost ~20 ms of a check): ``vocab`` a packed dict read per key,
    ``idf_list``, ``_df_list``, ``_vbit``, ``_p_len_list`` and ``_vocab_len`` memoryviews over the flat arrays
    (the same values, read per index). An older state without them gets them built as before."""
    from ecscreen.parties.indexcache import unpack_dict

    n = m.n_vocab
    packed = state.get("vocab_packed")
    vocab: Any = unpack_dict(packed) if packed is not None else None
    if vocab is None or len(vocab) != n:
        vocab = {tok: vid for vid, tok in enumerate(m.vocab_list)}
    m.vocab = vocab
    tables = {"_df_list": state["_df_list"], "idf_list": m.idf, "_vbit": state["_vbit"], "_p_len_list": m.p_len,
              "_vocab_len": state.get("vocab_len")}
    for name, flat in tables.items():
        if isinstance(flat, FlatArray) and len(flat) == n and len(flat.shape) == 1:
            setattr(m, name, flat.view)
        elif name == "_vocab_len":
            m._vocab_len = [len(t) for t in m.vocab_list]
        else:
            raise ValueError(f"index cache: {name} is not a flat array")
