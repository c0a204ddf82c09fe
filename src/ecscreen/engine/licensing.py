"""Coverage of licence requirements by licences held and by a claimed licence exception.

* :func:`available_exceptions` lists the part 740 licence exceptions for an ECCN and a
  destination: the ones the CCL entry names (LVS with its value limit, GBS, TSR, STA, IEC, ENC,
  APP, ACE, HBM, AIA/ACM/LPP), NAC/ACA for the § 740.8 items, and the transaction-based rest of
  the catalog, each filtered by destination (Country Groups at the date) and by the § 740.2
  restrictions and § 738.3(a)(1) entries the data allows checking.
* :func:`apply_coverage` marks the item's US-EAR ``license_required`` findings as covered by an
  unexpired licence that names the destination, or by a claimed licence exception that the data
  shows eligible (never ``prohibited`` findings, never silently: the coverage says what was
  checked and what the exporter must still satisfy). An expired licence or an ineligible or
  unconfirmed claim adds a note, and the claim its own ``review`` finding explaining why.

The facts (destinations, conditions, restrictions) live in the ``license_exceptions`` pack
(``rules/us-ear/chart/license-exceptions.yaml``) and the ``ccl`` pack; this module is the
procedure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from ecscreen.domain.countries import Country, resolve
from ecscreen.domain.eccn import eccn_matches
from ecscreen.engine.chart import (
    ChartIndex,
    DestTerm,
    ExceptionDef,
    ExceptionFlag,
    any_under,
    chart_index,
    chart_reason,
    find_row,
    in_dest,
    read_line,
    split_eccn,
)
from ecscreen.model import Citation, Coverage, Evidence, Finding, Item, License, Outcome
from ecscreen.packs.registry import Registry, normalize_eccn

Status = Literal["eligible", "conditional", "ineligible"]
_ORDER = {"eligible": 0, "conditional": 1, "ineligible": 2}


@dataclass
class ExceptionOption:
    """One licence exception for an ECCN and a destination."""

    symbol: str
    section: str
    title: str
    status: Status
    why: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    value_limit_usd: int | None = None
    reasons_excluded: list[str] = field(default_factory=list)
    entry_text: str | None = None

    blockers: list[str] = field(default_factory=list)

    def lower(self, to: Status, why: str) -> None:
        """Record a reason; the status only ever gets worse (eligible < conditional < ineligible)."""
        if _ORDER[to] > _ORDER[self.status]:
            self.status = to
            self.blockers = [why]
        elif _ORDER[to] == _ORDER[self.status] and to != "eligible":
            self.blockers.append(why)
        self.why.append(why)

    @property
    def summary(self) -> str:
        """Why, the reasons that decide the status first."""
        rest = [w for w in self.why if w not in self.blockers]
        return "; ".join(self.blockers + rest)


def _terms(refs: list[str], exclude: list[str]) -> list[DestTerm]:
    return [DestTerm(include=refs, exclude=exclude)]


_TERM_CACHE: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[DestTerm]] = {}


def _dest_ok(idx: ChartIndex, reg: Registry, sym: str, d: ExceptionDef, codes: tuple[str, ...],
             on: dt.date) -> bool | None:
    """Destination allowed by the exception? None: the pack states no destination set."""
    if not d.destinations and not d.exclude:
        return None
    key = (sym, tuple(d.destinations), tuple(d.exclude))
    terms = _TERM_CACHE.get(key)
    if terms is None:
        terms = _terms(d.destinations or ["*"], d.exclude)
        _TERM_CACHE[key] = terms
    return in_dest(idx, reg, terms, on, codes)


def _line_dest(idx: ChartIndex, reg: Registry, flag: ExceptionFlag, codes: tuple[str, ...],
               on: dt.date) -> str | None:
    """A destination limit stated on the entry's line ("except to Country Group E:1 or E:2",
    "not to D:3", "for all Country Group B destinations") that excludes ``codes``; else None."""
    if flag.dest_exclude and in_dest(idx, reg, [DestTerm(include=list(flag.dest_exclude))], on, codes):
        return f"the entry's line excludes {', '.join(r.replace('group:', 'Country Group ') for r in flag.dest_exclude)}"
    if flag.dest_only and not in_dest(idx, reg, [DestTerm(include=list(flag.dest_only))], on, codes):
        return f"the entry's line is limited to {', '.join(r.replace('group:', 'Country Group ') for r in flag.dest_only)}"
    return None


def _flag_status(flag: ExceptionFlag, para: str) -> tuple[Status, str]:
    """What the entry's licence-exception line says for an item at paragraph ``para``."""
    if flag.available == "no":
        return "ineligible", f"the entry says N/A ({flag.text[:120]})" if flag.text else "the entry says N/A"
    if flag.available == "yes":
        if flag.except_paragraphs:
            u = any_under(para, flag.except_paragraphs)
            if u is True:
                return "ineligible", f"the entry excludes paragraphs {', '.join(flag.except_paragraphs)}"
            if u is None:
                return "conditional", (f"the entry excludes paragraphs {', '.join(flag.except_paragraphs)}; the item "
                                       f"gives {('.' + para) if para else 'no paragraph'}")
        return "eligible", f"the entry names it ({flag.text[:120]})" if flag.text else "the entry names it"
    if flag.available == "paragraphs":
        u = any_under(para, flag.paragraphs)
        if u is True:
            return "eligible", f"the entry names it for .{', .'.join(flag.paragraphs)}"
        if u is False:
            return "ineligible", f"the entry names it only for .{', .'.join(flag.paragraphs)}"
        return "conditional", (f"the entry names it only for .{', .'.join(flag.paragraphs)}; the item gives "
                               f"{('.' + para) if para else 'no paragraph'}")
    # conditional text
    if flag.mode and flag.paragraphs_named and para:
        u = any_under(para, flag.paragraphs_named)
        if flag.mode == "include" and u is False:
            return "ineligible", f"the entry names it only for other paragraphs: {flag.text[:160]}"
        if flag.mode == "exclude" and u is False:
            return "eligible", f"the entry's exclusions name other paragraphs: {flag.text[:160]}"
    return "conditional", f"the entry's terms must be checked: {flag.text[:200]}"


