"""Re-screen recorded parties against the current lists and report the ones whose outcome got worse.

The input is the distinct parties of the recorded screenings (name, country, address), each with the
occurrences it had: which record, which party index, and the party's recorded state (outcome, band and
list entries hit, derived from the record's ``PARTY-*`` findings by :func:`party_states`). Every distinct
party is screened once through :func:`ecscreen.parties.screening.screen_party_batches` (the same code as ``check``
and ``batch``, so the recorded and the current state are derived the same way), in forked workers for
big runs, and compared with each recorded occurrence: an occurrence is affected when the party now has a
hit on a list entry it did not have then (new hit), a stronger band (possible -> strong) or a worse
outcome. Cleared hits (clearances, review decisions) are covered and never count.

This module reads no environment and no clock: lists, pack, allow-list, date and worker count are given.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecscreen.model import Finding, Outcome, Party, PartyRole

__all__ = [
    "PartyState",
    "Occurrence",
    "RecordedParty",
    "Worsened",
    "RescreenResult",
    "CLEAR_STATE",
    "party_states",
    "entry_ids",
    "worse_reasons",
    "group_parties",
    "rescreen",
    "affected_by_change",
    "changed_entries",
    "recorded_parties",
]

BANDS = ("none", "possible", "strong")
_PARTY_FIELD = re.compile(r"^parties\[(\d+)\]\.")
POSSIBLE_PREFIX = "Possible match"


@dataclass(frozen=True, slots=True)
class PartyState:
    """What party screening said about one party: worst uncovered outcome of its party findings, the
    strongest band (0 none, 1 possible, 2 strong) and the list entry ids of uncovered hits. ``entries`` is
    None when the record kept the outcome but not the entries (``batch`` records keep findings without
    evidence): then only band and outcome are compared."""

    outcome: Outcome = Outcome.clear
    band: int = 0
    entries: frozenset[str] | None = frozenset()

    @classmethod
    def from_outcome(cls, outcome: str) -> PartyState:
        """The state a recorded party outcome alone implies (review: a possible match; worse: a strong one)."""
        o = Outcome(outcome)
        return cls(o, 0 if o is Outcome.clear else 1 if o is Outcome.review else 2, None)

    @property
    def band_name(self) -> str:
        return BANDS[self.band]

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "band": self.band_name,
                "entries": None if self.entries is None else sorted(self.entries)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PartyState:
        band = data.get("band", "none")
        return cls(Outcome(data.get("outcome", "clear")), BANDS.index(band) if isinstance(band, str) else int(band),
                   None if data.get("entries", ()) is None else frozenset(data.get("entries") or ()))


CLEAR_STATE = PartyState()


def _get(f: Any, key: str) -> Any:
    return f.get(key) if isinstance(f, Mapping) else getattr(f, key, None)


def entry_ids(finding: Finding | Mapping[str, Any]) -> list[str]:
    """List entry ids a party finding names (its evidence 'list entry ID on LIST ...')."""
    out: list[str] = []
    for ev in _get(finding, "evidence") or []:
        value, detail = _get(ev, "value"), _get(ev, "detail") or ""
        if isinstance(value, str) and detail.startswith(f"list entry {value} ") and value not in out:
            out.append(value)
    return out


def finding_party_index(finding: Finding | Mapping[str, Any]) -> int | None:
    """Index of the party a finding is about (from its first evidence field ``parties[i]...``)."""
    for ev in _get(finding, "evidence") or []:
        m = _PARTY_FIELD.match(_get(ev, "field") or "")
        if m:
            return int(m.group(1))
    return None


def is_party_hit(finding: Finding | Mapping[str, Any]) -> bool:
    """A restricted-party list hit (name or address) on one party: ``PARTY-<list>``/``PARTY-ADDRESS-<list>``."""
    rid = str(_get(finding, "rule_id") or "")
    return rid.startswith("PARTY-") and rid != "PARTY-NAME-TOO-LONG" and bool(entry_ids(finding))


def party_states(findings: Iterable[Finding | Mapping[str, Any]]) -> dict[int, PartyState]:
    """Per party index: the state its uncovered party-hit findings give (parties without one: clear)."""
    acc: dict[int, tuple[int, int, set[str]]] = {}
    for f in findings:
        if not is_party_hit(f) or _get(f, "covered_by") is not None:
            continue
        idx = finding_party_index(f)
        if idx is None:
            continue
        outcome = Outcome(_get(f, "outcome"))
        band = 1 if str(_get(f, "title") or "").startswith(POSSIBLE_PREFIX) or outcome.rank < 1 else 2
        rank, b, entries = acc.get(idx, (0, 0, set()))
        entries.update(entry_ids(f))
        acc[idx] = (max(rank, outcome.rank), max(b, band), entries)
    by_rank = {o.rank: o for o in Outcome}
    return {i: PartyState(by_rank[r], b, frozenset(e)) for i, (r, b, e) in acc.items()}


def worse_reasons(before: PartyState | None, now: PartyState) -> list[str]:
    """Why ``now`` is worse than ``before`` (empty: not worse). ``before`` None = the party was not
    screened against lists then: any hit now is new."""
    prev = before or CLEAR_STATE
    reasons: list[str] = []
    new = sorted((now.entries or frozenset()) - prev.entries) if prev.entries is not None else []
    if new:
        reasons.append("new hit: " + ", ".join(new))
    if now.band > prev.band:
        reasons.append(f"band {prev.band_name} -> {now.band_name}")
    if now.outcome.rank > prev.outcome.rank:
        reasons.append(f"outcome {prev.outcome.value} -> {now.outcome.value}")
    return reasons


@dataclass(slots=True)
class Occurrence:
    """One recorded appearance of a party: the record, the party's index in it, its state then."""

    record_id: Any  # the store's record id (int)
    party_index: int
    state: PartyState | None  # None: parties were not screened against lists in that record
    role: str | None = None


