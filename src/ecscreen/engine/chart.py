"""Commerce Country Chart determination (15 CFR 738.4) for every ECCN on the CCL.

Three pack kinds are registered here, all generated or checked by ``scripts/convert_chart.py``
from the eCFR of 2026-07-23:

* ``country_chart`` - the chart rows (ISO alpha-2 -> columns with an X, footnotes), the
  embargoed rows that point to part 746, territory rules (Hong Kong -> China), the footnotes
  with what each one requires, and the § 738.3(a)(1) entries licensed to all destinations;
* ``ccl`` - each ECCN entry's reasons for control, each with the part of the entry it applies to
  (entire entry, entire entry except paragraphs, listed paragraphs, or a condition in words) and
  its target (a chart column, a destination set in words, or a pointer elsewhere in the EAR),
  and the entry's licence-exception lines;
* ``license_exceptions`` - the part 740 catalog with destinations and checks (used by
  :mod:`ecscreen.engine.licensing`).

:func:`determine` reads the chart for one item and one destination. Every decision is
three-valued: a control whose scope depends on a paragraph or a condition the item does not
state gives ``review`` naming what matters, never the lenient reading. All lookups are built
once when the packs load (the registration hook), not per call.
"""

# No ``from __future__ import annotations`` here (issue 10): pydantic evaluates string annotations one
# by one when it creates a model class (a compile and an eval each); written as expressions they cost
# nothing more, ~25 % less per class, ~11 ms CPU of every check over these modules' ~80 pack and
# result models. Forward references (a class defined further down) are quoted.

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from ecscreen.domain import policy as _policy
from ecscreen.domain.countries import Country
from ecscreen.domain.eccn import eccn_matches
from ecscreen.domain.logic import Tri
from ecscreen.engine.intervals import Intervals, group_dates
from ecscreen.model import Citation, Evidence, Finding, InputError, Item, Outcome, Step, new_list
from ecscreen.packs.registry import (
    DeclaredParam,
    LoadedPack,
    PackMeta,
    ParamDecl,
    Registry,
    Strict,
    normalize_eccn,
    register_kind,
)

# --------------------------------------------------------------------------- pack models



class ParamTest(Strict):
    """One stated parameter against a threshold (the bounds all hold)."""

    param: str
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    eq: float | None = None

    def check(self, params: dict[str, Any]) -> Tri:
        v = params.get(self.param)
        if v is None:
            return None
        x = float(v)
        return ((self.gt is None or x > self.gt) and (self.gte is None or x >= self.gte)
                and (self.lt is None or x < self.lt) and (self.lte is None or x <= self.lte)
                and (self.eq is None or x == self.eq))

    def words(self) -> str:
        if self.eq in (0, 1) and all(v is None for v in (self.gt, self.gte, self.lt, self.lte)):
            return f"{self.param} is {'true' if self.eq else 'false'}"  # a yes/no fact
        ops = [(self.gt, ">"), (self.gte, ">="), (self.lt, "<"), (self.lte, "<="), (self.eq, "=")]
        return " and ".join(f"{self.param} {o} {v:g}" for v, o in ops if v is not None)

    def stated(self, params: dict[str, Any]) -> str:
        v = float(params[self.param])
        return ("true" if v else "false") if self.eq in (0, 1) else f"{v:g}"


class ParamRule(Strict):
    """The parameters that decide whether items at ``paragraph`` are within a scope (or an entry):
    ``any`` of the tests holds, or ``all`` of them hold."""

    paragraph: str
    any: list[ParamTest] = Field(default_factory=new_list)
    all: list[ParamTest] = Field(default_factory=new_list)
    citations: list[Citation] = Field(default_factory=new_list)
    # notes the finding carries when the stated parameters place the item in the scope (e.g. the licences
    # § 742.6(a)(2)(iii) provides for consumer-ready thermal cameras), with their citations
    notes: list[str] = Field(default_factory=new_list)
    note_citations: list[Citation] = Field(default_factory=new_list)

    def decide(self, params: dict[str, Any]) -> Tri:
        if self.any:
            rs = [t.check(params) for t in self.any]
            return True if True in rs else (False if all(r is False for r in rs) else None)
        rs = [t.check(params) for t in self.all]
        return False if False in rs else (True if all(r is True for r in rs) else None)

    def words(self) -> str:
        tests = self.any or self.all
        return (" or " if self.any else " and ").join(t.words() for t in tests)

    def missing(self, params: dict[str, Any]) -> list[str]:
        return [t.param for t in (self.any or self.all) if params.get(t.param) is None]


class ChartRow(Strict):
    name: str
    marks: list[str]
    footnotes: list[int] = Field(default_factory=new_list)


class EmbargoRow(Strict):
    name: str
    pointer: str
    footnotes: list[int] = Field(default_factory=new_list)
    citations: list[Citation] = Field(min_length=1)


class TerritoryRule(Strict):
    row: str
    basis: str
    citations: list[Citation] = Field(min_length=1)


class FootnoteEntry(Strict):
    eccn: str
    condition: str | None = None
    except_: list[str] = Field(default_factory=new_list, alias="except")
    tests: list[ParamRule] = Field(default_factory=new_list)  # stated parameters that decide the condition


class Footnote(Strict):
    text: str
    kind: Literal["note", "eccns", "all_ccl", "regions"]
    outcome: Outcome | None = None
    reason: str | None = None
    entries: list[FootnoteEntry] = Field(default_factory=new_list)
    regions: list[str] = Field(default_factory=new_list)
    review_eccns: list[FootnoteEntry] = Field(default_factory=new_list)
    message: str | None = None
    citations: list[Citation] = Field(min_length=1)


class AllDestEntry(Strict):
    eccn: str
    text: str
    paragraphs: list[str] = Field(default_factory=new_list)
    condition: str | None = None
    exceptions: list[str] = Field(default_factory=new_list)
    exception_condition: str | None = None


class CountryChartPack(Strict):
    kind: Literal["country_chart"]
    pack: PackMeta
    effective_from: dt.date
    source_url: str
    columns: list[str]
    column_labels: dict[str, str]
    rows: dict[str, ChartRow]
    embargoed: dict[str, EmbargoRow]
    territories: dict[str, TerritoryRule]
    footnotes: dict[str, Footnote]
    all_destinations: list[AllDestEntry]
    all_destinations_citations: list[Citation] = Field(min_length=1)
    no_mark_caveat: str


class Reference(Strict):
    """An entry (or paragraph) a scope points to, with the reason for control the words name, if any."""

    eccn: str
    reason: str | None = None


class Scope(Strict):
    kind: Literal["entire", "except", "paragraphs", "conditional"]
    paragraphs: list[str] = Field(default_factory=new_list)
    condition: str | None = None
    # paragraphs the condition words qualify (empty: all of ``paragraphs`` when there is a condition)
    qualified: list[str] = Field(default_factory=new_list)
    # sub-paragraphs of ``paragraphs`` the entry excepts outright ("5A001.b (except .b.5)") or with
    # words the tool cannot check ("a.3 (except a.3.e for lead selenide based FPAs)")
    excluded: list[str] = Field(default_factory=new_list)
    excluded_if: list[str] = Field(default_factory=new_list)
    excluded_condition: str | None = None  # the words of the exception in words, as the entry prints them
    # stated parameters that decide the words for a qualified paragraph (the CCL's thresholds)
    tests: list[ParamRule] = Field(default_factory=new_list)
    # controls of one reason whose scopes split a paragraph between them (RS 1 / RS 2 of 6A003.b.4.b):
    # when each may apply and every one of them has an X, a licence is required whichever applies
    partition: str | None = None
    # a scope in words that is the software / technology / equipment FOR the items of other entries ("software
    # for ... items controlled by 1B001 for NP reasons"): the entries (and reasons) it names, read from the
    # control's text (``Control.text``, the CCL entry) by scripts/convert_chart.py. "in": the control applies iff
    # the item's ``for_eccn`` is one of them (and, with a reason, within that entry's control for the reason);
    # "except": the entire entry except those. Decided by items[].for_eccn; not stated: review naming it.
    refers: list[Reference] = Field(default_factory=new_list)
    refers_mode: Literal["in", "except"] = "in"