def available_exceptions(eccn: str, destination: Country, registry: Registry, as_of: dt.date) -> list[ExceptionOption]:
    """Licence exceptions for ``eccn`` to ``destination`` at ``as_of``, best first."""
    idx = chart_index(registry)
    if idx.exceptions is None or idx.ccl is None or idx.chart is None:
        return []
    norm = normalize_eccn(eccn) or eccn
    base, para = split_eccn(norm)
    entry = idx.ccl.entries.get(base)
    ref = find_row(idx, registry, destination, as_of)
    codes = ref.codes
    all_dest = [a for a in idx.all_dest.get(base, [])
                if (any_under(para, a.paragraphs) if a.paragraphs else True) is not False]
    out: list[ExceptionOption] = []
    for sym, d in idx.exceptions.exceptions.items():
        opt = ExceptionOption(symbol=sym, section=d.section, title=d.title, status="eligible",
                              conditions=list(d.conditions))
        if entry is None:
            opt.lower("ineligible", f"{base} is not on the CCL")
        elif d.basis == "entry":
            flag = entry.exceptions.get(sym)
            if flag is None:
                opt.lower("ineligible", f"the {base} entry does not name {sym}")
            elif flag.clauses or flag.residual is not None:
                _read_clauses(opt, flag, d, para)
                line_dest = _line_dest(idx, registry, flag, codes, as_of)
                if line_dest:
                    opt.lower("ineligible", f"{destination.code}: {line_dest} ({flag.text[:160]})")
            else:
                _read_flag(opt, flag, d, para)
        else:
            opt.lower("conditional", f"depends on the transaction ({d.title}, {d.section})")
        _destination_checks(idx, registry, opt, d, destination, codes, as_of)
        for r, rx in idx.restriction_res:
            if rx.match(base) and in_dest(idx, registry, _terms(r.destinations, []), as_of, codes) \
                    and sym not in r.only:
                opt.lower(r.effect, f"{r.text} ({', '.join(c.ref for c in r.citations)})")
        for a in all_dest:
            if sym not in a.exceptions:
                opt.lower("ineligible", f"§ 738.3(a)(1): {a.text} may use "
                                        f"{'no licence exception' if not a.exceptions else 'only ' + ', '.join(a.exceptions)}")
        out.append(opt)
    rank = {"eligible": 0, "conditional": 1, "ineligible": 2}
    out.sort(key=lambda o: (rank[o.status], o.symbol))
    return out