@dataclass
class RecordedParty:
    """A distinct recorded party (exact name, country, address) and every occurrence of it."""

    name: str
    country: str | None = None
    address: str | None = None
    occurrences: list[Occurrence] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        return (self.name, self.country, self.address)


def group_parties(rows: Iterable[tuple[str, str | None, str | None, Occurrence]]) -> list[RecordedParty]:
    """Distinct parties from (name, country, address, occurrence) rows, in first-seen order."""
    seen: dict[tuple[str, str | None, str | None], RecordedParty] = {}
    for name, country, address, occ in rows:
        key = (name, (country or None) and country.upper(), address or None)
        rp = seen.get(key)
        if rp is None:
            rp = seen[key] = RecordedParty(*key)
        rp.occurrences.append(occ)
    return list(seen.values())


@dataclass
class Hit:
    """A current uncovered hit, for the report."""

    rule_id: str
    outcome: str
    title: str
    entries: list[str]
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "outcome": self.outcome, "title": self.title, "entries": self.entries,
                "message": self.message}


@dataclass
class Worsened:
    """A party whose current outcome is worse than recorded, with the records (shipments) affected."""

    name: str
    country: str | None
    address: str | None
    now: PartyState
    reasons: list[str]
    record_ids: list[Any]  # distinct, ascending
    before: list[PartyState | None]  # the recorded state on each of record_ids
    hits: list[Hit]

    def to_json(self) -> dict[str, Any]:
        return {
            "party": self.name, "country": self.country, "address": self.address,
            "now": self.now.to_json(), "reasons": self.reasons, "records": self.record_ids,
            "recorded": [None if b is None else b.to_json() for b in self.before],
            "hits": [h.to_json() for h in self.hits],
        }