class DestTerm(Strict):
    include: list[str]
    exclude: list[str] = Field(default_factory=new_list)


class Alternative(Strict):
    statement: str
    destinations: list[DestTerm]
    citations: list[Citation] = Field(min_length=1)


class Target(Strict):
    kind: Literal["column", "destinations", "pointer"]
    column: str | None = None
    destinations: list[DestTerm] = Field(default_factory=new_list)
    outcome: Outcome = Outcome.license_required
    citations: list[Citation] = Field(default_factory=new_list)
    note: str | None = None
    alternative: Alternative | None = None


class Control(Strict):
    reason: str
    text: str
    chart_text: str
    scope: Scope
    target: Target


class FlagClause(Strict):
    """One clause of a licence-exception line: "$3000 for 3A002.g", "N/A for MT", "Yes for a.2 to a.14"."""

    effect: Literal["yes", "no"]
    paragraphs: list[str] = Field(default_factory=new_list)  # empty: the rest of the entry
    reasons: list[str] = Field(default_factory=new_list)  # "N/A for MT": not for these reasons for control
    value_limit_usd: int | None = None
    condition: str | None = None  # words qualifying the clause (the tool cannot check them)


class ExceptionFlag(Strict):
    text: str
    clauses: list[FlagClause] = Field(default_factory=new_list)
    dest_only: list[str] = Field(default_factory=new_list)
    dest_exclude: list[str] = Field(default_factory=new_list)
    residual: str | None = None
    available: Literal["yes", "no", "paragraphs", "conditional"]
    value_limit_usd: int | None = None
    reasons_excluded: list[str] = Field(default_factory=new_list)
    paragraphs: list[str] = Field(default_factory=new_list)
    except_paragraphs: list[str] = Field(default_factory=new_list)
    paragraphs_named: list[str] = Field(default_factory=new_list)
    mode: Literal["include", "exclude"] | None = None
    restriction: str | None = None


class Outside(Strict):
    """A note of the entry that places items of ``paragraph`` with the stated parameters outside
    it, in ``instead`` (Note 3.a to 6A003.b.4.b: 9 Hz or less -> 6A993.a)."""

    rule: ParamRule
    instead: str
    text: str


class CclEntry(Strict):
    heading: str
    reasons: list[str]
    reasons_text: str = ""
    controls: list[Control]
    exceptions: dict[str, ExceptionFlag]
    paragraphs: list[str] | None = None
    outside: list[Outside] = Field(default_factory=new_list)


class CclPack(Strict):
    kind: Literal["ccl"]
    pack: PackMeta
    effective_from: dt.date
    source_url: str
    parameters: dict[str, ParamDecl] = Field(
        default_factory=dict, description="Technical parameters the entries' scopes read (items[].parameters)")
    limits: list[str] = Field(default_factory=new_list, description="What the data cannot decide (docs/rules.md)")
    entries: dict[str, CclEntry]


class ExceptionDef(Strict):
    section: str
    title: str
    basis: Literal["entry", "transaction"]
    destinations: list[str] = Field(default_factory=new_list)
    exclude: list[str] = Field(default_factory=new_list)
    value_limit: bool = False
    conditions: list[str] = Field(default_factory=new_list)
    external_destinations: str | None = None
    status_note: str | None = None


class Restriction(Strict):
    id: str
    text: str
    eccn_patterns: list[str]
    destinations: list[str]
    only: list[str]
    effect: Literal["ineligible", "conditional"]
    citations: list[Citation] = Field(min_length=1)


class DestinationNote(Strict):
    text: str
    citations: list[Citation] = Field(min_length=1)


class LicenseExceptionsPack(Strict):
    kind: Literal["license_exceptions"]
    pack: PackMeta
    effective_from: dt.date
    exceptions: dict[str, ExceptionDef]
    restrictions: list[Restriction] = Field(default_factory=new_list)
    licence_destination_notes: dict[str, DestinationNote] = Field(default_factory=dict)


# --------------------------------------------------------------------------- index (built at load)


@dataclass
class ChartIndex:
    """Lookups built once per registry when the packs load."""

    chart: CountryChartPack | None = None
    chart_pack_id: str = ""
    ccl: CclPack | None = None
    ccl_pack_id: str = ""
    exceptions: LicenseExceptionsPack | None = None
    exceptions_pack_id: str = ""
    marks: dict[str, frozenset[str]] = field(default_factory=dict)
    all_dest: dict[str, list[AllDestEntry]] = field(default_factory=dict)
    known_paras: dict[str, frozenset[str]] = field(default_factory=dict)
    restriction_res: list[tuple[Restriction, re.Pattern[str]]] = field(default_factory=list)
    # dest_set's memo, per (terms, the date's interval between Country Group changes: see dest_set)
    _sets: dict[tuple[tuple[tuple[tuple[str, ...], tuple[str, ...]], ...], int], tuple[frozenset[str], bool]] = field(default_factory=dict)
    _groups_iv: Intervals | None = None  # taken on first use (the registry is then complete)

    @property
    def effective_from(self) -> dt.date | None:
        if self.chart is None or self.ccl is None:
            return None
        return max(self.chart.effective_from, self.ccl.effective_from)


_ATTR = "_ecscreen_chart_index"


def chart_index(reg: Registry) -> ChartIndex:
    idx = getattr(reg, _ATTR, None)
    if idx is None:
        idx = ChartIndex()
        setattr(reg, _ATTR, idx)
    return idx


def _dup(idx_attr: Any, lp: LoadedPack, kind: str) -> None:
    if idx_attr is not None:
        from ecscreen.errors import PackError

        raise PackError(f"a second {kind} pack was loaded ({lp.info.id}); only one is allowed", file=str(lp.path))


def _chart_hook(reg: Registry, lp: LoadedPack, raw: Any) -> None:
    idx = chart_index(reg)
    _dup(idx.chart, lp, "country_chart")
    m: CountryChartPack = lp.model
    idx.chart, idx.chart_pack_id = m, m.pack.id
    from ecscreen.errors import PackError

    cols = set(m.columns)
    for code, row in m.rows.items():
        bad = [c for c in row.marks if c not in cols]
        if bad:
            raise PackError(f"row {code} marks unknown columns {bad}", file=str(lp.path), field=f"rows.{code}")
        for n in row.footnotes:
            if str(n) not in m.footnotes:
                raise PackError(f"row {code} cites unknown footnote {n}", file=str(lp.path), field=f"rows.{code}")
    idx.marks = {code: frozenset(row.marks) for code, row in m.rows.items()}
    for e in m.all_destinations:
        idx.all_dest.setdefault(e.eccn, []).append(e)


def _ccl_hook(reg: Registry, lp: LoadedPack, raw: Any) -> None:
    idx = chart_index(reg)
    _dup(idx.ccl, lp, "ccl")
    m: CclPack = lp.model
    idx.ccl, idx.ccl_pack_id = m, m.pack.id
    for eccn, e in m.entries.items():
        if e.paragraphs:
            idx.known_paras[eccn] = frozenset(e.paragraphs)
        for o in e.outside:  # the ECCN a note places an item in is read once: it must exist and not move again
            target = m.entries.get(split_eccn(o.instead)[0])
            if target is None or target.outside:
                from ecscreen.errors import PackError

                raise PackError(f"{eccn}: a note places items in {o.instead}, which is "
                                f"{'not on the CCL' if target is None else 'itself moved by a note'}",
                                file=str(lp.path), field=f"entries.{eccn}.outside")
    for name, decl in m.parameters.items():  # rule packs may declare the same name (their declaration wins)
        reg.parameters.setdefault(name, DeclaredParam(name=name, type=decl.type, unit=decl.unit,
                                                      description=decl.description, packs=(m.pack.id,)))