def _read_clauses(opt: ExceptionOption, flag: ExceptionFlag, d: ExceptionDef, para: str) -> None:
    """The entry's licence-exception line read from its parsed clauses (:func:`read_line`)."""
    rd = read_line(flag, para)
    opt.lower(rd.status, rd.why)
    opt.entry_text = flag.text
    opt.reasons_excluded = list(rd.reasons_excluded)
    if rd.reasons_excluded:
        opt.why.append(f"not for {', '.join(rd.reasons_excluded)} reasons")
    if d.value_limit:
        opt.value_limit_usd = rd.value_limit_usd
        if rd.value_limit_usd is None and rd.status == "eligible":
            opt.lower("conditional", "the entry states no value limit for this item that the tool could read")


def _read_flag(opt: ExceptionOption, flag: ExceptionFlag, d: ExceptionDef, para: str) -> None:
    """The entry's licence-exception line read from its availability summary (no parsed clauses)."""
    st, why = _flag_status(flag, para)
    opt.lower(st, why)
    opt.entry_text = flag.text or flag.restriction
    opt.reasons_excluded = list(flag.reasons_excluded)
    if flag.reasons_excluded:
        opt.why.append(f"not for {', '.join(flag.reasons_excluded)} reasons")
    if d.value_limit:
        opt.value_limit_usd = flag.value_limit_usd
        if flag.value_limit_usd is None and st != "ineligible":
            opt.lower("conditional", "the entry states no value limit that the tool could read")
    if opt.symbol == "STA" and flag.restriction:
        u = any_under(para, flag.paragraphs_named) if flag.paragraphs_named else None
        if u is not False:
            opt.lower("conditional", f"STA restriction in the entry: {flag.restriction[:200]}")


def _destination_checks(idx: ChartIndex, registry: Registry, opt: ExceptionOption, d: ExceptionDef,
                        destination: Country, codes: tuple[str, ...], as_of: dt.date) -> None:
    """The exception's destinations (Country Groups at the date), STA's A:6 limit and the catalog notes."""
    ok = _dest_ok(idx, registry, opt.symbol, d, codes, as_of)
    if ok is False:
        groups = ", ".join(d.destinations) if d.destinations else "any destination"
        excl = f" excluding {', '.join(d.exclude)}" if d.exclude else ""
        opt.lower("ineligible", f"{destination.code} is not in {groups}{excl} at {as_of}")
    elif ok is True and d.destinations:
        opt.why.append(f"{destination.code} is in {', '.join(d.destinations)}")
    if opt.symbol == "STA" and ok and opt.status == "eligible":
        a6_only = in_dest(idx, registry, _terms(["group:A:6"], ["group:A:5"]), as_of, codes)
        if a6_only:
            opt.lower("conditional", "Country Group A:6: STA only for items controlled for NS reasons alone "
                                     "(§ 740.20(c)(2))")
    if d.external_destinations:
        opt.lower("conditional", d.external_destinations)
    if d.status_note:
        opt.lower("conditional", d.status_note)


# --------------------------------------------------------------------------- coverage


def _licence_codes(lic: License) -> list[str]:
    codes = []
    for d in lic.destinations:
        c = resolve(d)
        codes.append(c.code if c else d.strip().upper())
    return codes


def _licence_eccn_ok(lic: License, item: Item) -> bool:
    if lic.all or lic.eccns is None:  # every ECCN / the item's own
        return True
    if not lic.eccns:  # [] covers nothing (refused when loading; kept closed here too)
        return False
    ie = normalize_eccn(item.eccn or "") if item.eccn else None
    if ie is None:
        return False
    for e in lic.eccns:
        n = normalize_eccn(e)
        if n is None:
            continue
        if eccn_matches(ie, n):
            return True
    return False


