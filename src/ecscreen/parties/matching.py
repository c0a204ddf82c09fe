"""Party-name matching against restricted-party lists.

Scorer (the same for the candidate index and the exhaustive reference; details in
docs/party-screening.md):

* names are normalised into tokens (:mod:`ecscreen.domain.normalize`): case, punctuation, diacritics, scripts,
  Chinese transliteration, abbreviations, legal forms, stop words; word order is ignored;
* every token carries an IDF weight over the indexed names plus the embedded CSL's frequencies, so rare
  tokens weigh more than generic ones ("electronics", "trading", "group"); a query token's weight
  counts its spelling variants; initials, particles, patronymics and numbers weigh little;
* token similarity (:func:`token_sim`): equal; one edit apart (symmetric deletion); same consonant
  skeleton; same first two letters and Jaro-Winkler >= 0.9;
* each list-name token is aligned with its most similar query token; query coverage ``P`` and list-name
  coverage ``R``; ``base = b*max(P, R) + (1-b)*min(P, R)`` minus the share left unmatched on both sides
  (a substitution); times an evidence factor (matched query weight / ``evidence``), a generic factor
  (only common words matched, partial match) and a weak-alias factor (one-word list name inside a
  longer query) -- see :func:`_combine`;
* acronyms: a one-word query equal to the initials of a multi-word list name (or the reverse for
  organisation-like queries) scores ``acronym_score``;
* the country is a qualifier: a mismatch subtracts ``country_penalty`` from a hit but never hides it.

Candidate index: words -> names, plus a deletion index, skeleton buckets and Jaro-Winkler buckets over the
vocabulary, so every related word is found without scanning. Candidates are fetched only for the query
words every hit must match, and pruned with a single-word bound and 256-bit word signatures; both steps
are lossless for this scorer. ``exhaustive=True`` scores every name with the same numpy kernel.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import gzip
import hashlib
import json
import mmap
import os
import pickle
import re
import stat
import struct
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz.distance import Indel, JaroWinkler, LCSseq, Levenshtein

from ecscreen.domain.lazyre import LazyPattern
from ecscreen.domain.normalize import (
    NormalizedName,
    _number_table,
    _table_lines,
    cjk_characters,
    given_name_forms,
    initials,
    legal_forms,
    normalize,
    particles,
    skeleton,
)
from ecscreen.model import new_list
from ecscreen.parties.calibration import HitFields, _Calibration, hit_fields
from ecscreen.parties.candidates import (  # noqa: F401 - re-exported: tests and benchmarks import them from here
    _HASH_MUL,
    _SIG_BITS_LOG2,
    _SIG_BYTES,
    _SIG_WORDS,
    SMALL_DELETION_INDEX,
    _Chunk,
    _combine,
    _combine_one,
    _deletes,
    _DeletionIndex,
    _KeyTable,
    _RawHit,
)
from ecscreen.parties.indexcache import PackedSet, crc32, dump_payload, load_payload, pack_dict, unpack_dict
from ecscreen.parties.query import QUERY_CACHE_KEEP, _Query  # noqa: F401 - re-exported
from ecscreen.parties.variants import (
    NEAR_PART_REASON,
    bracket_head,
    group_words,
)
from ecscreen.settings import Settings, file_stamps, package_file

# the matcher's parts read this module's models, normalisation data and features as ``_m.<name>`` at call time
for _part in (sys.modules[_Calibration.__module__], *(sys.modules[c.__module__] for c in _Calibration.__mro__[1:-1])):
    vars(_part)["_m"] = sys.modules[__name__]

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: the single-query path never needs it (issue 10)
    from ecscreen.parties.lazynp import np

__all__ = [
    "ListEntry",
    "Clearance",
    "AllowList",
    "PartyHit",
    "HitFeature",
    "ScoreConfig",
    "MAX_NAME_CHARS",
    "Matcher",
    "token_sim",
    "index_cache_dir",
    "index_cache_status",
]


# names scored together by the numpy kernel: its temporary arrays grow with the candidate pairs of a chunk
# (about 100 MB at 2,048 names of a real customer master, 40 MB at 512), and smaller chunks are also
# faster (they stay in the CPU caches); the results do not depend on it
CHUNK_NAMES = 512


# (name, country) search results kept per matcher, and the hits they hold (the cache is cleared when either
# is full): mostly names without a hit (~0.2 KB each); a hit with its features and explanation takes ~5 KB
HITS_CACHE_SIZE = 50_000
HITS_CACHE_HITS = 2_000


# normalised names kept by _normalize_cached (shared by every index of the process: a party is normalised once
# for all lists); each is ~6 objects the cyclic GC walks, so the cache holds a batch chunk's names, not a whole
# batch's (65,536 before: ~400,000 objects walked by every full collection)
NORMALIZED_KEEP = 8192

# names whose new words are looked up together in the deletion index (well below _normalize_cached's size)
PREFETCH_NAMES = 2048
# share of an even split that the parent screens itself when search_many forks (see Matcher._search_forked). 0.9 while
# the parent calibrated the children's hits again (~8 % of its share's CPU, 2026-11-28); it now only rebuilds them
# from plain data (h64), and a child's names cost more (copy-on-write faults on the shared index; the names after 'z'
# in locality order, other scripts, fall to the last child): forced 2-process runs of the speed benchmark's 104,366
# names under load, parent 8.5 CPU-s (7.3 its share) vs child 10.4 at 0.9 -- an even split balances them
FORK_PARENT_SHARE = 1.0


# --------------------------------------------------------------------------- models


class ListEntry(BaseModel):
    """One entry of a restricted-party list."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    id: str
    source: str = Field(description="Full list name, e.g. 'Entity List (EL) - Bureau of Industry and Security'")
    source_code: str = Field(description="EL, SDN, DPL, UVL, MEU, DTC, SSI, ISN, PLC, CMIC, NS-MBS, CAP or custom")
    name: str
    aliases: list[str] = Field(default_factory=new_list)
    countries: list[str] = Field(default_factory=new_list, description="ISO 3166 alpha-2")
    addresses: list[str] = Field(default_factory=new_list)
    programs: list[str] = Field(default_factory=new_list)
    type: str | None = None
    license_requirement: str | None = None
    license_policy: str | None = None
    federal_register_notice: str | None = None
    start_date: dt.date | None = None
    remarks: str | None = None
    source_url: str | None = None
    footnotes: list[int] = Field(default_factory=new_list, description="Entity List FDP footnotes 1-5")
    list_name: str | None = Field(default=None, description="Name of the screening list it came from")


class Clearance(BaseModel):
    """An allow-list record: this party was reviewed against this list entry and cleared."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    party: str = Field(min_length=1, description="Party name as screened (compared after normalisation)")
    entry_id: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    approver: str = Field(min_length=1)
    expires: dt.date | None = None
    country: str | None = None
    approved: dt.date | None = None


class HitFeature(BaseModel):
    """One piece of evidence of a party hit: its contribution to the score and why, in plain language."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str
    points: float
    reason: str