def _exceptions_hook(reg: Registry, lp: LoadedPack, raw: Any) -> None:
    idx = chart_index(reg)
    _dup(idx.exceptions, lp, "license_exceptions")
    m: LicenseExceptionsPack = lp.model
    idx.exceptions, idx.exceptions_pack_id = m, m.pack.id
    idx.restriction_res = [(r, re.compile("^(?:" + "|".join(r.eccn_patterns) + ")$")) for r in m.restrictions]


register_kind("country_chart", CountryChartPack, _chart_hook)
register_kind("ccl", CclPack, _ccl_hook)
register_kind("license_exceptions", LicenseExceptionsPack, _exceptions_hook)


# --------------------------------------------------------------------------- helpers

REASON_NAMES = {
    "NS": "national security", "RS": "regional stability", "MT": "missile technology",
    "NP": "nuclear nonproliferation", "CB": "chemical and biological weapons", "CC": "crime control",
    "FC": "firearms convention", "AT": "anti-terrorism", "UN": "United Nations sanctions",
    "EI": "encryption items", "SL": "surreptitious listening", "CW": "chemical weapons convention",
    "SI": "significant items", "RISS": "Russian industry sector sanctions", "SS": "short supply",
    "RUS": "Russia/Belarus sanctions (§ 746.8)", "EMB": "embargo (part 746)",
}


def split_eccn(eccn: str) -> tuple[str, str]:
    """``3A001.b.2`` -> (``3A001``, ``b.2``)."""
    base, _, para = eccn.partition(".")
    return base, para


def para_under(item: str, scope: str) -> Tri:
    """Is item paragraph ``item`` within scope paragraph ``scope``?

    True: item is the scope paragraph or below it; None: item is above it (less specific, the
    answer depends on which sub-paragraph); False: disjoint.
    """
    if scope in ("", "*"):
        return True
    if not item:
        return None
    return eccn_matches(item, scope)


def any_under(item: str, paras: list[str]) -> Tri:
    res: Tri = False
    for p in paras:
        r = para_under(item, p)
        if r is True:
            return True
        if r is None:
            res = None
    return res


def scope_applies(scope: Scope, para: str, params: dict[str, Any] | None = None) -> Tri:
    """Does a control with ``scope`` apply to an item at paragraph ``para`` ('' = entry only),
    with the technical ``params`` the item states?"""
    if scope.kind == "entire":
        return True
    if scope.kind == "except":
        u = any_under(para, scope.paragraphs)
        if u is True:
            if not scope.condition:
                return False
            if scope.qualified and any_under(para, scope.qualified) is False:
                return False
            return None
        if u is None:
            return None
        return True
    if scope.kind == "paragraphs":
        u = any_under(para, scope.paragraphs)
        if u is not True:
            return u
        if any_under(para, scope.excluded) is True:
            return False
        if scope.excluded and any(para_under(x, para) is True for x in scope.excluded):
            return None  # the item names a paragraph above an excepted one: which sub-paragraph matters
        if any_under(para, scope.excluded_if) is not False:
            return None  # within (or above) a paragraph the entry excepts in words
        if not scope.condition or (scope.qualified and any_under(para, scope.qualified) is False):
            return True
        rule = param_rule(scope.tests, para)
        return rule.decide(params or {}) if rule is not None else None
    rule = param_rule(scope.tests, para)  # conditional: words, unless stated parameters decide them
    return rule.decide(params or {}) if rule is not None else None


def param_rule(rules: list[ParamRule], para: str) -> ParamRule | None:
    """The parameter rule for items at ``para`` (the item must name the rule's paragraph or below)."""
    for r in rules:
        if para_under(para, r.paragraph) is True:
            return r
    return None


def refers_applies(entries: dict[str, CclEntry], scope: Scope, for_eccn: str | None) -> Tri:
    """Is the item (software, technology, equipment) FOR an item that a ``refers`` scope names?

    ``for_eccn`` is the normalised ECCN (and paragraph) the item is for. True / False decide the scope
    (negated for an "entire entry except" scope); None: not stated, less specific than the scope needs, or
    the referenced entry's own control for the reason depends on facts not given."""
    if for_eccn is None:
        return None
    res: Tri = False
    for ref in scope.refers:
        r = _ref_applies(entries, ref, for_eccn)
        if r is True:
            res = True
            break
        if r is None:
            res = None
    if scope.refers_mode == "except":
        return None if res is None else not res
    return res


def _ref_applies(entries: dict[str, CclEntry], ref: Reference, for_eccn: str) -> Tri:
    m = eccn_matches(for_eccn, ref.eccn)
    if m is not True or ref.reason is None:
        return m
    base, para = split_eccn(for_eccn)
    entry = entries.get(base)
    if entry is None or not entry.controls:
        return None
    ctl = [c for c in entry.controls if c.reason == ref.reason]
    if not ctl:
        return False if ref.reason not in entry.reasons else None
    res: Tri = False
    for c in ctl:
        # the referenced entry's own scope, read for the paragraph the item is for; one that points on to
        # further entries would need the ECCN the referenced item is for in turn: not stated here
        r = None if c.scope.refers else scope_applies(c.scope, para)
        if r is True:
            return True
        if r is None:
            res = None
    return res


def _refers_words(scope: Scope) -> str:
    by: dict[str | None, list[str]] = {}
    for r in scope.refers:
        by.setdefault(r.reason, []).append(r.eccn)
    return "; ".join(", ".join(v) + (f" for {k} reasons" if k else "") for k, v in by.items())


def _scope_words(scope: Scope) -> str:
    if scope.kind == "entire":
        return "entire entry"
    if scope.kind == "except":
        s = "entire entry except " + ", ".join("." + p for p in scope.paragraphs)
        return s + (f" ({scope.condition})" if scope.condition else "")
    if scope.kind == "paragraphs":
        s = "paragraphs " + ", ".join("." + p for p in scope.paragraphs)
        if scope.excluded or scope.excluded_if:
            s += " except " + ", ".join("." + p for p in scope.excluded + scope.excluded_if)
        return s + (f" - {scope.condition}" if scope.condition else "")
    return f"only {scope.condition}"


def dest_set(idx: ChartIndex, reg: Registry, terms: list[DestTerm], on: dt.date) -> tuple[frozenset[str], bool]:
    """Destination terms -> (codes, worldwide?). Worldwide sets carry their exclusions as codes
    prefixed with '-'. Memoised per (terms, the date's interval between Country Group changes): the terms
    are codes and ``group:`` refs, which :meth:`Registry.expand` reads the day through those changes alone
    (``ecscreen.engine.intervals``; orders of 90 days share entries)."""
    iv = idx._groups_iv
    if iv is None:
        iv = idx._groups_iv = Intervals(group_dates(reg))
    key = (tuple((tuple(t.include), tuple(t.exclude)) for t in terms), iv.index(on))
    hit = idx._sets.get(key)
    if hit is not None:
        return hit
    codes: set[str] = set()
    world = False
    for t in terms:
        inc = [r for r in t.include if r != "*"]
        exc = reg.expand(t.exclude, {}, on)
        if "*" in t.include:
            world = True
            codes |= {"-" + c for c in exc}
        codes |= set(reg.expand(inc, {}, on)) - exc
    out = (frozenset(codes), world)
    idx._sets[key] = out
    return out