def apply_coverage(findings: list[Finding], item: Item, item_index: int, destination: Country,
                   registry: Registry, as_of: dt.date) -> list[Finding]:
    """Mark the item's ``license_required`` findings covered by licences held or a claimed exception."""
    if not item.licenses and not item.license_exception:
        return list(findings)
    out = [f.model_copy(deep=True) for f in findings]
    mine = [f for f in out if f.item_index == item_index]
    _apply_licences(mine, item, destination, as_of)
    if item.license_exception:
        extra = _apply_exception(mine, item, item_index, destination, registry, as_of)
        out += extra
    return out


def _apply_licences(mine: list[Finding], item: Item, destination: Country, as_of: dt.date) -> None:
    for lic in item.licenses:
        jur = lic.jurisdiction or "US-EAR"
        targets = [f for f in mine if f.jurisdiction == jur and f.outcome == Outcome.license_required
                   and f.covered_by is None]
        if not targets:
            continue
        codes = _licence_codes(lic)
        covers_dest = destination.code in codes or (destination.region is None and destination.alpha2 in codes)
        if lic.expires is not None and lic.expires < as_of:
            for f in targets:
                f.notes.append(f"licence {lic.id} expired on {lic.expires} (shipment date {as_of}): it does not "
                               "cover this requirement")
            continue
        if not covers_dest:
            for f in targets:
                f.notes.append(f"licence {lic.id} names {', '.join(lic.destinations) or 'no destination'}, not "
                               f"{destination.label}: it does not cover this requirement")
            continue
        if not _licence_eccn_ok(lic, item):
            for f in targets:
                f.notes.append(f"licence {lic.id} covers ECCNs {', '.join(lic.eccns or [])}, not {item.eccn}")
            continue
        exp = f"valid until {lic.expires}" if lic.expires else "no expiry date given"
        for f in targets:
            f.covered_by = Coverage(kind="license", ref=lic.id,
                                    detail=f"licence {lic.id} ({jur}) names {destination.label}, {exp}; "
                                           f"covers {item.eccn or 'the item'} at {as_of}")


@dataclass
class _Claim:
    """A claimed licence exception being checked for one item."""

    symbol: str
    raw: str | None
    item_index: int
    base: str
    pack_id: str
    effective_from: dt.date | None
    chart_targets: list[Finding]

    def review(self, msg: str, ev_detail: str, extra: list[Citation] | None = None, *, may_apply: bool = False
               ) -> list[Finding]:
        """The claim's own ``review`` finding; the chart requirements it was claimed for say why."""
        for f in self.chart_targets:
            f.notes.append(f"licence exception {self.symbol} claimed but not confirmed: {ev_detail}")
            if may_apply and f.outcome == Outcome.license_required:
                # the exception may well apply: what is left is to confirm its conditions, not a licence
                f.notes.append(f"would be license_required unless the conditions of {self.symbol} are confirmed")
                f.outcome = Outcome.review
        return [Finding(rule_id=f"CHART-{self.base}-LE-{self.symbol or 'NONE'}", pack_id=self.pack_id,
                        outcome=Outcome.review, title=f"Claimed licence exception {self.symbol} not confirmed",
                        message=msg, item_index=self.item_index,
                        evidence=[Evidence(field=f"items[{self.item_index}].license_exception", value=self.raw,
                                           detail=ev_detail)],
                        citations=[Citation(ref="15 CFR 740.2", note="restrictions on all licence exceptions")]
                        + (extra or []), effective_from=self.effective_from)]


def _claim_symbol(raw: str | None) -> str:
    claim = (raw or "").strip().upper()
    for prefix in ("LICENSE EXCEPTION ", "LICENCE EXCEPTION "):
        if claim.startswith(prefix):
            claim = claim[len(prefix):].strip()
    return claim


