"""Building the party index (and saving / loading it in the on-disk cache): a part of ``Matcher`` (issue 10).

:class:`_IndexBuild` holds the index state every other part of the matcher reads: the list names (aliases),
the vocabulary and its weights, postings and word signatures, the fuzzy word indexes, the acronyms. The index
cache file format itself is :mod:`ecscreen.parties.indexcache` / :func:`ecscreen.parties.matching.read_cache_file`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ecscreen.domain.normalize import NormalizedName, normalize, skeleton
from ecscreen.parties import kernel_single
from ecscreen.parties.candidates import (
    _HASH_MUL,
    _SIG_BITS_LOG2,
    _SIG_WORDS,
    BOUND_BITS,
    _deletes,
    _DeletionIndex,
)
from ecscreen.parties.indexcache import FlatArray, pack_dict, pack_texts, unpack_dict, unpack_texts
from ecscreen.parties.variants import seed_sound_index, sound_index_keys

if TYPE_CHECKING:
    import numpy as np

    # the matcher module (models, normalisation data, features): ecscreen.parties.matching binds it here as it
    # loads (see there), so that either module may be imported first
    from ecscreen.parties import matching as _m
    from ecscreen.parties.matching import ListEntry, ScoreConfig
    from ecscreen.parties.query import _Query
else:  # imported on first use (issue 10): building needs it, loading the index cache does not
    from ecscreen.parties.lazynp import np


def alias_bit_shares(alias_of_tok: np.ndarray, a_tok: np.ndarray, vbit: np.ndarray, a_w: np.ndarray,
                     a_W: np.ndarray, n_alias: int) -> tuple[np.ndarray, np.ndarray]:
    """Per alias, what the kernel's pair bound (:func:`ecscreen.parties.candidates.pair_bound`) reads:

    * ``bitshare`` (``n_alias`` x ``BOUND_BITS + 1``, :data:`~ecscreen.parties.candidates.BOUND_BITS`): column
      ``k < BOUND_BITS`` is the share of the alias weight carried by its ``k + 1`` heaviest signature bits (a bit's
      weight: the summed weights of the alias words with that bit; all its bits when it has fewer), the last
      column 1. Whatever ``n`` bits of the alias a query can match, the alias words it matches weigh at most
      column ``min(n, BOUND_BITS + 1) - 1``;
    * ``ndup``: words of the alias (every occurrence) less its distinct bits (words sharing a bit, or a word
      written twice): ``n`` matched bits cover at most ``n + ndup`` distinct words, and a query word matching one
      bit of an alias with ``ndup > 0`` may match more than one of its words (the signature test counts bits)."""
    n_bits = 1 << _SIG_BITS_LOG2
    share = np.ones((n_alias, BOUND_BITS + 1), dtype=np.float64)
    ndup = np.zeros(n_alias, dtype=np.int32)
    if not len(a_tok):
        return share, ndup
    alias_of_tok = alias_of_tok.astype(np.int64)
    # the weight of each (alias, bit)
    ab, ab_inv = np.unique(alias_of_tok * n_bits + vbit[a_tok], return_inverse=True)
    ab_w = np.bincount(ab_inv.reshape(-1), weights=a_w, minlength=len(ab))
    ab_alias = ab // n_bits
    ab_share = ab_w / np.maximum(a_W[ab_alias], 1e-9)
    # words (every occurrence) and distinct bits per alias
    n_words = np.bincount(alias_of_tok, minlength=n_alias)
    n_distinct_bits = np.bincount(ab_alias, minlength=n_alias)
    ndup[:] = n_words - n_distinct_bits
    # each alias's bits heaviest first: the shares of its first BOUND_BITS by rank, summed along the row (past its
    # last bit, the running sum stays its whole share)
    order = np.lexsort((-ab_share, ab_alias))
    s_alias, s_share = ab_alias[order], ab_share[order]
    rank = np.arange(len(s_alias)) - np.searchsorted(s_alias, s_alias)
    by_rank = np.zeros((n_alias, BOUND_BITS), dtype=np.float64)
    top = rank < BOUND_BITS
    by_rank[s_alias[top], rank[top]] = s_share[top]
    has = n_distinct_bits > 0
    share[has, :BOUND_BITS] = np.cumsum(by_rank[has], axis=1)
    return share, ndup


class _IndexBuild:
    """The index state and how it is built, exported to and imported from the index cache."""

    # set by Matcher.__init__ (the facade), read by every part
    config: ScoreConfig
    entries: Sequence[ListEntry]
    _han_texts: dict[str, NormalizedName]
    _exp_cache: dict[str, dict[int, float]]
    _info_cache: dict[str, tuple[dict[int, float], float, int, int]]
    _query_cache: dict[str, _Query]
    _cal_weights: dict[tuple[str, bool], tuple[bool, float]]
    _edits_found: dict[str, list[list[int] | None]]
    _split_words: dict[tuple[str, int], tuple[str, str | None] | None]  # see matching._split_memo

    def _build(self, background: bool) -> None:
        """Build the index: the names, the vocabulary and its weights, postings and signatures, the fuzzy
        indexes over the vocabulary, the acronyms."""
        self._build_aliases()
        alias_tok, alias_len, df = self._build_vocab()
        self._build_weights(df, background)
        self._build_postings(alias_tok, alias_len)
        self._build_fuzzy()
        self._build_acronyms()

    def _build_aliases(self) -> None:
        """Every distinct normalised name of every entry (name, aliases and their variants)."""
        alias_entry: list[int] = []
        alias_text: list[str] = []
        alias_norm: list[NormalizedName] = []
        alias_weak: list[bool] = []
        for ei, entry in enumerate(self.entries):
            seen: set[tuple[str, ...]] = set()
            for text in _m._name_variants([entry.name, *entry.aliases]):
                if not text or not text.strip():
                    continue
                nn = normalize(text)
                if not nn.tokens:
                    continue
                key = tuple(sorted(nn.tokens))
                if key in seen:
                    continue
                seen.add(key)
                alias_entry.append(ei)
                alias_text.append(text)
                alias_norm.append(nn)
                alias_weak.append(len(nn.tokens) == 1)
        self.alias_entry = np.asarray(alias_entry, dtype=np.int64)
        self.alias_text: Sequence[str] = alias_text
        self.alias_norm: Sequence[NormalizedName] = alias_norm
        self.a_weak = np.asarray(alias_weak, dtype=bool)
        self.n_alias = len(alias_text)

    def _build_vocab(self) -> tuple[list[int], list[int], list[int]]:
        """Token ids: (token id of every alias word, words per alias, document frequency per token)."""
        vocab: dict[str, int] = {}
        df: list[int] = []
        alias_tok: list[int] = []
        alias_len: list[int] = []
        for nn in self.alias_norm:
            for tok in nn.tokens:
                vid = vocab.get(tok)
                if vid is None:
                    vid = len(df)
                    vocab[tok] = vid
                    df.append(0)
                df[vid] += 1
                alias_tok.append(vid)
            alias_len.append(len(nn.tokens))
        self.vocab = vocab
        self.vocab_list = [""] * len(vocab)
        for tok, vid in vocab.items():
            self.vocab_list[vid] = tok
        self.n_vocab = len(vocab)
        return alias_tok, alias_len, df

    def _build_weights(self, df: list[int], background: bool) -> None:
        """IDF per token (list + background frequencies), with initials and minor words weighing little."""
        n_alias, vocab = self.n_alias, self.vocab
        # IDF over this list plus the background frequencies of the embedded CSL, so weights do not
        # depend on the size of the list (a 10-entry list weighs "huawei" like the full CSL does)
        bg_n, bg_df = _m.background_df() if background else (0, {})
        self._bg_df = bg_df
        self._n_docs = max(n_alias + bg_n, 1)
        df_arr = np.asarray(df, dtype=np.float64)
        if bg_df:
            df_arr = df_arr + np.asarray([bg_df.get(t, 0) for t in self.vocab_list], dtype=np.float64)
        self._df_list: list[float] = np.maximum(df_arr, 1.0).tolist()
        self.idf = np.log1p(self._n_docs / np.maximum(df_arr, 1.0))
        for tok, vid in vocab.items():
            if len(tok) == 1:
                self.idf[vid] = self.config.initial_weight
            elif _m._minor_word(tok):
                self.idf[vid] *= self.config.patronymic_factor
        self.idf_list: list[float] = self.idf.tolist()
        self.idf_max = math.log1p(self._n_docs)

    def _build_postings(self, alias_tok: list[int], alias_len: list[int]) -> None:
        """Alias words as flat arrays, postings (token -> aliases) and the aliases' word signatures."""
        n_alias, n_vocab = self.n_alias, self.n_vocab
        self.a_tok = np.asarray(alias_tok, dtype=np.int32)
        self.a_len = np.asarray(alias_len, dtype=np.int32)
        self.a_start = np.zeros(n_alias, dtype=np.int32)
        if n_alias:
            self.a_start[1:] = np.cumsum(self.a_len)[:-1]
        self.a_w = self.idf[self.a_tok] if len(self.a_tok) else np.zeros(0)
        self.a_W = np.bincount(
            np.repeat(np.arange(n_alias), self.a_len), weights=self.a_w, minlength=n_alias
        ).astype(np.float64)

        # postings: vocab id -> alias ids (with the word's share of the alias weight)
        order = np.argsort(self.a_tok, kind="stable")
        alias_of_tok = np.repeat(np.arange(n_alias, dtype=np.int32), self.a_len)
        self.p_alias = alias_of_tok[order]
        self.p_share = self.a_w[order] / np.maximum(self.a_W[self.p_alias], 1e-9) if len(order) else np.zeros(0)
        # 256-bit word signature per alias: a cheap test "may this alias contain another query word?"
        with np.errstate(over="ignore"):
            vbit = ((np.arange(n_vocab, dtype=np.uint64) * np.uint64(_HASH_MUL)) >> np.uint64(64 - _SIG_BITS_LOG2)).astype(
                np.int64
            )
        self._vbit: list[int] = vbit.tolist()
        self.a_sig = np.zeros((n_alias, _SIG_WORDS), dtype=np.uint64)
        if len(self.a_tok):
            bits = vbit[self.a_tok]
            np.bitwise_or.at(
                self.a_sig, (alias_of_tok, bits // 64), np.left_shift(np.uint64(1), (bits % 64).astype(np.uint64))
            )
        self.p_len = np.bincount(self.a_tok, minlength=n_vocab).astype(np.int32)
        self.p_start = np.zeros(n_vocab, dtype=np.int32)
        if n_vocab:
            self.p_start[1:] = np.cumsum(self.p_len)[:-1]
        self._p_len_list: list[int] = self.p_len.tolist()
        self.a_bitshare, self.a_ndup = alias_bit_shares(alias_of_tok, self.a_tok, vbit, self.a_w, self.a_W, n_alias)

    def _build_fuzzy(self) -> None:
        """Fuzzy indexes over the vocabulary: one-deletion keys, consonant skeletons, Jaro-Winkler buckets."""
        vocab = self.vocab
        del_index: dict[str, list[int]] = {}
        skel_index: dict[str, list[int]] = {}
        for tok, vid in vocab.items():
            if len(tok) == 3 and tok.isalpha():
                del_index.setdefault(tok, []).append(vid)  # found from four-letter words' deletions
            if not _m._fuzzy_ok(tok):
                continue
            del_index.setdefault(tok, []).append(vid)
            for d in _deletes(tok):
                del_index.setdefault(d, []).append(vid)
            skel_index.setdefault(skeleton(tok), []).append(vid)
        self._del_index = _DeletionIndex(del_index)
        self._skel_lists = {k: ([self.vocab_list[v] for v in ids], ids) for k, ids in skel_index.items()}
        self._vocab_len = [len(t) for t in self.vocab_list]
        jw_lists: dict[tuple[str, int], tuple[list[str], list[int]]] = {}
        for tok, vid in vocab.items():
            if _m._fuzzy_ok(tok):
                words, ids = jw_lists.setdefault((tok[:2], len(tok)), ([], []))
                words.append(tok)
                ids.append(vid)
        # per (first two letters, length): every word of that prefix within two letters of the length
        jw_ranges: dict[tuple[str, int], tuple[list[str], list[int]]] = {}
        for (prefix, ln), _ in jw_lists.items():
            for target in range(ln - 2, ln + 3):
                if target < 4 or (prefix, target) in jw_ranges:
                    continue
                words_r: list[str] = []
                ids_r: list[int] = []
                for near in range(target - 2, target + 3):
                    b = jw_lists.get((prefix, near))
                    if b:
                        words_r.extend(b[0])
                        ids_r.extend(b[1])
                jw_ranges[(prefix, target)] = (words_r, ids_r)
        self._jw_buckets = jw_ranges

    def _build_acronyms(self) -> None:
        """Initials of multi-word aliases, and one-word aliases."""
        acro: dict[str, list[int]] = {}
        single: dict[str, list[int]] = {}
        for ai, nn in enumerate(self.alias_norm):
            if len(nn.tokens) == 1:
                single.setdefault(nn.tokens[0], []).append(ai)
            for ini in _m._acronym_forms(nn):
                acro.setdefault(ini, []).append(ai)
        self._acro = acro
        self._single = single

    # everything _build derives, except alias_norm (re-normalised lazily from alias_text on a cache load)
    # and what is recomputed exactly from the arrays (vocab, idf_list, _vbit, _vocab_len, _p_len_list)
    _STATE_ARRAYS = (
        "alias_entry", "a_weak", "idf", "a_tok", "a_len", "a_start", "a_w", "a_W", "p_alias", "p_share",
        "a_sig", "p_len", "p_start", "a_bitshare", "a_ndup",
    )  # fmt: skip

    _STATE_OBJECTS = (
        "n_alias", "n_vocab", "_n_docs", "idf_max", "alias_text", "vocab_list", "_bg_df", "_del_index",
        "_skel_lists", "_jw_buckets", "_acro", "_single",
    )  # fmt: skip

    _PACKED_DICTS = ("_skel_lists", "_jw_buckets", "_acro", "_single")

    def _export_state(self, digest: str) -> dict[str, Any]:
        state: dict[str, Any] = {name: getattr(self, name) for name in (*self._STATE_ARRAYS, *self._STATE_OBJECTS)}
        state["_df_list"] = np.asarray(self._df_list, dtype=np.float64)
        state["_vbit"] = np.asarray(self._vbit, dtype=np.int64)
        for name in (*self._STATE_ARRAYS, "_df_list", "_vbit"):  # loaded without numpy (issue 10)
            if not isinstance(state[name], FlatArray):
                state[name] = FlatArray.of(state[name])
        kernel_single.export_vocab(self, state)
        for name in self._PACKED_DICTS:  # looked up per key by queries: stored to be read per key
            packed = pack_dict(state[name])
            if packed is not None:
                state[name] = packed
        state["alias_text"] = pack_texts(list(self.alias_text))  # read per hit (explanations)
        # the ~38,000 words by id: queries read the packed word -> id dict (import_vocab), not this list;
        # unpickling it as strings was ~1.5 ms of every check
        state["vocab_list"] = pack_texts(list(self.vocab_list))
        if self._bg_df and self._bg_df is _m.background_df()[1]:
            # the embedded background frequencies (~0.5 MB), the same for every index: not stored in each
            # file (a check loads one index per names list), taken from the package on load (the background
            # file is part of the cache key)
            state["_bg_df"] = None
            state["bg_shared"] = True
        state["digest"] = digest
        state["format"] = _m.CACHE_FORMAT
        state["n_entries"] = len(self.entries)
        # aliases in Han script: their normalisation needs pypinyin's dictionaries (~0.4 s to import);
        # stored so that a process loading the index never imports them unless a query is in Han script
        state["han_norms"] = {i: self.alias_norm[i] for i, t in enumerate(self.alias_text) if _m._HAN_TEXT.search(t)}
        # the list words by sound (ecscreen.parties.variants): ~0.5 s to build, needed by the first query with a
        # word the lists do not have
        state["sound_by_key"] = pack_dict(sound_index_keys(self.vocab)) or sound_index_keys(self.vocab)
        # every Han-script name and alias of the entries as written (reporting groups hits by them)
        state["han_texts"] = {t: _m._normalize_cached(t) for e in self.entries for t in (e.name, *e.aliases)
                              if t and _m._HAN_TEXT.search(t)}
        return state

    def _import_state(self, state: dict[str, Any]) -> None:
        if state.get("format") != _m.CACHE_FORMAT or state.get("n_entries") != len(self.entries):
            raise ValueError("index cache does not fit these entries")
        for name in (*self._STATE_ARRAYS, "_df_list", "_vbit"):
            if not isinstance(state[name], FlatArray):
                raise ValueError(f"index cache: {name} is not an array")
        n_alias, n_vocab = int(state["n_alias"]), int(state["n_vocab"])
        state["vocab_list"] = unpack_texts(state["vocab_list"])
        if not (
            len(state["alias_entry"]) == len(unpack_texts(state["alias_text"])) == len(state["a_W"]) == n_alias
            and len(state["vocab_list"]) == len(state["idf"]) == len(state["p_len"]) == n_vocab
            and len(state["_df_list"]) == len(state["_vbit"]) == n_vocab
            and tuple(state["a_bitshare"].shape) == (n_alias, BOUND_BITS + 1) and len(state["a_ndup"]) == n_alias
            and (n_alias == 0 or 0 <= int(state["alias_entry"].max()) < len(self.entries))
        ):
            raise ValueError("index cache is inconsistent")
        for name in (*self._STATE_ARRAYS, *self._STATE_OBJECTS):
            setattr(self, name, state[name])
        self.alias_text = unpack_texts(state["alias_text"])
        for name in self._PACKED_DICTS:
            if type(state[name]) is tuple:
                setattr(self, name, unpack_dict(state[name]))
        if state.get("bg_shared") is True:
            self._bg_df = _m.background_df()[1]
        if not isinstance(self._bg_df, dict):
            raise ValueError("index cache: no background frequencies")
        if not isinstance(self._del_index, _DeletionIndex):
            raise ValueError("index cache: the deletion index is not a _DeletionIndex")
        self.n_alias, self.n_vocab = n_alias, n_vocab
        self.alias_norm = _m._LazyNorms(self.alias_text)
        han = state.get("han_norms")
        if isinstance(han, dict):
            self.alias_norm._done.update(han)
        han_texts = state.get("han_texts")
        if isinstance(han_texts, dict):
            self._han_texts = han_texts
        kernel_single.import_vocab(self, state)  # the vocabulary and its tables, read in place
        sound = state.get("sound_by_key")
        if type(sound) is tuple:
            sound = unpack_dict(sound)
        if isinstance(sound, dict):
            seed_sound_index(self.vocab, sound)
        _m._seed_first_use()