def in_dest(idx: ChartIndex, reg: Registry, terms: list[DestTerm], on: dt.date, codes: tuple[str, ...]) -> bool:
    s, world = dest_set(idx, reg, terms, on)
    if any(c in s for c in codes):
        return True
    if world:
        return not any("-" + c in s for c in codes)
    return False


@dataclass
class RowRef:
    """The chart row that governs a destination, and how it was found."""

    code: str  # destination code (region or alpha-2)
    row_code: str | None  # chart row code (None: no row)
    embargoed: bool = False
    steps: list[Step] = field(default_factory=list)
    footnotes: list[int] = field(default_factory=list)

    @property
    def codes(self) -> tuple[str, ...]:
        return (self.code,) if self.row_code in (None, self.code) else (self.code, self.row_code)  # type: ignore[return-value]


def find_row(idx: ChartIndex, reg: Registry, dest: Country, on: dt.date) -> RowRef:
    chart = idx.chart
    assert chart is not None
    code = dest.code
    ref = RowRef(code=code, row_code=None)
    seen: list[str] = []
    cur = code
    for _ in range(4):
        if cur in chart.rows:
            ref.row_code = cur
            row = chart.rows[cur]
            ref.footnotes = list(row.footnotes)
            ref.steps.append(Step(
                name="destination row", outcome="row found",
                detail=f"{dest.label}: chart row '{row.name}'" + (f" (via {' -> '.join(seen + [cur])})" if seen else "")
                + f"; X in {', '.join(row.marks) or 'no column'}"
                + (f"; footnotes {', '.join(map(str, row.footnotes))}" if row.footnotes else ""),
                inputs={"destination": code, "row": cur, "marks": row.marks, "footnotes": row.footnotes},
                citations=[Citation(ref="15 CFR part 738, Supplement No. 1")]))
            return ref
        if cur in chart.embargoed:
            ref.row_code = cur
            ref.embargoed = True
            er = chart.embargoed[cur]
            ref.footnotes = list(er.footnotes)
            ref.steps.append(Step(
                name="destination row", outcome="embargoed",
                detail=f"{dest.label}: chart row '{er.name}' has no marks: {er.pointer}",
                inputs={"destination": code, "row": cur}, citations=list(er.citations)))
            return ref
        parent: str | None = None
        cites: list[Citation] = []
        basis = ""
        if cur in chart.territories:
            t = chart.territories[cur]
            parent, cites, basis = t.row, list(t.citations), t.basis
        else:
            ps = reg.territory_parents(cur, on)
            if ps:
                parent = ps[0]
                tr = reg.territories.get(cur)
                cites = list(tr.citations) if tr else []
                basis = "Country Group territory rule"
            elif "-" in cur:
                parent = cur.split("-")[0]
                basis = "region of its country: the country's row applies"
        if parent is None:
            break
        ref.steps.append(Step(name="territory", outcome=f"{cur} -> {parent}",
                              detail=f"{cur} has no row of its own; the {parent} row applies: {basis}",
                              inputs={"from": cur, "to": parent}, citations=cites))
        seen.append(cur)
        cur = parent
    ref.steps.append(Step(name="destination row", outcome="no row",
                          detail=f"{dest.label} has no row in the Commerce Country Chart and no territory rule "
                                 "names the row that governs it (§ 738.3(b))",
                          inputs={"destination": code}, citations=[Citation(ref="15 CFR 738.3(b)")]))
    return ref


# --------------------------------------------------------------------------- result


@dataclass
class ChartResult:
    """The Commerce Country Chart's determination for one item: findings, notes, input errors and steps."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    applied: bool = False
    eccn: str | None = None
    row: str | None = None


_CONFUSED = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "L": "1"})


def _fix_typo(raw: str) -> str | None:
    """``3AOO1`` -> ``3A001``; ``3A001b2`` -> None. Letters confused with digits in the digit
    positions of an ECCN only (the second character is the product group letter)."""
    t = raw.strip().replace(" ", "")
    if len(t) < 5:
        return None
    head = t[0].translate(_CONFUSED) + t[1] + t[2:5].translate(_CONFUSED)
    return normalize_eccn(head + t[5:])


def _suggest(idx: ChartIndex, base: str) -> list[str]:
    """Known ECCNs one edit away (substitution of one character or transposition of two)."""
    assert idx.ccl is not None
    cand = base.upper()
    out = []
    for k in idx.ccl.entries:
        if len(k) != len(cand):
            continue
        diff = [i for i in range(len(k)) if k[i] != cand[i]]
        if len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                              and k[diff[0]] == cand[diff[1]] and k[diff[1]] == cand[diff[0]]):
            out.append(k)
    return out[:5]


def _base_cites(eccn: str, eff: dt.date) -> list[Citation]:
    return [Citation(ref="15 CFR 738.4(a)(2)", note="reading the Commerce Country Chart"),
            Citation(ref=f"15 CFR part 774, Supplement No. 1, ECCN {eccn}"),
            Citation(ref="15 CFR part 738, Supplement No. 1",
                     note=f"Commerce Country Chart of the eCFR {eff}, applied to shipments dated on or after {eff}")]


def determine(item: Item, item_index: int, destination: Country, registry: Registry, as_of: dt.date) -> ChartResult:
    """Read the Commerce Country Chart for one item and one destination (§ 738.4)."""
    idx = chart_index(registry)
    res = ChartResult()
    if idx.chart is None or idx.ccl is None:
        res.notes.append("Commerce Country Chart packs not loaded: chart not applied")
        return res
    eff = idx.effective_from
    assert eff is not None
    if as_of < eff:
        res.notes.append(
            f"Commerce Country Chart not applied: shipment date {as_of} is before {eff}; the Commerce "
            f"Country Chart pack is the eCFR of {eff} and earlier dates are governed by the dated rule packs")
        return res
    if item.eccn is None:
        res.notes.append(f"item {item_index}: no ECCN given: chart not applied")
        return res
    eccn = _read_eccn(idx, res, item.eccn, item_index, eff)
    if eccn is None:
        return res
    res.eccn = eccn
    if eccn == "EAR99":
        res.applied = True
        res.notes.append(f"item {item_index}: EAR99 has no Commerce Country Chart requirement "
                         "(other rules, embargoes and end-use controls still apply)")
        res.steps.append(Step(name="entry", outcome="EAR99", detail="EAR99: not on the CCL; no chart requirement",
                              inputs={"eccn": "EAR99"}, citations=[Citation(ref="15 CFR 734.3(c)")]))
        return res
    base, para = split_eccn(eccn)
    entry = idx.ccl.entries.get(base)
    if entry is None:
        _unknown_entry(idx, res, item.eccn, base, item_index, eff)
        return res
    moved = _outside(entry, para, item.parameters)
    if moved is not None:
        return _read_instead(item, item_index, destination, registry, as_of, eccn, moved)
    res.applied = True
    _read_entry(idx, registry, res, item, item_index, destination, as_of, eccn, entry)
    return res


def _read_eccn(idx: ChartIndex, res: ChartResult, raw: str, item_index: int, eff: dt.date) -> str | None:
    """The item's ECCN normalised; a malformed one is a review naming the probable typo or an input error."""
    assert idx.ccl is not None
    eccn = normalize_eccn(raw)
    if eccn is not None:
        return eccn
    fld = f"items[{item_index}].eccn"
    fixed = _fix_typo(raw)
    if fixed and split_eccn(fixed)[0] in idx.ccl.entries:
        res.findings.append(Finding(
            rule_id="CHART-ECCN-TYPO", pack_id=idx.ccl_pack_id, outcome=Outcome.review,
            title="ECCN malformed: probable typo",
            message=f"{raw!r} is not a well-formed ECCN; did you mean {fixed}? The chart cannot be read until "
                    "the classification is corrected.",
            item_index=item_index, evidence=[Evidence(field=fld, value=raw, matched=fixed, detail="malformed")],
            citations=[Citation(ref="15 CFR 738.2(d)", note="structure of an ECCN")], effective_from=eff))
        return None
    res.errors.append(InputError(field=fld, message=f"not an ECCN: {raw!r} (expected e.g. 3A001.b.2 or EAR99)"))
    return None


