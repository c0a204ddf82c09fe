"""Review decisions: which recorded findings await a person, recording a decision on one, and the
clearances that ``cleared`` decisions on party hits become.

A decision names a recorded screening (record id) and a finding of it (rule id, and the party when the
rule id alone is ambiguous). ``cleared`` on a party-hit finding (``PARTY-<list>``, ``PARTY-ADDRESS-<list>``)
becomes a :class:`ecscreen.parties.matching.Clearance` of that party against each list entry of the finding: the
CLI loads them from the store and passes them to the engine through the same allow-list as
``--clearances`` files, so later screenings show the hit as covered (until ``--expires``). The latest
decision on a (party, entry) pair wins: a later ``confirmed`` or ``escalated`` withdraws a clearance.
``escalated`` leaves the finding open (it awaits someone else); ``cleared`` and ``confirmed`` close it.

This module reads no environment and no clock: the date is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecscreen.errors import UsageError
from ecscreen.parties.matching import Clearance
from ecscreen.runners.rescreen import entry_ids, finding_party_index, is_party_hit

__all__ = ["ReviewItem", "DECISIONS", "CLOSING", "select_finding", "decision_fields", "clearances_from",
           "review_items"]

DECISIONS = ("cleared", "confirmed", "escalated")
CLOSING = ("cleared", "confirmed")  # an escalated finding still awaits a person


def _content(record: Any) -> Mapping[str, Any]:
    c = record.content if hasattr(record, "content") else record
    return c if isinstance(c, Mapping) else {}


def record_parties(record: Any) -> list[dict[str, Any]]:
    """The parties of a recorded screening, in screening order (name, country, role...)."""
    c = _content(record)
    parties = c.get("parties")
    if isinstance(parties, list) and parties:
        return [p if isinstance(p, dict) else dict(p) for p in parties]
    inp = c.get("input")
    if isinstance(inp, Mapping) and isinstance(inp.get("parties"), list):
        return [p for p in inp["parties"] if isinstance(p, dict)]
    return []


def record_findings(record: Any) -> list[dict[str, Any]]:
    found = _content(record).get("findings")
    return [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []


def _party_of(record: Any, finding: Mapping[str, Any]) -> dict[str, Any] | None:
    idx = finding_party_index(finding)
    if idx is None:
        return None
    parties = record_parties(record)
    if idx < len(parties):
        p = parties[idx]
        return {"name": p.get("name"), "country": p.get("country"), "role": p.get("role"), "index": idx}
    for ev in finding.get("evidence") or []:  # the screened name as evidence
        if ev.get("field") == f"parties[{idx}].name" and not str(ev.get("detail") or "").startswith("list entry"):
            return {"name": ev.get("value"), "country": None, "role": None, "index": idx}
    return None


def select_finding(record: Any, rule_id: str, party: str | None = None, entry: str | None = None
                   ) -> tuple[int, dict[str, Any]]:
    """The (index, finding) of ``record`` that ``rule_id`` (and ``party``, a name or a party index, and
    ``entry``, a list entry id the finding names) names; a usage error lists the candidates when there
    is none or more than one."""
    findings = record_findings(record)
    rid = rule_id.strip()
    cands = [(i, f) for i, f in enumerate(findings) if str(f.get("rule_id", "")).upper() == rid.upper()]
    if party is not None and cands:
        want = party.strip()
        kept = []
        for i, f in cands:
            p = _party_of(record, f)
            if p is None:
                continue
            if (want.isdigit() and int(want) == p["index"]) or str(p["name"] or "").casefold() == want.casefold():
                kept.append((i, f))
        cands = kept
    if entry is not None and cands:
        cands = [(i, f) for i, f in cands if entry.strip().casefold() in (e.casefold() for e in entry_ids(f))]
    rid_shown = getattr(record, "id", "?")
    if not cands:
        known = sorted({str(f.get("rule_id")) for f in findings})
        raise UsageError(f"record {rid_shown} has no finding {rule_id!r}"
                         + (f" for party {party!r}" if party else "") + (f" naming entry {entry!r}" if entry else "")
                         + (f" (its findings: {', '.join(known)})" if known else " (it has no findings)"))
    if len(cands) > 1:
        names = []
        for _, f in cands:
            p = _party_of(record, f)
            who = f"party {p['index']} ({p['name']})" if p else "no party"
            names.append(f"{who}, {f.get('outcome')}, entries {' '.join(entry_ids(f)) or '-'}")
        raise UsageError(f"record {rid_shown} has {len(cands)} findings {rule_id!r}: pick one with --party "
                         f"(index or name) and/or --entry (list entry id): {'; '.join(names)}")
    return cands[0]


def decision_fields(record: Any, rule_id: str, decision: str, *, party: str | None = None,
                    entry: str | None = None, store: Any = None) -> dict[str, Any]:
    """The party/entry fields of a decision on ``rule_id`` of ``record``: ``party`` (name, country, role),
    ``entry`` (first list entry) and ``extra`` (finding index, every entry, the finding's outcome).

    ``batch`` records keep party findings without evidence: with ``store`` given, the party's list
    entries are found by screening the recorded party again with the record's own lists (its manifest)."""
    if decision not in DECISIONS:
        raise UsageError(f"--as must be one of {', '.join(DECISIONS)}, not {decision!r}")
    findings = record_findings(record)
    same = [(i, f) for i, f in enumerate(findings) if str(f.get("rule_id", "")).upper() == rule_id.strip().upper()]
    if (store is not None and same and rule_id.strip().upper().startswith("PARTY-")
            and not any(f.get("evidence") for _, f in same)):
        return _batch_fields(store, record, same, party, entry)
    idx, f = select_finding(record, rule_id, party, entry)
    out: dict[str, Any] = {"rule_id": str(f.get("rule_id")), "party": None, "entry": None,
                           "extra": {"finding_index": idx, "outcome": f.get("outcome"), "title": f.get("title")}}
    if is_party_hit(f):
        p = _party_of(record, f)
        entries = entry_ids(f)
        if p is not None and p.get("name"):
            out["party"] = {"name": p["name"], "country": p.get("country"), "role": p.get("role")}
            out["extra"]["party_index"] = p["index"]
        out["entry"] = entries[0] if entries else None
        out["extra"]["entries"] = entries
    return out


def _batch_fields(store: Any, record: Any, same: list[tuple[int, dict[str, Any]]], party: str | None,
                  entry: str | None) -> dict[str, Any]:
    """Decision fields for a party finding of a record without evidence (``batch``): the party from the
    record's parties (``party``: index or name, needed when several are not clear), the list entries by
    screening it again with the record's recorded lists."""
    import tempfile
    from pathlib import Path

    from ecscreen.model import Party, PartyRole
    from ecscreen.parties.matching import AllowList
    from ecscreen.parties.screening import screen_parties
    from ecscreen.runners.replay import ReplayBroken, _engine

    rule_id = str(same[0][1].get("rule_id"))
    parties = record_parties(record)
    rid = getattr(record, "id", "?")
    if party is not None:
        want = party.strip()
        picked = [(i, p) for i, p in enumerate(parties)
                  if (want.isdigit() and int(want) == i) or str(p.get("name", "")).casefold() == want.casefold()]
    else:
        picked = [(i, p) for i, p in enumerate(parties) if p.get("outcome") not in (None, "clear")] or list(
            enumerate(parties))
    if len(picked) != 1:
        listed = "; ".join(f"{i} ({p.get('name')}, {p.get('outcome', '?')})" for i, p in enumerate(parties))
        raise UsageError(f"record {rid}: name the party of {rule_id} with --party (index or name): {listed or 'none'}")
    pidx, p = picked[0]
    try:
        role = PartyRole(str(p.get("role") or "other"))
    except ValueError:
        role = PartyRole.other
    with tempfile.TemporaryDirectory(prefix="ecscreen-review-") as td:
        try:
            engine, _ = _engine(store, record, Path(td))
        except ReplayBroken as exc:
            raise UsageError(f"record {rid}: cannot find the list entries of {rule_id}: {exc}") from None
        ps = screen_parties([Party(role=role, name=str(p["name"]), country=p.get("country"))],
                            as_of=record.recorded_at.date(), lists=engine.party_lists, allowlist=AllowList())
    entries: list[str] = []
    for f in ps.findings:
        if f.rule_id.upper() == rule_id.upper():
            entries += [e for e in entry_ids(f) if e not in entries]
    if entry is not None:
        entries = [e for e in entries if e.casefold() == entry.strip().casefold()]
    if not entries:
        raise UsageError(f"record {rid}: screening party {pidx} ({p.get('name')}) again with the record's lists "
                         f"finds no {rule_id} hit" + (f" on entry {entry!r}" if entry else ""))
    return {"rule_id": rule_id, "party": {"name": p["name"], "country": p.get("country"), "role": p.get("role")},
            "entry": entries[0], "extra": {"finding_index": same[0][0], "finding_indexes": [i for i, _ in same],
                                           "outcome": same[0][1].get("outcome"), "title": same[0][1].get("title"),
                                           "party_index": pidx, "entries": entries}}


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _decision_doc(rec: Any) -> Mapping[str, Any]:
    """The decision document of a stored decision record (its content, or a Decision-like object)."""
    c = _content(rec)
    for key in ("decision_detail", "decision"):
        inner = c.get(key)
        if isinstance(inner, Mapping):
            return inner
    return c


def clearances_from(decision_records: Iterable[Any]) -> list[Clearance]:
    """Active clearances: for each (party, country, list entry), the latest decision (by record id) when it
    is ``cleared``. Expiry is kept on the clearance (the allow-list reports an expired one)."""
    latest: dict[tuple[str, str, str], tuple[int, Any, Mapping[str, Any]]] = {}
    for rec in decision_records:
        d = _decision_doc(rec)
        party = _get(d, "party")
        if not party or not _get(party, "name"):
            continue
        extra = _get(d, "extra") or {}
        entries = list(extra.get("entries") or ([_get(d, "entry")] if _get(d, "entry") else []))
        rid = int(_get(rec, "id") or 0)
        for e in entries:
            key = (" ".join(str(_get(party, "name")).casefold().split()), str(_get(party, "country") or "").upper(), e)
            if key not in latest or latest[key][0] <= rid:
                latest[key] = (rid, rec, d)
    out: list[Clearance] = []
    for (_, _, entry), (rid, rec, d) in sorted(latest.items(), key=lambda kv: kv[1][0]):
        if _get(d, "decision") != "cleared":
            continue
        party = _get(d, "party")
        expires = _get(d, "expires")
        if isinstance(expires, str):
            expires = dt.date.fromisoformat(expires)
        at = _get(rec, "recorded_at")
        approved = at.date() if isinstance(at, dt.datetime) else (
            dt.date.fromisoformat(at[:10]) if isinstance(at, str) and len(at) >= 10 else None)
        out.append(Clearance(
            party=str(_get(party, "name")), entry_id=entry,
            reason=f"{_get(d, 'reason')} (review decision {rid} on record {_get(d, 'record_id')})",
            approver=str(_get(d, "approver")), expires=expires, country=_get(party, "country") or None,
            approved=approved,
        ))
    return out


@dataclass
class ReviewItem:
    """A review finding of a recorded screening and the decision on it (None: awaiting a person)."""

    record_id: int
    recorded_at: str
    subject: str | None
    source: str | None
    finding_index: int
    rule_id: str
    title: str
    message: str
    party: str | None
    entries: list[str]
    decision: str | None = None
    decided_by: str | None = None
    decision_id: int | None = None
    expires: str | None = None

    @property
    def open(self) -> bool:
        return self.decision not in CLOSING

    def to_json(self) -> dict[str, Any]:
        return {"record": self.record_id, "recorded_at": self.recorded_at, "subject": self.subject,
                "source": self.source, "finding_index": self.finding_index, "rule_id": self.rule_id,
                "title": self.title, "message": self.message, "party": self.party, "entries": self.entries,
                "decision": self.decision,
                "decided_by": self.decided_by, "decision_record": self.decision_id, "expires": self.expires,
                "status": "open" if self.open else "decided"}


def review_items(records: Sequence[Any], decisions: Iterable[Any]) -> list[ReviewItem]:
    """Every uncovered ``review`` finding of ``records`` with the latest decision on it."""
    latest: dict[tuple[int, int], tuple[int, Mapping[str, Any]]] = {}
    for rec in decisions:
        d = _decision_doc(rec)
        extra = _get(d, "extra") or {}
        rid = int(_get(rec, "id") or 0)
        for fi in extra.get("finding_indexes") or [extra.get("finding_index", -1)]:
            key = (int(_get(d, "record_id") or 0), int(fi))
            if key not in latest or latest[key][0] <= rid:
                latest[key] = (rid, d)
    items: list[ReviewItem] = []
    for rec in records:
        rid = int(_get(rec, "id"))
        at = _get(rec, "recorded_at")
        for i, f in enumerate(record_findings(rec)):
            if f.get("outcome") != "review" or f.get("covered_by") is not None:
                continue
            p = _party_of(rec, f)
            if p is None and str(f.get("rule_id", "")).startswith("PARTY-"):  # batch: no evidence kept
                flagged = [q for q in record_parties(rec) if q.get("outcome") not in (None, "clear")]
                p = {"name": flagged[0].get("name")} if len(flagged) == 1 else None
            item = ReviewItem(record_id=rid, recorded_at=at.isoformat() if isinstance(at, dt.datetime) else str(at),
                              subject=_get(rec, "subject"), source=_get(rec, "source"), finding_index=i,
                              rule_id=str(f.get("rule_id")), title=str(f.get("title") or ""),
                              message=str(f.get("message") or ""), party=p["name"] if p else None,
                              entries=entry_ids(f))
            dec = latest.get((rid, i))
            if dec is not None:
                did, d = dec
                exp = _get(d, "expires")
                item.decision, item.decided_by, item.decision_id = _get(d, "decision"), _get(d, "approver"), did
                item.expires = exp.isoformat() if isinstance(exp, dt.date) else exp
            items.append(item)
    return items
