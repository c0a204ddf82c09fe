"""The candidate kernel: a part of ``Matcher`` (issue 10).

Per chunk of prepared queries: the blocking words every hit must match, the candidate (query, alias) pairs from
their postings, pruned by the single-word bound and the word signatures (both lossless), then the name score of
every candidate pair in one vectorised pass (:func:`ecscreen.parties.candidates._combine`). A chunk with few
candidate rows, or a one-shipment ``check`` on an index loaded flat from the cache, is scored instead by the plain-
Python kernel :mod:`ecscreen.parties.kernel_single` (the same hits to the bit; numpy is then never imported)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecscreen.parties import kernel_single
from ecscreen.parties.candidates import (
    _SIG_WORDS,
    BOUND_SLACK,
    _Chunk,
    _combine,
    _KeyTable,
    _RawHit,
    pair_bound,
    pair_bound_applies,
)
from ecscreen.parties.indexcache import FlatArray
from ecscreen.parties.query import _QueryPrep

if TYPE_CHECKING:
    import numpy as np

    # the matcher module (models, normalisation data, features): ecscreen.parties.matching binds it here as it
    # loads (see there), so that either module may be imported first
    from ecscreen.parties import matching as _m
    from ecscreen.parties.query import _Query
else:  # imported on first use (issue 10): a one-shipment check screens without numpy (kernel_single)
    from ecscreen.parties.lazynp import np


class _Kernel(_QueryPrep):
    """Candidates and name scores of a chunk of prepared queries (the vectorised kernel)."""

    def _blocking_tokens(self, q: _Query, threshold: float) -> list[int]:
        """Query tokens at least one of which every hit must match (lossless for this scorer).

        Two necessary conditions, the cheaper one is used: (a) prefix filtering on the evidence, i.e. the
        tokens left out weigh less than ``threshold/100 * evidence`` together; (b) when generic matches
        cannot reach the threshold, a hit must match a token weighing at least ``distinct_min``.
        """
        cfg = self.config
        need = threshold / 100.0 * cfg.evidence
        weights = q.weights
        # heaviest first, ties in token order (a stable sort, reversed stably)
        order = [0] if len(weights) == 1 else sorted(range(len(weights)), key=weights.__getitem__, reverse=True)
        total = sum(weights)
        rest = total
        prefix: list[int] = []
        bounded = pair_bound_applies(cfg)
        for i in order:
            if rest < need or (bounded and self._rest_bound(rest, total) < threshold - BOUND_SLACK):
                break
            prefix.append(i)
            rest -= weights[i]
        if 100.0 * cfg.generic_factor < threshold:
            # a hit matches a distinct word, or covers at least ``full_match`` of the query
            alt = [i for i in order if weights[i] >= cfg.distinct_min]
            rest = total
            need_full = cfg.full_match * rest
            for i in order:
                if rest < need_full:
                    break
                if i not in alt:
                    alt.append(i)
                rest -= weights[i]
            if alt != prefix and self._postings_volume(q, alt) < self._postings_volume(q, prefix):
                return alt
        return prefix

    def _rest_bound(self, rest: float, total: float) -> float:
        """Upper bound of the name score of a pair matching only query words weighing ``rest`` of the query's
        ``total`` (where :func:`~ecscreen.parties.candidates.pair_bound_applies`): the query share matched is at
        most ``P = rest / total``, the alias share at most 1, so ``base <= b * 1 + (1 - b) * P`` (the larger share
        weighs ``b``, the smaller ``1 - b``; the substitution penalty only lowers it), and the evidence factor is
        ``min(1, rest / evidence)``. Tighter than the evidence alone (``100 * rest / evidence``): the query's
        lightest words are left out of the blocking words more often."""
        cfg = self.config
        share = min(1.0, rest / total) if total > 0.0 else 1.0
        return 100.0 * (cfg.balance + (1.0 - cfg.balance) * share) * min(1.0, rest / cfg.evidence)

    def _single_word_min(self, threshold: float) -> float:
        """Share of the query (or alias) weight a single matched word must carry for a hit.

        With one matched query word, base <= b*M + (1-b)*m - g*(1-M) <= (1+g)*M - g, where M is the larger
        of the word's shares; reaching threshold T needs M >= (T + g) / (1 + g).
        """
        g = max(0.0, self.config.substitution_penalty)
        return max(0.0, (threshold / 100.0 + g) / (1.0 + g) - 1e-9)

    def _postings_volume(self, q: _Query, toks: list[int]) -> int:
        volumes = q.volumes
        return sum([volumes[i] for i in toks])

    def _score_pairs(
        self,
        queries: list[_Query],
        pq: np.ndarray,
        pa: np.ndarray,
        e_key: np.ndarray,
        e_sim: np.ndarray,
        e_tloc: np.ndarray,
        qw: np.ndarray,
        q_total: np.ndarray,
    ) -> np.ndarray:
        cfg = self.config
        n_pairs = len(pa)
        if n_pairs == 0:
            return np.zeros(0)
        lengths = self.a_len[pa]
        total = int(lengths.sum())
        f_pair = np.repeat(np.arange(n_pairs, dtype=np.int32), lengths)
        offs = np.cumsum(lengths, dtype=np.int32) - lengths
        f_idx = np.repeat(self.a_start[pa] - offs, lengths)
        f_idx += np.arange(total, dtype=np.int32)
        key = pq[f_pair] * self.n_vocab + self.a_tok[f_idx]
        pos = _KeyTable(e_key).lookup(key)
        hit = np.flatnonzero(pos >= 0)
        hp = pos[hit]
        h_pair = f_pair[hit]
        h_sim = e_sim[hp]
        h_aw = self.a_w[f_idx[hit]]
        r_num = np.bincount(h_pair, weights=h_aw * h_sim, minlength=n_pairs)
        matched_aw = np.bincount(h_pair, weights=h_aw, minlength=n_pairs)
        # best similarity per (pair, query token); only matched cells are visited afterwards
        maxt = qw.shape[1]
        m = np.zeros(n_pairs * maxt)
        np.maximum.at(m, h_pair * maxt + e_tloc[hp], h_sim)
        cells = np.flatnonzero(m)
        c_pair = cells // maxt
        c_w = qw.ravel()[pq[c_pair] * maxt + cells % maxt]
        p_num = np.bincount(c_pair, weights=c_w * m[cells], minlength=n_pairs)
        matched_qw = np.bincount(c_pair, weights=c_w, minlength=n_pairs)
        max_w = np.zeros(n_pairs)
        np.maximum.at(max_w, c_pair, c_w)
        return _combine(
            cfg,
            p_num,
            q_total[pq],
            r_num,
            self.a_W[pa],
            matched_qw,
            matched_aw,
            max_w,
            self.a_weak[pa],
        )

    def _match_chunk(
        self, queries: list[_Query], threshold: float, exhaustive: bool
    ) -> list[list[_RawHit]]:
        nq = len(queries)
        if not exhaustive and kernel_single.wanted(self, queries, threshold):
            # few candidates (or a check's flat index): plain Python, the same hits to the bit, no numpy
            return kernel_single.match_chunk(self, queries, threshold)
        self._numpy_arrays()
        ch = self._chunk_arrays(queries, threshold, exhaustive)
        if exhaustive:
            pq = np.repeat(np.arange(nq, dtype=np.int64), self.n_alias)
            pa = np.tile(np.arange(self.n_alias, dtype=np.int32), nq)
        else:
            pq, pa = self._candidates(ch, threshold)
        out: list[list[_RawHit]] = [[] for _ in range(nq)]
        if len(pa):
            scores = self._score_pairs(queries, pq, pa, ch.e_key, ch.e_sim, ch.e_tloc, ch.qw, ch.q_total)
            sel = np.flatnonzero(scores >= threshold)
            for qi, ai, sc in zip(pq[sel].tolist(), pa[sel].tolist(), scores[sel].tolist(), strict=True):
                out[qi].append(_RawHit(ai, sc, False))
        return self._add_acronyms(queries, threshold, out)

    def _add_acronyms(self, queries: list[_Query], threshold: float, out: list[list[_RawHit]]) -> list[list[_RawHit]]:
        if max(self.config.acronym_score, self.config.acronym_score_short) >= threshold:
            for qi, q in enumerate(queries):
                for ai, size in self._acronym_candidates(q):
                    score = self._acronym_score(size)
                    if score >= threshold:
                        out[qi].append(_RawHit(ai, score, True))
        return out

    def _numpy_arrays(self) -> None:
        """The index arrays as numpy arrays for the bulk kernel (a cache load keeps them flat: FlatArray)."""
        for name in self._STATE_ARRAYS:
            a = getattr(self, name)
            if isinstance(a, FlatArray):
                setattr(self, name, a.numpy())

    def _blocked(self, q: _Query, threshold: float) -> tuple[list[int], list[int]]:
        """(vocabulary ids, query token) every hit of ``q`` must match one of, cached on the query."""
        blocked = q.blocking.get(threshold)
        if blocked is None:
            toks = self._blocking_tokens(q, threshold)
            if len(toks) == 1:  # the usual case
                exp = q.expansions[toks[0]]
                blocked = (list(exp), [toks[0]] * len(exp))
            elif len(q.e_u) == sum(map(len, q.expansions)):
                # no list word related to two query words (e_u: one entry per related list word): the words'
                # expansions one after the other, last token first (what the merge below gives then, ~5x faster)
                bu: list[int] = []
                bt: list[int] = []
                for i in reversed(toks):
                    exp = q.expansions[i]
                    bu.extend(exp)
                    bt.extend([i] * len(exp))
                blocked = (bu, bt)
            else:
                seen: dict[int, int] = {}
                for i in reversed(toks):  # the first token wins
                    seen.update(dict.fromkeys(q.expansions[i], i))
                blocked = (list(seen), list(seen.values()))
            q.blocking[threshold] = blocked
        return blocked

    def _chunk_arrays(self, queries: list[_Query], threshold: float, exhaustive: bool) -> _Chunk:
        """The chunk's queries as flat arrays: weights, related vocabulary, blocking words, signatures."""
        nq = len(queries)
        maxt = max([len(q.tokens) for q in queries] + [1])
        # the weight rows zero-padded to maxt, made as one array (a row assignment per query cost ~2 us)
        pad = [0.0] * maxt
        rows: list[list[float]] = []
        n_e: list[int] = []
        eu: list[int] = []
        es: list[float] = []
        et: list[int] = []
        ch = _Chunk()
        m_min = self._single_word_min(threshold)
        for qi, q in enumerate(queries):
            w = q.weights
            rows.append(w + pad[len(w):] if len(w) < maxt else w)
            eu.extend(q.e_u)
            es.extend(q.e_s)
            et.extend(q.e_t)
            n_e.append(len(q.e_u))
            if not exhaustive:
                ch.add_blocked(qi, q, self._blocked(q, threshold), m_min)
        qw = np.array(rows, dtype=np.float64).reshape(nq, maxt)
        ch.qw = qw
        ch.q_total = qw.sum(axis=1)
        eq = np.repeat(np.arange(nq, dtype=np.int64), np.asarray(n_e, dtype=np.int64))
        ch.e_key = eq * self.n_vocab + np.asarray(eu, dtype=np.int64)
        ch.e_sim = np.asarray(es, dtype=np.float64)
        ch.e_tloc = np.asarray(et, dtype=np.int64)
        return ch

    def _candidates(self, ch: _Chunk, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """(query, alias) candidate pairs of a chunk: the postings of its blocking words whose :meth:`_pair_bounds`
        reaches the threshold (less the rounding's slack), or, where the formula is not bounded that way, those
        the single-word bound and the signatures keep (:meth:`_signature_mask`). Either is lossless: the same hits.

        The bound alone keeps about 1.7 % more pairs than the signatures and the bound together (the benchmark's
        negatives) at about half the cost of the signature test a row."""
        pq, pa, g, idx = self._posting_rows(ch)
        if not len(pa):
            return pq, pa
        if pair_bound_applies(self.config):
            keep = np.flatnonzero(self._pair_bounds(ch, pq, pa, g) >= threshold - BOUND_SLACK)
        else:
            keep = np.flatnonzero(self._signature_mask(ch, pa, g, idx, threshold))
        return pq[keep], pa[keep]

    def _posting_rows(self, ch: _Chunk) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(query, alias, signature group, posting index) of every posting of a chunk's blocking words."""
        if not ch.bu:
            empty = np.zeros(0, dtype=np.int64)
            return empty, np.zeros(0, dtype=np.int32), empty, empty
        b_count = np.asarray(ch.b_count, dtype=np.int64)
        bq_a = np.repeat(np.asarray(ch.b_query, dtype=np.int64), b_count)
        bu_a = np.asarray(ch.bu, dtype=np.int64)
        lengths = self.p_len[bu_a]
        total = int(lengths.sum())
        offs = np.cumsum(lengths) - lengths
        idx = np.repeat(self.p_start[bu_a] - offs, lengths) + np.arange(total, dtype=np.int32)
        # (query, alias) candidates; the rare duplicates (an alias holding two blocking words) are
        # scored twice and merged with the hits, cheaper than de-duplicating every row
        pq = np.repeat(bq_a, lengths)
        pa = self.p_alias[idx]
        g_base = np.repeat(np.asarray(ch.b_group, dtype=np.int64), b_count)
        g = np.repeat(g_base + np.asarray(ch.bt, dtype=np.int64), lengths)
        return pq, pa, g, idx

    def _signature_mask(self, ch: _Chunk, pa: np.ndarray, g: np.ndarray, idx: np.ndarray,
                        threshold: float) -> np.ndarray:
        """Which posting rows the single-word bound and the word signatures keep (both lossless).

        A hit that matches a single query word needs that word to carry >= m_min of the query or of the alias
        weight (see _single_word_min): the blocking word alone, or two alias words related to the query word (two
        of its expansions' bits in the alias, or two alias words on one bit: ``a_ndup``); otherwise it must match
        another query word. The signatures rule these out cheaply (a signature collision only keeps a row, never
        drops one). Before ``a_ndup`` was read here, two alias words on one bit counted once and such a pair was
        dropped: the index missed hits that scoring every name found (e.g. 'Marit Johannessen' / 'OOO Smart
        Marin' at 60: 'smart' and 'marin' share a bit, both related to 'marit')."""
        m_min = self._single_word_min(threshold)
        words = ch.group_words()
        mask = np.asarray(ch.g_qdom, dtype=bool)[g] | (self.p_share[idx] >= m_min)
        # one signature word at a time (1-D gathers of the aliases' column, no (rows x words) temporaries):
        # another query word's bit in the alias, or two bits of the word's own expansions
        cols = self._sig_columns()
        own_bits = np.zeros(len(pa), dtype=np.uint16)
        for w in range(_SIG_WORDS):
            a = cols[w][pa]
            mask |= (a & np.ascontiguousarray(words[:, w])[g]) != 0
            own_bits += np.bitwise_count(a & np.ascontiguousarray(words[:, _SIG_WORDS + w])[g])
        # two of the alias's words on one bit (a collision, or a word written twice): the word may match both
        mask |= (own_bits >= 2) | (self.a_ndup[pa] > 0)
        return mask

    def _candidate_rows(self, ch: _Chunk, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query, alias, signature group) of the posting rows :meth:`_signature_mask` keeps."""
        pq, pa, g, idx = self._posting_rows(ch)
        keep = np.flatnonzero(self._signature_mask(ch, pa, g, idx, threshold))
        return pq[keep], pa[keep], g[keep]

    def _pair_bounds(self, ch: _Chunk, pq: np.ndarray, pa: np.ndarray, g: np.ndarray) -> np.ndarray:
        """:func:`~ecscreen.parties.candidates.pair_bound` of posting rows (query ``pq``, alias ``pa``, signature
        group ``g``): the alias's bits among the query's (every query word's expansions: a group's other words
        and its own), the query's weights."""
        words = ch.group_words()
        cols = self._sig_columns()
        n_bits = np.zeros(len(pa), dtype=np.uint16)
        for w in range(_SIG_WORDS):
            union = words[:, w] | words[:, _SIG_WORDS + w]
            n_bits += np.bitwise_count(cols[w][pa] & union[g])
        return pair_bound(self.config, pq, pa, n_bits, self.a_ndup, self.a_bitshare, ch.qw)

    def pair_bounds_and_scores(self, texts: list[str], threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """For checking the pair bound (tests, ``benchmarks/check_pair_bound.py``): the bound and the name score of
        every posting row of the blocking words (what the bound is asked about) when ``texts`` (and their readings)
        are screened as one chunk at ``threshold``."""
        self._numpy_arrays()
        self._prefetch_words(texts)
        queries = [self._prepare(t) for t in texts]
        queries += [alt for q in list(queries) for _, alt in self._readings(q)]
        ch = self._chunk_arrays(queries, threshold, False)
        pq, pa, g, _ = self._posting_rows(ch)
        if not len(pa):
            return np.zeros(0), np.zeros(0)
        scores = self._score_pairs(queries, pq, pa, ch.e_key, ch.e_sim, ch.e_tloc, ch.qw, ch.q_total)
        return self._pair_bounds(ch, pq, pa, g), scores

    def _sig_columns(self) -> list[np.ndarray]:
        """The aliases' word signatures one 64-bit word per array (``a_sig`` column by column), made on first
        use: a candidate row then reads 8 contiguous bytes per word instead of a 32-byte row gather."""
        cols: list[np.ndarray] | None = self.__dict__.get("_a_sig_cols")
        if cols is None:
            cols = self.__dict__["_a_sig_cols"] = [np.ascontiguousarray(self.a_sig[:, w]) for w in range(_SIG_WORDS)]
        return cols

    def _acronym_score(self, size: int) -> float:
        """Three-letter acronyms collide often (ZTE = Zhejiang Tianlu Energy): they score lower."""
        return self.config.acronym_score if size >= 4 else self.config.acronym_score_short

    def _acronym_candidates(self, q: _Query) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        toks = q.tokens
        if len(toks) == 1 and 3 <= len(toks[0]) <= 8 and toks[0].isalpha():
            found.extend((ai, len(toks[0])) for ai in self._acro.get(toks[0], ()))
        if q.norm.legal or len(q.tokens) >= 4 or any(t in _m._ORG_HINTS for t in q.norm.full_tokens):
            for ini in _m._acronym_forms(q.norm):
                found.extend((ai, len(ini)) for ai in self._single.get(ini, ()))
        return found

    def _match_texts(
        self, texts: list[str], thr: float, exhaustive: bool
    ) -> list[list[tuple[int, float, int, bool]]]:
        self._prefetch_words(texts)
        queries = [self._prepare(t) for t in texts]
        # --- evasion hook (ecscreen.parties.variants): other readings of a query (re-joined, re-split, sound-alike
        # words) are screened too; per entry the best score, less the reading's penalty, is kept
        extra: list[tuple[int, float, float]] = []
        for qi in range(len(texts)):
            for reading, alt in self._readings(queries[qi]):
                queries.append(alt)
                extra.append((qi, reading.penalty, max(thr, reading.min_score)))
        chunk_hits = self._match_chunk(queries, thr, exhaustive)
        del queries[len(texts) :]
        for k, (qi, penalty, need) in enumerate(extra):
            for h in chunk_hits[len(texts) + k]:
                if h.name_score >= need and h.name_score - penalty >= thr:
                    chunk_hits[qi].append(_RawHit(h.alias, h.name_score - penalty, h.acronym))
        del chunk_hits[len(texts) :]
        # --- end of evasion hook
        out: list[list[tuple[int, float, int, bool]]] = []
        alias_entry = self.alias_entry
        for hl in chunk_hits:
            best: dict[int, _RawHit] = {}
            for h in hl:
                ei = int(alias_entry[h.alias])
                cur = best.get(ei)
                if cur is None or h.name_score > cur.name_score:
                    best[ei] = h
            out.append(
                sorted(
                    ((ei, h.name_score, h.alias, h.acronym) for ei, h in best.items()), key=lambda x: (-x[1], x[0])
                )
            )
        return out