def _unknown_entry(idx: ChartIndex, res: ChartResult, raw: str, base: str, item_index: int, eff: dt.date) -> None:
    fld = f"items[{item_index}].eccn"
    sug = _suggest(idx, base)
    if sug:
        res.findings.append(Finding(
            rule_id=f"CHART-{base}-UNKNOWN", pack_id=idx.ccl_pack_id, outcome=Outcome.review,
            title="ECCN not on the Commerce Control List",
            message=f"ECCN {raw} is not on the CCL (eCFR {eff}); did you mean {' or '.join(sug)}? "
                    "The chart cannot be read until the classification is corrected.",
            item_index=item_index, evidence=[Evidence(field=fld, value=raw, matched=sug, detail="not on the CCL")],
            citations=[Citation(ref="15 CFR part 774, Supplement No. 1")], effective_from=eff))
    else:
        res.errors.append(InputError(field=fld, message=f"ECCN {raw} is not on the Commerce Control List "
                                                        f"(eCFR {eff})"))


def _outside(entry: CclEntry, para: str, params: dict[str, Any]) -> Outside | None:
    """A note of the entry that the stated parameters meet, placing the item in another ECCN."""
    for o in entry.outside:
        if para_under(para, o.rule.paragraph) is True and o.rule.decide(params) is True:
            return o
    return None


def _read_instead(item: Item, item_index: int, destination: Country, registry: Registry, as_of: dt.date,
                  eccn: str, o: Outside) -> ChartResult:
    """Read the chart for the ECCN a note of the entry places the item in, saying so in every finding."""
    stated = ", ".join(f"{t.param} {item.parameters.get(t.param):g}" for t in o.rule.any or o.rule.all)
    why = (f"item {item_index}: stated as {eccn} with {stated}: {o.text}; the chart is read for {o.instead} "
           f"(correct the classification on the export documents)")
    res = determine(item.model_copy(update={"eccn": o.instead}), item_index, destination, registry, as_of)
    step = Step(name="outside the paragraph", outcome=o.instead, detail=why,
                inputs={"eccn": eccn, "parameters": {t.param: item.parameters.get(t.param)
                                                     for t in o.rule.any or o.rule.all}, "instead": o.instead},
                citations=list(o.rule.citations))
    res.steps.insert(0, step)
    res.notes.insert(0, why)
    for f in res.findings:
        f.notes.insert(0, why)
        f.steps.insert(0, step)
        f.citations += [c for c in o.rule.citations if c not in f.citations]
    return res


def _read_entry(idx: ChartIndex, registry: Registry, res: ChartResult, item: Item, item_index: int,
                destination: Country, as_of: dt.date, eccn: str, entry: CclEntry) -> None:
    """The chart for an item of a CCL entry: destination row, § 738.3(a)(1), each control, footnotes."""
    assert idx.chart is not None and idx.effective_from is not None
    eff = idx.effective_from
    base, para = split_eccn(eccn)
    raw = item.eccn or eccn
    fld = f"items[{item_index}].eccn"
    cites0 = _base_cites(base, eff)
    res.steps.append(Step(
        name="entry", outcome=base,
        detail=f"ECCN {base}: {entry.heading} Reasons for control: {', '.join(entry.reasons) or 'none stated'}"
        + (f"; item paragraph .{para}" if para else "; the item gives no paragraph"),
        inputs={"eccn": eccn, "entry": base, "paragraph": para or None}, citations=cites0[1:]))
    _check_paragraph(idx, res, base, para, eccn, raw, item_index, cites0, eff)

    ref = find_row(idx, registry, destination, as_of)
    res.steps += ref.steps
    res.row = ref.row_code
    ev_dest = Evidence(field="destination", value=destination.code, matched=ref.row_code,
                       detail=destination.name)
    ev_eccn = Evidence(field=fld, value=raw, matched=base)

    def finding(rule: str, outcome: Outcome, title: str, message: str, steps: list[Step],
                cites: list[Citation], notes: list[str] | None = None, extra_ev: list[Evidence] | None = None
                ) -> Finding:
        uniq: list[Citation] = []
        for c in cites0 + cites:
            if c not in uniq:
                uniq.append(c)
        return Finding(rule_id=rule, pack_id=idx.ccl_pack_id, outcome=outcome, title=title, message=message,
                       item_index=item_index, evidence=[ev_eccn, ev_dest] + (extra_ev or []), citations=uniq,
                       effective_from=eff, steps=list(ref.steps) + steps, notes=notes or [])

    if ref.row_code is None:
        res.findings.append(finding(
            f"CHART-{base}-NOROW", Outcome.review, "Destination not on the Commerce Country Chart",
            f"{destination.label} has no row in the Commerce Country Chart and no territory rule names its row: "
            f"the licence requirement for {eccn} cannot be read (§ 738.3(b)).", [], [Citation(ref="15 CFR 738.3(b)")]))
        return
    if ref.embargoed:
        er = idx.chart.embargoed[ref.row_code]
        res.findings.append(finding(
            f"CHART-{base}-EMBARGO", Outcome.license_required, f"Embargoed destination: {er.name}",
            f"{eccn} to {destination.label}: the chart row for {er.name} has no marks and points to part 746: "
            f"{er.pointer} Items on the CCL need a licence there.",
            [Step(name="embargo", outcome="license_required", detail=er.pointer, citations=list(er.citations),
                  deciding=True)], list(er.citations)))
        res.steps += res.findings[-1].steps[len(ref.steps):]
        _footnotes(idx, res, ref, base, para, destination, finding, item.parameters)
        return
    if _all_destinations(idx, res, base, para, eccn, destination, finding):
        return
    if not entry.controls:
        step = Step(name="controls", outcome="none in data",
                    detail=f"the CCL data has no 'Country Chart' table for {base} (reasons: "
                           f"{', '.join(entry.reasons) or 'none stated'})", deciding=True)
        res.steps.append(step)
        if not any(f.rule_id == f"CHART-{base}-ALL" for f in res.findings):
            res.findings.append(finding(
                f"CHART-{base}-NOCHART", Outcome.review, "Licence requirement not readable from the chart",
                f"ECCN {base} ({entry.heading[:120]}) names no Country Chart column in the CCL data; read the "
                "entry's License Requirements section (it may point to the ITAR, part 742 or part 754).",
                [step], []))
        _footnotes(idx, res, ref, base, para, destination, finding, item.parameters)
        return
    _read_controls(idx, registry, res, item, item_index, destination, as_of, eccn, entry, ref, finding)
    _footnotes(idx, res, ref, base, para, destination, finding, item.parameters)
    if not any(f.outcome.rank >= Outcome.review.rank for f in res.findings):
        row = idx.chart.rows[ref.row_code]
        res.notes.append(
            f"item {item_index}: {eccn} to {destination.label}: no X in the Commerce Country Chart (eCFR {eff}) for "
            f"any reason for control (row '{row.name}'); the chart itself requires no licence, provided General "
            "Prohibitions Four to Ten do not apply (§ 738.4(a)(2)(ii)(B))")
        res.steps.append(Step(name="no X", outcome="clear", detail=idx.chart.no_mark_caveat,
                              citations=[Citation(ref="15 CFR 738.4(a)(2)(ii)(B)")]))