@dataclass
class RescreenResult:
    as_of: dt.date
    parties: int  # distinct parties screened
    occurrences: int  # recorded party occurrences they stand for
    worsened: list[Worsened]
    lists: list[Any] = field(default_factory=list)  # ListInfo of the lists screened against
    seconds: float = 0.0
    workers: int = 1

    @property
    def records(self) -> list[Any]:
        """Every affected record id (sorted, distinct)."""
        return sorted({r for w in self.worsened for r in w.record_ids}, key=_record_sort_key)

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(), "parties_screened": self.parties, "occurrences": self.occurrences,
            "worsened": len(self.worsened), "records_affected": len(self.records),
            "lists": [i.model_dump(mode="json", exclude_none=True) for i in self.lists],
            "parties": [w.to_json() for w in self.worsened],
        }


def _record_sort_key(rid: Any) -> tuple[int, int | str]:
    if isinstance(rid, int):
        return (0, rid)
    return (0, int(rid)) if str(rid).isdigit() else (1, str(rid))


# --------------------------------------------------------------------------- screening

_CTX: dict[str, Any] = {}
CHUNK = 512


def _role(occs: Sequence[Occurrence]) -> PartyRole:
    for o in occs:
        if o.role:
            try:
                return PartyRole(o.role)
            except ValueError:
                continue
    return PartyRole.other


def _screen_chunk(chunk: list[tuple[int, str, str | None, str | None, str]]) -> list[tuple[int, PartyState, list[Hit]]]:
    """Screen one chunk of distinct parties; returns (position, state, hits) for parties with a hit."""
    from ecscreen.parties.screening import screen_party_batches

    c = _CTX
    batches = [[Party(role=PartyRole(role), name=name, country=country, address=address)]
               for _, name, country, address, role in chunk]
    screened = screen_party_batches(batches, as_of=c["as_of"], allowlist=c["allowlist"], lists=c["lists"],
                                    pack=c["pack"])
    out: list[tuple[int, PartyState, list[Hit]]] = []
    for (pos, *_), ps in zip(chunk, screened, strict=True):
        hits = [f for f in ps.findings if is_party_hit(f) and f.covered_by is None]
        if not hits:
            continue
        state = party_states(hits).get(0, CLEAR_STATE)
        out.append((pos, state, [Hit(f.rule_id, f.outcome.value, f.title, entry_ids(f), f.message) for f in hits]))
    return out