def _apply_exception(mine: list[Finding], item: Item, item_index: int, destination: Country,
                     registry: Registry, as_of: dt.date) -> list[Finding]:
    idx = chart_index(registry)
    claim = _claim_symbol(item.license_exception)
    eccn = normalize_eccn(item.eccn or "") if item.eccn else None
    targets = [f for f in mine if f.jurisdiction == "US-EAR" and f.outcome == Outcome.license_required
               and f.covered_by is None]
    chart_targets = [f for f in targets if f.rule_id.startswith("CHART-")]
    for f in targets:
        if f not in chart_targets:
            f.notes.append(f"licence exception {claim} claimed: not applied to {f.rule_id} (exceptions are checked "
                           "against Commerce Country Chart requirements only; part 744/746 requirements need their "
                           "own authorisation)")
    c = _Claim(symbol=claim, raw=item.license_exception, item_index=item_index,
               base=split_eccn(eccn)[0] if eccn else "ITEM",
               pack_id=idx.exceptions_pack_id or "us-ear-license-exceptions",
               effective_from=idx.exceptions.effective_from if idx.exceptions else None, chart_targets=chart_targets)
    if idx.exceptions is None:
        return c.review(f"licence exception {claim} claimed but the licence-exception pack is not loaded",
                        "pack not loaded")
    d = idx.exceptions.exceptions.get(claim)
    if d is None:
        return c.review(f"'{item.license_exception}' is not a licence exception of 15 CFR part 740 "
                        f"(known: {', '.join(sorted(idx.exceptions.exceptions))})", "unknown symbol")
    sec = [Citation(ref=d.section, note=d.title)]
    if eccn is None or eccn == "EAR99":
        return c.review(f"licence exception {claim} claimed for an item without a CCL ECCN ({item.eccn or 'none'}): "
                        "nothing in the chart for it to cover", "no ECCN", sec)
    if not chart_targets:
        return []
    opt = {o.symbol: o for o in available_exceptions(eccn, destination, registry, as_of)}[claim]
    if opt.status == "ineligible":
        return c.review(f"licence exception {claim} ({d.section}) is not available for {eccn} to "
                        f"{destination.label}: {opt.summary}.", opt.summary, sec)
    if opt.status == "conditional":
        return c.review(f"licence exception {claim} ({d.section}) for {eccn} to {destination.label} cannot be "
                        f"confirmed from the data: {opt.summary}. Confirm these conditions and record the basis; if "
                        "they do not hold, a licence is required.", opt.summary, sec, may_apply=True)
    value_note = ""
    if opt.value_limit_usd is not None:
        if item.value_usd is None:
            return c.review(f"licence exception {claim} ({d.section}) for {eccn} has a value limit of "
                            f"${opt.value_limit_usd}; the item gives no value_usd: state it (within the limit the "
                            "exception applies; above it a licence is required).",
                            "missing fact: value_usd", sec, may_apply=True)
        if item.value_usd > opt.value_limit_usd:
            return c.review(f"licence exception {claim} ({d.section}) for {eccn}: value ${item.value_usd:g} exceeds "
                            f"the limit of ${opt.value_limit_usd}.", f"value {item.value_usd:g} > "
                            f"{opt.value_limit_usd}", sec)
        value_note = f"; value ${item.value_usd:g} within the ${opt.value_limit_usd} limit (per shipment)"
    uncovered = _cover(chart_targets, opt, claim, d, value_note)
    if uncovered:
        return c.review(f"licence exception {claim} covers some chart requirements of {eccn} but not "
                        f"{', '.join(uncovered)}: each requirement must be overcome separately (§ 738.4(a)(2)).",
                        f"does not cover {', '.join(uncovered)}", sec + [Citation(ref="15 CFR 738.4(a)(2)")])
    return []


def _cover(chart_targets: list[Finding], opt: ExceptionOption, claim: str, d: ExceptionDef,
           value_note: str) -> list[str]:
    """Mark the chart requirements the eligible exception covers; the rule ids it cannot cover."""
    uncovered: list[str] = []
    for f in chart_targets:
        reason = chart_reason(f)
        if reason in opt.reasons_excluded:
            f.notes.append(f"licence exception {claim} is not available for {reason} reasons ({d.section})")
            uncovered.append(f.rule_id)
            continue
        if reason in ("EMB", "ALL", "RUS"):
            f.notes.append(f"licence exception {claim} does not overcome this requirement (it is not a Country "
                           "Chart column requirement)")
            uncovered.append(f.rule_id)
            continue
        unchecked = f"; not checked by the tool: {'; '.join(opt.conditions)}" if opt.conditions else ""
        f.covered_by = Coverage(kind="license_exception", ref=claim,
                                detail=f"{claim} ({d.section}) claimed: {opt.summary}{value_note}{unchecked}")
    return uncovered