def _check_paragraph(idx: ChartIndex, res: ChartResult, base: str, para: str, eccn: str, raw: str,
                     item_index: int, cites0: list[Citation], eff: dt.date) -> None:
    known = idx.known_paras.get(base)
    if para and known is not None and not any(p == para or p.startswith(para + ".") or para.startswith(p + ".")
                                               for p in known):
        res.findings.append(Finding(
            rule_id=f"CHART-{base}-PARAGRAPH", pack_id=idx.ccl_pack_id, outcome=Outcome.review,
            title="ECCN paragraph not found in the CCL entry",
            message=f"ECCN {eccn}: paragraph .{para} is not among the paragraphs of {base} in the CCL "
                    f"(eCFR {eff}); check the classification.",
            item_index=item_index, evidence=[Evidence(field=f"items[{item_index}].eccn", value=raw,
                                                      detail="unknown paragraph")],
            citations=cites0[1:], effective_from=eff))


def _all_destinations(idx: ChartIndex, res: ChartResult, base: str, para: str, eccn: str, destination: Country,
                      finding: Any) -> bool:
    """§ 738.3(a)(1): entries licensed to all destinations (the chart does not apply to them).
    True when the item is one of them (nothing more to read)."""
    assert idx.chart is not None
    for ad in idx.all_dest.get(base, []):
        st = any_under(para, ad.paragraphs) if ad.paragraphs else True
        if st is True and ad.condition:
            st = None
        if st is False:
            continue
        exc = ("no licence exception" if not ad.exceptions else
               f"only licence exception {', '.join(ad.exceptions)}"
               + (f" ({ad.exception_condition})" if ad.exception_condition else ""))
        step = Step(name="§ 738.3(a)(1)", outcome="license_required" if st else "depends",
                    detail=f"{ad.text}: licence required to all destinations; {exc}",
                    inputs={"entry": ad.text, "paragraph": para or None},
                    citations=list(idx.chart.all_destinations_citations), deciding=True)
        res.steps.append(step)
        if st:
            res.findings.append(finding(
                f"CHART-{base}-ALL", Outcome.license_required, "Licence required to all destinations",
                f"{eccn} is listed in § 738.3(a)(1) ({ad.text}): a licence is required to all destinations, "
                f"including {destination.label}; {exc}.", [step], list(idx.chart.all_destinations_citations)))
            return True
        what = f"paragraph .{'/.'.join(ad.paragraphs)}" if ad.paragraphs and not para else ad.condition or ""
        res.findings.append(finding(
            f"CHART-{base}-ALL", Outcome.review, "Licence may be required to all destinations",
            f"{eccn}: § 738.3(a)(1) requires a licence to all destinations for {ad.text}; whether the item is "
            f"within it depends on {what}: state it.", [step], list(idx.chart.all_destinations_citations)))
    return False


_Read = tuple[Outcome, Step, list[Citation], list[str]]


def _read_controls(idx: ChartIndex, registry: Registry, res: ChartResult, item: Item, item_index: int,
                   destination: Country, as_of: dt.date, eccn: str, entry: CclEntry, ref: RowRef,
                   finding: Any) -> None:
    """Each control of the entry against the destination row, one finding per reason for control."""
    assert idx.chart is not None and ref.row_code is not None
    base, para = split_eccn(eccn)
    row = idx.chart.rows[ref.row_code]
    marks = idx.marks[ref.row_code]
    by_reason: dict[str, list[_Read]] = {}
    parts: dict[str, list[tuple[Control, _Read]]] = {}
    for_eccn = normalize_eccn(item.for_eccn) if item.for_eccn else None
    for c in entry.controls:
        read = _control(idx, registry, c, para, ref, marks, row, as_of, item.parameters, for_eccn)
        by_reason.setdefault(c.reason, []).append(read)
        if c.scope.partition:
            parts.setdefault(c.scope.partition, []).append((c, read))
        res.steps.append(read[1])
    for name, members in parts.items():
        _partition(name, members, by_reason, row)
    for reason, lst in by_reason.items():
        worst = Outcome.worst([o for o, _, _, _ in lst])
        if worst == Outcome.clear:
            res.notes += [f"item {item_index}: {eccn} to {destination.label}: {reason}: {n}" for _, _, _, w in lst
                          for n in w[1:]]  # e.g. both readings where the CFR text and enforcement differ
            continue
        steps = [s for _, s, _, _ in lst]
        cites = [c for o, _, cs, _ in lst if o == worst for c in cs]
        decisive = [w for o, _, _, w in lst if o == worst]
        decisive = [w for k, w in enumerate(decisive) if w[0] not in [d[0] for d in decisive[:k]]]
        rname = REASON_NAMES.get(reason, reason)
        if worst == Outcome.license_required:
            title = f"Licence required: {reason} ({rname})"
            msg = (f"{eccn} to {destination.label}: {'; '.join(w[0] for w in decisive)}: a licence is required for "
                   f"{reason} reasons unless a licence exception applies (§ 738.4).")
        else:
            title = f"Review: {reason} ({rname}) licence requirement depends on facts not given"
            msg = f"{eccn} to {destination.label}: {'; '.join(w[0] for w in decisive)}."
        notes = [n for w in decisive for n in w[1:]]
        res.findings.append(finding(f"CHART-{base}-{reason}", worst, title, msg, steps, cites, notes,
                                    [Evidence(field="chart.reason", value=reason, detail=rname)]))


def _partition(name: str, members: list[tuple[Control, _Read]], by_reason: dict[str, list[_Read]],
               row: ChartRow) -> None:
    """Controls of one reason that split a paragraph between them (RS 1 / RS 2 of 6A003.b.4.b): when
    each one still in question only waits for the stated facts and every one of them has an X for the
    row, a licence is required whichever applies; the facts are not needed to decide."""
    open_ = [(c, r) for c, r in members if r[0] == Outcome.review and r[1].inputs.get("parameters") is not None]
    if len(open_) < 2 or any(c.target.kind != "column" or c.target.column not in row.marks for c, _ in open_):
        return
    cols = ", ".join(str(c.target.column) for c, _ in open_)
    why = (f"{open_[0][0].reason}: the item is within one of {cols} ({name}), and '{row.name}' has an X in each: "
           f"a licence is required whichever applies")
    for c, (_, step, cites, w) in open_:
        lst = by_reason[c.reason]
        i = next(k for k, r in enumerate(lst) if r[1] is step)
        step.outcome = Outcome.license_required.value
        lst[i] = (Outcome.license_required, step, cites, [why] + w[1:])