def _chunks(items: list[tuple[int, str, str | None, str | None, str]], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def current_states(
    parties: Sequence[RecordedParty],
    *,
    as_of: dt.date,
    lists: list[Any],
    pack: Any = None,
    allowlist: Any = None,
    workers: int = 1,
    progress: Any = None,
) -> dict[int, tuple[PartyState, list[Hit]]]:
    """Screen ``parties`` (index -> state and hits, for parties with an uncovered hit only)."""
    from ecscreen.parties.screening import load_pack
    from ecscreen.parties.store import matcher_for

    pack = pack or load_pack()
    matcher_for(lists)  # build (or load) the index before forking
    items = [(i, p.name, p.country, p.address, _role(p.occurrences).value) for i, p in enumerate(parties)]
    _CTX.clear()
    _CTX.update(as_of=as_of, allowlist=allowlist, lists=lists, pack=pack)
    found: dict[int, tuple[PartyState, list[Hit]]] = {}
    try:
        if workers > 1 and len(items) > CHUNK and _can_fork():
            import multiprocessing as mp

            with mp.get_context("fork").Pool(workers) as pool:
                for part in pool.imap_unordered(_screen_chunk, _chunks(items, CHUNK)):
                    for pos, state, hits in part:
                        found[pos] = (state, hits)
                    if progress is not None:
                        progress(CHUNK)
        else:
            for chunk in _chunks(items, CHUNK):
                for pos, state, hits in _screen_chunk(chunk):
                    found[pos] = (state, hits)
                if progress is not None:
                    progress(len(chunk))
    finally:
        _CTX.clear()
    return found


def _can_fork() -> bool:
    import multiprocessing as mp

    return "fork" in mp.get_all_start_methods() and not mp.current_process().daemon


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def rescreen(
    parties: Sequence[RecordedParty],
    *,
    as_of: dt.date,
    lists: list[Any],
    pack: Any = None,
    allowlist: Any = None,
    workers: int = 1,
    progress: Any = None,
) -> RescreenResult:
    """Screen each distinct party once against ``lists`` and report those now worse than recorded."""
    import time

    from ecscreen.parties.screening import list_status

    t0 = time.perf_counter()
    if not parties:  # nothing recorded in the window: no index to load
        return RescreenResult(as_of=as_of, parties=0, occurrences=0, worsened=[], lists=list_status(lists, as_of)[0],
                              workers=workers)
    found = current_states(parties, as_of=as_of, lists=lists, pack=pack, allowlist=allowlist, workers=workers,
                           progress=progress)
    worsened: list[Worsened] = []
    for pos in sorted(found):
        state, hits = found[pos]
        p = parties[pos]
        affected = [(o, worse_reasons(o.state, state)) for o in p.occurrences]
        affected = [(o, r) for o, r in affected if r]
        if not affected:
            continue
        reasons: list[str] = []
        for _, rs in affected:
            for r in rs:
                if r not in reasons:
                    reasons.append(r)
        first: dict[Any, PartyState | None] = {}  # per record (a party can be on a record twice): its state
        for o, _ in sorted(affected, key=lambda a: (_record_sort_key(a[0].record_id), a[0].party_index)):
            first.setdefault(o.record_id, o.state)
        ids, before = list(first), list(first.values())
        worsened.append(Worsened(p.name, p.country, p.address, state, reasons, ids, before, hits))
    worsened.sort(key=lambda w: (-w.now.outcome.rank, -w.now.band, w.name, w.country or ""))
    infos, _ = list_status(lists, as_of)
    return RescreenResult(as_of=as_of, parties=len(parties), occurrences=sum(len(p.occurrences) for p in parties),
                          worsened=worsened, lists=infos, seconds=time.perf_counter() - t0, workers=workers)


def changed_entries(before: Sequence[Any], after: Sequence[Any]) -> list[Any]:
    """List entries of ``after`` (lists) that ``before`` does not hold as they are now: added or changed."""
    old = {(e.id, e.model_dump_json()) for sl in before for e in sl.entries}
    return [e for sl in after for e in sl.entries if (e.id, e.model_dump_json()) not in old]


PREFILTER_MAX = 5000  # changed entries up to this many: candidates are found with an index over them only
PREFILTER_MARGIN = 20.0  # candidate score below the pack threshold (the exact test is the full screening)


def affected_by_change(
    parties: Sequence[RecordedParty],
    *,
    before: Sequence[Any],
    after: list[Any],
    as_of: dt.date,
    pack: Any = None,
    allowlist: Any = None,
    workers: int = 1,
) -> tuple[RescreenResult, int]:
    """Recorded parties worse because of a list change (``before`` -> ``after`` lists), and how many
    entries changed. Parties that come near a changed entry (an index over the changed entries only, at a
    score ``PREFILTER_MARGIN`` below the threshold) are screened against the full ``after`` lists; a party
    counts when it now hits a changed entry it did not hit when recorded."""
    from ecscreen.parties.matching import Matcher
    from ecscreen.parties.screening import load_pack

    pack = pack or load_pack()
    changed = changed_entries(before, after)
    ids = {e.id for e in changed}
    if not changed or not parties:
        return RescreenResult(as_of=as_of, parties=0, occurrences=0, worsened=[]), len(changed)
    cands: Sequence[RecordedParty] = parties
    if len(changed) <= PREFILTER_MAX:
        small = Matcher(changed)
        hits = small.search_many([p.name for p in parties], [p.country for p in parties],
                                 threshold=max(0.0, pack.threshold - PREFILTER_MARGIN), limit=1)
        cands = [p for p, h in zip(parties, hits, strict=True) if h]
    result = rescreen(cands, as_of=as_of, lists=after, pack=pack, allowlist=allowlist, workers=workers)
    keep = []
    for w in result.worsened:
        new_ids = set(w.now.entries or ()) & ids
        if not new_ids:
            continue
        recs = [r for r, b in zip(w.record_ids, w.before, strict=True)
                if b is None or b.entries is None or new_ids - b.entries]
        if recs:
            w.record_ids = recs
            keep.append(w)
    result.worsened = keep
    return result, len(changed)


# --------------------------------------------------------------------------- from the record store


def recorded_parties(store: Any, *, since: Any = None, until: Any = None) -> list[RecordedParty]:
    """The distinct parties of the screenings recorded in the window (``since`` inclusive, ``until``
    exclusive), each with its occurrences and their recorded state.

    Distinct = same normalised name (NFKC, case-folded, spaces collapsed: what the matcher sees the same)
    and country; the name screened is the latest recorded spelling. A ``clear`` occurrence had no
    uncovered hit. For the others the state (entries, band) comes from the record's findings: one record
    is read per (party, recorded outcome, run manifest), since the same party screened in the same run
    set-up (same packs, lists, clearances file) with the same outcome got the same findings."""
    import gc

    gc_was = gc.isenabled()
    gc.disable()  # a million small acyclic objects: cyclic GC passes would rescan them over and over
    try:
        return _recorded_parties(store, since, until)
    finally:
        if gc_was:
            gc.enable()


def _recorded_parties(store: Any, since: Any, until: Any) -> list[RecordedParty]:
    from ecscreen.records.store import norm_name
    from ecscreen.runners.review import record_findings

    groups: dict[tuple[str, str | None], RecordedParty] = {}
    by_raw: dict[tuple[str, str | None], RecordedParty] = {}  # (name, country) as recorded -> its party
    pending: list[tuple[RecordedParty, Occurrence, str]] = []
    for rid, idx, name, country, role, outcome in store.iter_party_rows(since=since, until=until):
        rp = by_raw.get((name, country))
        if rp is None:
            c = country.upper() if country else None
            key = (norm_name(name), c)
            rp = groups.get(key)
            if rp is None:
                rp = groups[key] = RecordedParty(name=name, country=c)
            by_raw[(name, country)] = rp
        rp.name = name  # the latest spelling
        if outcome and outcome != "clear" and outcome != "error":
            occ = Occurrence(rid, idx, None, role)
            pending.append((rp, occ, outcome))
        else:
            occ = Occurrence(rid, idx, CLEAR_STATE, role)
        rp.occurrences.append(occ)  # rows come in record order
    # one representative record per (party, recorded outcome, run manifest)
    manifests = store.manifests_of(o.record_id for _, o, _ in pending)
    reps: dict[tuple[int, str, str | None], tuple[int, int, list[Occurrence]]] = {}
    for rp, occ, outcome in pending:
        pkey = (id(rp), outcome, manifests.get(occ.record_id))
        got = reps.get(pkey)
        if got is None:
            reps[pkey] = (occ.record_id, occ.party_index, [occ])
        else:
            got[2].append(occ)
    recs = store.get_many({rid for rid, _, _ in reps.values()})
    states: dict[int, dict[int, PartyState]] = {}
    for (_, outcome, _), (rid, idx, occs) in reps.items():
        if rid not in states:
            rec = recs.get(rid)
            states[rid] = party_states(record_findings(rec)) if rec is not None else {}
        state = states[rid].get(idx)
        if state is None:  # the record's findings do not say which entries (batch): its outcome does
            state = PartyState.from_outcome(outcome) if outcome in Outcome.__members__ else CLEAR_STATE
        for o in occs:
            o.state = state
    return list(groups.values())