# --------------------------------------------------------------------------- shipment-level findings


def _held_licence(g: Finding, it: Item, i: int, destination: Country, as_of: dt.date) -> License | None:
    """The item's unexpired licence of the finding's regime naming the destination (and the item's ECCN
    when it lists ECCNs); why the others do not cover the finding is noted on it."""
    for lic in it.licenses:
        if (lic.jurisdiction or "US-EAR") != g.jurisdiction:
            continue
        codes = _licence_codes(lic)
        if not (destination.code in codes or (destination.region is None and destination.alpha2 in codes)):
            continue
        if lic.expires is not None and lic.expires < as_of:
            g.notes.append(f"licence {lic.id} (item {i}) expired on {lic.expires}: it does not cover {g.rule_id}")
            continue
        if not _licence_eccn_ok(lic, it):
            g.notes.append(f"licence {lic.id} (item {i}) covers ECCNs {', '.join(lic.eccns or [])}, "
                           f"not {it.eccn}")
            continue
        return lic
    return None

_DEST_FIELDS = ("destination", "destination_region")


def _from_destination(f: Finding) -> bool:
    """Did the finding arise from the destination alone (an embargo), not from a party or an end use?"""
    return bool(f.evidence) and all(e.field in _DEST_FIELDS for e in f.evidence if e.detail != "missing")


def apply_shipment_coverage(findings: list[Finding], items: list[Item], status: dict[int, str], destination: Country,
                            registry: Registry, as_of: dt.date) -> list[Finding]:
    """Cover shipment-level ``license_required`` findings that arise from the destination alone (embargoes,
    part 746) when every item they concern holds an unexpired licence of the finding's regime naming the
    destination (and the item's ECCN when the licence lists ECCNs). Items not subject to the EAR are not
    concerned; a finding held at ``review`` only because jurisdiction is undetermined ("would be
    license_required") is covered the same way. A partial or expired licence adds a note; ``prohibited``
    findings are never covered."""
    if not any(it.licenses for it in items):
        return findings
    idx = chart_index(registry)
    dnote = None
    if idx.exceptions is not None:
        dnote = idx.exceptions.licence_destination_notes.get(destination.code) or \
            idx.exceptions.licence_destination_notes.get(destination.alpha2)
    out: list[Finding] = []
    for f in findings:
        if (f.item_index is None and f.outcome == Outcome.prohibited and dnote is not None and _from_destination(f)
                and any(destination.code in _licence_codes(lic) for it in items for lic in it.licenses)):
            g = f.model_copy(deep=True)
            g.notes.append(f"a licence held names {destination.label}, but {dnote.text}")
            out.append(g)
            continue
        capped = f.outcome == Outcome.review and any(n.startswith("would be license_required") for n in f.notes)
        if (f.item_index is not None or f.covered_by is not None
                or not (f.outcome == Outcome.license_required or capped) or not _from_destination(f)):
            out.append(f)
            continue
        g = f.model_copy(deep=True)
        concerned = [i for i, _ in enumerate(items) if status.get(i, "subject") != "not_subject"]
        held: list[str] = []
        missing: list[str] = []
        for i in concerned:
            it = items[i]
            ok = _held_licence(g, it, i, destination, as_of)
            if ok is None:
                missing.append(f"item {i} ({it.description})")
            else:
                exp = f"valid until {ok.expires}" if ok.expires else "no expiry date given"
                held.append(f"item {i}: licence {ok.id}, {exp}")
        if not concerned or missing:
            if held:
                g.notes.append(f"licences name {destination.label} for {'; '.join(held)}, but not for "
                               f"{', '.join(missing)}: the requirement stays")
            out.append(g)
            continue
        detail = (f"licences naming {destination.label} held for every item the requirement concerns at {as_of} "
                  f"({'; '.join(held)})")
        if dnote is not None:
            detail += f"; {dnote.text}"
            for c in dnote.citations:
                if c not in g.citations:
                    g.citations.append(c)
        refs = sorted({h.split("licence ", 1)[1].split(",")[0] for h in held})
        g.covered_by = Coverage(kind="license", ref=", ".join(refs), detail=detail)
        out.append(g)
    return out