def _control(idx: ChartIndex, reg: Registry, c: Control, para: str, ref: RowRef, marks: frozenset[str],
             row: ChartRow, on: dt.date, params: dict[str, Any] | None = None, for_eccn: str | None = None
             ) -> tuple[Outcome, Step, list[Citation], list[str]]:
    """One control of an entry against one destination -> (outcome, step, citations, [why, notes...])."""
    t = c.target
    cites = list(t.citations)
    where = _scope_words(c.scope)
    inputs: dict[str, Any] = {"reason": c.reason, "scope": where, "paragraph": para or None}
    if c.scope.refers:
        assert idx.ccl is not None
        applies = refers_applies(idx.ccl.entries, c.scope, for_eccn)
        inputs["for_eccn"] = for_eccn
    else:
        applies = scope_applies(c.scope, para, params)
    rule = param_rule(c.scope.tests, para) if c.scope.condition else None
    if rule is not None:
        inputs["parameters"] = {t_.param: (params or {}).get(t_.param) for t_ in rule.any or rule.all}
        cites += [x for x in rule.citations if x not in cites]
    hit, tgt_words = _target_hit(idx, reg, c, ref, marks, row, on, inputs, cites)
    alt_hit: Tri = hit
    notes: list[str] = []
    if t.alternative is not None and hit is not None:
        alt_hit = in_dest(idx, reg, t.alternative.destinations, on, ref.codes)
        cites += t.alternative.citations
        if alt_hit != hit:
            by_text = _policy.current() == "cfr-text"
            notes.append(f"CFR text: licence {'required' if hit else 'not required'}; "
                         f"{t.alternative.statement}: licence {'required' if alt_hit else 'not required'}; "
                         + ("decided by the CFR text (--policy cfr-text)" if by_text else
                            "decided by the enforced scope (--policy cfr-text follows the CFR text instead)"))
            inputs["policy"] = "cfr-text" if by_text else "enforced"
            hit = alt_hit = hit if by_text else alt_hit
    head = f"{c.reason} applies to {where}; {tgt_words}"
    if applies is False:
        out, outcome_s = Outcome.clear, "not applicable"
        item_words = f".{para}" if para else "the item"
        why = f"{c.reason} does not apply to {item_words}"
        if c.scope.refers:
            why += f" (for {for_eccn}: {c.scope.condition})"
            head += f"; the item is for {for_eccn} (items[].for_eccn): outside it"
        if rule is not None:
            why += f" with the parameters stated (it applies where {rule.words()})"
            head += f"; the stated parameters place {item_words} outside it ({rule.words()} does not hold)"
    elif hit is False and alt_hit is False:
        out, outcome_s, why = Outcome.clear, "no X", f"{c.reason}: no licence requirement for {row.name}"
    elif hit is None:
        out, outcome_s = Outcome.review, "review"
        why = (f"{c.reason} ({where}): the chart cannot be read for this control: {c.chart_text[:200]}"
               if c.chart_text else f"{c.text}: {t.note or 'review the entry'}")
    elif hit != alt_hit:
        out, outcome_s = Outcome.review, "review"
        why = (f"{c.reason} ({where}): the CFR text and the BIS non-enforcement statement differ for {row.name}: "
               + notes[-1])
    elif applies is None:
        out, outcome_s = Outcome.review, "review"
        why = (_refers_open(c, f"{t.column or 'licence required'} for {row.name}", for_eccn) if c.scope.refers
               else _open_words(c, para, where, f"{t.column or 'licence required'} for {row.name}", rule, params))
    else:
        out = t.outcome if t.outcome != Outcome.clear else Outcome.license_required
        outcome_s = out.value
        if c.scope.refers:  # the ECCN the item is for placed it in the scope: say so
            where = f"{where} and the item is for {for_eccn} (items[].for_eccn)"
        if rule is not None:  # the stated parameters placed the item in the scope: say which
            held = [f"{x.words()} (stated {x.stated(params or {})})" for x in rule.any or rule.all
                    if x.check(params or {})]
            where = f"{_at(rule)} where {' and '.join(held) if rule.all else held[0]}"
            notes = notes + rule.notes
            cites = cites + rule.note_citations
        why = (f"{c.reason} applies to {where} and {t.column} has an X for {row.name}" if t.kind == "column"
               else f"{c.reason} applies to {where} and the entry requires a licence for {row.name} "
                    f"({c.chart_text[:140]})")
        if out == Outcome.review:
            why += "; the requirement is stated outside the chart: review it"
    step = Step(name=f"{c.reason} -> {t.column or t.kind}", outcome=outcome_s, detail=head, inputs=inputs,
                citations=cites, deciding=out != Outcome.clear)
    return out, step, cites, [why] + notes


def _target_hit(idx: ChartIndex, reg: Registry, c: Control, ref: RowRef, marks: frozenset[str], row: ChartRow,
                on: dt.date, inputs: dict[str, Any], cites: list[Citation]) -> tuple[Tri, str]:
    """Does the control's target (a chart column, destinations in words, a pointer) name the destination?
    (hit, words); the inputs and citations of the step are added to."""
    t = c.target
    if t.kind == "column":
        inputs["column"] = t.column
        hit: Tri = t.column in marks
        cites.append(Citation(ref="15 CFR part 738, Supplement No. 1", note=f"column {t.column}, row {row.name}"))
        return hit, f"{t.column}: {'X' if hit else 'no X'} for '{row.name}'"
    if t.kind == "destinations":
        hit = in_dest(idx, reg, t.destinations, on, ref.codes)
        inputs["destinations"] = [d.model_dump() for d in t.destinations]
        return hit, f"{c.chart_text[:160]} -> {row.name} {'is' if hit else 'is not'} within it"
    return None, f"{c.chart_text[:160]} ({t.note or 'pointer'})"


def _at(rule: ParamRule) -> str:
    return f".{rule.paragraph}" if rule.paragraph else "the items of the entry"


def _refers_open(c: Control, target: str, for_eccn: str | None) -> str:
    """Why a control pointing to other entries may apply: the ECCN the item is for is not stated, is less
    specific than the scope, or the referenced entry's control for the reason depends on words."""
    scope = f"{c.reason} applies {'to the entire entry except' if c.scope.refers_mode == 'except' else 'only to'} " \
            f"{c.scope.condition or _refers_words(c.scope)} ({target})"
    if for_eccn is None:
        return (f"{scope}: state items[].for_eccn, the ECCN (and paragraph) of the item it is for "
                f"({_refers_words(c.scope)}), to decide it")
    return (f"{scope}: the item is for {for_eccn} (items[].for_eccn); whether that is within "
            f"{_refers_words(c.scope)} depends on its paragraph or on the words of that entry's control: "
            "state the paragraph or confirm")


def _open_words(c: Control, para: str, where: str, target: str, rule: ParamRule | None,
                params: dict[str, Any] | None) -> str:
    """Why a control may apply: what the item must state (parameters, paragraph) or confirm (words)."""
    if rule is not None:
        return (f"{c.reason} applies to {_at(rule)} where {rule.words()} ({target}): state "
                f"{', '.join('items[].parameters.' + m for m in rule.missing(params or {}))} to decide it")
    if c.scope.excluded_if and any_under(para, c.scope.excluded_if) is not False and \
            any_under(para, c.scope.paragraphs) is True:
        return (f"{c.reason} applies to {where} ({target}); the entry excepts "
                f"'{c.scope.excluded_condition or ', '.join('.' + p for p in c.scope.excluded_if)}': confirm whether "
                f"the item (.{para}) is one of them")
    if c.scope.kind == "conditional" or (c.scope.condition and any_under(para, c.scope.paragraphs)):
        return f"{c.reason} applies only to {c.scope.condition or where} ({target}): confirm whether the item is within it"
    return (f"{c.reason} applies to {where} ({target}); the item gives {('.' + para) if para else 'no paragraph'}: "
            f"state the paragraph ({', '.join('.' + p for p in c.scope.paragraphs)} matter)")


