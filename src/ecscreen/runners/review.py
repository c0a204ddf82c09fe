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
                    entry: str | None = None) -> dict[str, Any]:
    """The party/entry fields of a decision on ``rule_id`` of ``record``: ``party`` (name, country, role),
    ``entry`` (first list entry) and ``extra`` (finding index, every entry, the finding's outcome)."""
    if decision not in DECISIONS:
        raise UsageError(f"--as must be one of {', '.join(DECISIONS)}, not {decision!r}")
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
        key = (int(_get(d, "record_id") or 0), int(extra.get("finding_index", -1)))
        rid = int(_get(rec, "id") or 0)
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
