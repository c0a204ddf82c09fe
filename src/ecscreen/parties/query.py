"""Query preparation: a part of ``Matcher`` (issue 10).

A party name becomes a :class:`_Query`: its normalised words (re-joined where the lists join them), each word's
related list words with their similarity (equal, one edit apart, same skeleton, Jaro-Winkler, nicknames), its
weight and postings volume, and the other readings of the name (:mod:`ecscreen.parties.variants`). Everything
is computed once per word / per name and cached on the matcher (results never depend on the caches)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapidfuzz import process as rf_process
from rapidfuzz.distance import Indel, JaroWinkler

from ecscreen.domain.normalize import NormalizedName, given_name_forms, load_han_tables, skeleton
from ecscreen.parties import candidates
from ecscreen.parties.candidates import _deletes
from ecscreen.parties.index_build import _IndexBuild
from ecscreen.parties.variants import Reading, query_variants, warm_indexes

_NO_ALIASES: frozenset[int] = frozenset()

# a Han character (the ranges of ecscreen.domain.normalize.HAN_RUN) as a regex: _warm_for_fork scans a whole batch
_HAN_CHAR = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]").search

# prepared queries kept after a search_many call (see Matcher._trim_query_cache); results never depend on it
QUERY_CACHE_KEEP = 4096


@dataclass(slots=True)
class _Query:
    text: str
    norm: NormalizedName
    tokens: list[str]
    weights: list[float]
    expansions: list[dict[int, float]]
    volumes: list[int]
    sigs: list[int]
    # one entry per related vocabulary token: the most similar query token (first on ties)
    e_u: list[int]
    e_s: list[float]
    e_t: list[int]
    blocking: dict[float, tuple[list[int], list[int]]]
    # other readings of the query (ecscreen.parties.variants) with their prepared queries: see Matcher._readings
    readings: list[tuple[Reading, _Query]] | None = None


if TYPE_CHECKING:
    # the matcher module (models, normalisation data, features): ecscreen.parties.matching binds it here as it
    # loads (see there), so that either module may be imported first
    from ecscreen.parties import matching as _m

class _QueryPrep(_IndexBuild):
    """Query preparation over the index: words, their related list words, weights, readings."""

    def _expand(self, tok: str) -> dict[int, float]:
        """Vocabulary tokens related to ``tok`` with their similarity (exactly ``token_sim`` > 0)."""
        cached = self._exp_cache.get(tok)
        if cached is not None:
            return cached
        res: dict[int, float] = {}
        vid = self.vocab.get(tok)
        if vid is not None:
            res[vid] = 1.0
        if len(tok) == 3 and tok.isalpha():
            # four-letter words that are this word plus one letter
            vlen = self._vocab_len
            for v in self._del_index.get(tok, ()):
                if v != vid and vlen[v] == 4:
                    res[v] = _m._edit_sim(4, self.config)
        if _m._fuzzy_ok(tok):
            self._expand_edits(tok, vid, res)
            self._expand_sounds(tok, res)
        for form in given_name_forms(tok):  # nickname hook (ecscreen.domain.normalize.given_name_forms)
            nv = self.vocab.get(form)
            if nv is not None and res.get(nv, 0.0) < self.config.sim_nickname:
                res[nv] = self.config.sim_nickname
        if len(self._exp_cache) > 500_000:
            self._exp_cache.clear()
        self._exp_cache[tok] = res
        return res

    def _prefetch_words(self, texts: Iterable[str]) -> None:
        """Look up the deletion keys of the new words of many names in one vectorised call (a large index's
        per-call numpy cost was most of a new word's cost); :meth:`_expand_edits` takes them from there."""
        di = self._del_index
        if len(di) <= candidates.SMALL_DELETION_INDEX:
            return
        qc, ec = self._query_cache, self._exp_cache
        words: dict[str, None] = {}
        for t in texts:
            if t not in qc:
                for w in _m._normalize_cached(t).tokens:
                    if w not in ec and _m._fuzzy_ok(w):
                        words[w] = None
        if not words:
            return
        keys: list[str] = []
        spans: list[tuple[str, int, int]] = []
        for w in words:
            dels = _deletes(w)
            spans.append((w, len(keys), len(dels) + 1))
            keys.append(w)
            keys.extend(dels)
        got = di.get_many(keys)
        # a new dict (not cleared in place): words another thread prefetched and not used yet are looked up again
        self._edits_found = {w: got[a : a + n] for w, a, n in spans}
        self._sounds_found = self._sound_lists_many(list(words))

    def _expand_edits(self, tok: str, vid: int | None, res: dict[int, float]) -> None:
        """Words one edit apart (symmetric deletion index)."""
        cfg = self.config
        di = self._del_index
        lt = len(tok)
        found = self._edits_found.pop(tok, None)  # looked up with the other words of the batch (_prefetch_words)
        own, *dels = found if found is not None else di.get_many([tok, *_deletes(tok)])  # the word, its deletions
        edit: set[int] = set(own or ())
        for hit in dels:
            if hit:
                edit.update(hit)
        vlen = self._vocab_len
        for v in edit:
            if v != vid:
                lv = vlen[v]
                res[v] = _m._edit_sim(lt if lt > lv else lv, cfg)

    def _expand_sounds(self, tok: str, res: dict[int, float]) -> None:
        """Words of the same consonant skeleton, then Jaro-Winkler neighbours (first rule that applies)."""
        found = self.__dict__.get("_sounds_found")
        got = found.pop(tok, None) if found else None  # scored with the other words of the batch (_prefetch_words)
        skel, jw = got if got is not None else self._sound_lists(tok)
        cfg = self.config
        for v in skel:
            if v not in res:
                res[v] = cfg.sim_phonetic
        for v, sim in jw:
            if v not in res:
                res[v] = sim

    def _sound_lists_many(self, toks: list[str]) -> dict[str, tuple[list[int], list[tuple[int, float]]]]:
        """Per word, its same-skeleton list words (indel similarity >= ``phonetic_min_ratio``) and its
        Jaro-Winkler neighbours (same first two letters, lengths within two, JW >= ``jw_min``) with their
        similarity, each list in rapidfuzz's order (best first); :meth:`_expand_sounds` adds them to the word's
        expansions in that order.

        Many words in one call (the new words of a block of names, :meth:`_prefetch_words`), scored in key order
        (skeleton, then Jaro-Winkler bucket): words sharing a list of list words score against it back to back,
        its strings still in the CPU caches. One word at a time between the rest of the query work, the same
        extract cost about three times as much CPU (h30, in a batch run: 31 us for a word's first Jaro-Winkler
        extract, 10 us for the same extract again right after); the results do not depend on the order.
        """
        toks = list(dict.fromkeys(toks))
        # in key order: words of one skeleton or bucket in a row score against list words already in the caches
        out: dict[str, tuple[list[int], list[tuple[int, float]]]] = {
            tok: (self._skel_list(tok, key), []) for key, tok in sorted((skeleton(t), t) for t in toks)
        }
        for tok in sorted(toks, key=_bucket_key):
            out[tok][1].extend(self._jw_list(tok))
        return out

    def _sound_lists(self, tok: str) -> tuple[list[int], list[tuple[int, float]]]:
        """:meth:`_sound_lists_many` of one word."""
        return self._skel_list(tok, skeleton(tok)), self._jw_list(tok)

    def _skel_list(self, tok: str, key: str) -> list[int]:
        """List words of skeleton ``key`` (``tok``'s) with indel similarity >= ``phonetic_min_ratio``, best first."""
        skel = self._skel_lists.get(key)
        if not skel:
            return []
        ids = skel[1]
        return [ids[k] for _, _, k in rf_process.extract(
            tok, skel[0], scorer=Indel.normalized_similarity, score_cutoff=self.config.phonetic_min_ratio, limit=None
        )]

    def _jw_list(self, tok: str) -> list[tuple[int, float]]:
        """Jaro-Winkler neighbours of ``tok`` (same first two letters, lengths within two, JW >= ``jw_min``)
        with their similarity (JW x ``jw_scale``), best first."""
        cfg = self.config
        bucket = self._jw_buckets.get(_bucket_key(tok)) if cfg.jw_min <= 1.0 else None
        if not bucket:
            return []
        ids = bucket[1]
        scale = cfg.jw_scale
        return [(ids[k], round(score * scale, 4)) for _, score, k in rf_process.extract(
            tok, bucket[0], scorer=JaroWinkler.similarity, score_cutoff=cfg.jw_min, limit=None
        )]

    def _token_weight(self, tok: str, exp: dict[int, float]) -> float:
        """IDF of the token together with its spelling variants on the lists: a transliteration of a
        common name ('mhmd' ~ mohammed, muhammad ...) weighs as little as the name itself."""
        if len(tok) == 1:
            return self.config.initial_weight
        dfl = self._df_list
        df = sum(dfl[v] for v in exp)
        if tok not in self.vocab:
            df += self._bg_df.get(tok, 0)
        w = math.log1p(self._n_docs / df) if df > 0 else self.idf_max
        return w * self.config.patronymic_factor if _minor(tok) else w

    def _oov_weight(self, tok: str) -> float:
        bg = self._bg_df.get(tok)
        return math.log1p(self._n_docs / bg) if bg else self.idf_max

    def _prepare(self, text: str) -> _Query:
        cached = self._query_cache.get(text)
        if cached is not None:
            return cached
        nn = _m._normalize_cached(text)
        q = self._make_query(text, nn, self._rejoined(nn.tokens))
        if len(self._query_cache) > 200_000:
            self._query_cache.clear()
        self._query_cache[text] = q
        return q

    def _rejoined(self, tokens: Sequence[str]) -> list[str]:
        """``_rejoin(tokens, vocab, min_part=5)``: the words lined up with the list words. When every word is a
        list word it merges and splits nothing (each of its rules needs a word the lists do not have), so the
        words come back as they are, de-duplicated, without the per-word work (issue 11)."""
        vocab = self.vocab
        for t in tokens:
            if t not in vocab:
                return _m._rejoin(list(tokens), vocab, min_part=5, splits=self._split_words)
        return list(dict.fromkeys(tokens))

    def _trim_query_cache(self) -> None:
        """Forget the prepared queries of a large batch before the cyclic GC is back on.

        Each prepared query holds about a dozen containers (lists, dicts, readings); kept past the batch,
        every one of them is walked by the cyclic GC's next passes (three passes as they age: ~1.7 s of
        16 s for 60,000 names). Dropped here, while the GC is still off, they are freed by reference counting
        at no GC cost. A repeated name is answered by the result cache anyway; a small cache
        (:data:`QUERY_CACHE_KEEP`, e.g. a names list's ``may_match`` then ``search`` of one party) is kept."""
        if len(self._query_cache) > QUERY_CACHE_KEEP:
            self._query_cache.clear()

    def _make_query(self, text: str, nn: NormalizedName, tokens: list[str]) -> _Query:
        tokens = tokens[: self.config.max_tokens]
        known = self._info_cache
        infos = [known.get(t) or self._token_info(t) for t in tokens]  # (a token's info is a non-empty tuple)
        exps = [i[0] for i in infos]
        e_u: list[int] = []
        for exp in exps:
            e_u.extend(exp)
        e_s: list[float]
        e_t: list[int]
        if len(exps) == 1:  # one word: its related list words as they are
            e_s = list(exps[0].values())
            e_t = [0] * len(e_u)
        elif len(set(e_u)) == len(e_u):  # usual case: no vocabulary token related to two query tokens
            e_s = []
            e_t = []
            for ti, exp in enumerate(exps):
                e_s.extend(exp.values())
                e_t.extend([ti] * len(exp))
        else:
            best: dict[int, tuple[float, int]] = {}
            for ti, exp in enumerate(exps):
                for u, s in exp.items():
                    cur = best.get(u)
                    if cur is None or s > cur[0]:
                        best[u] = (s, ti)
            e_u = list(best)
            e_s = [v[0] for v in best.values()]
            e_t = [v[1] for v in best.values()]
        return _Query(
            text=text,
            norm=nn,
            tokens=tokens,
            weights=[i[1] for i in infos],
            expansions=exps,
            volumes=[i[2] for i in infos],
            sigs=[i[3] for i in infos],
            e_u=e_u,
            e_s=e_s,
            e_t=e_t,
            blocking={},
        )

    def _readings(self, q: _Query) -> list[tuple[Reading, _Query]]:
        """The other readings of ``q`` (ecscreen.parties.variants) and their queries, made once per query: they
        depend only on the text and its normalisation (the kernel and every candidate's calibration use them)."""
        got = q.readings
        if got is None:
            got = [(r, self._make_query(q.text, r.norm or q.norm, self._rejoined(r.tokens)))
                   for r in query_variants(q.norm, self.vocab, self._word_aliases)]
            q.readings = got
        return got

    def _together(self, a: str, b: str) -> bool:
        """Whether some list name contains both list words ``a`` and ``b`` (ranks sound-alike readings, h14)."""
        return not self._word_aliases(a).isdisjoint(self._word_aliases(b))

    def _word_aliases(self, word: str) -> frozenset[int]:
        """The aliases containing list word ``word`` (empty for another word; memoised, bounded): the hook
        ecscreen.parties.variants ranks sound-alike readings with (h14)."""
        memo: dict[str, frozenset[int]] | None = self.__dict__.get("_alias_sets")
        if memo is None:
            memo = self.__dict__["_alias_sets"] = {}
        found = memo.get(word)  # keyed by the word: the sound readings ask ~60 times a name (issue 11)
        if found is None:
            vid = self.vocab.get(word)
            if vid is None:
                return _NO_ALIASES
            if len(memo) >= 50_000:
                memo.clear()
            start = int(self.p_start[vid])
            found = memo[word] = frozenset(self.p_alias[start:start + int(self.p_len[vid])].tolist())
        return found

    def _token_info(self, tok: str) -> tuple[dict[int, float], float, int, int]:
        """(expansions, weight, postings volume, signature of the expansions) of a query token, cached."""
        info = self._info_cache.get(tok)
        if info is None:
            exp = self._expand(tok)
            p_len = self._p_len_list
            vbit = self._vbit
            sig = 0
            volume = 0
            for u in exp:
                sig |= 1 << vbit[u]
                volume += p_len[u]
            info = (exp, self._token_weight(tok, exp), volume, sig)
            if len(self._info_cache) > 500_000:
                self._info_cache.clear()
            self._info_cache[tok] = info
        return info

    def _warm_for_fork(self, texts: Iterable[str]) -> None:
        """Build what screening ``texts`` builds on first use, before this process forks workers for them (issue 11):
        the vocabulary's sound-alike and near-word indexes and, when a text has Han script, the romanisation tables.
        Built once here, the workers share them copy-on-write; built after the fork, every worker built its own
        (~0.5 s CPU each on the CSL). Results do not depend on it."""
        warm_indexes(self.vocab)
        if any(not t.isascii() and _HAN_CHAR(t) for t in texts):
            load_han_tables()

    def may_match(self, name: str) -> bool:
        """Cheap necessary test for a hit: a word of the name (or of a spelling of it) is related to a
        word of the index, or the name is an acronym of an indexed name. False means no hit at all.

        Reads only what the test needs: each text's words (:meth:`_query_tokens`, the words ``_prepare`` would
        give) and their related list words (:meth:`_expand`, the query's ``expansions``), stopping at the first
        word with any; no weights, signatures or prepared query for a name that cannot match (most names
        against a pack's names list)."""
        for text in (name, *self._query_variants(name)):
            toks = self._query_tokens(text)
            if (len(toks) == 1 and toks[0] in self._acro) or any(self._expand(t) for t in toks):
                return True
        return False

    def _query_tokens(self, text: str) -> list[str]:
        """The words of ``_prepare(text)`` (normalised, re-joined where the lists join them, at most
        ``max_tokens``), without preparing the query when it is not prepared already."""
        q = self._query_cache.get(text)
        if q is not None:
            return q.tokens
        nn = _m._normalize_cached(text)
        return self._rejoined(nn.tokens)[: self.config.max_tokens]

    def _query_variants(self, name: str) -> list[str]:
        """Other spellings of a query whose index candidates are scored too (always against the name as
        given): its one distinctive word without the common business words ('Mahan Airlines' -> 'mahan', so a generic
        word added to a listed name does not hide it) and with hyphenated words joined
        ('Semi-conductor' -> 'Semiconductor')."""
        out: list[str] = []
        if "-" in name:
            out.append(re.sub(r"(?<=\w)-(?=\w)", "", name))
        toks = self._query_tokens(name)
        fixed = [_m.common_typo(t) or t for t in toks]
        if fixed != list(toks):
            out.append(" ".join(fixed))
        common = _m.common_words()
        core = [t for t in toks if t not in common]
        if len(core) == 1 and len(toks) > 1:  # one distinctive word with generic ones: find its own entry
            out.append(core[0])
        return [v for v in out if v != name]


# _minor_word per word, for every index of the process (a pure function of the word: suffixes, the particles
# table, digits, roman numerals; ~20 us a call, asked for every new query word and list word of every index)
_MINOR: dict[str, bool] = {}


def _bucket_key(tok: str) -> tuple[str, int]:
    """The Jaro-Winkler bucket of a word: its first two letters and its length."""
    return tok[:2], len(tok)


def _minor(tok: str) -> bool:
    got = _MINOR.get(tok)
    if got is None:
        if len(_MINOR) >= 200_000:
            _MINOR.clear()
        got = _MINOR[tok] = _m._minor_word(tok)
    return got