def _footnotes(idx: ChartIndex, res: ChartResult, ref: RowRef, base: str, para: str, dest: Country,
               finding: Any, params: dict[str, Any] | None = None) -> None:
    """Apply the row's footnotes (and the region footnotes of the parent row)."""
    chart = idx.chart
    assert chart is not None
    eccn = base + ("." + para if para else "")
    for n in ref.footnotes:
        fn = chart.footnotes[str(n)]
        step = Step(name=f"footnote {n}", outcome="note", detail=fn.text, citations=list(fn.citations))
        out: Outcome | None = None
        why = ""
        if fn.kind == "eccns":
            st = _fn_match(fn.entries, base, para, params)
            if st is not False:
                out = fn.outcome if st is True else Outcome.review
                if out == Outcome.license_required:
                    why = f"footnote {n} requires a licence for {eccn} to {dest.label}"
                else:
                    names = ", ".join(e.eccn + (f" ({e.condition})" if e.condition else "") for e in fn.entries
                                      if e.eccn.split(".")[0] == base)
                    missing = sorted({m for e in fn.entries if e.eccn.split(".")[0] == base for t in e.tests
                                      if para_under(para, t.paragraph) is True for m in t.missing(params or {})})
                    why = (f"footnote {n} of the chart row may require a licence for {names}: "
                           + (f"state {', '.join('items[].parameters.' + m for m in missing)} to decide it"
                              if missing else "confirm the item"))
        elif fn.kind == "all_ccl":
            out = fn.outcome
            why = f"footnote {n}: {fn.message}"
        elif fn.kind == "regions" and ref.code in fn.regions:
            st = _fn_match(fn.review_eccns, base, para, params)
            out = fn.outcome if st is False else Outcome.review
            why = f"footnote {n}: {fn.message}" + ("" if st is False else
                                                   f"; {eccn} may fall under its exception: review")
        if out is not None:
            step.outcome = out.value
            step.deciding = True
            res.findings.append(finding(
                f"CHART-{base}-FN{n}", out, f"Chart footnote {n}: {REASON_NAMES.get(fn.reason or '', fn.reason)}",
                f"{eccn} to {dest.label}: {why}.", [step], list(fn.citations),
                None, [Evidence(field="chart.reason", value=fn.reason, detail=f"footnote {n}")]))
        res.steps.append(step)


def _fn_match(entries: list[FootnoteEntry], base: str, para: str, params: dict[str, Any] | None = None) -> Tri:
    res: Tri = False
    for e in entries:
        b, p = split_eccn(e.eccn)
        if b != base:
            continue
        st = para_under(para, p) if p else True
        if st is True and e.except_:
            ex = any_under(para, e.except_)
            st = False if ex is True else (None if ex is None else True)
        if st is True and e.condition:
            rule = param_rule(e.tests, para)
            st = rule.decide(params or {}) if rule is not None else None
        if st is True:
            return True
        if st is None:
            res = None
    return res


def chart_reason(f: Finding) -> str | None:
    """The reason for control a chart finding is about (NS, RS, ... ; EMB, ALL, RUS...)."""
    for ev in f.evidence:
        if ev.field == "chart.reason" and isinstance(ev.value, str):
            return ev.value
    tail = f.rule_id.rsplit("-", 1)[-1]
    return {"EMBARGO": "EMB", "ALL": "ALL"}.get(tail, tail)


# --------------------------------------------------------------------------- licence-exception lines


@dataclass
class LineReading:
    """What an entry's licence-exception line says for an item at one paragraph."""

    status: Literal["eligible", "conditional", "ineligible"]
    why: str
    value_limit_usd: int | None = None
    reasons_excluded: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)


def _paras_text(paras: list[str]) -> str:
    return ", ".join("." + p for p in paras[:12]) + (" ..." if len(paras) > 12 else "")


def _depth(clause: FlagClause, para: str) -> int:
    """How specific the clause's paragraph that holds ``para`` is (longest match wins)."""
    best = 0
    for p in clause.paragraphs:
        if para_under(para, p) is True:
            best = max(best, p.count(".") + 1)
    return best


def _paragraph_exclusions(
    clauses: list[FlagClause] | tuple[FlagClause, ...], para: str, given: str, text: str, reasons: list[str]
) -> tuple[LineReading | None, LineReading | None]:
    """The line's exclusions by paragraph for an item at ``para``: (the final reading when one excludes the
    item outright, the conditional reading when one may)."""
    pending: LineReading | None = None
    for c in clauses:
        if c.effect != "no" or not c.paragraphs:
            continue
        u = any_under(para, c.paragraphs)
        if u is True and not c.condition:
            return LineReading("ineligible", f"the entry excludes {_paras_text(c.paragraphs)} (the item is {given}): "
                                             f"{text}", reasons_excluded=reasons), None
        if u is True:
            pending = pending or LineReading("conditional", f"the entry excludes {_paras_text(c.paragraphs)} where "
                                                            f"'{c.condition}' (the item is {given})")
        elif u is None:
            pending = pending or LineReading("conditional", f"the entry excludes {_paras_text(c.paragraphs)}; the item "
                                                            f"gives {given}")
    return None, pending


def read_line(flag: ExceptionFlag, para: str) -> LineReading:
    """Read an entry's licence-exception line (its parsed clauses) for an item at ``para``.

    ``para`` '' means the item gives only the entry: a clause bounded by paragraphs then makes the
    reading ``conditional`` (naming them), never the lenient one. Words the parser kept as a
    condition or residual make the clauses they qualify ``conditional``.
    """
    text = flag.text[:160]
    given = f".{para}" if para else "no paragraph"
    clauses = flag.clauses
    reasons = list(dict.fromkeys(r for c in clauses if c.effect == "no" and not c.paragraphs for r in c.reasons))
    if not clauses and flag.residual is None:
        return LineReading("ineligible", "the entry says N/A")
    if clauses and all(c.effect == "no" and not c.paragraphs and not c.reasons and not c.condition
                       for c in clauses):
        return LineReading("ineligible", f"the entry says N/A ({text})" if flag.text else "the entry says N/A")
    conds: list[str] = []
    # 1. exclusions by paragraph
    final, pending = _paragraph_exclusions(clauses, para, given, text, reasons)
    if final is not None:
        return final
    # 2. the clause that grants it for this paragraph: most specific paragraph match, else the default
    yes_p = [c for c in clauses if c.effect == "yes" and c.paragraphs]
    default = [c for c in clauses if c.effect == "yes" and not c.paragraphs]
    matched = [c for c in yes_p if any_under(para, c.paragraphs) is True]
    unknown = [c for c in yes_p if any_under(para, c.paragraphs) is None]
    grant: FlagClause | None = None
    if matched:
        grant = max(matched, key=lambda c: _depth(c, para))
        why = f"the entry names it for {_paras_text(grant.paragraphs)} (the item is {given})"
    elif unknown and not default:
        paras = [p for c in unknown for p in c.paragraphs]
        return LineReading("conditional", f"the entry names it only for {_paras_text(paras)}; the item gives {given}",
                           reasons_excluded=reasons)
    elif unknown:
        limits = {c.value_limit_usd for c in unknown} | {d.value_limit_usd for d in default}
        if len(limits) > 1:
            paras = [p for c in unknown for p in c.paragraphs]
            return LineReading("conditional", f"the entry states different terms for {_paras_text(paras)}; the item "
                                              f"gives {given}", reasons_excluded=reasons)
        grant = default[0]
        why = f"the entry names it ({text})"
    elif default:
        grant = default[0]
        why = f"the entry names it ({text})" if not yes_p else \
            f"the entry names it for the rest of the entry (the item is {given}): {text}"
    elif yes_p:
        paras = [p for c in yes_p for p in c.paragraphs]
        return LineReading("ineligible", f"the entry names it only for {_paras_text(paras)} (the item is {given})",
                           reasons_excluded=reasons)
    elif flag.residual is None:
        # only exclusions (by reason or other paragraphs): available for the rest
        why = f"the entry names it except as stated ({text})"
    else:
        return LineReading("conditional", f"the entry's terms must be checked: {flag.residual[:200]}",
                           reasons_excluded=reasons)
    limit = grant.value_limit_usd if grant else None
    if grant is not None and grant.condition:
        conds.append(grant.condition)
        pending = pending or LineReading("conditional", f"{why}, where '{grant.condition}'")
    if flag.residual:
        pending = pending or LineReading("conditional", f"{why}; the line also says, in words the tool cannot "
                                                        f"check: '{flag.residual[:200]}'")
    if pending is not None:
        pending.value_limit_usd, pending.reasons_excluded, pending.conditions = limit, reasons, conds
        return pending
    return LineReading("eligible", why, value_limit_usd=limit, reasons_excluded=reasons)