class PartyHit(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    query: str
    entry: ListEntry
    matched_alias: str
    score: float = Field(ge=0, le=100)
    name_score: float = Field(ge=0, le=100)
    explanation: str
    country_match: bool | None = None
    cleared: Clearance | None = None
    band: Literal["strong", "possible"] = Field(
        default="possible",
        description="strong: a firm finding (the list's outcome); possible: review, confirm the identity first")
    features: list[HitFeature] = Field(default_factory=new_list, description="score = sum of the features' points")
    firm_block: str | None = Field(
        default=None, description="why this hit can never be a firm finding on its own (one word, acronym ...)")
    confirm_with: list[str] = Field(
        default_factory=new_list, description="facts that would confirm a possible match (address, country, identifiers)")


class AllowList:
    """Cleared (party, list entry) pairs. Expired clearances stop working and produce a warning."""

    def __init__(self, clearances: Iterable[Clearance] = ()) -> None:
        self.clearances = list(clearances)
        self._by_key: dict[tuple[tuple[str, ...], str], list[Clearance]] = {}
        for c in self.clearances:
            self._by_key.setdefault((_party_key(c.party), c.entry_id), []).append(c)

    def __len__(self) -> int:
        return len(self.clearances)

    def lookup(
        self, party: str, entry_id: str, as_of: dt.date, country: str | None = None
    ) -> tuple[Clearance | None, str | None]:
        """Return (valid clearance or None, warning or None)."""
        found = self._by_key.get((_party_key(party), entry_id))
        if not found:
            return None, None
        warning = None
        for c in found:
            if c.country and country and c.country.upper() != country.upper():
                continue
            if c.expires is not None and c.expires < as_of:
                warning = (
                    f"clearance of '{c.party}' against list entry {c.entry_id} expired on {c.expires} "
                    f"(approved by {c.approver}); the hit is reported again"
                )
                continue
            return c, None
        return None, warning


def _party_key(name: str) -> tuple[str, ...]:
    return tuple(sorted(normalize(name).tokens))


# --------------------------------------------------------------------------- scorer


@dataclass(frozen=True, slots=True)
class ScoreConfig:
    threshold: float = 80.0
    balance: float = 0.8
    evidence: float = 6.0
    distinct_min: float = 5.0
    generic_factor: float = 0.75
    weak_alias_factor: float = 0.8
    substitution_penalty: float = 1.0
    full_match: float = 0.85
    patronymic_factor: float = 0.3
    initial_weight: float = 0.5
    sim_edit_floor: float = 0.7
    sim_phonetic: float = 0.8
    sim_nickname: float = 0.85  # a given name and its nickname (ted / theodore; data/normalize/nicknames.csv)
    phonetic_min_ratio: float = 0.65
    jw_min: float = 0.9
    jw_scale: float = 0.9
    acronym_score: float = 88.0
    acronym_score_short: float = 78.0
    country_penalty: float = 10.0
    max_tokens: int = 12
    # calibration of the hits (see Matcher.calibrate and docs/party-screening.md)
    candidate_threshold: float = 60.0
    candidate_limit: int = 40
    confirm_score: float = 92.0
    query_share: float = 65.0
    common_weight: float = 1.5
    legal_weight: float = 0.3
    common_only_penalty: float = 25.0
    short_word: int = 5
    long_word: int = 8
    org_vs_person_one_word: float = 40.0
    org_vs_person: float = 10.0
    country_bonus: float = 5.0
    country_mismatch: float = 15.0
    lineage_swap: float = 30.0  # 'Salman bin Muhammad' is not 'Muhammad bin Salman'
    name_part_conflict: float = 15.0  # a person's name part differs on both sides ('Ben Mohamed' / 'Ben Ali')
    place_conflict: float = 20.0  # branches in different places ('Santander Mexico' / 'Santander Chile')
    # share of the unmatched-query-words points given back when a person's name holds the whole list name and
    # adds name parts ('Gul Ahmad Waziri Hakimi' / 'Gul Ahmad Hakimi'): see feature_added_name_parts
    added_name_parts_share: float = 0.5
    word_substitution: float = 20.0  # a firm's word replaced by another ('Saudi Arabian Gas' / 'Saudi Arabian Oil')
    # a person's name whose one differing part is at most name_part_edits letters off the list name's part in the same
    # place, every other part the same ('Igor Sechev' / 'Igor Sechin'): see feature_name_part_variant
    name_part_edits: int = 2
    name_part_variant_per_edit: float = 7.5


DEFAULT_CONFIG = ScoreConfig()


def _fuzzy_ok(tok: str) -> bool:
    return len(tok) >= 4 and tok.isalpha()


def token_sim(a: str, b: str, config: ScoreConfig = DEFAULT_CONFIG) -> float:
    """Similarity of two normalised tokens; the first rule that applies decides.

    1. equal -> 1.0;
    2. both >= 4 letters and one edit apart in the symmetric-deletion sense (lengths differ by at most
       one and the longest common subsequence is the longest length - 1) -> max(floor, 1 - 1/length);
    3. same consonant skeleton and indel similarity >= ``phonetic_min_ratio`` -> ``sim_phonetic``;
    4. same first two letters, lengths within 2, Jaro-Winkler >= ``jw_min`` -> JW x ``jw_scale``;
    5. otherwise 0;
    and at least ``sim_nickname`` for a given name and its nickname (ted / theodore).
    """
    if a == b:
        return 1.0
    sim = _token_sim_rules(a, b, config)
    if sim < config.sim_nickname and b in given_name_forms(a):  # nickname hook (normalize.given_name_forms)
        return config.sim_nickname
    return sim


def _token_sim_rules(a: str, b: str, config: ScoreConfig) -> float:
    la, lb = len(a), len(b)
    if (la == 3 and lb == 4) or (la == 4 and lb == 3):
        # a three-letter word and the same word with one letter added: son / sson, esa / essa
        if a.isalpha() and b.isalpha() and LCSseq.similarity(a, b) == 3:
            return _edit_sim(4, config)
        return 0.0
    if not (_fuzzy_ok(a) and _fuzzy_ok(b)):
        return 0.0
    longest = la if la > lb else lb
    if abs(la - lb) <= 1 and LCSseq.similarity(a, b) >= longest - 1:
        return _edit_sim(longest, config)
    if skeleton(a) == skeleton(b) and Indel.normalized_similarity(a, b) >= config.phonetic_min_ratio:
        return config.sim_phonetic
    if a[:2] == b[:2] and abs(la - lb) <= 2:
        jw = JaroWinkler.similarity(a, b)
        if jw >= config.jw_min:
            return round(jw * config.jw_scale, 4)
    return 0.0


def _edit_sim(longest: int, config: ScoreConfig) -> float:
    return max(config.sim_edit_floor, 1.0 - 1.0 / longest)


class _EnvCache:
    """``cache_dir`` left to the legacy environment default (``index_cache_dir``); callers building a
    ScreeningContext pass the settings' cache directory (or None) explicitly."""


_ENV_CACHE: Any = _EnvCache()


class Matcher(_Calibration):
    """Index over list entries; ``search`` / ``search_many`` return :class:`PartyHit` lists.

    The public facade; its parts live in their own modules (issue 10): building / caching the index
    (:mod:`ecscreen.parties.index_build`), query preparation (:mod:`ecscreen.parties.query`), the candidate
    kernel (:mod:`ecscreen.parties.kernel` over :mod:`ecscreen.parties.candidates`), calibration, bands and
    explanations (:mod:`ecscreen.parties.calibration`). Here: construction, the caches, search / search_many /
    match_raw (chunking, forked workers), pairwise comparisons and the alias lookups."""

    def __init__(
        self,
        entries: Sequence[ListEntry],
        config: ScoreConfig | None = None,
        background: bool = True,
        cache_key: str | None = None,
        cache_dir: Path | None | _EnvCache = _ENV_CACHE,
    ) -> None:
        """Build the index over ``entries``.

        ``cache_key`` (for example the sha256 of the lists the entries come from) enables the on-disk
        index cache (see :func:`index_cache_dir`): the built index is saved there and later processes load
        it instead of rebuilding; ``cache_status`` says what happened ("off", "loaded", "saved",
        "not saved").
        """
        self.config = config or DEFAULT_CONFIG
        # entries decoded from a cached list stay lazy (ecscreen.parties.lazyentries): loading the index
        # reads none of them, a query reads those it hits
        self.entries: Sequence[ListEntry] = entries if hasattr(entries, "content_key") else list(entries)
        self.cache_status = "off"
        self._han_texts: dict[str, NormalizedName] = {}
        self.cache_file: Path | None = None
        target = _cache_target(self.entries, self.config, background, cache_key,
                               index_cache_dir() if isinstance(cache_dir, _EnvCache) else cache_dir)
        if target is not None:
            self.cache_file, digest = target
            state = read_cache_file(self.cache_file, digest)
            if state is not None:
                try:
                    self._import_state(state)
                    self.cache_status = "loaded"
                except Exception:  # a damaged or foreign cache is ignored: rebuild below
                    state = None
            if state is None:
                self._build(background)
                saved = write_cache_file(self.cache_file, digest, self._export_state(digest))
                self.cache_status = "saved" if saved else "not saved"
        else:
            self._build(background)
        self._exp_cache: dict[str, dict[int, float]] = {}
        self._alias_ids: dict[str, int] | None = None
        self._normalized_calls = 0
        self._info_cache: dict[str, tuple[dict[int, float], float, int, int]] = {}
        self._query_cache: dict[str, _Query] = {}
        # search results per (name, country, threshold, exhaustive): a repeat customer in a later batch chunk, a
        # later `serve` request or a later names-list lookup is not scored again (the index never changes)
        self._hits_cache: dict[tuple[str, str | None, float, bool], list[PartyHit]] = {}
        self._hits_cached = 0  # PartyHit objects held by _hits_cache (they are large: features, explanation)
        self._cal_weights: dict[tuple[str, bool], tuple[bool, float]] = {}
        self._tsim_memo: dict[tuple[str, str], float] = {}  # token_sim of pairs no expansion holds (_CalCtx)
        self._vid_memo: dict[str, int | None] = {}  # vocabulary ids of list words (_CalCtx)
        self._facts: dict[int, _EntryFacts] = {}  # type and countries per entry index (_CalCtx)
        self._cal_w_memo: tuple[dict[str, tuple[bool, float]], dict[str, tuple[bool, float]]] = ({}, {})
        self._edits_found: dict[str, list[list[int] | None]] = {}
        self._split_words: dict[tuple[str, int], tuple[str, str | None] | None] = {}  # _rejoined (_split_memo)

    def clear_caches(self) -> None:
        """Forget every per-query result (benchmarks measure cold queries); results never depend on them."""
        self._query_cache.clear()
        self._exp_cache.clear()
        self._info_cache.clear()
        self._hits_cache.clear()
        self._hits_cached = 0
        self._cal_weights.clear()
        self._tsim_memo.clear()
        self._vid_memo.clear()
        self._split_words.clear()
        for memo in self._cal_w_memo:
            memo.clear()

    # ------------------------------------------------------------------ public API

    def search(
        self,
        name: str,
        country: str | None = None,
        threshold: float | None = None,
        limit: int | None = 10,
        exhaustive: bool = False,
    ) -> list[PartyHit]:
        return self.search_many([name], [country], threshold=threshold, limit=limit, exhaustive=exhaustive)[0]

    def search_many(
        self,
        names: Sequence[str],
        countries: Sequence[str | None] | None = None,
        threshold: float | None = None,
        limit: int | None = 10,
        exhaustive: bool = False,
        chunk_size: int = CHUNK_NAMES,
        workers: int = 1,
    ) -> list[list[PartyHit]]:
        """Screen a batch of names; identical names are scored once (``workers``: see ``match_raw``).

        The index proposes candidates (name score >= ``candidate_threshold``); each is then scored by
        :meth:`calibrate` (distinctive words, entity type, one-word names, country) and kept when the
        calibrated score reaches ``threshold``. Names longer than :data:`MAX_NAME_CHARS` are cut.
        """
        thr = self.config.threshold if threshold is None else float(threshold)
        names = [_cap_name(n) for n in names]
        keys = [(n, countries[i] if countries is not None else None, thr, exhaustive) for i, n in enumerate(names)]
        cache = self._hits_cache  # read into a local dict first: another thread may clear the cache meanwhile
        known = {k: got for k in dict.fromkeys(keys) if (got := cache.get(k)) is not None}
        todo = [k for k in dict.fromkeys(keys) if k not in known]
        # candidates and their calibration allocate millions of acyclic objects, the answer one list per name
        with _no_cyclic_gc():
            if todo:
                new = self._search_new(todo, thr, exhaustive, chunk_size, workers)
                self._trim_query_cache()
                known.update(new)
                n_hits = sum(len(h) for h in new.values())
                if len(cache) + len(new) > HITS_CACHE_SIZE or self._hits_cached + n_hits > HITS_CACHE_HITS:
                    cache.clear()
                    self._hits_cached = 0
                if n_hits <= HITS_CACHE_HITS and len(new) <= HITS_CACHE_SIZE:  # else too large to keep
                    cache.update(new)
                    self._hits_cached += n_hits
            out: list[list[PartyHit]] = []
            for k in keys:
                got = known[k]
                out.append(got[:limit] if limit else list(got))
        return out

    def _search_new(
        self, keys: list[tuple[str, str | None, float, bool]], thr: float, exhaustive: bool, chunk_size: int,
        workers: int,
    ) -> dict[tuple[str, str | None, float, bool], list[PartyHit]]:
        """Every hit at ``thr`` of each (name, country) key, best first (see :meth:`search_many`).

        ``workers`` > 1 (large batches, idle CPUs, as in :meth:`match_raw`): forked processes screen
        contiguous shares of the names whole (their words, candidates and calibration) and send back only
        which (alias, acronym) each hit is; this process calibrates those hits again (the same
        deterministic scorer, so the results are identical) while the children work."""
        n_chunks = -(-len(keys) // max(chunk_size, 1))
        if workers > 1 and n_chunks >= 2 * workers and _can_fork() and _cpus_free(workers):
            return self._search_forked(keys, thr, exhaustive, chunk_size, workers)
        return {k: [h for h, _, _ in hs] for k, hs in self._search_share(keys, thr, exhaustive, chunk_size).items()}

    def _search_forked(
        self, keys: list[tuple[str, str | None, float, bool]], thr: float, exhaustive: bool, chunk_size: int,
        workers: int,
    ) -> dict[tuple[str, str | None, float, bool], list[PartyHit]]:
        import multiprocessing as mp

        global _FORK_MATCHER
        # contiguous shares of the names in locality order (see _locality_order): a word recurring in the batch
        # is mostly expanded in one process, not in each
        keys = [keys[i] for i in _locality_order([k[0] for k in keys])]
        # this process also starts the pool and rebuilds the children's hits: it takes a smaller share
        first = max(1, int(len(keys) / workers * FORK_PARENT_SHARE))
        share = -(-(len(keys) - first) // (workers - 1))
        parts = [keys[:first], *(keys[i : i + share] for i in range(first, len(keys), share))]
        out: dict[tuple[str, str | None, float, bool], list[PartyHit]] = {}
        _FORK_MATCHER = self
        self._warm_for_fork(k[0] for k in keys)
        try:
            with mp.get_context("fork").Pool(processes=len(parts) - 1) as pool:
                pending = [pool.apply_async(_fork_search, ((p, thr, exhaustive, chunk_size),)) for p in parts[1:]]
                for k, hs in self._search_share(parts[0], thr, exhaustive, chunk_size).items():
                    out[k] = [h for h, _, _ in hs]
                for part, res in zip(parts[1:], pending, strict=True):
                    for key, found in zip(part, res.get(), strict=True):
                        out[key] = [self._hit_from_fields(key[0], alias, fields) for alias, fields in found]
        finally:
            _FORK_MATCHER = None
        return out

    def _search_share(
        self, keys: list[tuple[str, str | None, float, bool]], thr: float, exhaustive: bool, chunk_size: int,
    ) -> dict[tuple[str, str | None, float, bool], list[tuple[PartyHit, int, bool]]]:
        """:meth:`_search_new` in this process: each hit with its alias and whether it is an acronym match."""
        names = list(dict.fromkeys(k[0] for k in keys))
        names = [names[i] for i in _locality_order(names)]  # blocks of names sharing words (see _locality_order)
        cand = min(thr, self.config.candidate_threshold)
        variants: dict[str, list[str]] = {}
        for i in range(0, len(names), PREFETCH_NAMES):
            block = names[i : i + PREFETCH_NAMES]
            self._prefetch_words(block)
            for n in block:
                self._prepare(n)  # uses the words just looked up together (the kernel reads these queries)
                variants[n] = self._query_variants(n)
        texts = list(dict.fromkeys([*names, *(v for vs in variants.values() for v in vs)]))
        # the best alias of each hit comes back with the scores (no state on the matcher: one Matcher
        # may serve several threads, e.g. `ecscreen serve`)
        raw, alias_of, uniq = self._match_raw_gc(texts, cand, exhaustive, chunk_size, 1)
        found: dict[str, list[tuple[int, int, bool]]] = {}
        for text, hits in zip(texts, raw, strict=True):
            qidx = uniq[text]
            found[text] = [(ei, *alias_of[(qidx, ei)]) for ei, _ in hits[: self.config.candidate_limit]]
        out: dict[tuple[str, str | None, float, bool], list[tuple[PartyHit, int, bool]]] = {}
        for key in keys:
            name, country = key[0], key[1]
            cands = [c for text in (name, *variants[name]) for c in found[text]]
            out[key] = self._materialise_src(name, cands, country, thr)
        return out

    def match_raw(
        self,
        names: Sequence[str],
        threshold: float | None = None,
        exhaustive: bool = False,
        chunk_size: int = CHUNK_NAMES,
        workers: int = 1,
    ) -> list[list[tuple[int, float]]]:
        """Per name, (entry index, name score) of every entry at or above the threshold (best alias).

        Identical names are scored once. ``workers`` > 1 splits large batches over forked processes
        (the index is shared copy-on-write, nothing is rebuilt) when the other CPUs are idle (1-minute
        load average below CPU count - 0.5); results are identical either way.
        """
        thr = self.config.threshold if threshold is None else float(threshold)
        return self._match_raw_gc(names, thr, exhaustive, chunk_size, workers)[0]

    def _match_raw_gc(
        self, names: Sequence[str], thr: float, exhaustive: bool, chunk_size: int, workers: int
    ) -> tuple[list[list[tuple[int, float]]], dict[tuple[int, int], tuple[int, bool]], dict[str, int]]:
        with _no_cyclic_gc():  # the index holds millions of objects: cyclic GC passes would dominate the batch
            return self._match_raw(names, thr, exhaustive, chunk_size, workers)

    def _match_raw(
        self, names: Sequence[str], thr: float, exhaustive: bool, chunk_size: int, workers: int
    ) -> tuple[list[list[tuple[int, float]]], dict[tuple[int, int], tuple[int, bool]], dict[str, int]]:
        """Scores per name, the best alias (index, acronym?) per (unique text index, entry), the unique texts."""
        uniq: dict[str, int] = {}
        for n in names:
            if n not in uniq:
                uniq[n] = len(uniq)
        texts = list(uniq)
        # chunks of names that share words (see _locality_order); per_text comes back in uniq's order below
        order = _locality_order(texts)
        ordered = [texts[i] for i in order]
        step = max(1, chunk_size if not exhaustive else max(1, 2_000_000 // max(self.n_alias, 1)))
        chunks = [ordered[i : i + step] for i in range(0, len(ordered), step)]
        per_text: list[list[tuple[int, float, int, bool]]] = []
        if workers > 1 and len(chunks) >= 2 * workers and _can_fork() and _cpus_free(workers):
            import multiprocessing as mp

            global _FORK_MATCHER
            _FORK_MATCHER = self
            self._warm_for_fork(texts)
            # contiguous shares; this process works on the first while forked children do the rest
            share = -(-len(chunks) // workers)
            parts = [chunks[i : i + share] for i in range(0, len(chunks), share)]
            try:
                with mp.get_context("fork").Pool(processes=len(parts) - 1) as pool:
                    pending = [pool.apply_async(_fork_match, ((p, thr, exhaustive),)) for p in parts[1:]]
                    for chunk in parts[0]:
                        per_text.extend(self._match_texts(chunk, thr, exhaustive))
                    for res in pending:
                        per_text.extend(_unpack_hits(res.get()))
            finally:
                _FORK_MATCHER = None
        else:
            for chunk in chunks:
                per_text.extend(self._match_texts(chunk, thr, exhaustive))
        in_order: list[list[tuple[int, float, int, bool]]] = [[] for _ in order]
        for k, hl in zip(order, per_text, strict=True):
            in_order[k] = hl
        per_text = in_order
        alias_of: dict[tuple[int, int], tuple[int, bool]] = {}
        results: list[list[tuple[int, float]]] = []
        for qidx, hl in enumerate(per_text):
            results.append([(ei, sc) for ei, sc, _, _ in hl])
            for ei, _, alias, acronym in hl:
                alias_of[(qidx, ei)] = (alias, acronym)
        return [results[uniq[n]] for n in names], alias_of, uniq

    def compare_calibrated(
        self, name1: str, name2: str, country: str | None = None, entry_type: str | None = None
    ) -> float:
        """Calibrated score (0-100) of query ``name1`` against a single list name ``name2``: what
        ``search`` would report for a list holding only ``name2`` (0 when no candidate); ``entry_type``
        is the list entry's type (Individual, Entity, Vessel ...; None: not stated)."""
        hit = self.compare_calibrated_hit(name1, name2, country, entry_type)
        return hit.score if hit is not None else 0.0

    def compare_calibrated_hit(
        self, name1: str, name2: str, country: str | None = None, entry_type: str | None = None
    ) -> PartyHit | None:
        """The best hit (score, band, features) behind :meth:`compare_calibrated`; None when no candidate."""
        m = Matcher([ListEntry(id="pair", source="pair", source_code="custom", name=name2, type=entry_type)],
                    config=self.config)
        hits = m.search_many([name1], [country], threshold=0.01, limit=1)[0]
        return hits[0] if hits else None

    def normalized(self, text: str) -> NormalizedName:
        """``normalize(text)``, taken from the index when ``text`` is one of its aliases (an index loaded from
        the cache holds the Han-script aliases normalised, so romanisation tables are not imported for them)."""
        known = self._han_texts.get(text)
        if known is not None:
            return known
        if self._alias_ids is None:
            # an alias's stored normalisation is normalize(alias) (built, or re-normalised on a cache load), so
            # a text without Han script gets the same value from normalize() itself: the text -> alias dict
            # (~100,000 aliases, ~20 ms) only pays for itself after many calls or for a Han-script variant
            # (its normalisation needs the romanisation tables, which the index holds)
            self._normalized_calls += 1
            if self._normalized_calls <= ALIAS_IDS_AFTER and (text.isascii() or not _HAN_TEXT.search(text)):
                return _normalize_cached(text)
            self._alias_ids = {t: i for i, t in enumerate(self.alias_text)}
        i = self._alias_ids.get(text)
        return self.alias_norm[i] if i is not None else _normalize_cached(text)

    def stats(self) -> dict[str, Any]:
        return {
            "entries": len(self.entries),
            "aliases": self.n_alias,
            "vocabulary": self.n_vocab,
            "deletion_keys": len(self._del_index),
        }


MAX_NAME_CHARS = 512
ALIAS_IDS_AFTER = 512  # Matcher.normalized calls answered by normalize() before the alias dict is built


def _locality_order(names: Sequence[str]) -> list[int]:
    """Positions of ``names`` in the order a batch is screened: alphabetical, case ignored (stable), so that names
    sharing their first words (and their script) fall into the same prefetch blocks and kernel chunks.

    Screening a batch in that order changes no result (every result is a function of the name alone) and costs
    less: a chunk's names look up fewer distinct words, postings and sound-alike buckets, which stay in the CPU
    caches; with forked workers, each process expands mostly its own words (contiguous shares) instead of every
    process expanding the batch's frequent words again (h52: the yente mix of the speed benchmark, shuffled,
    -10 % CPU per name in ``search_many`` and -16 % in ``match_raw``)."""
    return sorted(range(len(names)), key=lambda i: names[i].lower())


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """No cyclic GC passes inside (nested use is fine); the previous state is restored after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@lru_cache(maxsize=NORMALIZED_KEEP)
def _normalize_cached(text: str) -> NormalizedName:
    """normalize() shared by every index of the process (the same party goes through several)."""
    return normalize(text)

"""Longest party name screened; longer names are cut (the caller reports it). Bounds the work per name."""


def _cap_name(name: str) -> str:
    return name if len(name) <= MAX_NAME_CHARS else name[:MAX_NAME_CHARS]


def _first_use_key() -> bytes | None:
    """The derived-cache key of the matcher's first-use tables (common words, their one-letter deletions): the
    index code fingerprint (this module, normalize and variants sources, the normalisation tables, the business
    words) and pycountry's version (country names); None without a cache directory."""
    if index_cache_dir() is None:
        return None
    from ecscreen.settings import dist_version

    return _code_fingerprint(True) + f"|pycountry {dist_version('pycountry')}".encode()


def _seed_first_use() -> None:
    """Hand normalize its nickname table from the derived cache (~3 ms to build from nicknames.csv), once an
    index is loaded from the cache (its queries expand nicknames)."""
    from ecscreen.domain import normalize as normalize_module

    try:
        if normalize_module._nicknames.cache_info().currsize or "nicknames" in normalize_module._SEEDS:
            return
        key = _first_use_key()
        if key is None:
            return
        from ecscreen.parties.derived import cached

        packed = cached("nicknames", key, _build_nicknames_packed, _valid_packed, index_cache_dir())
        normalize_module.seed_table("nicknames", unpack_dict(packed))
    except Exception:  # noqa: BLE001 - never fails the index load: normalize builds the table itself
        return


def _build_nicknames_packed(_key: bytes) -> Any:
    from ecscreen.domain.normalize import _build_nicknames

    return pack_dict(_build_nicknames())


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Words of ordinary business names (``data/business_words.txt``): they weigh little in a match. Built once
    per cache directory and code (~3 ms of a one-shipment check otherwise)."""
    key = _first_use_key()
    if key is None:
        return _build_common_words(b"")
    from ecscreen.parties.derived import cached

    return cached("common-words", key, _build_common_words, lambda v: type(v) is frozenset, index_cache_dir())


def _build_common_words(_key: bytes) -> frozenset[str]:
    try:
        text = package_file("data", "business_words.txt").read_text(encoding="utf-8")
    except FileNotFoundError:  # pragma: no cover - broken install
        return frozenset()
    words: set[str] = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip().lower()
        if line:
            words.update(normalize(line).tokens or (line,))
            words.add(line)
    return frozenset(words | _places())


@lru_cache(maxsize=1)
def _table_words() -> frozenset[str]:
    """The hand-made business words only (no places): typo targets and organisation markers."""
    return frozenset(w for w in common_words() if w not in _places())


def _rejoin_if_needed(tokens: list[str], other: Sequence[str]) -> list[str]:
    """``_rejoin(tokens, other)`` when it can change anything (two or three words glued into a known word, or a
    word split into known words), else tokens (the same list: words without repeats, as the calibration passes)."""
    known = set(other)
    missing = [t for t in tokens if t not in known]
    if not missing:
        return tokens
    if len(tokens) > 1 and (any(a + b in known for a, b in zip(tokens, tokens[1:], strict=False)) or any(
            a + b + c in known for a, b, c in zip(tokens, tokens[1:], tokens[2:], strict=False))):
        return _rejoin(tokens, known)
    # a split (_split_token, min_part 2) needs a word of 5+ letters not known, a known head of 2+ letters and a
    # known or legal-form tail of 2+ letters: test exactly that, without trying every split point
    tails = _legal_tails()
    for t in missing:
        n = len(t)
        if n >= 5 and t.isalpha():
            for u in known:
                k = len(u)
                if 2 <= k <= n - 2 and t.startswith(u):
                    rest = t[k:]
                    if rest in known or rest in tails.get(n - k, ()):
                        return _rejoin(tokens, known)
    return tokens


@lru_cache(maxsize=1)
def _common_deletes() -> dict[str, frozenset[str]]:
    """One-letter deletions of the common and legal words (5+ letters) -> the words: finds typos in them. Built
    once per cache directory and code, kept packed (a typo check reads a few keys; ~2 ms per check otherwise)."""
    key = _first_use_key()
    if key is None:
        return _build_common_deletes(b"")
    from ecscreen.parties.derived import cached

    packed = cached("common-deletes", key, _build_common_deletes_packed, _valid_packed, index_cache_dir())
    try:
        return unpack_dict(packed)
    except ValueError:  # pragma: no cover - the derived cache checked the shape
        return _build_common_deletes(b"")


def _build_common_deletes_packed(_key: bytes) -> Any:
    return pack_dict(_build_common_deletes(b""))


def _build_common_deletes(_key: bytes) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for w in _table_words() | _legal_words():
        if len(w) >= 5 and w.isalpha():
            for d in {w, *_deletes(w)}:
                out.setdefault(d, set()).add(w)
    return {k: frozenset(v) for k, v in out.items()}


@lru_cache(maxsize=65536)
def common_typo(tok: str) -> str | None:
    """The common (or legal-form) word ``tok`` is one typo away from, when exactly one: 'technoeogies'
    -> 'technology', 'internetional' -> 'international'; None otherwise."""
    if len(tok) < 7 or not tok.isalpha() or tok in common_words() or tok in _legal_words():
        return None
    cd = _common_deletes()
    found: set[str] = set(cd.get(tok, ()))
    for d in _deletes(tok):
        found |= cd.get(d, frozenset())
    found = {w for w in found if abs(len(w) - len(tok)) <= 1 and LCSseq.similarity(w, tok) >= max(len(w), len(tok)) - 1}
    if len(found) != 1:
        return None
    word = next(iter(found))
    norm = normalize(word).full_tokens
    return norm[0] if len(norm) == 1 else word


@lru_cache(maxsize=1)
def _legal_words() -> frozenset[str]:
    """Every word of a legal form (co, ltd, joint, stock, liability ...), whatever its position."""
    return frozenset(w for form in legal_forms() for w in form if w.isalpha())


@lru_cache(maxsize=1)
def branch_words() -> frozenset[str]:
    """Words a firm adds to its name for a branch or trading arm (``data/branch_words.txt``)."""
    try:
        text = package_file("data", "branch_words.txt").read_text(encoding="utf-8")
    except FileNotFoundError:  # pragma: no cover - broken install
        return frozenset()
    words: set[str] = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip().lower()
        if line:
            words.add(line)
            words.update(normalize(line).tokens)
    return frozenset(words)


@lru_cache(maxsize=1)
def _places() -> frozenset[str]:
    """Country-name words and the major trading cities of the common-words table. Built once per cache
    directory and code, as the common words (normalising ~250 country names was ~3 ms of a one-shipment check)."""
    key = _first_use_key()
    if key is None:
        return _build_places(b"")
    from ecscreen.parties.derived import cached

    return cached("places", key, _build_places, lambda v: type(v) is frozenset, index_cache_dir())


def _build_places(_key: bytes) -> frozenset[str]:
    from ecscreen.domain.countries import iso_countries  # pycountry's table, without importing pycountry

    words: set[str] = set()
    for c in iso_countries():
        for label in {c.name, c.name if c.common_name is None else c.common_name}:
            toks = normalize(label).tokens
            if len(toks) == 1 and len(toks[0]) >= 4:  # 'iran', 'china'; not 'saint vincent and the ...'
                words.add(toks[0])
    cities = ("shanghai beijing shenzhen guangzhou hong kong tianjin wuhan chengdu hangzhou xian moscow petersburg "
              "tehran dubai istanbul london singapore mumbai delhi tokyo seoul minsk")
    words.update(cities.split())
    return frozenset(words)


@lru_cache(maxsize=1)
def english_words() -> AbstractSet[str]:
    """Ordinary English words (``data/english_words.txt``, from wordfreq; see the file's header)."""
    try:
        raw = package_file("data", "english_words.txt").read_bytes()
    except FileNotFoundError:  # pragma: no cover - broken install
        return frozenset()
    # parsed once per cache directory (~4 ms per process otherwise), kept packed: a membership test reads one
    # word (unpickling the ~30,000 words was ~3 ms of a one-shipment check)
    from ecscreen.parties.derived import cached

    packed = cached("english-words-packed", raw, _parse_english_words_packed, _valid_packed, index_cache_dir())
    try:
        return PackedSet.unpack(packed)
    except ValueError:  # pragma: no cover - the derived cache checked the shape
        return _parse_english_words(raw)


def _parse_english_words_packed(raw: bytes) -> Any:
    return PackedSet.pack(_parse_english_words(raw))


def _valid_packed(value: object) -> bool:
    return type(value) is tuple and len(value) == 5


def _parse_english_words(raw: bytes) -> frozenset[str]:
    text = raw.decode("utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


def _same_number(t: str, u: str) -> bool:
    """One word is a number in digits and the other the same number as a word ('3' / 'three', ``numbers.txt``:
    units and teens). The alignment pairs them only at the same place in both names ('3 Percenters' / 'Three
    Percenters', not 'Five Star Bancorp' / 'Star 5', a false alarm when number words were read as digits)."""
    if t.isdigit() == u.isdigit():
        return False
    digits, word = (t, u) if t.isdigit() else (u, t)
    info = _number_table()[0].get(word)
    return info is not None and info[1] in ("unit", "teen") and str(info[0]) == digits


def _short_near_miss(t: str, u: str, cfg: ScoreConfig) -> bool:
    """Two different words of which one has at most ``short_word`` letters: too short for a near miss to be
    evidence ('Fjord' / 'Ford', 'Vital' / 'Vitol'), unless both have ``short_word`` letters and two adjacent
    letters are swapped ('Appel' / 'Apple', a typing slip that keeps every letter)."""
    if min(len(t), len(u)) > cfg.short_word:
        return False
    return not (len(t) == len(u) == cfg.short_word and _transposition(t, u))


def _transposition(a: str, b: str) -> bool:
    """Two adjacent letters swapped (a typing slip): 'huawie' / 'huawei'."""
    if len(a) != len(b) or a == b:
        return False
    diff = [k for k in range(len(a)) if a[k] != b[k]]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


_Feat = tuple[str, float, str, str | None]  # name, points, reason, why it blocks a firm finding (or None)


def _sims(m: Matcher, info: Any, t: str, us: Sequence[str], vids: Sequence[int | None]) -> list[float]:
    """``[m._sim_of(t, u) for u in us]``, with ``info`` = ``m._info_cache.get(t)`` read by the caller and
    ``vids`` the list words' vocabulary ids: a list word's similarity is read from ``t``'s expansions when
    they are at hand, any other pair from :func:`token_sim` (memoised on the matcher: a pure function)."""
    if info is not None:
        get = info[0].get
        if None not in vids:  # the usual case: every list word is in the vocabulary (an alias's own words are)
            return [get(v, 0.0) for v in vids]
        return [get(v, 0.0) if v is not None else _token_sim_memo(m, t, u) for u, v in zip(us, vids, strict=True)]
    return [_token_sim_memo(m, t, u) for u in us]


def _prefix_related(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether some word of ``a`` or ``b`` is a proper prefix of another of their words. When none is,
    ``_rejoin_if_needed`` changes neither side against the other: gluing words into a known word makes the first
    of them a prefix of it, splitting a word makes the known head a prefix of it. (In sorted order a word's
    successor starts with it whenever any word does: adjacent words are enough.)"""
    s = sorted({*a, *b})
    prev = s[0] if s else ""
    for y in s[1:]:  # (a plain loop: ~2x cheaper than any() over a generator for a name's few words)
        if y.startswith(prev):
            return True
        prev = y
    return False


def _vocab_ids(m: Matcher, tokens: Sequence[str]) -> list[int | None]:
    """``[m.vocab.get(u) for u in tokens]`` through a plain dict (the vocabulary of an index loaded from its cache
    is a LazyDict, whose ``get`` is Python code and looks a word that is not there up again on every call)."""
    memo = m._vid_memo
    out = []
    for u in tokens:
        v = memo.get(u, -1)
        if v == -1:
            v = m.vocab.get(u)
            if len(memo) >= 200_000:
                memo.clear()
            memo[u] = v
        out.append(v)
    return out


def _cal_weights(m: Matcher, tokens: Sequence[str], query: bool) -> list[tuple[bool, float]]:
    """``[m._cal_weight(t, query) for t in tokens]``, read from a plain per-side dict once computed (a pure function
    of the word)."""
    memo = m._cal_w_memo[query]
    out = []
    for t in tokens:
        got = memo.get(t)
        if got is None:
            got = m._cal_weight(t, query)
            if len(memo) >= 200_000:
                memo.clear()
            memo[t] = got
        out.append(got)
    return out


def _token_sim_memo(m: Matcher, t: str, u: str) -> float:
    memo = m._tsim_memo
    got = memo.get((t, u))
    if got is None:
        got = token_sim(t, u, m.config)
        if len(memo) >= 200_000:
            memo.clear()
        memo[(t, u)] = got
    return got
_ORG_TYPES = ("Entity", "Vessel", "Aircraft")


class _EntryFacts:
    """What the calibration features read of a list entry: its type and countries (kept per entry by
    ``Matcher._entry_facts``: a candidate ruled out by :func:`score_bound` decodes no entry again)."""

    __slots__ = ("type", "countries")

    def __init__(self, etype: str | None, countries: list[str]) -> None:
        self.type = etype
        self.countries = countries


class _CalCtx:
    """What the features of one candidate look at: aligned words with their weights and similarities."""

    def __init__(
        self, m: Matcher, q: _Query, an: NormalizedName, entry: ListEntry | _EntryFacts, acronym: bool,
        country: str | None,
    ) -> None:
        cfg = m.config
        self.m, self.cfg, self.q, self.an, self.entry, self.acronym, self.country = m, cfg, q, an, entry, acronym, country
        # a typo in a common word ('Technoeogies') is read as that word, with its low weight
        an_tokens = an.tokens
        info_get = m._info_cache.get
        an_vids = _vocab_ids(m, an_tokens)
        # each query word's similarities to the list name's words (m._sim_of: a pure function, computed once here)
        rows = {t: _sims(m, info_get(t), t, an_tokens, an_vids) for t in q.tokens}
        fixed = [t if any(rows[t]) else common_typo(t) or t for t in q.tokens]
        self.typos = [(t, f) for t, f in zip(q.tokens, fixed, strict=True) if t != f]
        q_tokens = list(dict.fromkeys(fixed))
        a_tokens = list(an_tokens)
        base_kept = True  # the list name's words as they are: the rows above stay valid
        if _prefix_related(q_tokens, an_tokens):  # else no word of either side can be glued or split into the other's
            q_tokens = _rejoin_if_needed(q_tokens, an_tokens)
            a_base = a_tokens
            a_tokens = _rejoin_if_needed(a_base, q_tokens)
            base_kept = a_tokens is a_base
        a_vids = an_vids.copy() if base_kept else _vocab_ids(m, a_tokens)
        # legal-form words take part in the alignment ('Co.' ~ 'Company', a typo in 'Corporation'), with
        # the weight of a legal word, whether normalisation recognised the form or not
        legal = _legal_words()
        q_tokens += [t for t in dict.fromkeys(q.norm.full_tokens) if t in legal and t not in q_tokens]
        a_extra = [u for u in dict.fromkeys(an.full_tokens) if u not in a_tokens and u not in an_tokens]
        a_tokens += a_extra
        a_vids += _vocab_ids(m, a_extra)
        self.q_tokens, self.a_tokens = q_tokens, a_tokens
        q_info = _cal_weights(m, q_tokens, True)
        a_info = _cal_weights(m, a_tokens, False)
        self.q_common = q_common = [c for c, _ in q_info]
        self.a_common = a_common = [c for c, _ in a_info]
        self.q_w = q_w = [w for _, w in q_info]
        self.a_w = a_w = [w for _, w in a_info]
        # one-to-one alignment, most similar (then heaviest) pairs first; initials count for people only
        self.org_query = bool(q.norm.legal) or any(t in _ORG_HINTS for t in q.norm.full_tokens)
        person = not self.org_query and (entry.type or "Individual") == "Individual"
        cands = []
        for i, t in enumerate(q_tokens):
            row = rows.get(t) if base_kept else None
            if row is None:
                row = _sims(m, info_get(t), t, a_tokens, a_vids)
            elif a_extra:
                row = row + _sims(m, info_get(t), t, a_extra, a_vids[len(row):])
            for j, sim in enumerate(row):
                if not sim:
                    u = a_tokens[j]
                    if person and (len(t) == 1) != (len(u) == 1) and t[0] == u[0] and (t + u).isalpha():
                        sim = _INITIAL_SIM  # an initial and the name it abbreviates: 'A.' ~ 'Ali'
                    elif q_common[i] and a_common[j] and min(len(t), len(u)) >= 3 and (
                        t.startswith(u) or u.startswith(t)
                    ):
                        sim = _COMMON_PREFIX_SIM  # 'air' ~ 'airlines': short and long form of a common word
                    elif i == j and _same_number(t, u):
                        sim = 1.0  # '3 Percenters' ~ 'Three Percenters': a number in digits and in words, in one place
                    else:
                        continue
                if sim > 0:
                    cands.append((-sim, -(q_w[i] + a_w[j]), i, j, sim))
        cands.sort()
        self.pairs: list[tuple[int, int, float]] = []
        used_q: set[int] = set()
        used_a: set[int] = set()
        for _, _, i, j, sim in cands:
            if i in used_q or j in used_a:
                continue
            used_q.add(i)
            used_a.add(j)
            self.pairs.append((i, j, sim))
        self.used_q, self.used_a = used_q, used_a
        # positions of the words that are not legal-form words (the name proper)
        self.core_q = {i for i, t in enumerate(q_tokens) if t not in legal}
        self.core_a = {j for j, u in enumerate(a_tokens) if u not in legal}
        self.W_q = max(sum(self.q_w), 1e-9)
        self.W_a = max(sum(self.a_w), 1e-9)
        self.q_share = cfg.query_share
        self.a_share = 100.0 - cfg.query_share
        self.country_match: bool | None = None
        self.name_score = 100.0
        self.alias = -1
        self.name = q.text  # the party's name as given (calibrate sets it; q may be a reading of it)
        self.reading = ""  # why q is another reading of the name ('' : the name as written)
        self.part_variant: tuple[tuple[int, int, int] | None] | None = None  # see _name_part_variant

    def distinct_matched(self) -> list[tuple[int, int, float]]:
        cfg = self.cfg
        return [(i, j, s) for i, j, s in self.pairs if not self.q_common[i] and self.q_w[i] >= cfg.distinct_min]


def _unmatched_words(
    c: _CalCtx, fname: str, tokens: Sequence[str], used: set[int] | Sequence[int], weights: Sequence[float],
    total: float, share_points: float, all_there: str, missing_text: str,
) -> list[_Feat]:
    """Words of one side with no counterpart on the other lower the score in proportion to their weight."""
    if c.acronym:
        return []
    missing = [i for i in range(len(tokens)) if i not in used]
    if not missing:
        return [(fname, 0.0, all_there, None)]
    share = sum(weights[i] for i in missing) / total
    words = ", ".join(tokens[i] for i in missing)
    pts = -share_points * share
    c.name_score += pts
    return [(fname, pts, missing_text.format(words=words, share=share), None)]


def feature_query_words(c: _CalCtx) -> list[_Feat]:
    """Query words with no counterpart in the list name lower the score in proportion to their weight
    (``query_share`` points for the whole query): 'International Business Machines' is not
    'International Business Corporation'."""
    return _unmatched_words(c, "query_words", c.q_tokens, c.used_q, c.q_w, c.W_q, c.q_share,
                            "every word of the name has a counterpart in the list name",
                            "name words not in the list name: {words} ({share:.0%} of the name's weight)")


def feature_list_words(c: _CalCtx) -> list[_Feat]:
    """List-name words missing from the query lower the score in proportion to their weight (the rest
    of the 100 points)."""
    return _unmatched_words(c, "list_words", c.a_tokens, c.used_a, c.a_w, c.W_a, c.a_share,
                            "every word of the list name is in the name",
                            "list-name words missing from the name: {words} ({share:.0%} of its weight)")


def feature_spelling(c: _CalCtx) -> list[_Feat]:
    """Words matched by spelling (one letter apart, sound-alike) count for their similarity only; on a
    short word (<= ``short_word`` letters) that carries the match alone, that is no hit at all."""
    if c.acronym:
        return []
    out: list[_Feat] = []
    fuzzy = [(i, j, s) for i, j, s in c.pairs if s < 1.0]
    if not fuzzy:
        return out
    pts = 0.0
    descr = []
    for i, j, s in fuzzy:
        t, u = c.q_tokens[i], c.a_tokens[j]
        pts -= c.q_share * c.q_w[i] * (1 - s) / c.W_q + c.a_share * c.a_w[j] * (1 - s) / c.W_a
        kind = "one letter apart" if LCSseq.similarity(t, u) >= max(len(t), len(u)) - 1 else "sound-alike"
        descr.append(f"'{t}' ~ '{u}' ({kind}, {s:.2f})")
    c.name_score += pts
    out.append(("spelling", pts, "similar spelling: " + ", ".join(descr), None))
    distinct = c.distinct_matched()
    exact_distinct = [p for p in distinct if p[2] >= 1.0]
    short = [(i, j, s) for i, j, s in distinct if s < 1.0 and _short_near_miss(c.q_tokens[i], c.a_tokens[j], c.cfg)]
    others = [i for i, _, s in c.pairs if s >= 1.0 and not c.q_common[i]]
    if short and not exact_distinct and len(distinct) == len(short) and not others:
        i, j, _ = short[0]
        out.append(("short_word", -100.0, f"'{c.q_tokens[i]}' ~ '{c.a_tokens[j]}' is a near miss on a short word: "
                    "not enough for a hit", "near miss on a short word"))
    return out


def feature_distinctive(c: _CalCtx) -> list[_Feat]:
    """A hit needs a distinctive matched word (not a common business word, weight >= ``distinct_min``):
    'General Electric' vs 'General Electronic' matches common words only."""
    if c.acronym:
        return []
    if c.distinct_matched():
        words = ", ".join(c.q_tokens[i] for i, _, _ in c.distinct_matched())
        return [("distinctive", 0.0, f"distinctive words matched: {words}", None)]
    def near(i: int, j: int, s: float) -> bool:  # exact, or one letter off ('technelogy' / 'technology')
        t, u = c.q_tokens[i], c.a_tokens[j]
        return s >= 1.0 or (min(len(t), len(u)) >= 6 and (
            LCSseq.similarity(t, u) >= max(len(t), len(u)) - 1 or _transposition(t, u)))

    core_pairs = [(i, j) for i, j, s in c.pairs if i in c.core_q and j in c.core_a and near(i, j, s)]
    paired_q = {i for i, _ in core_pairs}
    generic = branch_words() | _places()  # 'Digital Media Lab Europe': a branch word added to the list name
    added = all(c.q_tokens[i] in generic for i in c.core_q if i not in paired_q)
    whole = len(c.used_a) == len(c.a_tokens)  # every list word, legal form included ('Joint Stock Company STAR')
    complete = (  # one common word alone matches only the whole list name ('GRP Ltd' is not 'Group A')
        (len(core_pairs) >= 2 or whole) and len(core_pairs) == len(c.core_a) and added and any(s >= 1.0 for *_, s in c.pairs)
    )
    if complete:  # 'Aviation Industry Corporation of China': an all-common name matched word for word
        return [("distinctive", 0.0, "common words only, but the whole name matches word for word", None)]
    all_core = {i for i, _, _ in c.pairs} >= c.core_q and {j for _, j, _ in c.pairs} >= c.core_a
    no_table = not any(c.q_common[i] for i, _, _ in c.pairs) and any(s >= 1.0 for _, _, s in c.pairs)
    if all_core and no_table:  # frequent names ('Mohammad Ahmadi') all matched, one spelled differently
        return [("distinctive", 0.0, "no rare word, but every word of both names matches", None)]
    return [("distinctive", -c.cfg.common_only_penalty, "only common words matched (no distinctive word)",
             "only common words matched")]


def feature_one_word(c: _CalCtx) -> list[_Feat]:
    """One-word and very short names match only exactly and never firmly on that alone. When the match
    rests on one distinctive word and the other distinctive words differ ('Fox' vs 'Simon Fox',
    'Warner Music' vs 'Wagner'), it is no hit; otherwise it is a possible match to confirm."""
    if c.acronym:
        return [("acronym", 0.0, "the match is an acronym only", "acronym only")]
    distinct = c.distinct_matched()
    core = "".join(c.q_tokens)
    legal = _legal_words()
    # 'Sensetime' ~ 'Sensetime Group Limited', 'Kalashnikov' ~ 'Kalashnikov Concern': a one-word name that is a
    # distinctive word (6+ letters, not ordinary English) written exactly so is found in a list name adding only
    # group, branch or place words
    one = [c.q_tokens[i] for i in c.core_q]
    group = _group_additions(c, one)
    extra_a = [c.a_tokens[j] for j in range(len(c.a_tokens))
               if j not in c.used_a and c.a_tokens[j] not in legal and c.a_tokens[j] not in group]
    extra_q = [c.q_tokens[i] for i in range(len(c.q_tokens)) if i not in c.used_q and c.q_tokens[i] not in legal]
    if len(c.core_q) == 1 and extra_a:
        return [("one_word", -100.0, f"a one-word name matches only a list name that is that word (the list name "
                 f"also has: {', '.join(extra_a)})", "one-word name")]
    if _name_part_variant(c) is not None:  # 'Igor Sechev' / 'Igor Sechin': scored by feature_name_part_variant
        return []
    if len([p for p in c.pairs if p[0] in c.core_q]) == 1 and extra_a and extra_q:
        return [("one_word", -100.0, f"the names share one word only and each has other words (name: "
                 f"{', '.join(extra_q)}; list: {', '.join(extra_a)}): not the same party", "one word in common")]
    if len(distinct) > 1:
        return []
    dmin = c.cfg.distinct_min
    other_q = [c.q_tokens[i] for i in range(len(c.q_tokens))
               if i not in c.used_q and not c.q_common[i] and c.q_w[i] >= dmin]
    other_a = [c.a_tokens[j] for j in range(len(c.a_tokens))
               if j not in c.used_a and not c.a_common[j] and c.a_w[j] >= dmin]
    if distinct and (other_q or other_a) and not _added_name_parts(c):
        diff = ", ".join(other_q) or "-"
        return [("one_word", -100.0, f"only one distinctive word in common; the others differ (name: {diff}; "
                 f"list: {', '.join(other_a) or '-'}): not the same party", "one word in common")]
    a_core = "".join(c.a_tokens[j] for j in c.core_a)
    if len(a_core) <= 3 and extra_q:
        return [("short_name", -100.0, f"the list name '{a_core}' is too short to be found inside a longer name "
                 f"(the name also has: {', '.join(extra_q)})", "very short name")]
    if len(core) <= 3:
        return [("short_name", 0.0, f"very short name '{core}': possible match only", "very short name")]
    one_word = len(c.core_q) == 1 or len(c.core_a) == 1
    approx = _one_word_approximate(c, distinct, one_word)
    if approx is not None:
        return approx
    return _one_word_rests(c, distinct, one_word, extra_q, extra_a)


def _group_additions(c: _CalCtx, one: list[str]) -> frozenset[str]:
    """The words a list name may add to a one-word party name and still be found by it: when that word is
    distinctive (6+ letters, not ordinary English) and written exactly so in the list name, the group words
    ('Sensetime Group Limited', 'Kalashnikov Concern') and the country or continent of a listed national
    subsidiary ('Faberlic Europe Sp. z o.o.'). Empty otherwise. The hit stays possible (one word). (Other
    branch words, 'Trident International', 'Tidewater Middle East', name other businesses of ordinary words
    too often: they are not added.)"""
    if len(one) != 1 or one[0] not in c.a_tokens or not _distinctive_word(one[0]):
        return frozenset()
    return _group_addition_words()


@lru_cache(maxsize=1)
def _group_addition_words() -> frozenset[str]:
    """Group words, country names and continents (``data/normalize/continent_words.txt``)."""
    return group_words() | _places() | frozenset(_table_lines("continent_words.txt"))


def _distinctive_word(tok: str) -> bool:
    return len(tok) >= 6 and tok.isalpha() and tok not in english_words()


def _one_word_approximate(c: _CalCtx, distinct: list[tuple[int, int, float]], one_word: bool) -> list[_Feat] | None:
    """The only distinctive word matches approximately: no hit for a one-word name or a firm's sound-alike,
    otherwise a possible match (None: the feature goes on)."""
    if distinct and distinct[0][2] < 1.0 and one_word:
        i, j, _ = distinct[0]
        t, u = c.q_tokens[i], c.a_tokens[j]
        one_edit = Levenshtein.distance(t, u, score_cutoff=1) <= 1 or _transposition(t, u)
        if _short_near_miss(t, u, c.cfg) or not one_edit or (
            min(len(t), len(u)) < c.cfg.long_word and not _transposition(t, u)
        ):
            return [("one_word", -100.0, f"one-word name matched only approximately ('{t}' ~ '{u}'): a one-word "
                     f"name must match exactly (a long word of {c.cfg.long_word}+ letters: one letter off; or two "
                     "adjacent letters swapped)", "one-word name")]
    if len(distinct) == 1 and distinct[0][2] < 1.0:
        i, j, _ = distinct[0]
        t, u = c.q_tokens[i], c.a_tokens[j]
        # people's names and names transliterated from another script vary by sound; a firm's Latin name does not
        firm_name = c.org_query or (c.entry.type or "Individual") != "Individual"
        if firm_name and not c.q.norm.transliterated and LCSseq.similarity(t, u) < max(len(t), len(u)) - 1 and not _transposition(t, u):
            return [("one_word", -100.0, f"the only distinctive word merely sounds like the list word ('{t}' ~ "
                     f"'{u}', more than one letter apart): not enough for a hit", "sound-alike distinctive word")]
        if not _transposition(t, u):
            return [("one_word", 0.0, f"the only distinctive word matches approximately ('{t}' ~ '{u}'): "
                     "possible match only", "approximate distinctive word")]
    return None


def _one_word_rests(
    c: _CalCtx, distinct: list[tuple[int, int, float]], one_word: bool, extra_q: list[str], extra_a: list[str]
) -> list[_Feat]:
    """The match rests on one word: no hit when that word is ordinary English or the name adds another
    business's words, otherwise a possible match."""
    branch, places = branch_words(), _places()
    if distinct and (one_word or len([p for p in c.pairs if p[0] in c.core_q]) == 1):
        word = c.a_tokens[distinct[0][1]]
        if (extra_q or extra_a) and word in english_words():
            return [("one_word", -100.0, f"the match rests on '{word}', an ordinary English word, and the names "
                     "differ otherwise: no evidence of the listed party", "ordinary word")]
        other = [t for t in extra_q if t not in branch and t not in places]
        if other:
            return [("one_word", -100.0, f"the match rests on '{word}' and the name adds words of another "
                     f"business ({', '.join(other)}): no evidence of the listed party", "one word in common")]
        return [("one_word", 0.0, "the match rests on one word: possible match only", "the match rests on one word")]
    if one_word and c.pairs:
        return [("one_word", 0.0, "one-word name: possible match only", "the match rests on one word")]
    return []


def feature_entity_type(c: _CalCtx) -> list[_Feat]:
    """Entity type as evidence: an organisation (legal form, business words) does not match an
    individual on one name alone (a surname), and matches one less well in any case."""
    etype = (c.entry.type or "").lower()
    # a legal form written as words ('Ltd', 'Company'), not read from spaced-out letters ('S A V I Z')
    legal = [f for f in c.q.norm.legal if any(len(w) > 1 for w in f.split())]
    if etype in ("vessel", "aircraft") and legal and not c.an.legal and not c.acronym:
        return [("entity_type", -100.0, f"the name has a legal form ('{legal[0]}'): a company, not the listed "
                 f"{etype} of that name", f"company vs {etype}")]
    if etype != "individual" or not c.org_query:
        return []
    if len(c.distinct_matched()) <= 1:
        return [("entity_type", -c.cfg.org_vs_person_one_word,
                 "an organisation's name does not match an individual on one name alone", "organisation vs individual")]
    return [("entity_type", -c.cfg.org_vs_person, "the name looks like an organisation, the entry is an individual",
             "organisation vs individual")]


def feature_acronym(c: _CalCtx) -> list[_Feat]:
    """An acronym match (SMIC = Semiconductor Manufacturing International Corporation) scores
    ``acronym_score`` (three letters: ``acronym_score_short``)."""
    if not c.acronym:
        return []
    if len(c.q.tokens) != 1 or len(c.an.tokens) == 1:
        return [("acronym", -100.0, f"the initials of '{' '.join(c.q.tokens)}' spell the short list name "
                 f"'{' '.join(c.an.tokens)}': not evidence of the same party", "acronym only")]
    size = len(c.q_tokens[0])
    score = c.m._acronym_score(size)
    c.name_score = score
    return [("acronym", score - 100.0, f"'{' '.join(c.q.tokens).upper()}' = initials of alias "
             f"'{c.m.alias_text[c.alias]}'", None)]


_COMMON_PREFIX_SIM = 0.9
_INITIAL_SIM = 0.9


def feature_country(c: _CalCtx) -> list[_Feat]:
    """Country agreement raises the score, disagreement lowers it; countries that count as one for party
    screening (HK and MO with China: ``data/party-country-equivalents.yaml``) agree."""
    if not c.country or not c.entry.countries:
        return []
    from ecscreen.domain.countries import party_country_codes

    if party_country_codes(c.country) & set(c.entry.countries):
        c.country_match = True
        return [("country", c.cfg.country_bonus, f"country {c.country} matches the entry", None)]
    c.country_match = False
    return [("country", -c.cfg.country_mismatch,
             f"country {c.country} not among the entry's countries ({', '.join(c.entry.countries)})", None)]


def feature_normalisation(c: _CalCtx) -> list[_Feat]:
    """What normalisation did (no points): words in common, legal forms ignored, abbreviations expanded."""
    parts = []
    same = [c.a_tokens[j] for i, j, s in c.pairs if s >= 1.0 and c.q_tokens[i] == c.a_tokens[j]]
    if same and not c.acronym:
        parts.append("same words: " + ", ".join(same))
    numbers = [f"'{c.q_tokens[i]}' = '{c.a_tokens[j]}'" for i, j, s in c.pairs
               if s >= 1.0 and c.q_tokens[i] != c.a_tokens[j] and _same_number(c.q_tokens[i], c.a_tokens[j])]
    if numbers and not c.acronym:
        parts.append("the same number in digits and in words: " + ", ".join(numbers))
    if c.typos:
        parts.append("typo in a common word read as the word: " + ", ".join(f"{t}->{f}" for t, f in c.typos))
    legal = sorted({*c.q.norm.legal, *c.an.legal})
    if legal:
        parts.append("legal form ignored: " + ", ".join(f"'{lf}'" for lf in legal))
    expanded = sorted({f"{a}->{b}" for a, b in (*c.q.norm.expanded, *c.an.expanded)})
    if expanded:
        parts.append("abbreviations expanded: " + ", ".join(expanded))
    return [("normalisation", 0.0, "; ".join(parts), None)] if parts else []


@lru_cache(maxsize=1)
def _lineage_words() -> frozenset[str]:
    """Words stating descent ('X bin Y': X, child of Y; ``data/normalize/lineage_words.txt``)."""
    return frozenset(_table_lines("lineage_words.txt"))


def _lineage_links(tokens: Sequence[str]) -> set[tuple[str, str]]:
    """(child, parent) word pairs a name states with 'bin' / 'ben' / 'ibn' ...: 'salman bin muhammad' ->
    {('salman', 'muhammad')}; particles are skipped ('saif al din bin ibrahim' -> ('din', 'ibrahim'))."""
    lineage = _lineage_words()
    skip = particles() | lineage
    out: set[tuple[str, str]] = set()
    for k in range(1, len(tokens) - 1):
        if tokens[k] not in lineage or tokens[k - 1] in skip:
            continue
        parent = next((t for t in tokens[k + 1 :] if t not in skip), None)
        if parent is not None:
            out.add((tokens[k - 1], parent))
    return out


def _person_pair(c: _CalCtx) -> bool:
    """A person's name compared with an individual's entry (no legal form or business word in the query)."""
    return not c.acronym and not c.org_query and (c.entry.type or "Individual") == "Individual"


def feature_lineage(c: _CalCtx) -> list[_Feat]:
    """Who is whose child: 'Salman bin Muhammad' (Salman, son of Muhammad) is not 'Muhammad bin Salman'
    though every word matches. A lineage stated the other way round on the list side lowers the score
    by ``lineage_swap`` and forbids a firm finding."""
    if not _person_pair(c):
        return []
    q_links = _lineage_links(c.q.norm.full_tokens)
    a_links = _lineage_links(c.an.full_tokens)
    if not q_links or not a_links:
        return []
    to_list = {c.q_tokens[i]: c.a_tokens[j] for i, j, _ in c.pairs}  # query word -> its list counterpart
    for child, parent in sorted(q_links):
        a, b = to_list.get(child), to_list.get(parent)
        if a and b and a != b and (b, a) in a_links and (a, b) not in a_links:
            return [("lineage", -c.cfg.lineage_swap, f"'{child} bin {parent}' is {child}, child of {parent}; the list "
                     f"name says {b}, child of {a}: the same words name a different person", "lineage reversed")]
    return []


def _unpaired(c: _CalCtx, query: bool, keep: Callable[[str], bool]) -> list[str]:
    tokens, used, core = (c.q_tokens, c.used_q, c.core_q) if query else (c.a_tokens, c.used_a, c.core_a)
    return [tokens[k] for k in sorted(core) if k not in used and keep(tokens[k])]


def _extra_name_parts(c: _CalCtx, query: bool) -> list[str]:
    """Name words of one side with no counterpart on the other (legal-form look-alikes such as 'o' count as
    name words here when normalisation kept them as words), a repeated word once per occurrence beyond the
    other side's ('Mohamed Mohamed' / 'Mohamed')."""
    skip = particles() | _lineage_words()
    tokens, used = (c.q_tokens, c.used_q) if query else (c.a_tokens, c.used_a)
    own = set(c.q.tokens if query else c.an.tokens)  # the name proper, not the legal forms added for alignment
    full, other = (c.q.norm.full_tokens, c.an.full_tokens) if query else (c.an.full_tokens, c.q.norm.full_tokens)
    out = [t for k, t in enumerate(tokens) if k not in used and t not in skip and t in own]
    for i, j, _ in c.pairs:
        t, u = (c.q_tokens[i], c.a_tokens[j]) if query else (c.a_tokens[j], c.q_tokens[i])
        if t not in skip and full.count(t) > max(other.count(u), 1):
            out.append(t)
    return out


def feature_name_part_conflict(c: _CalCtx) -> list[_Feat]:
    """A person's name with a part that differs from the list name's part ('Noureddine ben Mohamed ...' /
    'Noureddine ben Ali ...', 'Hans O. Friedrich' / 'Hans Joachim Friedrich', two different patronymics):
    each side has a name word the other lacks, which is evidence of a different person, not merely a
    shorter name. Lowers the score by ``name_part_conflict`` and forbids a firm finding."""
    if not _person_pair(c) or not c.pairs or _name_part_variant(c) is not None:
        return []
    mine = _extra_name_parts(c, True)
    theirs = _extra_name_parts(c, False)
    for t in list(mine):  # a misspelt repeat ('Muhaemad Isam Muhammad' / 'Muhammad Isam Muhammad') is no conflict
        u = next((u for u in theirs if c.m._sim_of(t, u) > 0), None)
        if u is not None:
            mine.remove(t)
            theirs.remove(u)
    if not mine or not theirs:
        return []
    return [("name_part_conflict", -c.cfg.name_part_conflict, f"name parts differ ({', '.join(mine)} in the name, "
             f"{', '.join(theirs)} in the list name): a different person unless confirmed", "name parts differ")]


def feature_place_conflict(c: _CalCtx) -> list[_Feat]:
    """Two branches of one business in different places are different parties: a place on each side that
    the other lacks ('Bowne Global Solutions (France)' / '(Germany)', 'Banco Santander Mexico' / 'Chile').
    Lowers the score by ``place_conflict`` and forbids a firm finding. (A place only the query adds,
    'ZTE Europe', is no conflict; numbered siblings, 'Fund VIII' / 'Fund IX', are labelled both ways in
    the name pairs and are left to the word weights.)"""
    if c.acronym or not c.pairs:
        return []
    places = _places()
    mine = _unpaired(c, True, places.__contains__)
    theirs = _unpaired(c, False, places.__contains__)
    if not mine or not theirs:
        return []
    return [("place_conflict", -c.cfg.place_conflict, f"different places ({', '.join(mine)} in the name, "
             f"{', '.join(theirs)} in the list name): another branch of that name", "different places")]


def _added_name_parts(c: _CalCtx) -> list[str]:
    """The name parts a person's name adds to a list name it holds whole (every list name part matched exactly,
    repeats included, at least two of them not particles): 'Gul Ahmad Waziri Hakimi' holds 'Gul Ahmad Hakimi'
    and adds 'waziri'. Only against an entry typed as an individual (an untyped entry may be a firm), and not
    for a name read by sound (its words were replaced by list words). Empty when the pair is not of that shape."""
    if c.entry.type != "Individual" or "sound" in c.reading or not _person_pair(c):
        return []
    if not c.used_a >= c.core_a or _extra_name_parts(c, False):
        return []
    exact = [c.a_tokens[j] for _, j, s in c.pairs if j in c.core_a and s >= 1.0]
    if len(exact) < len(c.core_a) or len([u for u in exact if u not in particles()]) < 2:
        return []
    return [c.q_tokens[i] for i in sorted(c.core_q) if i not in c.used_q]


def feature_added_name_parts(c: _CalCtx) -> list[_Feat]:
    """A person's name that holds the whole list name and adds name parts (a middle name, a second given
    name, a tribal or family name, a title: 'Anjem Iftikhar Choudary Mahmood' / 'Anjem Choudary') is
    evidence of the same person written more fully, not of another person: ``added_name_parts_share`` of
    the points the added words cost (:func:`feature_query_words`) is given back. Never firm on its own:
    the added parts are to be confirmed (date of birth, nationality, identifiers)."""
    added = _added_name_parts(c)
    if not added:
        return []
    share = sum(c.q_w[i] for i in range(len(c.q_tokens)) if i not in c.used_q) / c.W_q
    pts = c.q_share * share * c.cfg.added_name_parts_share
    c.name_score += pts
    return [("added_name_parts", pts, f"the name holds the whole list name and adds name parts ({', '.join(added)}):"
             " the same person written more fully, or another person", "the name adds name parts")]


def _name_part_variant(c: _CalCtx) -> tuple[int, int, int] | None:
    """(query word position, list word position, letters changed) when a person's name differs from the list name
    in one name part only, that part at most ``name_part_edits`` letters off (insertions, deletions, substitutions)
    and in the same place in both names, every other part the same and at least one of them not a particle:
    'Igor Sechev' / 'Igor Sechin', 'KIM KYONG MIN' / 'KIM KYONG IL'. Not for names transliterated from another script
    or read by sound (their letters are a rendering), nor when either side has a one-letter initial there. None
    otherwise. Cached on the context (one_word and name_part_conflict ask too)."""
    got = c.part_variant
    if got is None:
        got = c.part_variant = (_find_name_part_variant(c),)
    return got[0]


def _find_name_part_variant(c: _CalCtx) -> tuple[int, int, int] | None:
    if not _person_pair(c) or c.q.norm.transliterated or c.an.transliterated:
        return None
    near = c.reading.startswith(NEAR_PART_REASON)  # the name part already read as the list word (variants)
    if c.reading and not near:
        return None
    mine = list(_normalize_cached(c.name).tokens) if near else list(c.q.tokens)
    got = _part_variant_tokens(mine, list(c.an.tokens), c.cfg.name_part_edits)
    if got is None:
        return None
    t, u, edits = got
    if near:
        return -1, -1, edits
    if t not in c.q_tokens or u not in c.a_tokens or any(s < 1.0 for *_, s in c.pairs):
        return None
    return c.q_tokens.index(t), c.a_tokens.index(u), edits


def _part_variant_tokens(mine: list[str], theirs: list[str], max_edits: int) -> tuple[str, str, int] | None:
    """(name word, list word, letters changed) when two names of as many words (no word repeated) differ in one
    word only, in the same place, at most ``max_edits`` letters apart, and share a word that is not a particle."""
    if len(mine) != len(theirs) or len(set(mine)) < len(mine) or len(set(theirs)) < len(theirs):
        return None
    diff = [k for k in range(len(mine)) if mine[k] != theirs[k]]
    if len(diff) != 1:
        return None
    t, u = mine[diff[0]], theirs[diff[0]]
    if min(len(t), len(u)) < 2 or not any(w not in particles() for w in mine if w != t):
        return None
    edits = Levenshtein.distance(t, u, score_cutoff=max_edits)
    if edits > max_edits or edits >= max(len(t), len(u)):
        return None
    return t, u, edits


def feature_name_part_variant(c: _CalCtx) -> list[_Feat]:
    """A person's name that is the list name but for one name part a letter or two off, in the same place ('Igor
    Sechev' / 'Igor Sechin', 'Tom Cook' / 'Tim Cook', 'KIM KYONG MIN' / 'KIM KYONG IL'): a misspelt name, or another
    person of a similar name; worth a review, never a firm finding. The points the two words cost as unmatched
    (:func:`feature_query_words`, :func:`feature_list_words`) are given back, less ``name_part_variant_per_edit``
    per letter changed (one letter: 92.5, two: 85 when nothing else differs). A part further off stays a conflict
    (:func:`feature_name_part_conflict`)."""
    got = _name_part_variant(c)
    near = c.reading.startswith(NEAR_PART_REASON)
    if got is None:
        if near:
            return [("name_part_variant", -100.0, "a name part read as a list word fits only an individual's name of "
                     "as many words, differing in that part alone", "a name part differs")]
        return []
    i, j, edits = got
    if near:
        return [("name_part_variant", 0.0, f"one name part differs by {edits} letter{'s' if edits > 1 else ''}, every "
                 "other part is the same: a misspelling of the listed name or another person; confirm",
                 "a name part differs")]
    pts = c.q_share * c.q_w[i] / c.W_q + c.a_share * c.a_w[j] / c.W_a - c.cfg.name_part_variant_per_edit * edits
    c.name_score += pts
    t, u = c.q_tokens[i], c.a_tokens[j]
    return [("name_part_variant", pts, f"one name part differs by {edits} letter{'s' if edits > 1 else ''} ('{t}' in "
             f"the name, '{u}' in the list name), every other part is the same: a misspelling of the listed name or "
             "another person; confirm", "a name part differs")]


def _substituted_words(c: _CalCtx, query: bool) -> list[str]:
    """A firm's name words without a counterpart on the other side that name what the firm is (not a legal
    form, particle, place, number, roman numeral, or a letter or two left by spaced-out or split writing)."""
    skip = particles() | _places()
    return _unpaired(c, query, lambda t: len(t) >= 3 and t.isalpha() and t not in skip and not _ROMAN.match(t))


def feature_word_substitution(c: _CalCtx) -> list[_Feat]:
    """A firm's name in which a word of the list name is replaced by another word ('Saudi Arabian Gas
    Company' / 'Saudi Arabian Oil Company', 'Bowne Business Solutions' / 'Bowne Business Enterprises'):
    each side has a word the other lacks, so the names share a stem but name different businesses of it.
    Lowers the score by ``word_substitution`` and forbids a firm finding. (People: see
    :func:`feature_name_part_conflict`; places: :func:`feature_place_conflict`; numbered siblings, 'Fund
    VIII' / 'Fund IX', are left to the word weights.)"""
    if c.acronym or not c.pairs or _person_pair(c):
        return []
    mine = _substituted_words(c, True)
    theirs = _substituted_words(c, False)
    if not mine or not theirs:
        return []
    return [("word_substitution", -c.cfg.word_substitution, f"a word differs ({', '.join(mine)} in the name, "
             f"{', '.join(theirs)} in the list name): another business of that name unless confirmed",
             "a word differs")]


def feature_same_script(c: _CalCtx) -> list[_Feat]:
    """Two names written in the same Han / kana / hangul characters are compared by their characters, not only
    by how they read: '高石早苗' and '高市早苗' read alike (石 and 市 are both 'shi') but are different names. When
    both are of the same length and ``k`` of their ``n`` characters differ (traditional folded to simplified),
    the score is lowered by ``100 k / n`` and no firm finding is made. (Names of different lengths, with a legal
    form added or left out, are left to the word alignment.)"""
    if c.acronym or c.alias < 0:
        return []
    mine = cjk_characters(c.name)
    theirs = cjk_characters(c.m.alias_text[c.alias])
    if not mine or not theirs or len(mine) != len(theirs) or mine == theirs:
        return []
    diff = [k for k in range(len(mine)) if mine[k] != theirs[k]]
    pts = -100.0 * len(diff) / len(mine)
    c.name_score += pts
    shown = ", ".join(f"{mine[k]}/{theirs[k]}" for k in diff)
    return [("same_script", pts, f"both names are written in the same characters and {len(diff)} of {len(mine)} "
             f"differ ({shown}): a name that reads alike, not the same name", "characters differ")]


FEATURES = (
    feature_normalisation,
    feature_acronym,
    # the two features that give points back come before the words' costs: Matcher.calibrate stops scoring a
    # candidate as soon as the running total falls 5 below the threshold (only the country bonus, +5, was thought
    # to come later), which dropped every 'added_name_parts' hit whose added words cost more than 25 points
    feature_added_name_parts,
    feature_name_part_variant,
    feature_query_words,
    feature_list_words,
    feature_spelling,
    feature_distinctive,
    feature_one_word,
    feature_entity_type,
    feature_lineage,
    feature_name_part_conflict,
    feature_place_conflict,
    feature_word_substitution,
    feature_same_script,
    feature_country,
)
"""The calibration features, in the order their reasons are printed."""


BOUND_SLACK = 1e-6
""":func:`score_bound` sums the same points in another order than :meth:`Matcher.calibrate` (float rounding):
a candidate is skipped only when its bound is this much below the threshold."""


def score_bound(c: _CalCtx, reading_penalty: float) -> float:
    """An upper bound of the calibrated total of a word-aligned candidate (not an acronym), computed from the
    alignment alone, before any feature builds its reason: :meth:`Matcher.calibrate` skips the candidate
    when the bound is below the threshold (most candidates: a few of their words match, the rest do not).

    The total is ``100 - reading_penalty`` plus the points of every feature (:data:`FEATURES`). Only three
    features can ADD points; every other one returns points <= 0 (0 for ``normalisation`` and the
    ``distinctive`` / ``one_word`` notes, minus a penalty for ``spelling``, ``short_word``, ``distinctive``,
    ``one_word``, ``short_name``, ``entity_type``, ``lineage``, ``name_part_conflict``, ``place_conflict``,
    ``word_substitution``, ``same_script``; ``acronym`` returns nothing for a word-aligned candidate), so
    leaving those out keeps the bound valid. Summed here, exactly as the features compute them:

    * ``query_words`` and ``list_words``: ``-Cq`` and ``-Ca``, the weight shares of the words without a
      counterpart (``Cq = query_share * unmatched query weight / W_q``, ``Ca`` the same for the list name);
    * ``added_name_parts`` (adds): ``added_name_parts_share * Cq`` when the list entry is an individual, the
      pair is a person's name against it and the name is not read by sound (the feature's own conditions;
      when they hold it may still return nothing: the bound then only overestimates), else 0;
    * ``name_part_variant`` (adds or lowers): its exact points from :func:`_name_part_variant` (no reason is
      built), 0 when it finds none or the name part was read as a list word (then it adds 0 or -100);
    * ``country`` (adds): at most ``country_bonus`` when a country is given and the entry has countries,
      else 0 (a mismatch lowers, -``country_mismatch``: bounded by the bonus all the same).

    ``calibrate`` returns a hit only when ``min(100, total)`` reaches the threshold (its early stop, the running
    total 5 below the threshold, only returns None sooner), so ``bound < threshold`` means None whatever the
    features say: skipping the candidate changes no result. Checked candidate by candidate against the real
    total: tests/test_matching_bound.py (fixtures) and benchmarks/check_score_bound.py (every SEC name and the
    speed benchmark's yente mix)."""
    missing_q = sum(w for i, w in enumerate(c.q_w) if i not in c.used_q)
    missing_a = sum(w for j, w in enumerate(c.a_w) if j not in c.used_a)
    cq = c.q_share * (missing_q / c.W_q)
    ca = c.a_share * (missing_a / c.W_a)
    total = 100.0 - reading_penalty - cq - ca
    if c.entry.type == "Individual" and "sound" not in c.reading and _person_pair(c):
        total += c.cfg.added_name_parts_share * cq
    got = _name_part_variant(c)
    if got is not None and not c.reading.startswith(NEAR_PART_REASON):
        i, j, edits = got
        total += c.q_share * c.q_w[i] / c.W_q + c.a_share * c.a_w[j] / c.W_a - c.cfg.name_part_variant_per_edit * edits
    if c.country and c.entry.countries:
        total += c.cfg.country_bonus
    return total


_PATRONYMIC = ("ovich", "evich", "ovna", "evna", "ovych", "ivna")
_ROMAN = re.compile(r"^(?:x{1,3}(?:ix|iv|v?i{0,3})|ix|iv|v?i{1,3}|v)$")


def _minor_word(tok: str) -> bool:
    """Words that weigh little: patronymics, name particles, numbers and roman numerals."""
    return (
        tok.endswith(_PATRONYMIC)
        or tok in particles()
        or any(c.isdigit() for c in tok)
        or bool(_ROMAN.match(tok))
    )
_ORG_HINTS = frozenset(
    ["company", "corporation", "group", "international", "industry", "bank", "institute", "university", "technology", "trading", "organization", "organisation", "association", "agency", "ministry", "holding", "enterprise", "service"]
)
_PAREN = re.compile(r"\(([^()]{1,60})\)\s*$")
_AFFILIATE = re.compile(r"\.?\s*Affiliated Entity:\s*", re.I)
_SUCCESSOR = re.compile(r"[;,]\s*(?:and\s+)?any successor.*$", re.I | re.S)


def _name_variants(texts: Iterable[str]) -> list[str]:
    """List names plus derived names: the affiliate's own name in 'X. Affiliated Entity: Y'."""
    out: list[str] = []
    for text in texts:
        text = _SUCCESSOR.sub("", text or "").strip()
        if not text:
            continue
        out.append(text)
        paren = _PAREN.search(text)
        if paren:
            inner = paren.group(1).strip()
            outer = text[: paren.start()] + text[paren.end() :]
            # "Huawei Technologies Co., Ltd. (Huawei)": the short name the list itself gives
            if sum(c.isalpha() for c in inner) >= 4 and inner.lower() in outer.lower():
                out.append(inner)
        head = bracket_head(text, _places())  # "Rostec (Russian Technologies State Corporation)" -> Rostec
        if head:
            out.append(head)
        parts = _AFFILIATE.split(text, maxsplit=1)
        if len(parts) == 2 and parts[1].strip():
            out.append(parts[1].strip())
        if "/" in text:
            pieces = [p.strip() for p in text.split("/")]
            if len(pieces) > 1 and all(sum(c.isalpha() for c in p) >= 4 for p in pieces):
                out.extend(pieces)
    return out


@lru_cache(maxsize=1)
def _legal_tails() -> dict[int, frozenset[str]]:
    by_len: dict[int, set[str]] = {}
    for form in legal_forms():
        if len(form) == 1:
            by_len.setdefault(len(form[0]), set()).add(form[0])
    return {n: frozenset(v) for n, v in by_len.items()}


def _split_token(t: str, known: Any, min_part: int) -> tuple[str, str | None] | None:
    """Split a glued token: 'siemensag' -> ('siemens', None) (legal form), 'vladimirputin' -> 2 words.

    The split point nearest the start wins; at the same point a legal-form tail wins.
    """
    n = len(t)
    best: tuple[int, tuple[str, str | None]] | None = None
    for size, forms in _legal_tails().items():
        k = n - size
        if k >= 2 and k <= n - 2 and t[k:] in forms and t[:k] in known and (best is None or k < best[0]):
            best = (k, (t[:k], None))
    for k in range(max(2, min_part), n - max(2, min_part) + 1):
        if best is not None and k >= best[0]:
            break
        if t[:k] in known and t[k:] in known:
            return (t[:k], t[k:])
    return best[1] if best is not None else None


_NOT_SPLIT_YET = ("", "")


def _split_memo(memo: dict[tuple[str, int], tuple[str, str | None] | None], t: str, known: Any,
                min_part: int) -> tuple[str, str | None] | None:
    """``_split_token(t, known, min_part)`` kept in ``memo`` (bounded; issue 11: a long word the list does not have
    was tried at every split point against the vocabulary again in every name holding it)."""
    key = (t, min_part)
    got = memo.get(key, _NOT_SPLIT_YET)
    if got is _NOT_SPLIT_YET:
        got = _split_token(t, known, min_part)
        if len(memo) >= 100_000:
            memo.clear()
        memo[key] = got
    return got


def _rejoin(tokens: list[str], known: Any, min_part: int = 2,
            splits: dict[tuple[str, int], tuple[str, str | None] | None] | None = None) -> list[str]:
    """Merge or split tokens so they line up with ``known`` tokens: 'good will' ~ 'goodwill', and three words
    of 2+ letters each that are one known word: 'plat ono vich' ~ 'platonovich'. ``splits``: a memo of
    :func:`_split_token` for this ``known`` (a matcher's vocabulary: a word's split is a pure function of it)."""
    out: list[str] = []
    i = 0
    n = len(tokens)
    while i < n:
        t = tokens[i]
        if i + 2 < n and min(len(t), len(tokens[i + 1]), len(tokens[i + 2])) >= 2:
            merged3 = t + tokens[i + 1] + tokens[i + 2]
            if merged3 in known and not all(x in known for x in tokens[i : i + 3]):
                out.append(merged3)
                i += 3
                continue
        if i + 1 < n:
            merged = t + tokens[i + 1]
            if merged in known and (t not in known or tokens[i + 1] not in known):
                out.append(merged)
                i += 2
                continue
        if t not in known and len(t) >= 5 and t.isalpha():
            split = _split_memo(splits, t, known, min_part) if splits is not None else _split_token(t, known, min_part)
            if split is not None:
                out.append(split[0])
                if split[1] is not None:
                    out.append(split[1])
                i += 1
                continue
        out.append(t)
        i += 1
    return list(dict.fromkeys(out))


_FORK_MATCHER: Matcher | None = None


def _can_fork() -> bool:
    """Forking helpers is possible (POSIX) and allowed (not inside a daemonic pool worker)."""
    import multiprocessing as mp

    return "fork" in mp.get_all_start_methods() and not mp.current_process().daemon


def _cpus_free(workers: int) -> bool:
    """Forking only pays when other CPUs are idle: with the machine busy, one process is faster."""
    import os

    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - platforms without load averages
        return True
    return load < min(workers, os.cpu_count() or 1) - 0.5


def _fork_match(args: tuple[list[list[str]], float, bool]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    chunks, thr, exhaustive = args
    if _FORK_MATCHER is None:  # pragma: no cover - only reachable if the pool outlives the call
        raise RuntimeError("matcher not set in worker")
    gc.disable()
    out: list[list[tuple[int, float, int, bool]]] = []
    for chunk in chunks:
        out.extend(_FORK_MATCHER._match_texts(chunk, thr, exhaustive))
    return _pack_hits(out)


def _fork_search(
    args: tuple[list[tuple[str, str | None, float, bool]], float, bool, int],
) -> list[list[tuple[int, HitFields]]]:
    """A forked worker's share of :meth:`Matcher._search_new`: per key, the alias and the calibrated fields of each
    hit as plain data (:func:`hit_fields`; the parent rebuilds the hits without calibrating them again)."""
    keys, thr, exhaustive, chunk_size = args
    if _FORK_MATCHER is None:  # pragma: no cover - only reachable if the pool outlives the call
        raise RuntimeError("matcher not set in worker")
    gc.disable()
    found = _FORK_MATCHER._search_share(keys, thr, exhaustive, chunk_size)
    return [[(alias, hit_fields(hit)) for hit, alias, _ in found[k]] for k in keys]


def _pack_hits(per_text: list[list[tuple[int, float, int, bool]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compact form for the trip back from a worker: counts, (entry, alias, acronym) ints, scores."""
    counts = np.fromiter((len(h) for h in per_text), dtype=np.int64, count=len(per_text))
    flat = [x for h in per_text for x in h]
    ints = np.array([(e, a, int(acr)) for e, _, a, acr in flat], dtype=np.int64).reshape(-1, 3)
    scores = np.array([sc for _, sc, _, _ in flat], dtype=np.float64)
    return counts, ints, scores


def _unpack_hits(packed: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[list[tuple[int, float, int, bool]]]:
    counts, ints, scores = packed
    out: list[list[tuple[int, float, int, bool]]] = []
    pos = 0
    il = ints.tolist()
    sl = scores.tolist()
    for c in counts.tolist():
        out.append([(il[k][0], sl[k], il[k][1], bool(il[k][2])) for k in range(pos, pos + c)])
        pos += c
    return out


BACKGROUND_FILE = "token_df.json.gz"


@lru_cache(maxsize=1)
def background_df() -> tuple[int, dict[str, int]]:
    """(number of aliases, token -> document frequency) of the embedded CSL (scripts/build_default_list.py)."""
    try:
        raw = package_file("data", BACKGROUND_FILE).read_bytes()
    except FileNotFoundError:
        return 0, {}
    # parsed once per cache directory (~11 ms per process otherwise), kept packed: a query reads the few words
    # it looks up (unpickling the whole dict was ~5 ms of a one-shipment check)
    from ecscreen.parties.derived import cached

    n, packed = cached("token-df-packed", raw, _parse_background_packed, _valid_background, index_cache_dir())
    try:
        return n, unpack_dict(packed)
    except ValueError:  # pragma: no cover - the derived cache checked the shape
        return _parse_background(raw)


def _parse_background(raw: bytes) -> tuple[int, dict[str, int]]:
    data = json.loads(gzip.decompress(raw).decode("utf-8"))
    return int(data["aliases"]), dict(data["df"])


def _parse_background_packed(raw: bytes) -> tuple[int, Any]:
    n, df = _parse_background(raw)
    return n, pack_dict(df)


def _valid_background(value: object) -> bool:
    # the shape only: the file is the user's own, for this digest, with its checksum (see derived.cached)
    return (type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is tuple
            and len(value[1]) == 5)


def token_document_frequencies(entries: Sequence[ListEntry]) -> tuple[int, dict[str, int]]:
    """Alias count and token document frequencies of ``entries`` (as the Matcher indexes them)."""
    m = Matcher(entries, background=False)
    df = {tok: int(m.p_len[vid]) for tok, vid in m.vocab.items()}
    return m.n_alias, df


def _acronym_forms(nn: NormalizedName) -> set[str]:
    forms: set[str] = set()
    core = [t for t in nn.tokens if t[0].isalpha()]
    if len(core) >= 3:
        forms.add(initials(core))
    generic = {"co", "ltd", "limited", "llc", "inc", "plc", "gmbh", "jsc", "ooo"}
    full = [t for t in nn.full_tokens if t not in generic and t[0].isalpha()]
    if len(full) >= 3:
        forms.add(initials(full))
    return {f for f in forms if 3 <= len(f) <= 8}


def _acronym_pair_size(a: NormalizedName, b: NormalizedName) -> int:
    """Length of the acronym when one name is the initials of the other, else 0."""
    if len(a.tokens) == 1 and a.tokens[0] in _acronym_forms(b):
        return len(a.tokens[0])
    if len(b.tokens) == 1 and b.tokens[0] in _acronym_forms(a):
        return len(b.tokens[0])
    return 0


@lru_cache(maxsize=4096)
def _country_code(country: str | None) -> str | None:
    """ISO alpha-2 of a country code or name; None when unknown (an unknown country never lowers a hit)."""
    if not country or not country.strip():
        return None
    from ecscreen.domain.countries import resolve

    found = resolve(country.strip())
    return str(found.alpha2) if found is not None else None


# --------------------------------------------------------------------------- on-disk index cache
#
# Building the index over the full CSL takes seconds (mostly normalising ~57,000 names); a one-shipment
# CLI call would pay that every time. The built index is therefore saved in the user's cache directory
# and loaded by later processes. The file name is the sha256 of everything the index depends on
# (_cache_digest): the caller's key (lists.matcher_for passes the sha256 of every list), the indexed
# names themselves, the ecscreen version, the normalisation tables, the source of this module and of
# ecscreen.domain.normalize, the background frequencies and the ScoreConfig -- so any change misses the cache.
#
# Format: a fixed header (magic, digest, payload length, CRC-32 of the payload) and a pickle (protocol 5;
# numpy arrays, lists, dicts and strings only). Pickle can run code when loaded, so a cache file is only
# unpickled when it is the tool's own: a file in the user's cache directory, owned by the user and not
# writable by group or others (fstat of the opened file), whose header carries the expected digest, whose
# size is the header's plus the recorded payload length (truncated or extended files) and whose payload
# matches the recorded CRC-32 (corrupted files). Anyone able to write such a file can already change the
# user's environment, so the checksum is not what keeps foreign content out -- the owner and mode checks
# are; no keyed or cryptographic hash would add anything against someone who can write the file (they
# would write a matching hash). The checksum only has to catch accidental damage (a bad sector, a copy
# gone wrong, a crash of a non-journalled file system; files are written whole and renamed, never
# rewritten in place): CRC-32 detects every burst error up to 32 bits and misses a random corruption with
# probability 2**-32, and it costs ~6.6 ms on the 27 MB index against ~15.6 ms for the sha256 it replaced
# (CPU, measured on this machine; a one-shipment check pays it on every call). Format 3: CRC-32 header. Any failure (unreadable, corrupt, other format version,
# inconsistent content) is ignored and the index is rebuilt, so results never depend on the cache.

CACHE_FORMAT = 6  # 2: the deletion index is a _DeletionIndex (arrays), not a dict; 3: CRC-32 payload checksum;
# 4: packed dicts carry a lookup table, alias texts packed (ecscreen.parties.indexcache); 5: arrays stored as
# FlatArray (read without numpy); 6: per-alias bit shares for the kernel's pair bound (a_bitshare, a_ndup)
CACHE_MIN_NAMES = 1000  # smaller lists build in milliseconds: not worth a file
CACHE_KEEP = 12  # files of each kind kept in the cache directory (most recently used first)
CACHE_KEEP_NAMES = 64  # small-list index files ("names-": a few KB each; every pack's names list has one)
_CACHE_MAGIC = b"ecscreen-index\x00" + bytes([CACHE_FORMAT])
_CACHE_HEADER = struct.Struct("<16s32sQI")  # magic, digest, payload length, payload CRC-32


def payload_checksum(payload: bytes | memoryview) -> int:
    """The header's checksum of a cache file's payload: CRC-32 (accidental damage only: see above), computed by
    zlib-ng where installed (the same values as zlib's, ~5x faster: :data:`ecscreen.parties.indexcache.crc32`)."""
    return crc32(payload)


def index_cache_dir() -> Path | None:
    """The settings' cache directory (:class:`ecscreen.settings.Settings`: ``$ECSCREEN_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/ecscreen``, else ``~/.cache/ecscreen``; None when ``ECSCREEN_NO_CACHE`` is set): the
    default of callers that do not pass a ``cache_dir`` (the CLI and the API pass theirs)."""
    return Settings.from_env().cache_dir


@lru_cache(maxsize=2)
def _code_fingerprint(background: bool) -> bytes:
    """Hash of what the index depends on besides the names: version, tables, code, background df."""
    from ecscreen import __version__
    from ecscreen.domain import normalize as normalize_module
    from ecscreen.settings import dist_version

    h = hashlib.sha256()
    h.update(f"{CACHE_FORMAT}|{__version__}|{sys.version_info[:2]}".encode())
    # without importing importlib.metadata (~11 ms of a check), nor numpy (~41 ms: issue 10)
    for dist in ("numpy", "anyascii", "pypinyin"):
        h.update(f"|{dist} {dist_version(dist)}".encode())
    # the data files and sources below by their state (path, size, inode, modification and change times: any
    # edit, replacement or reinstall changes it; settings.file_stamps), not their ~0.8 MB of text: reading and
    # hashing them was ~2 ms CPU of every check (issue 10); their text where the package is not on disk
    data = package_file("data")
    stamped = isinstance(data, Path)
    tables = data.joinpath("normalize")
    for entry in sorted(tables.iterdir(), key=lambda t: t.name):
        if entry.is_file():
            h.update(b"\x00" + entry.name.encode() + b"\x00" + _file_key(entry, stamped))
    try:  # the common words weigh little in the index (common_words)
        h.update(b"\x00business_words\x00" + _file_key(data.joinpath("business_words.txt"), stamped))
    except FileNotFoundError:  # pragma: no cover - broken install
        h.update(b"\x00no business words")
    if background:
        try:
            h.update(b"\x00background\x00" + _file_key(data.joinpath(BACKGROUND_FILE), stamped))
        except FileNotFoundError:
            h.update(b"\x00no background")
    from ecscreen.parties import (
        calibration,
        candidates,
        index_build,
        indexcache,
        kernel,
        kernel_single,
        query,
    )
    from ecscreen.parties import variants as variants_module

    # this module and the matcher's parts split out of it (issue 10) decide what the index holds
    # (indexcache and kernel_single shape what the file holds: packed tables, flat arrays, the vocabulary)
    parts = (candidates, index_build, query, kernel, calibration, indexcache, kernel_single)
    for src in (__file__, *(p.__file__ for p in parts), normalize_module.__file__, variants_module.__file__):
        try:
            h.update(b"\x00" + _file_key(Path(src or ""), stamped))
        except OSError:  # no source (zip import): the version must do
            h.update(b"\x00no source")
    return h.digest()


def _file_key(path: Any, stamped: bool) -> bytes:
    """A file's part of :func:`_code_fingerprint`: its state (:func:`~ecscreen.settings.file_stamps`) when
    ``stamped``, else its bytes; FileNotFoundError when it is missing."""
    if not stamped:
        return bytes(path.read_bytes())
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return file_stamps([path])


def _cache_digest(entries: Sequence[ListEntry], config: ScoreConfig, background: bool, key: str) -> str:
    h = hashlib.sha256(_code_fingerprint(background))
    from ecscreen.parties.lazyentries import entries_fingerprint

    h.update(f"|{config!r}|{len(entries)}|{key}\x00".encode("utf-8", "surrogatepass"))
    h.update(entries_fingerprint(entries))  # the names and aliases in order (or the content key fixing them)
    return h.hexdigest()


def _cache_target(
    entries: Sequence[ListEntry], config: ScoreConfig, background: bool, key: str | None, directory: Path | None
) -> tuple[Path, str] | None:
    """(cache file, digest) for this index, or None when it is not cached."""
    if key is None or directory is None:
        return None
    from ecscreen.parties.lazyentries import name_count

    # a small list (a pack's names list) builds in milliseconds, but building imports numpy (~41 ms) and,
    # for Han-script names, the romanisation tables (~0.4 s); its file is small and loads without either
    # (issue 10). Its own kind ("names-"), so that the few large list indexes are pruned on their own
    kind = "names" if name_count(entries) < CACHE_MIN_NAMES else "index"
    digest = _cache_digest(entries, config, background, key)
    return directory / f"{kind}-{digest}.bin", digest


def _read_header(fh: Any) -> tuple[bytes, bytes, int, int] | None:
    raw = fh.read(_CACHE_HEADER.size)
    if len(raw) != _CACHE_HEADER.size:
        return None
    magic, digest, length, checksum = _CACHE_HEADER.unpack(raw)
    if magic != _CACHE_MAGIC:
        return None
    return magic, digest, int(length), int(checksum)


def _trusted(st: os.stat_result) -> bool:
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # pragma: no cover - not POSIX: the checksum must do
        return True
    return st.st_uid == getuid() and not st.st_mode & 0o022


def _open_cache_file(path: Path) -> Any:
    """Open a cache file for reading only when it is a regular file (never a FIFO, device, socket or
    symlink): opened non-blocking and without following links, checked with fstat, so a FIFO at the
    cache path cannot hang the run. Raises OSError otherwise (callers treat it as "not cached")."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"not a regular file: {path}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_cache_file(path: Path, digest: str) -> dict[str, Any] | None:
    """The saved state (a dict), or None when the file is missing, not a regular file, foreign,
    damaged or for another key."""
    try:
        with _open_cache_file(path) as fh:
            st = os.fstat(fh.fileno())
            if not _trusted(st):
                return None
            header = _read_header(fh)
            if header is None or header[1] != bytes.fromhex(digest):
                return None
            if st.st_size != _CACHE_HEADER.size + header[2]:
                return None
            # mapped, not read: copying a 27 MB index out of the page cache cost ~15 ms of a one-shipment
            # check. The file is ours and not writable by others (checked above) and replaced by rename,
            # never rewritten in place, so the mapping cannot change under the checksum and the unpickler
            mapped = _map_read(fh.fileno()) if header[2] else None
    except (OSError, ValueError):
        return None
    if mapped is None:
        return None
    try:
        return _load_mapped(path, digest, mapped, header)
    finally:
        # an index's arrays are read in place (indexcache.load_payload): then the mapping stays open (BufferError)
        # until they are freed; the file is never rewritten in place (written whole and renamed)
        with contextlib.suppress(BufferError):
            mapped.close()


def _map_read(fd: int) -> mmap.mmap:
    """The file mapped read-only; its pages read ahead in one call where the system can (MAP_POPULATE: the
    checksum reads every page; faulting them in one by one cost more than the read-ahead)."""
    populate = getattr(mmap, "MAP_POPULATE", 0)
    if populate:
        with contextlib.suppress(OSError, ValueError):
            return mmap.mmap(fd, 0, flags=mmap.MAP_SHARED | populate, prot=mmap.PROT_READ)
    return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)


def _load_mapped(path: Path, digest: str, mapped: mmap.mmap, header: tuple[bytes, bytes, int, int]
                 ) -> dict[str, Any] | None:
    with memoryview(mapped) as view, view[_CACHE_HEADER.size:] as payload:
        if payload_checksum(payload) != header[3]:
            return None
        return _unpickle_state(path, digest, payload)


def _unpickle_state(path: Path, digest: str, payload: memoryview) -> dict[str, Any] | None:
    was_enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of small objects: cyclic GC passes would double the load time
    try:
        state = load_payload(payload)  # the index's arrays stay in the mapped file (indexcache.dump_payload)
        # the loaded index / lists live as long as the process: move them (and what exists already) out of
        # the cyclic GC's generations, or the next passes scan them all again (~0.1-0.3 s per process);
        # they are still freed by reference counting when dropped
        gc.freeze()
    except Exception:
        return None
    finally:
        if was_enabled:
            gc.enable()
    if not isinstance(state, dict) or state.get("digest") != digest:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # most recently used: kept when old index files are pruned
    return state


def write_cache_file(path: Path, digest: str, state: dict[str, Any]) -> bool:
    """Save atomically (temporary file + rename); False when the directory is not writable."""
    tmp: str | None = None
    try:
        payload = dump_payload(state)  # arrays out of band: read in place on load (issue 10)
        header = _CACHE_HEADER.pack(_CACHE_MAGIC, bytes.fromhex(digest), len(payload), payload_checksum(payload))
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(header)
            fh.write(payload)
        os.replace(tmp, path)
        tmp = None
    except (OSError, pickle.PicklingError, ValueError, TypeError):
        return False
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    _prune_cache(path)
    return True


def _prune_cache(path: Path) -> None:
    """Keep the CACHE_KEEP (``names-*``: CACHE_KEEP_NAMES) most recently used files of the kind of ``path``
    (``index-*``, ``names-*``, ``list-*``)."""
    kind = path.name.split("-", 1)[0]
    keep = CACHE_KEEP_NAMES if kind == "names" else CACHE_KEEP
    try:
        found = sorted(path.parent.glob(f"{kind}-*.bin"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in found[keep:]:
            old.unlink()
    except OSError:
        pass


def index_cache_status(
    entries: Sequence[ListEntry],
    config: ScoreConfig | None = None,
    background: bool = True,
    cache_key: str | None = None,
    cache_dir: Path | None | _EnvCache = _ENV_CACHE,
) -> dict[str, Any]:
    """What ``Matcher(entries, config, background, cache_key)`` would find in the cache (header only).

    ``state``: "disabled" (``ECSCREEN_NO_CACHE`` or no cache directory), "not cached" (no key), "warm" (a file for exactly this index), "cold" (none yet), "unwritable"
    (none, and the directory cannot be written: every run builds) or "invalid" (a file that will be
    ignored and rebuilt).
    """
    directory = index_cache_dir() if isinstance(cache_dir, _EnvCache) else cache_dir
    out: dict[str, Any] = {"dir": None if directory is None else str(directory), "file": None, "bytes": None}
    if directory is None:
        return out | {"state": "disabled"}
    target = _cache_target(entries, config or DEFAULT_CONFIG, background, cache_key, directory)
    if target is None:
        return out | {"state": "not cached"}
    path, digest = target
    out["file"] = str(path)
    try:
        with _open_cache_file(path) as fh:
            st = os.fstat(fh.fileno())
            header = _read_header(fh)
    except (FileNotFoundError, NotADirectoryError):
        return out | {"state": "cold" if _writable(directory) else "unwritable"}
    except OSError:
        return out | {"state": "invalid"}
    out["bytes"] = st.st_size
    ok = (
        header is not None
        and _trusted(st)
        and header[1] == bytes.fromhex(digest)
        and st.st_size == _CACHE_HEADER.size + header[2]
    )
    return out | {"state": "warm" if ok else "invalid"}


def _writable(directory: Path) -> bool:
    """Whether ``directory`` exists writable or could be created (its nearest existing ancestor is)."""
    for d in (directory, *directory.parents):
        if os.path.lexists(d):
            return d.is_dir() and os.access(d, os.W_OK | os.X_OK)
    return False


# the same characters as "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]": a class of three ranges above U+00FF is compiled
# through a 64K bitmap in pure Python (~2 ms of every start-up), two classes of at most two ranges are not
# compiled on first use: its large character ranges take ~1.8 ms CPU to compile, and a check of ASCII names never
# needs it (Matcher.normalized)
_HAN_TEXT = LazyPattern("(?:[\u3400-\u4dbf\u4e00-\u9fff]|[\uf900-\ufaff])")


def _firm_blocks(ctx: _CalCtx, acronym: bool, blocks: list[str], feats: list[HitFeature]) -> list[str]:
    """What stops a firm finding: the features' blocks, plus any word without a counterpart on either side.
    An exact match whose country agrees lifts the short-name blocks (and says so in ``feats``)."""
    if not acronym:
        diff = [ctx.q_tokens[i] for i in ctx.core_q if i not in ctx.used_q]
        diff += [ctx.a_tokens[j] for j in ctx.core_a if j not in ctx.used_a]
        if diff:  # a firm finding needs the whole name: every word on both sides has its counterpart
            blocks.append("the names differ by: " + ", ".join(diff))
    liftable = {"the match rests on one word", "very short name"}
    if blocks and ctx.country_match is True and ctx.name_score >= 100.0 and set(blocks) <= liftable:
        feats.append(HitFeature(name="country", points=0.0, reason="exact match and the country agrees: "
                                "enough for a firm finding despite the short name"))
        return []
    return blocks


def _confirm_with(entry: ListEntry, country_match: bool | None) -> list[str]:
    """What would confirm a possible match: the address (when the list has one), the country, identifiers."""
    confirm = ["address"] if entry.addresses else []
    if country_match is not True:
        confirm.append("country")
    confirm.append("identifiers (registration number, date of birth, vessel IMO ...)")
    return confirm


class _LazyNorms(Sequence[NormalizedName]):
    """``alias_norm`` of an index loaded from the cache: each name normalised again when first needed
    (explanations only), which gives the very NormalizedName the build computed."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._texts = texts
        self._done: dict[int, NormalizedName] = {}

    def __len__(self) -> int:
        return len(self._texts)

    @overload
    def __getitem__(self, index: int) -> NormalizedName: ...

    @overload
    def __getitem__(self, index: slice) -> list[NormalizedName]: ...

    def __getitem__(self, index: int | slice) -> NormalizedName | list[NormalizedName]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._texts)))]
        if index < 0:
            index += len(self._texts)
        found = self._done.get(index)
        if found is None:
            found = normalize(self._texts[index])
            self._done[index] = found
        return found


def plain_tables(matcher: Matcher, shared: dict[int, dict[Any, Any]] | None = None) -> int:
    """Give ``matcher`` its tables loaded from the index cache as plain dicts (the number replaced): for a
    small index kept by a long-running process (``ecscreen serve``'s names lists). A table read from the cache
    is an :class:`~ecscreen.parties.indexcache.LazyDict` that decodes what is looked up (no decoding at load:
    right for a one-shot ``check``), but each look-up of a word it does not hold is Python code; a first-seen
    party name probes such tables hundreds of times (re-joined and split words, spellings). A plain dict of
    the same items answers every look-up the same. ``shared``: tables already converted, by ``id`` of the
    LazyDict (several indexes share one, e.g. the background word frequencies), so each is converted once."""
    from ecscreen.parties.indexcache import LazyDict

    done = shared if shared is not None else {}
    n = 0
    for name, table in list(vars(matcher).items()):
        if isinstance(table, LazyDict):
            plain = done.get(id(table))
            if plain is None:
                plain = done[id(table)] = dict(table.items())
            setattr(matcher, name, plain)
            n += 1
    return n
