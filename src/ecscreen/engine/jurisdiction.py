"""Jurisdiction: is an item subject to the EAR? Origin, location, de minimis, Foreign Direct Product.

Run for each item before licence analysis (15 CFR 734.3(a)):

1. **origin** - a U.S.-origin item is subject to the EAR wherever it is (734.3(a)(2));
2. **location** - any item in the United States is subject (734.3(a)(1)); the shipment's
   ``exporter_country`` (None = US) says where the item is;
3. **de minimis** (734.4) - a foreign-made item is subject when its controlled U.S. content
   exceeds the destination's threshold, or when a no-de-minimis case of 734.4(a) applies;
4. **Foreign Direct Product** (734.9(b)-(l)) - each paragraph is two prongs, product scope
   (item ECCN; ``direct_product_of`` / ``plant_direct_product_of`` ECCNs) and destination /
   end-user scope (country groups, Entity List footnotes from party screening, end use), with
   exclusions by exporting country and effective dates.

An item neither test catches is outside the U.S. rules (other regimes still apply by origin).
Evaluation is three-valued: a missing fact makes a step *unknown*, and an unknown result is a
``review`` finding (``JUR-INDETERMINATE``) naming the fact and what it would change - never
``clear`` by default. Everything compared against (codes, thresholds, ECCN lists, country
sets, footnotes, dates, citations) comes from the ``kind: jurisdiction`` pack
(``rules/us-ear/jurisdiction.yaml``); this module is the procedure.
"""

# No ``from __future__ import annotations`` here (issue 10): pydantic evaluates string annotations one
# by one when it creates a model class (a compile and an eval each); written as expressions they cost
# nothing more, ~25 % less per class, ~11 ms CPU of every check over these modules' ~80 pack and
# result models. Forward references (a class defined further down) are quoted.

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ecscreen.domain.countries import Country, resolve
from ecscreen.domain.logic import Tri, tri_and, tri_any, tri_not, tri_or
from ecscreen.engine import listscope as _listscope  # noqa: F401  - registers the party_list_scopes pack kind
from ecscreen.engine.fastmodel import built
from ecscreen.engine.intervals import Intervals, dated_ref_dates, group_dates, territory_dates
from ecscreen.errors import PackError
from ecscreen.model import Citation, Evidence, Finding, Item, Outcome, Shipment, Step, new_list
from ecscreen.packs.registry import LoadedPack, PackMeta, Registry, Strict, normalize_eccn, register_kind

# --------------------------------------------------------------------------- pack model


class _Strict(Strict):
    """The one strict model base (:class:`ecscreen.model.StrictModel`)."""


class DatedRef(_Strict):
    """A country ref with dates and a confirmation flag (UNCONFIRMED facts yield review)."""

    ref: str
    effective_from: dt.date | None = None
    effective_to: dt.date | None = Field(default=None, description="first day no longer in force")
    confirmed: bool = True
    note: str | None = None
    citations: list[Citation] = Field(default_factory=new_list)

    def in_force(self, on: dt.date) -> bool:
        return (self.effective_from is None or self.effective_from <= on) and (
            self.effective_to is None or on < self.effective_to)


RefLike = str | DatedRef


class EccnList(_Strict):
    title: str
    members: list[str] = Field(min_length=1)
    citations: list[Citation] = Field(min_length=1)
    notes: list[str] = Field(default_factory=new_list)


class CountrySet(_Strict):
    title: str
    members: list[RefLike] = Field(min_length=1)
    citations: list[Citation] = Field(min_length=1)
    notes: list[str] = Field(default_factory=new_list)


class UnitedStates(_Strict):
    codes: list[str] = Field(min_length=1)
    note: str | None = None
    citations: list[Citation] = Field(min_length=1)


class ChainRule(_Strict):
    title: str
    citations: list[Citation] = Field(min_length=1)


class Indeterminate(_Strict):
    rule_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    title: str
    citations: list[Citation] = Field(min_length=1)


class Exclusion(_Strict):
    """The paragraph does not reach items exported from these countries."""

    id: str
    title: str
    exporter_in: list[RefLike] = Field(min_length=1)
    effect: str
    citations: list[Citation] = Field(min_length=1)
    notes: list[str] = Field(default_factory=new_list)


class EndUseScope(_Strict):
    phrases: list[str] = Field(min_length=1)
    destinations: list[RefLike] | None = Field(default=None, description="the end use counts only for these")
    if_missing: Literal["false", "unknown"] = Field(
        default="unknown", description="unknown (default, fail closed): a missing end use is asked for; "
        "false opts out and needs a `reason`")
    reason: str | None = Field(default=None, description="why a missing end use may count as not met")
    question: str

    @field_validator("if_missing", mode="before")
    @classmethod
    def _if_missing(cls, v: Any) -> Any:
        return "false" if v is False else v

    @model_validator(mode="after")
    def _opt_out_reason(self) -> "EndUseScope":
        if self.if_missing == "false" and not (self.reason or "").strip():
            raise ValueError("if_missing: false opts out of failing closed and needs a `reason`")
        return self


class Threshold(_Strict):
    id: str
    percent: float = Field(ge=0, le=100)
    alternative_percent: float | None = Field(default=None, ge=0, le=100,
                                              description="threshold if the unconfirmed one does not hold")
    confirmed: bool = True
    destinations: list[RefLike] | None = Field(default=None, description="None: every other destination")
    citations: list[Citation] = Field(min_length=1)
    notes: list[str] = Field(default_factory=new_list)

    @model_validator(mode="after")
    def _alt(self) -> "Threshold":
        if not self.confirmed and (self.alternative_percent is None or self.alternative_percent <= self.percent):
            raise ValueError("an unconfirmed threshold needs an alternative_percent above percent")
        return self


class NoDeMinimis(_Strict):
    """A 734.4(a) case: no de minimis level, so the foreign item is subject whatever its U.S. share."""

    id: str
    rule_id: str
    title: str
    item_eccns: list[str] | None = None
    item_eccns_exclude: list[str] = Field(default_factory=new_list)
    us_content_eccns: list[str] | None = Field(default=None, description="ECCNs of U.S.-origin content that trigger")
    us_content_eccns_exclude: list[str] = Field(default_factory=new_list)
    ask_when_item_in: list[str] | None = Field(
        default=None, description="when the U.S. content ECCNs are not given, ask (review) only for items in these")
    contains_us_origin_ic: bool | None = None
    destinations: list[RefLike] | None = None
    footnotes: list[int] | None = None
    end_use: EndUseScope | None = None
    exclusions: list[Exclusion] = Field(default_factory=new_list)
    confirmed: bool = True
    effective_from: dt.date
    effective_to: dt.date | None = None
    citations: list[Citation] = Field(min_length=1)
    notes: list[str] = Field(default_factory=new_list)

    def in_force(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on < self.effective_to)


class DeMinimis(_Strict):
    title: str
    citations: list[Citation] = Field(min_length=1)
    notes: list[str] = Field(default_factory=new_list)
    thresholds: list[Threshold] = Field(min_length=1)
    no_de_minimis: list[NoDeMinimis] = Field(default_factory=new_list)

    @model_validator(mode="after")
    def _default_last(self) -> "DeMinimis":
        if self.thresholds[-1].destinations is not None:
            raise ValueError("the last threshold must be the default (no destinations)")
        if any(t.destinations is None for t in self.thresholds[:-1]):
            raise ValueError("only the last threshold may omit destinations")
        return self


class OpenCondition(_Strict):
    """A yes/no fact about the item: read from the item (when the input model has the field), else
    from the CCL pack's reasons for control (``ccl_reason``), else unknown (review)."""

    fact: str
    question: str
    ccl_reason: str | None = Field(
        default=None, description="resolve from the loaded CCL pack: the item's ECCN paragraph has this reason")


class ConditionalEccn(_Strict):
    eccns: list[str] = Field(min_length=1)
    question: str


class ProductScope(_Strict):
    description: str
    item_eccns: list[str] | None = Field(default=None, description="None: any item, EAR99 included")
    item_eccns_exclude: list[str] = Field(default_factory=new_list)
    item_eccns_conditional: list[ConditionalEccn] = Field(default_factory=new_list)
    dp_inputs: list[str] | None = Field(default=None, description="None: no direct-product prong")
    dp_origin: Literal["us_origin", "subject_to_ear"] = "us_origin"
    plant_inputs: list[str] | None = Field(default=None, description="None: no plant prong")
    contains_ic_from_plant: bool = False
    open_conditions: list[OpenCondition] = Field(default_factory=new_list)
    notes: list[str] = Field(default_factory=new_list)

    @model_validator(mode="after")
    def _routes(self) -> "ProductScope":
        if self.dp_inputs is None and self.plant_inputs is None:
            raise ValueError("a product scope needs dp_inputs or plant_inputs")
        return self


class ReachScope(_Strict):
    description: str
    worldwide: bool = False
    destinations: list[RefLike] = Field(default_factory=new_list)
    destinations_exclude: list[RefLike] = Field(default_factory=new_list)
    footnotes: list[int] = Field(default_factory=new_list)
    party_roles: list[str] = Field(default_factory=lambda: ["purchaser", "intermediate_consignee", "consignee",
                                                            "end_user"])
    end_use: EndUseScope | None = None
    notes: list[str] = Field(default_factory=new_list)

    @model_validator(mode="after")
    def _some(self) -> "ReachScope":
        if not (self.worldwide or self.destinations or self.footnotes or self.end_use):
            raise ValueError("a reach scope needs worldwide, destinations, footnotes or end_use")
        if any(not 1 <= f <= 5 for f in self.footnotes):
            raise ValueError("Entity List footnotes are 1-5")
        return self


class Consequence(_Strict):
    outcome: Outcome | None = Field(description="null: subject only, the licence analysis decides")
    title: str
    text: str
    citations: list[Citation] = Field(default_factory=new_list)

    @model_validator(mode="after")
    def _not_clear(self) -> "Consequence":
        if self.outcome == Outcome.clear:
            raise ValueError("a consequence cannot be 'clear'")
        return self


class FdpRule(_Strict):
    """One version (date window) of one 734.9 paragraph."""

    paragraph: str = Field(pattern=r"^734\.9\([a-z]\)(\(\d\))?$")
    rule_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    title: str
    product: ProductScope
    reach: ReachScope
    exclusions: list[Exclusion] = Field(default_factory=new_list)
    consequence: Consequence
    confirmed: bool = True
    effective_from: dt.date
    effective_to: dt.date | None = None
    citations: list[Citation] = Field(min_length=1)
    seeds: list[str] = Field(default_factory=new_list)
    notes: list[str] = Field(default_factory=new_list)

    @model_validator(mode="after")
    def _dates(self) -> "FdpRule":
        if self.effective_to and self.effective_to <= self.effective_from:
            raise ValueError("effective_to must be after effective_from")
        return self

    def in_force(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on < self.effective_to)


class JurisdictionPack(_Strict):
    kind: Literal["jurisdiction"]
    pack: PackMeta
    united_states: UnitedStates
    origin_rule: ChainRule
    location_rule: ChainRule
    indeterminate: Indeterminate
    eccn_lists: dict[str, EccnList] = Field(default_factory=dict)
    country_sets: dict[str, CountrySet] = Field(default_factory=dict)
    de_minimis: DeMinimis
    fdp: list[FdpRule] = Field(min_length=1)

    @property
    def rules(self) -> list[FdpRule]:
        """The FDP paragraph versions (what pack listings count, with their dates and seeds)."""
        return self.fdp


# --------------------------------------------------------------------------- inputs / outputs


class PartyFact(_Strict):
    """A party-screening hit as the jurisdiction step sees it (converted by the engine)."""

    party_index: int
    role: str
    name: str
    list_code: str
    entry_name: str
    footnotes: list[int] = Field(default_factory=new_list)
    score: float


ITAR_TEXT_MEMO_SIZE = 20_000  # descriptions known to say nothing of the ITAR (only speed depends on it)
ORIGIN_MEMO_SIZE = 4_096  # U.S.-origin step results kept per pack (only speed depends on it)


class JurisdictionResult(_Strict):
    status: Literal["subject", "not_subject", "unknown"]
    steps: list[Step] = Field(default_factory=new_list)
    findings: list[Finding] = Field(default_factory=new_list)
    summary: str


# --------------------------------------------------------------------------- three-valued logic
# (one copy, in ecscreen.domain.logic)

_and, _or, _not, _any = tri_and, tri_or, tri_not, tri_any


# --------------------------------------------------------------------------- ECCN patterns

_PAT_RE = re.compile(r"^(?P<base>[0-9?][A-E?][0-9?]{3})(?P<paras>(\.[a-z0-9]+)*)$")
Pat = tuple[str, tuple[str, ...]]


def _parse_pattern(text: str) -> Pat | None:
    t = text.strip().replace(" ", "")
    base, _, rest = t.partition(".")
    t = base.upper() + ("." + rest.lower() if rest else "")
    m = _PAT_RE.match(t)
    if not m:
        return None
    paras = tuple(p for p in m.group("paras").split(".") if p)
    return m.group("base"), paras


def _split(eccn: str) -> Pat:
    base, *paras = eccn.split(".")
    return base, tuple(paras)


def _eccn_match(value: Pat, pat: Pat) -> Tri:
    """True if ``value`` is within ``pat``; None if ``value`` is less specific than ``pat``."""
    vb, vp = value
    pb, pp = pat
    if any(c != "?" and c != b for c, b in zip(pb, vb, strict=True)):
        return False
    n = min(len(pp), len(vp))
    if vp[:n] != pp[:n]:
        return False
    return True if len(vp) >= len(pp) else None


def _eccn_in(value: str, include: tuple[Pat, ...], exclude: tuple[Pat, ...]) -> Tri:
    if value == "EAR99":
        return False
    v = _split(value)
    inc = _any(_eccn_match(v, p) for p in include)
    if inc is False:
        return False
    return _and(inc, _not(_any(_eccn_match(v, p) for p in exclude)))


def _fmt_pat(pat: Pat) -> str:
    b, ps = pat
    if "?" not in b:
        return b + "".join("." + p for p in ps)
    if b == "?????":
        return "any ECCN"
    return f"any {b.replace('?', 'x')}" + "".join("." + p for p in ps) + " ECCN"


def _fmt_eccns(pats: tuple[Pat, ...], limit: int = 6) -> str:
    txt = [_fmt_pat(p) for p in pats]
    if len(txt) > limit:
        return ", ".join(txt[:limit]) + f" (or one of {len(txt) - limit} more)"
    return ", ".join(txt)


# --------------------------------------------------------------------------- compiled pack


@dataclass
class _CheckResult:
    """A three-valued check with its explanation, the missing facts that would decide it, and its evidence."""

    value: Tri
    text: str
    missing: list[tuple[str, str]] = field(default_factory=list)  # (input field, what would make it true)
    evidence: list[Evidence] = field(default_factory=list)


class _Compiled:
    """The pack with ECCN patterns parsed and country refs expanded per date (cached)."""

    def __init__(self, pack: JurisdictionPack, reg: Registry, shown: str) -> None:
        self.pack = pack
        self.reg = reg
        self.shown = shown
        self._pat_cache: dict[tuple[str, ...], tuple[Pat, ...]] = {}
        # the memos below are keyed by a date's interval, not the day (ecscreen.engine.intervals): refs_at
        # reads the day through the pack's dated refs and the Country Group changes alone; steps 1-2 (origin,
        # location) through the territory mappings alone (a country's codes). Taken on first use, when the
        # registry is complete (this pack may load before the Country Groups pack).
        self._refs_iv: Intervals | None = None
        self._territory_iv: Intervals | None = None
        self._ref_cache: dict[tuple[int, int], tuple[frozenset[str], frozenset[str]]] = {}
        self._phrase_cache: dict[tuple[str, ...], re.Pattern[str]] = {}
        self._ccl_cache: dict[tuple[str, str], tuple[Tri, str] | None] = {}
        # the U.S.-origin result of step 1 per (origin as written, territory interval of the date): it reads
        # nothing else (see assess_ear)
        self.origin_memo: dict[tuple[str, int], tuple[Step, str]] = {}
        # the result of steps 1-2 for a foreign (or unstated) origin exported from the United States, per
        # (origin as written, exporter_country as written, territory interval): they read nothing else (see
        # assess_ear)
        self.location_memo: dict[tuple[str | None, str | None, int], tuple[Step, Step, str]] = {}
        self.us_codes = frozenset(pack.united_states.codes)
        self.paragraphs: dict[str, list[FdpRule]] = {}
        for r in pack.fdp:
            self.paragraphs.setdefault(r.paragraph, []).append(r)
        self._validate()

    # ---- validation (at load time, naming the field)
    def _fail(self, msg: str, fld: str) -> None:
        raise PackError(msg, file=self.shown, field=fld)

    def _validate(self) -> None:
        p = self.pack
        for name, el in p.eccn_lists.items():
            for m in el.members:
                if m.startswith("list:") or _parse_pattern(m) is None:
                    self._fail(f"not an ECCN pattern: {m!r}", f"eccn_lists.{name}")
        for name, cs in p.country_sets.items():
            self._check_refs(cs.members, f"country_sets.{name}", allow_sets=False)
        for c in p.united_states.codes:
            self._check_refs([c], "united_states.codes", allow_sets=False)
        for i, t in enumerate(p.de_minimis.thresholds):
            self._check_refs(t.destinations or [], f"de_minimis.thresholds[{i}].destinations")
        for i, nd in enumerate(p.de_minimis.no_de_minimis):
            self._validate_no_dm(nd, f"de_minimis.no_de_minimis[{i}]")
        for i, r in enumerate(p.fdp):
            self._validate_fdp(r, f"fdp[{i}]")
        for para, versions in self.paragraphs.items():
            vs = sorted(versions, key=lambda v: v.effective_from)
            for a, b in zip(vs, vs[1:], strict=False):
                if a.effective_to is None or a.effective_to > b.effective_from:
                    self._fail(f"versions of {para} overlap ({a.effective_from} and {b.effective_from})", "fdp")

    def _validate_no_dm(self, nd: NoDeMinimis, f: str) -> None:
        for key in ("item_eccns", "item_eccns_exclude", "us_content_eccns", "us_content_eccns_exclude",
                    "ask_when_item_in"):
            self.patterns(getattr(nd, key) or [], f"{f}.{key}")
        self._check_refs(nd.destinations or [], f"{f}.destinations")
        if nd.end_use and nd.end_use.destinations:
            self._check_refs(nd.end_use.destinations, f"{f}.end_use.destinations")
        for x in nd.exclusions:
            self._check_refs(x.exporter_in, f"{f}.exclusions")

    def _validate_fdp(self, r: FdpRule, f: str) -> None:
        pr = r.product
        self.patterns(pr.item_eccns or [], f"{f}.product.item_eccns")
        self.patterns(pr.item_eccns_exclude, f"{f}.product.item_eccns_exclude")
        for cond in pr.item_eccns_conditional:
            self.patterns(cond.eccns, f"{f}.product.item_eccns_conditional")
        self.patterns(pr.dp_inputs or [], f"{f}.product.dp_inputs")
        self.patterns(pr.plant_inputs or [], f"{f}.product.plant_inputs")
        self._check_refs(r.reach.destinations, f"{f}.reach.destinations")
        self._check_refs(r.reach.destinations_exclude, f"{f}.reach.destinations_exclude")
        if r.reach.end_use and r.reach.end_use.destinations:
            self._check_refs(r.reach.end_use.destinations, f"{f}.reach.end_use.destinations")
        for x in r.exclusions:
            self._check_refs(x.exporter_in, f"{f}.exclusions")

    def _check_refs(self, refs: list[RefLike], fld: str, allow_sets: bool = True) -> None:
        for r in refs:
            ref = r.ref if isinstance(r, DatedRef) else r
            if ref.startswith("group:"):
                if ref[6:] not in self.reg.groups:
                    self._fail(f"unknown country group {ref[6:]!r}", fld)
            elif ref.startswith("set:"):
                if not allow_sets or ref[4:] not in self.pack.country_sets:
                    self._fail(f"unknown country set {ref[4:]!r}", fld)
            else:
                c = resolve(ref)
                if c is None or c.code != ref:
                    self._fail(f"not an ISO 3166 code: {ref!r} (write codes, e.g. CN, UA-43)", fld)

    # ---- ECCN patterns
    def patterns(self, refs: list[str], fld: str = "") -> tuple[Pat, ...]:
        key = tuple(refs)
        hit = self._pat_cache.get(key)
        if hit is not None:
            return hit
        out: list[Pat] = []
        for r in refs:
            if r.startswith("list:"):
                el = self.pack.eccn_lists.get(r[5:])
                if el is None:
                    self._fail(f"unknown ECCN list {r[5:]!r}", fld)
                    continue
                out += self.patterns(el.members, fld)
            else:
                pat = _parse_pattern(r)
                if pat is None:
                    self._fail(f"not an ECCN pattern: {r!r}", fld)
                    continue
                out.append(pat)
        res = tuple(out)
        self._pat_cache[key] = res
        return res

    @property
    def refs_iv(self) -> Intervals:
        """Breakpoints of :meth:`refs_at`: the dates of this pack's dated refs and of the Country Group changes."""
        iv = self._refs_iv
        if iv is None:
            iv = self._refs_iv = Intervals(dated_ref_dates(self.pack) + group_dates(self.reg))
        return iv

    @property
    def territory_iv(self) -> Intervals:
        """Breakpoints of steps 1-2 (origin, location): the registry's territory-mapping dates."""
        iv = self._territory_iv
        if iv is None:
            iv = self._territory_iv = Intervals(territory_dates(self.reg))
        return iv

    # ---- country refs: (confirmed codes, unconfirmed codes) at a date
    def refs_at(self, refs: list[RefLike], on: dt.date) -> tuple[frozenset[str], frozenset[str]]:
        """Memoised per (refs, the date's interval of :attr:`refs_iv`: the dated refs' own dates and the Country
        Group changes, all the day is read through)."""
        key = (id(refs), self.refs_iv.index(on))
        hit = self._ref_cache.get(key)
        if hit is not None:
            return hit
        conf: set[str] = set()
        unconf: set[str] = set()
        for r in refs:
            d = r if isinstance(r, DatedRef) else None
            ref = d.ref if d else str(r)
            if d and not d.in_force(on):
                continue
            ok = d.confirmed if d else True
            if ref.startswith("group:"):
                codes: frozenset[str] = self.reg.group_members(ref[6:], on)
                c2: frozenset[str] = frozenset()
            elif ref.startswith("set:"):
                codes, c2 = self.refs_at(self.pack.country_sets[ref[4:]].members, on)
            else:
                codes, c2 = frozenset([ref]), frozenset()
            (conf if ok else unconf).update(codes)
            unconf.update(c2)
        res = (frozenset(conf), frozenset(unconf - conf))
        self._ref_cache[key] = res
        return res

    def ccl_reason(self, eccn: str, reason: str) -> tuple[Tri, str] | None:
        """Does the CCL pack (kind: ccl, if loaded) give ``eccn`` this reason for control?

        None when no CCL pack is loaded or the entry is not in it; otherwise (True/False/None,
        where the answer came from). Reads only the pack data: entries -> controls -> reason, scope.
        """
        key = (eccn, reason)
        if key in self._ccl_cache:
            return self._ccl_cache[key]
        out: tuple[Tri, str] | None = None
        packs = self.reg.of_kind("ccl")
        base, paras = _split(eccn)
        entry = getattr(packs[0].model, "entries", {}).get(base) if packs else None
        if entry is not None:
            src = f"CCL pack {packs[0].info.id}, ECCN {base}"
            states: list[Tri] = []
            for c in getattr(entry, "controls", []):
                if getattr(c, "reason", None) != reason:
                    continue
                kind = c.scope.kind
                listed = [tuple(p.split(".")) for p in c.scope.paragraphs]
                if kind == "entire":
                    states.append(True)
                elif kind == "paragraphs":
                    states.append(_any(_para_under(paras, p) for p in listed))
                elif kind == "except":
                    states.append(_not(_any(_para_under(paras, p) for p in listed)))
                else:
                    states.append(None)
            v = _any(states)
            word = {True: f"{reason} applies", False: f"no {reason} control", None: f"{reason} scope unclear"}[v]
            out = (v, f"{src}: {word}") if v is not None else None
        self._ccl_cache[key] = out
        return out

    def phrase_re(self, phrases: list[str]) -> re.Pattern[str]:
        key = tuple(phrases)
        rx = self._phrase_cache.get(key)
        if rx is None:
            alts = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in sorted(phrases, key=len, reverse=True))
            rx = re.compile(rf"(?<![\w-])(?:{alts})(?![\w-])", re.IGNORECASE)
            self._phrase_cache[key] = rx
        return rx


_COMPILED: dict[int, tuple[JurisdictionPack, _Compiled]] = {}


def _hook(reg: Registry, lp: LoadedPack, raw: Any) -> None:
    if reg.of_kind("jurisdiction"):
        raise PackError("only one jurisdiction pack may be loaded (another is already loaded)",
                        file=lp.info.path, field="kind")
    _COMPILED[id(lp.model)] = (lp.model, _Compiled(lp.model, reg, lp.info.path))


register_kind("jurisdiction", JurisdictionPack, _hook)


# --------------------------------------------------------------------------- ITAR (15 CFR 734.3(b)(1)(i))


class ItarPack(_Strict):
    kind: Literal["itar_scope"]
    pack: PackMeta
    phrases: list[str] = Field(min_length=1)
    negations: list[str] = Field(default_factory=new_list)
    category_pattern: str
    arms_embargo_destinations: list[str] = Field(default_factory=new_list)
    citations: list[Citation] = Field(min_length=1)
    embargo_citations: list[Citation] = Field(default_factory=new_list)
    conflict_citations: list[Citation] = Field(default_factory=new_list)


@dataclass
class _ItarIndex:
    """The itar_scope pack compiled: its phrase, negation and category regexes."""

    pack: ItarPack
    pack_id: str
    phrase_re: re.Pattern[str]
    neg_re: re.Pattern[str] | None
    cat_re: re.Pattern[str]
    # descriptions that say nothing of the ITAR (no category, or negated, and no phrase): with neither
    # ``itar: true`` nor ``usml_category`` stated, the item's ITAR facts read only the description
    plain_texts: set[str] = field(default_factory=set)


_ITAR_ATTR = "_ecscreen_itar"


def _itar_hook(reg: Registry, lp: LoadedPack, raw: Any) -> None:
    m: ItarPack = lp.model
    if getattr(reg, _ITAR_ATTR, None) is not None:
        raise PackError(f"a second itar_scope pack was loaded ({m.pack.id}); only one is allowed", file=str(lp.path))
    try:
        neg = re.compile("|".join(f"(?:{n})" for n in m.negations), re.I) if m.negations else None
        cat = re.compile(m.category_pattern, re.I)
    except re.error as exc:
        raise PackError(f"bad pattern: {exc}", file=str(lp.path)) from exc
    words = "|".join(re.escape(p) for p in sorted(m.phrases, key=len, reverse=True))
    setattr(reg, _ITAR_ATTR, _ItarIndex(pack=m, pack_id=m.pack.id, neg_re=neg, cat_re=cat,
                                         phrase_re=re.compile(rf"(?<![\w-])(?:{words})(?![\w-])", re.I)))


register_kind("itar_scope", ItarPack, _itar_hook)


@dataclass
class _ItarFacts:
    """What the input says of an item's ITAR status, and where it says it."""

    source: Literal["fact", "category", "text"]
    category: str | None
    evidence: list[Evidence]


def _itar_facts(ix: _ItarIndex, item: Item, idx: int) -> _ItarFacts | None:
    """Does the input say the item is subject to the ITAR? (``itar``, ``usml_category``, description)"""
    f = f"items[{idx}]"
    if item.itar is False:
        return None
    if item.usml_category:
        return _ItarFacts("category", item.usml_category.strip(),
                          [Evidence(field=f"{f}.usml_category", value=item.usml_category,
                                    detail="U.S. Munitions List category stated")])
    text = item.description
    if item.itar is None and text in ix.plain_texts:
        return None
    cat = ix.cat_re.search(text)
    negated = bool(ix.neg_re and ix.neg_re.search(text))
    if cat and not negated:
        label = cat.group(1).upper() + (f"({cat.group(2)})" if cat.group(2) else "")
        return _ItarFacts("category", label, [Evidence(field=f"{f}.description", value=text, matched=cat.group(0),
                                                       detail=f"the description names USML Category {label}")])
    if item.itar is True:
        return _ItarFacts("fact", None, [Evidence(field=f"{f}.itar", value=True, detail="itar: true")])
    hit = ix.phrase_re.search(text)
    if hit and not negated:
        return _ItarFacts("text", None, [Evidence(field=f"{f}.description", value=text, matched=hit.group(0),
                                                  detail=f"the description says '{hit.group(0)}'")])
    if item.itar is None:
        if len(ix.plain_texts) >= ITAR_TEXT_MEMO_SIZE:
            ix.plain_texts.clear()
        ix.plain_texts.add(text)
    return None


def _itar_result(ix: _ItarIndex, facts: _ItarFacts, item: Item, idx: int, destination: Country,
                 eccn: str | None, registry: Registry, as_of: dt.date) -> JurisdictionResult | None:
    """The jurisdiction result for an item the input says is subject to the ITAR (None: not decided here)."""
    pk = ix.pack
    label = _label(item, idx)
    cites = list(pk.citations)
    classified = eccn is not None and eccn != "EAR99"
    if facts.source == "text" and classified:
        # a description that mentions the ITAR for an item classified under an ECCN: both cannot hold
        msg = (f"{label} is described as subject to the ITAR ({facts.evidence[0].detail}) but is classified under "
               f"ECCN {eccn}: an item is either subject to the ITAR or to the EAR. Confirm the jurisdiction (a "
               "commodity jurisdiction determination decides); screened here as an EAR item.")
        step = Step(name="ITAR", outcome="conflict", detail=msg, citations=cites + list(pk.conflict_citations),
                    inputs={"description": item.description, "eccn": item.eccn})
        finding = Finding(rule_id="ITAR-CONFLICT", pack_id=ix.pack_id, outcome=Outcome.review,
                          title="ITAR mentioned for an item classified under an ECCN", message=msg, item_index=idx,
                          jurisdiction="US-ITAR", evidence=facts.evidence, citations=cites + list(pk.conflict_citations),
                          steps=[step])
        return JurisdictionResult(status="subject", steps=[step], findings=[finding], summary="conflict")
    embargo = False
    if pk.arms_embargo_destinations:
        codes = _codes(destination, registry, as_of)
        embargo = bool(codes & registry.expand(list(pk.arms_embargo_destinations), {}, as_of))
    cat_txt = f"USML Category {facts.category}" if facts.category else "a defense article (no USML category stated)"
    summary = f"not subject to the EAR: subject to the ITAR ({cat_txt}; 15 CFR 734.3(b)(1)(i))"
    parts = [f"{label} is subject to the ITAR ({facts.evidence[0].detail}), not to the EAR "
             "(15 CFR 734.3(b)(1)(i)): ecscreen does not screen it as an EAR item."]
    if classified:
        parts.append(f"The input also gives ECCN {eccn}: an item cannot be both; the ITAR fact is used.")
    if embargo:
        parts.append(f"{destination.label} is a U.S. arms-embargoed destination (22 CFR 126.1, Country Group D:5 on "
                     f"{as_of}): policy of denial.")
        cites += list(pk.embargo_citations)
    claimed = (item.license_exception or "").strip()
    if facts.category and not claimed and not classified:
        outcome = Outcome.license_required
        rule_id, title = "ITAR-USML", f"Defense article ({cat_txt}): licence required under the ITAR"
        parts.append(f"A {cat_txt} defense article needs a DDTC licence for export to {destination.label} "
                     "(22 CFR 123.1) unless an ITAR exemption applies; none is claimed.")
    else:
        outcome = Outcome.review
        rule_id, title = "ITAR-ITEM", "Item subject to the ITAR: DDTC authorisation to be confirmed"
        if claimed:
            parts.append(f"ITAR exemption or authorisation claimed ('{claimed}'): ecscreen does not check ITAR "
                         "exemptions; confirm it and its conditions.")
        elif not facts.category:
            parts.append("State the USML category (usml_category) and the DDTC licence or ITAR exemption relied on.")
        else:
            parts.append("Confirm the DDTC licence or ITAR exemption relied on.")
    step = Step(name="ITAR", outcome="not_subject", deciding=True, detail=summary, citations=cites,
                inputs={"itar": item.itar, "usml_category": item.usml_category, "description": item.description})
    finding = Finding(rule_id=rule_id, pack_id=ix.pack_id, outcome=outcome, title=title, message=" ".join(parts),
                      item_index=idx, jurisdiction="US-ITAR", evidence=facts.evidence, citations=cites, steps=[step])
    return JurisdictionResult(status="not_subject", steps=[step], findings=[finding], summary=summary)


def _compiled_for(reg: Registry) -> tuple[_Compiled, LoadedPack] | None:
    packs = reg.of_kind("jurisdiction")
    if not packs:
        return None
    lp = packs[0]
    hit = _COMPILED.get(id(lp.model))
    if hit is None or hit[0] is not lp.model or hit[1].reg is not reg:
        comp = _Compiled(lp.model, reg, lp.info.path)
        _COMPILED[id(lp.model)] = (lp.model, comp)
        return comp, lp
    return hit[1], lp


# --------------------------------------------------------------------------- evaluation context


@dataclass
class _Ctx:
    """One item's assessment: the compiled pack, the item, the shipment and its destination and dates."""

    comp: _Compiled
    pack_id: str
    item: Item
    idx: int
    shipment: Shipment
    dest: Country
    dest_codes: frozenset[str]
    exporter: Country | None
    exporter_codes: frozenset[str]
    hits: list[PartyFact]
    on: dt.date
    eccn: str | None

    @property
    def f(self) -> str:
        return f"items[{self.idx}]"


def _codes(c: Country, reg: Registry, on: dt.date) -> frozenset[str]:
    codes = {c.code, c.alpha2}
    for code in list(codes):
        codes.update(reg.territory_parents(code, on))
    return frozenset(codes)


def _in_refs(ctx: _Ctx, codes: frozenset[str], refs: list[RefLike], exclude: list[RefLike] | None = None) -> Tri:
    conf, unconf = ctx.comp.refs_at(refs, ctx.on)
    inc: Tri = True if codes & conf else (None if codes & unconf else False)
    if inc is False or not exclude:
        return inc
    xc, xu = ctx.comp.refs_at(exclude, ctx.on)
    exc: Tri = True if codes & xc else (None if codes & xu else False)
    return _and(inc, _not(exc))


def _dest_label(ctx: _Ctx) -> str:
    return f"{ctx.dest.name} ({ctx.dest.code})"


# ---- prongs


def _item_scope(ctx: _Ctx, pats: list[str] | None, excl: list[str], what: str) -> _CheckResult:
    if pats is None:
        return _CheckResult(True, "any item (the item's ECCN is not limited)")
    inc = ctx.comp.patterns(pats)
    exc = ctx.comp.patterns(excl)
    if ctx.eccn is None:
        return _CheckResult(None, "the item's ECCN is not given",
                            [(f"{ctx.f}.eccn", f"the item is classified in {what} ({_fmt_eccns(inc)})")])
    v = _eccn_in(ctx.eccn, inc, exc)
    ev = [Evidence(field=f"{ctx.f}.eccn", value=ctx.eccn, matched=what if v else None)]
    if v is True:
        return _CheckResult(True, f"ECCN {ctx.eccn} is within {what}", evidence=ev)
    if v is False:
        return _CheckResult(False, f"ECCN {ctx.eccn} is outside {what}", evidence=ev)
    return _CheckResult(None, f"ECCN {ctx.eccn} is not specific enough to tell whether it is within {what}",
                        [(f"{ctx.f}.eccn", f"the item's full ECCN paragraph is within {what}")], ev)


def _inputs_scope(ctx: _Ctx, attr: str, pats: list[str] | None, label: str,
                  origin: str = "U.S.-origin technology or software") -> _CheckResult | None:
    """The direct-product or plant prong: does a stated input ECCN match the paragraph's list?

    The input lists U.S.-origin technology/software, which meets both a "U.S.-origin" and a
    "subject to the EAR" prong; ``origin`` words the question after the paragraph's own text.
    """
    if pats is None:
        return None
    inc = ctx.comp.patterns(pats)
    values: list[str] | None = getattr(ctx.item, attr)
    fld = f"{ctx.f}.{attr}"
    if values is None:
        return _CheckResult(None, f"{attr} not stated",
                            [(fld, f"the item is {label} {origin} in {_fmt_eccns(inc)}")])
    if not values:
        return _CheckResult(False, f"{attr} = [] (stated: no such U.S. technology or software)",
                            evidence=[Evidence(field=fld, value=[])])
    states: list[Tri] = []
    matched: list[str] = []
    bad: list[str] = []
    for raw in values:
        n = normalize_eccn(raw)
        if n is None:
            bad.append(raw)
            states.append(None)
            continue
        s = _eccn_in(n, inc, ())
        states.append(s)
        if s:
            matched.append(n)
    v = _any(states)
    ev = [Evidence(field=fld, value=list(values), matched=matched or None)]
    if v is True:
        return _CheckResult(True, f"{label} U.S.-origin {', '.join(matched)} (listed for this paragraph)", evidence=ev)
    if v is False:
        return _CheckResult(False, f"{attr} {', '.join(values)} not in the paragraph's list ({_fmt_eccns(inc)})",
                            evidence=ev)
    why = f"not an ECCN: {', '.join(bad)}" if bad else "an input ECCN is not specific enough"
    return _CheckResult(None, f"{attr}: {why}",
                        [(fld, f"the item is {label} {origin} in {_fmt_eccns(inc)}")], ev)


def _combine(parts: list[_CheckResult], how: Literal["and", "or"]) -> _CheckResult:
    v: Tri = how == "and"
    for p in parts:
        v = _and(v, p.value) if how == "and" else _or(v, p.value)
    missing = [m for p in parts if p.value is None for m in p.missing] if v is None else []
    if how == "or" and len({m[1] for m in missing}) > 1:
        # alternatives: any one of the conditions would do
        either = "; or ".join(dict.fromkeys(m[1] for m in missing))
        missing = [(m[0], either) for m in missing]
    ev = [e for p in parts for e in p.evidence]
    return _CheckResult(v, ("; " if how == "and" else " or ").join(p.text for p in parts), missing, ev)


def _product(ctx: _Ctx, r: FdpRule) -> _CheckResult:
    pr = r.product
    scope = _item_scope(ctx, pr.item_eccns, pr.item_eccns_exclude, f"the {r.paragraph} product scope")
    if scope.value is not True and ctx.eccn:
        # items in scope only on a condition the input cannot state: asked, never assumed
        for cond in pr.item_eccns_conditional:
            if _eccn_in(ctx.eccn, ctx.comp.patterns(cond.eccns), ()) is True:
                scope = _CheckResult(None, f"ECCN {ctx.eccn} is in scope only if {cond.question}",
                                     [(f"{ctx.f}.eccn", cond.question)], scope.evidence)
                break
    routes = [x for x in (
        _inputs_scope(ctx, "direct_product_of", pr.dp_inputs, "a direct product of",
                      "U.S.-origin technology or software" if pr.dp_origin == "us_origin"
                      else "technology or software subject to the EAR (e.g. U.S.-origin)"),
        _inputs_scope(ctx, "plant_direct_product_of", pr.plant_inputs,
                      "made by (or contains an IC made by) a plant that is a direct product of"
                      if pr.contains_ic_from_plant else "made by a plant that is a direct product of"),
    ) if x is not None]
    res = _combine([scope, _combine(routes, "or")], "and")
    if pr.open_conditions and res.value is not False:
        res = _combine([res] + [_open_fact(ctx, o) for o in pr.open_conditions], "and")
    return res


def _open_fact(ctx: _Ctx, o: OpenCondition) -> _CheckResult:
    """A yes/no fact about the item: the item's own field, else the CCL pack, else unknown."""
    fld = f"{ctx.f}.{o.fact}"
    val = getattr(ctx.item, o.fact, None) if o.fact in type(ctx.item).model_fields else None
    if val is not None:
        return _CheckResult(bool(val), f"{o.question}: {'yes' if val else 'no'}",
                            evidence=[Evidence(field=fld, value=val)])
    if o.ccl_reason and ctx.eccn:
        got = ctx.comp.ccl_reason(ctx.eccn, o.ccl_reason)
        if got is not None:
            v, where = got
            return _CheckResult(v, f"{o.question}: {'yes' if v else 'no'} ({where})",
                                evidence=[Evidence(field=f"{ctx.f}.eccn", value=ctx.eccn, detail=where)])
    return _CheckResult(None, f"open: {o.question}", [(fld, o.question)])


def _para_under(item: tuple[str, ...], listed: tuple[str, ...]) -> Tri:
    n = min(len(item), len(listed))
    if item[:n] != listed[:n]:
        return False
    return True if len(item) >= len(listed) else None


def _party_footnotes(ctx: _Ctx, footnotes: list[int], roles: list[str] | None) -> _CheckResult:
    hits = [h for h in ctx.hits if set(h.footnotes) & set(footnotes)]
    fn = "/".join(str(f) for f in footnotes)
    if not hits:
        return _CheckResult(False, f"no party is a footnote-{fn} Entity List entity")
    ev = [Evidence(field=f"parties[{h.party_index}].name", value=h.name,
                   matched=f"{h.entry_name} ({h.list_code}, footnote {', '.join(map(str, h.footnotes))})",
                   score=h.score, detail=f"role {h.role}") for h in hits]
    good = [h for h in hits if roles is None or h.role in roles]
    if good:
        h = good[0]
        return _CheckResult(True, f"{h.name} (parties[{h.party_index}], {h.role}) matches {h.entry_name}, "
                                  f"a footnote-{fn} Entity List entity", evidence=ev)
    h = hits[0]
    return _CheckResult(None, f"{h.name} (parties[{h.party_index}]) matches {h.entry_name}, a footnote-{fn} entity, "
                              f"but its role is {h.role}",
                        [(f"parties[{h.party_index}].role",
                          f"{h.name} is a purchaser, intermediate or ultimate consignee or end user")], ev)


def _end_use(ctx: _Ctx, eu: EndUseScope) -> _CheckResult:
    text = ctx.shipment.end_use
    if not text:
        if eu.if_missing == "unknown":
            return _CheckResult(None, "end use not stated", [("end_use", eu.question)])
        return _CheckResult(False, "end use not stated (no knowledge of the end use)")
    m = ctx.comp.phrase_re(eu.phrases).search(text)
    if not m:
        return _CheckResult(False, f"end use {text!r} does not indicate that {eu.question}",
                            evidence=[Evidence(field="end_use", value=text)])
    res = _CheckResult(True, f"end use mentions {m.group(0)!r}",
                       evidence=[Evidence(field="end_use", value=text, matched=m.group(0))])
    if eu.destinations:
        d = _in_refs(ctx, ctx.dest_codes, eu.destinations)
        res = _combine([res, _CheckResult(d, f"destination {_dest_label(ctx)} "
                                             + ("is" if d else "is not" if d is False else "may be")
                                             + " in the end-use destinations",
                                          [("destination", "the destination is within the paragraph's scope "
                                                           "(UNCONFIRMED destination set)")])], "and")
    return res


def _reach(ctx: _Ctx, r: FdpRule) -> _CheckResult:
    rc = r.reach
    parts: list[_CheckResult] = []
    if rc.worldwide:
        parts.append(_CheckResult(True, "any destination"))
    if rc.destinations:
        v = _in_refs(ctx, ctx.dest_codes, rc.destinations, rc.destinations_exclude)
        word = {True: "is", False: "is not", None: "may be"}[v]
        parts.append(_CheckResult(v, f"destination {_dest_label(ctx)} {word} within: {rc.description}",
                                  [("destination", f"{_dest_label(ctx)} is within the paragraph's destinations "
                                                   "(UNCONFIRMED)")],
                                  [Evidence(field="destination", value=ctx.dest.code,
                                            matched=rc.description if v else None)]))
    if rc.footnotes:
        parts.append(_party_footnotes(ctx, rc.footnotes, rc.party_roles))
    if rc.end_use:
        parts.append(_end_use(ctx, rc.end_use))
    return _combine(parts, "or")


def _exclusions(ctx: _Ctx, exclusions: list[Exclusion]) -> tuple[Tri, str, list[tuple[str, str]], list[Citation]]:
    """Does an exporter-country exclusion apply? (True / False / None = unconfirmed)."""
    if not exclusions:
        return False, "", [], []
    if ctx.exporter is None:
        return None, "exporting country unknown", [("exporter_country", "the exporting country is outside the "
                                                    + " / ".join(x.title for x in exclusions))], []
    for x in exclusions:
        v = _in_refs(ctx, ctx.exporter_codes, x.exporter_in)
        if v is True:
            return True, f"{x.title}: exported from {ctx.exporter.name} ({ctx.exporter.code}); {x.effect}", [], \
                x.citations
        if v is None:
            return None, (f"{x.title}: exported from {ctx.exporter.name} ({ctx.exporter.code}); {x.effect} "
                          "- UNCONFIRMED wording/scope, verify before relying on it"), \
                [(f"rule:{x.id}", f"the {x.title} does not cover this export from {ctx.exporter.name} ({ctx.exporter.code})")], \
                x.citations
    return False, "", [], []


# --------------------------------------------------------------------------- FDP paragraphs


@dataclass
class _ParaOutcome:
    """One foreign-direct-product paragraph evaluated for an item: caught, not caught or unknown, and why."""

    rule: FdpRule | None
    paragraph: str
    value: Tri  # caught?
    step: Step
    product: _CheckResult | None = None
    reach: _CheckResult | None = None
    missing: list[tuple[str, str]] = field(default_factory=list)
    would: str = ""


def _cites(r: FdpRule) -> list[Citation]:
    return list(r.citations) + [Citation(kind="seed", ref=s) for s in r.seeds]


def _eval_paragraph(ctx: _Ctx, paragraph: str, versions: list[FdpRule]) -> _ParaOutcome:
    r = next((v for v in versions if v.in_force(ctx.on)), None)
    if r is None:
        first = min(versions, key=lambda v: v.effective_from)
        last = max(versions, key=lambda v: v.effective_from)
        if ctx.on < first.effective_from:
            why = f"takes effect {first.effective_from}"
        else:
            why = f"no longer in force since {last.effective_to}"
        step = Step(name=f"FDP {paragraph}", outcome="not_in_force",
                    detail=f"§ {paragraph} ({first.title}) {why}; not in force on {ctx.on}",
                    inputs={"as_of": ctx.on.isoformat()}, citations=_cites(first))
        return _ParaOutcome(None, paragraph, False, step)
    prod = _product(ctx, r)
    reach = _reach(ctx, r) if prod.value is not False else _CheckResult(None, "not evaluated")
    both = _and(prod.value, reach.value)
    excl: Tri = False
    excl_text = ""
    excl_missing: list[tuple[str, str]] = []
    excl_cites: list[Citation] = []
    if both is not False:
        excl, excl_text, excl_missing, excl_cites = _exclusions(ctx, r.exclusions)
    value = _and(both, _not(excl))
    missing: list[tuple[str, str]] = []
    if value is None:
        missing = (prod.missing if prod.value is None else []) + (reach.missing if reach.value is None else []) \
            + (excl_missing if excl is None else [])
    if value is True and not r.confirmed:
        value = None
        missing = [(f"rule:{paragraph}", f"§ {paragraph} as encoded ({r.title}) applies on {ctx.on} "
                                         "(UNCONFIRMED in the reference base)")]
    if both is True and excl is True:
        outcome = "excluded"
    else:
        outcome = {True: "caught", False: "not_caught", None: "unknown"}[value]
    lines = [f"product scope: {'met' if prod.value else 'not met' if prod.value is False else 'unknown'} "
             f"({prod.text})"]
    if prod.value is not False:
        lines.append(f"destination/end-user scope: "
                     f"{'met' if reach.value else 'not met' if reach.value is False else 'unknown'} ({reach.text})")
    if excl_text:
        lines.append(f"exclusion: {excl_text}")
    if not r.confirmed:
        lines.append("this version is UNCONFIRMED in the reference base: a match is review")
    detail = f"§ {paragraph} {r.title}: " + "; ".join(lines)
    inputs: dict[str, Any] = {
        "eccn": ctx.eccn, "direct_product_of": ctx.item.direct_product_of,
        "plant_direct_product_of": ctx.item.plant_direct_product_of, "destination": ctx.dest.code,
        "exporter_country": ctx.exporter.code if ctx.exporter else None,
    }
    if r.reach.footnotes:
        inputs["footnote_parties"] = [f"{h.name} -> {h.entry_name} (fn {h.footnotes})" for h in ctx.hits
                                      if set(h.footnotes) & set(r.reach.footnotes)]
    step = Step(name=f"FDP {paragraph}", outcome=outcome, detail=detail, inputs=inputs,
                citations=_cites(r) + excl_cites)
    out = _ParaOutcome(r, paragraph, value, step, prod, reach, missing)
    if value is None:
        out.would = _would_change(ctx, r, prod, reach, missing)
    return out


def _would_change(ctx: _Ctx, r: FdpRule, prod: _CheckResult, reach: _CheckResult,
                  missing: list[tuple[str, str]]) -> str:
    conds = "; and ".join(dict.fromkeys(m[1] for m in missing))
    because = ""
    if reach.value is True:
        because = f" because {reach.text}"
    elif prod.value is True:
        because = f" because {prod.text}"
    cons = r.consequence
    then = f" -> {cons.outcome.value.replace('_', ' ')}: {cons.text}" if cons.outcome else \
        f" -> the item is subject to the EAR ({cons.text})"
    return f"if {conds}, § {r.paragraph} applies{because}{then}"


# --------------------------------------------------------------------------- de minimis


@dataclass
class _DmOutcome:
    """The de minimis step for an item: subject, not subject or unknown, with its steps and missing facts."""

    value: Tri  # subject?
    steps: list[Step]
    missing: list[tuple[str, str]]
    would: list[str]


def _eval_no_dm(ctx: _Ctx, nd: NoDeMinimis) -> _CheckResult:
    parts = _no_dm_scope(ctx, nd)
    if isinstance(parts, _CheckResult):
        return parts  # a scope test is False: the rule does not reach the item
    if nd.us_content_eccns is not None:
        parts.append(_no_dm_content(ctx, nd))
    if nd.contains_us_origin_ic is not None:
        parts.append(_no_dm_us_ic(ctx, nd))
    res = _combine(parts, "and") if parts else _CheckResult(True, "applies to every item")
    return _no_dm_finish(ctx, nd, res)


def _no_dm_scope(ctx: _Ctx, nd: NoDeMinimis) -> list[_CheckResult] | _CheckResult:
    """The scope tests of a no-de-minimis rule in order (item, destination, party footnotes, end use);
    the first False result is returned alone."""
    parts: list[_CheckResult] = []
    if nd.item_eccns is not None:
        parts.append(_item_scope(ctx, nd.item_eccns, nd.item_eccns_exclude, f"the {nd.id} item scope"))
        if parts[-1].value is False:
            return parts[-1]
    if nd.destinations is not None:
        v = _in_refs(ctx, ctx.dest_codes, nd.destinations)
        parts.append(_CheckResult(v, f"destination {_dest_label(ctx)} "
                                     + {True: "is", False: "is not", None: "may be"}[v] + f" within {nd.id}",
                                  [("destination", f"{nd.id} covers {_dest_label(ctx)} (UNCONFIRMED)")]))
        if v is False:
            return parts[-1]
    if nd.footnotes is not None:
        parts.append(_party_footnotes(ctx, nd.footnotes, None))
        if parts[-1].value is False:
            return parts[-1]
    if nd.end_use is not None:
        parts.append(_end_use(ctx, nd.end_use))
        if parts[-1].value is False:
            return parts[-1]
    return parts


def _no_dm_content(ctx: _Ctx, nd: NoDeMinimis) -> _CheckResult:
    """Does the U.S.-origin content include items of the rule's ECCNs (items[].us_content_eccns)?"""
    inc = ctx.comp.patterns(nd.us_content_eccns or [])
    exc = ctx.comp.patterns(nd.us_content_eccns_exclude)
    vals: list[str] | None = getattr(ctx.item, "us_content_eccns", None)
    fld = f"{ctx.f}.us_content_eccns"
    q = f"the U.S.-origin content includes items in {_fmt_eccns(inc)}"
    if vals is None:
        ask = nd.ask_when_item_in is None or (
            ctx.eccn is not None and _eccn_in(ctx.eccn, ctx.comp.patterns(nd.ask_when_item_in), ()) is not False)
        return (_CheckResult(None, "ECCNs of the U.S.-origin content not stated", [(fld, q)]) if ask else
                _CheckResult(False, "ECCNs of the U.S.-origin content not stated; the item's own ECCN does "
                                    f"not suggest {nd.id} content"))
    states = [_eccn_in(n, inc, exc) if (n := normalize_eccn(v)) else None for v in vals]
    return _CheckResult(_any(states), f"U.S.-origin content ECCNs {', '.join(vals) or 'none'}",
                        [(fld, q)], [Evidence(field=fld, value=list(vals))])


def _no_dm_us_ic(ctx: _Ctx, nd: NoDeMinimis) -> _CheckResult:
    """Does the item contain a U.S.-origin integrated circuit (items[].contains_us_origin_ic)?"""
    has: bool | None = getattr(ctx.item, "contains_us_origin_ic", None)
    fld = f"{ctx.f}.contains_us_origin_ic"
    if has is None:
        return _CheckResult(None, "whether the item contains a U.S.-origin IC is not stated",
                            [(fld, "the item contains a U.S.-origin integrated circuit")])
    return _CheckResult(has == nd.contains_us_origin_ic, f"contains a U.S.-origin IC: {has}",
                        evidence=[Evidence(field=fld, value=has)])


def _no_dm_finish(ctx: _Ctx, nd: NoDeMinimis, res: _CheckResult) -> _CheckResult:
    """The rule's exclusions, then the UNCONFIRMED flag (a rule applied as encoded but unconfirmed asks)."""
    if res.value is not False and nd.exclusions:
        ex, ex_text, ex_missing, _ = _exclusions(ctx, nd.exclusions)
        if ex is True:
            return _CheckResult(False, f"{res.text}; {ex_text}")
        if ex is None:
            res = _CheckResult(None, f"{res.text}; {ex_text}",
                               (res.missing if res.value is None else []) + ex_missing, res.evidence)
    if res.value is True and not nd.confirmed:
        res = _CheckResult(None, res.text, [(f"rule:{nd.id}", f"{nd.id} ({nd.title}) applies as encoded "
                                                             "(UNCONFIRMED in the reference base)")], res.evidence)
    return res


def _threshold(ctx: _Ctx) -> Threshold:
    for t in ctx.comp.pack.de_minimis.thresholds:
        if t.destinations is None or _in_refs(ctx, ctx.dest_codes, t.destinations) is not False:
            return t
    return ctx.comp.pack.de_minimis.thresholds[-1]  # pragma: no cover - the validator requires a default


def _de_minimis(ctx: _Ctx) -> _DmOutcome:
    dm = ctx.comp.pack.de_minimis
    steps: list[Step] = []
    missing: list[tuple[str, str]] = []
    would: list[str] = []
    caught_by: list[str] = []
    unknown_cases: list[tuple[NoDeMinimis, _CheckResult]] = []
    for nd in dm.no_de_minimis:
        if not nd.in_force(ctx.on):
            continue
        res = _eval_no_dm(ctx, nd)
        if res.value is False:
            continue
        outcome = "no_de_minimis" if res.value else "unknown"
        steps.append(Step(name=f"no de minimis {nd.id}", outcome=outcome,
                          detail=f"§ {nd.id} {nd.title}: {res.text}"
                                 + ("" if res.value else " - " + "; ".join(m[1] for m in res.missing)),
                          inputs={"eccn": ctx.eccn, "destination": ctx.dest.code},
                          citations=list(nd.citations)))
        if res.value:
            caught_by.append(nd.id)
        else:
            unknown_cases.append((nd, res))
    t = _threshold(ctx)
    pct = ctx.item.us_content_percent
    thr = f"{t.percent:g} %"
    base_inputs: dict[str, Any] = {"us_content_percent": pct, "destination": ctx.dest.code, "threshold": t.percent,
                                   "threshold_rule": t.id}
    value: Tri
    if caught_by:
        value = True
        detail = (f"no de minimis level applies ({', '.join('§ ' + c for c in caught_by)}): the item is subject to "
                  "the EAR whatever its U.S. content share")
    elif pct is None:
        value = None
        detail = (f"controlled U.S. content share not stated; threshold for {_dest_label(ctx)} is {thr} "
                  f"(§ {t.id})")
        missing.append((f"{ctx.f}.us_content_percent",
                        f"the controlled U.S.-origin content exceeds {thr} of the item's value"))
        would.append(f"if the controlled U.S.-origin content exceeds {thr} (destination {_dest_label(ctx)}, "
                     f"§ {t.id}), the item is subject to the EAR under de minimis; at or below {thr} it is not")
    elif pct > (t.alternative_percent if not t.confirmed and t.alternative_percent is not None else t.percent):
        value = True
        detail = f"controlled U.S. content {pct:g} % > {thr} threshold for {_dest_label(ctx)} (§ {t.id}): subject"
    elif pct > t.percent:
        value = None
        alt = f"{t.alternative_percent:g} %"
        detail = (f"controlled U.S. content {pct:g} % is above the {thr} threshold (§ {t.id}, UNCONFIRMED) but "
                  f"not above {alt}")
        missing.append((f"rule:{t.id}", f"the {thr} threshold of § {t.id} applies to {_dest_label(ctx)}"))
        would.append(f"if the {thr} threshold applies to {_dest_label(ctx)} (UNCONFIRMED), {pct:g} % U.S. content "
                     f"makes the item subject; under {alt} it is not")
    else:
        value = None if unknown_cases else False
        detail = (f"controlled U.S. content {pct:g} % <= {thr} threshold for {_dest_label(ctx)} (§ {t.id}): "
                  "not subject on de minimis grounds")
    if value is not True and unknown_cases:
        value = None
        for nd, res in unknown_cases:
            missing += res.missing
            conds = "; and ".join(dict.fromkeys(m[1] for m in res.missing))
            would.append(f"if {conds}, § {nd.id} ({nd.title}) removes de minimis and the item is subject to the EAR")
        detail += "; undecided no-de-minimis case(s): " + ", ".join("§ " + nd.id for nd, _ in unknown_cases)
    outcome = {True: "subject", False: "not_subject", None: "unknown"}[value]
    steps.insert(0, Step(name="de minimis", outcome=outcome, detail=detail, inputs=base_inputs,
                         citations=list(t.citations) + list(dm.citations)))
    return _DmOutcome(value, steps, missing, would)


# --------------------------------------------------------------------------- assess


def _label(item: Item, idx: int) -> str:
    return f"item {idx} ({item.description}{', ' + item.eccn if item.eccn else ''})"


_ECCN_NORMS: dict[str, str | None] = {}  # ECCN text as given -> normalize_eccn of it (cleared when full)


def _normal_eccn(text: str) -> str | None:
    """``normalize_eccn(text)``, memoised (a function of the text alone; orders repeat a few hundred ECCNs)."""
    try:
        return _ECCN_NORMS[text]
    except KeyError:
        pass
    if len(_ECCN_NORMS) >= 4096:
        _ECCN_NORMS.clear()
    got = _ECCN_NORMS[text] = normalize_eccn(text)
    return got


def assess_parts(item: Item, item_index: int, shipment: Shipment, destination: Country, party_hits: list[PartyFact],
                 registry: Registry, as_of: dt.date) -> tuple[str, str, list[Step], list[Finding]]:
    """``assess`` as (status, summary, steps, findings), new lists the caller may keep. A U.S.-origin or
    U.S.-located item decided from the memo of those steps is answered without building a result model
    (the engine builds its own per line; issue 14: two model builds a line); anything else goes through
    :func:`assess`."""
    found = _compiled_for(registry)
    if found is not None:
        ix: _ItarIndex | None = getattr(registry, _ITAR_ATTR, None)
        if ix is None or _itar_facts(ix, item, item_index) is None:
            got = _memo_hit(found[0], item, shipment, as_of)
            if got is not None:
                return "subject", got[1], got[0], []
    jr = assess(item, item_index, shipment, destination, party_hits, registry, as_of)
    return jr.status, jr.summary, list(jr.steps), list(jr.findings)


def _memo_hit(comp: _Compiled, item: Item, shipment: Shipment, as_of: dt.date) -> tuple[list[Step], str] | None:
    """The steps (a new list) and summary of a U.S.-origin item (step 1) or a U.S.-located one (step 2)
    decided before for the same facts: those steps read the origin as written, the exporter country as
    written (location) and the date's territory interval alone (see assess_ear); None when not memoised."""
    tix = comp.territory_iv.index(as_of)
    if item.origin:
        got = comp.origin_memo.get((item.origin, tix))
        if got is not None:
            return [got[0]], got[1]
    loc = comp.location_memo.get((item.origin, shipment.exporter_country, tix))
    if loc is not None:
        return [loc[0], loc[1]], loc[2]
    return None


def assess(item: Item, item_index: int, shipment: Shipment, destination: Country, party_hits: list[PartyFact],
           registry: Registry, as_of: dt.date) -> JurisdictionResult:
    """Decide whether ``item`` is subject to the EAR, step by step (see the module docstring)."""
    found = _compiled_for(registry)
    if found is None:
        return JurisdictionResult(
            status="unknown", summary="undetermined: no jurisdiction pack loaded",
            steps=[Step(name="jurisdiction pack", outcome="unknown", deciding=True,
                        detail="no kind: jurisdiction pack is loaded; cannot decide whether the item is subject")],
            findings=[Finding(rule_id="JUR-INDETERMINATE", pack_id="(none)", outcome=Outcome.review,
                              title="Jurisdiction undetermined - no jurisdiction pack loaded",
                              message=f"Cannot decide whether {_label(item, item_index)} is subject to the EAR: "
                                      "no jurisdiction pack (rules/us-ear/jurisdiction.yaml) is loaded.",
                              item_index=item_index,
                              citations=[Citation(kind="regulation", ref="15 CFR 734.3(a)")])])
    comp, lp = found
    exporter = resolve(shipment.exporter_country) if shipment.exporter_country else resolve("US")
    eccn = _normal_eccn(item.eccn) if item.eccn else None
    # 0. subject to the ITAR instead (15 CFR 734.3(b)(1)(i))
    itar_conflict: JurisdictionResult | None = None
    ix: _ItarIndex | None = getattr(registry, _ITAR_ATTR, None)
    if ix is not None:
        facts = _itar_facts(ix, item, item_index)
        if facts is not None:
            ir = _itar_result(ix, facts, item, item_index, destination, eccn, registry, as_of)
            if ir is not None and ir.status == "not_subject":
                return ir
            itar_conflict = ir
    if itar_conflict is not None:
        res = assess_ear(item, item_index, shipment, destination, party_hits, registry, as_of, comp, lp, exporter, eccn)
        res.steps = itar_conflict.steps + res.steps
        res.findings = itar_conflict.findings + res.findings
        return res
    return assess_ear(item, item_index, shipment, destination, party_hits, registry, as_of, comp, lp, exporter, eccn)


def assess_ear(item: Item, item_index: int, shipment: Shipment, destination: Country, party_hits: list[PartyFact],
               registry: Registry, as_of: dt.date, comp: _Compiled, lp: LoadedPack, exporter: Country | None,
               eccn: str | None) -> JurisdictionResult:
    """The EAR chain: origin, location, de minimis, FDP paragraphs (see the module docstring)."""
    reg = registry
    # step 1 decides a U.S.-origin item from the origin as written, the date (territory mappings: keyed by
    # their interval) and this pack alone: that result is memoised (a new result object, its one Step shared:
    # steps are only read)
    tix = comp.territory_iv.index(as_of)
    memo_key = (item.origin, tix) if item.origin else None
    loc_key = (item.origin, shipment.exporter_country, tix)
    hit = _memo_hit(comp, item, shipment, as_of)
    if hit is not None:  # a new result object (callers may extend its lists) of values validated before
        return built(JurisdictionResult, {"status": "subject", "steps": hit[0], "findings": [], "summary": hit[1]})
    ctx = _Ctx(comp=comp, pack_id=lp.info.id, item=item, idx=item_index, shipment=shipment, dest=destination,
               dest_codes=_codes(destination, reg, as_of), exporter=exporter,
               exporter_codes=_codes(exporter, reg, as_of) if exporter else frozenset(), hits=list(party_hits),
               on=as_of, eccn=eccn)
    steps: list[Step] = []
    missing: list[tuple[str, str]] = []
    would: list[str] = []

    # 1. origin
    origin = resolve(item.origin) if item.origin else None
    decided = _origin_step(ctx, origin, reg, steps)
    if decided is not None:
        if memo_key is not None and len(decided.steps) == 1:
            if len(comp.origin_memo) >= ORIGIN_MEMO_SIZE:
                comp.origin_memo.clear()
            comp.origin_memo[memo_key] = (decided.steps[0], decided.summary)
        return decided
    # 2. location
    decided = _location_step(ctx, steps, missing, would)
    if decided is not None:
        # steps 1 (origin: foreign or not stated) and 2 (location: the United States) read only the origin
        # and exporter_country as written and the date's territory mappings: memoised (exact)
        if len(decided.steps) == 2 and decided.status == "subject" and not decided.findings:
            if len(comp.location_memo) >= ORIGIN_MEMO_SIZE:
                comp.location_memo.clear()
            comp.location_memo[loc_key] = (decided.steps[0], decided.steps[1], decided.summary)
        return decided
    # 3. de minimis
    dm = _de_minimis(ctx)
    steps += dm.steps
    # 4. FDP paragraphs
    paras = [_eval_paragraph(ctx, p, vs) for p, vs in comp.paragraphs.items()]
    steps += [p.step for p in paras]

    caught = [p for p in paras if p.value is True]
    unknown_paras = [p for p in paras if p.value is None]
    findings: list[Finding] = []
    status: Literal["subject", "not_subject", "unknown"]
    if dm.value is True or caught:
        status = "subject"
        summary = _conclude_subject(ctx, dm, paras, caught, origin, findings)
    elif dm.value is None or unknown_paras or origin is None or exporter is None:
        status = "unknown"
        summary = _conclude_unknown(ctx, dm, paras, unknown_paras, origin, steps, missing, would, findings)
    else:
        status = "not_subject"
        summary = _conclude_not_subject(item, paras, steps)
    steps.append(Step(name="conclusion", outcome=status, detail=summary, deciding=True,
                      citations=[Citation(kind="regulation", ref="15 CFR 734.3(a)")]))
    return JurisdictionResult(status=status, steps=steps, findings=findings, summary=summary)


def _origin_step(ctx: _Ctx, origin: Country | None, reg: Registry, steps: list[Step]) -> JurisdictionResult | None:
    """Step 1: a U.S.-origin item is subject wherever it is (the result); otherwise the step is noted."""
    pack, item = ctx.comp.pack, ctx.item
    origin_codes = _codes(origin, reg, ctx.on) if origin else frozenset()
    us_origin: Tri = None if origin is None else bool(origin_codes & ctx.comp.us_codes)
    o_cites = list(pack.origin_rule.citations)
    if us_origin:
        steps.append(Step(name="origin", outcome="subject", deciding=True, inputs={"origin": item.origin},
                          detail=f"U.S.-origin item ({origin.code if origin else item.origin}): subject to the EAR "
                                 "wherever located", citations=o_cites))
        return JurisdictionResult(status="subject", steps=steps,
                                  summary=f"subject to the EAR: U.S.-origin item ({pack.origin_rule.citations[0].ref})")
    if origin is None:
        why = "not stated" if not item.origin else f"{item.origin!r} is not a known country"
        steps.append(Step(name="origin", outcome="unknown", inputs={"origin": item.origin}, citations=o_cites,
                          detail=f"origin {why}: if U.S.-origin the item is subject to the EAR; the foreign-item "
                                 "tests follow"))
    else:
        steps.append(Step(name="origin", outcome="foreign", inputs={"origin": item.origin}, citations=o_cites,
                          detail=f"foreign-made item ({origin.name}, {origin.code}): not subject by origin; "
                                 "location, de minimis and FDP tests follow"))
    return None


def _location_step(ctx: _Ctx, steps: list[Step], missing: list[tuple[str, str]], would: list[str]
                   ) -> JurisdictionResult | None:
    """Step 2: an item in the United States is subject (the result); otherwise the step is noted."""
    pack, shipment, exporter = ctx.comp.pack, ctx.shipment, ctx.exporter
    l_cites = list(pack.location_rule.citations)
    if exporter is None:
        steps.append(Step(name="location", outcome="unknown", inputs={"exporter_country": shipment.exporter_country},
                          citations=l_cites,
                          detail=f"exporting country {shipment.exporter_country!r} not known: if the item is in the "
                                 "United States it is subject to the EAR"))
        missing.append(("exporter_country", "the item is in the United States"))
        would.append("if the item is exported from the United States, it is subject to the EAR (§ 734.3(a)(1))")
    elif ctx.exporter_codes & ctx.comp.us_codes:
        where = "not stated (default United States)" if not shipment.exporter_country else exporter.code
        steps.append(Step(name="location", outcome="subject", deciding=True,
                          inputs={"exporter_country": shipment.exporter_country}, citations=l_cites,
                          detail=f"exported from the United States (exporter_country {where}): every item in the "
                                 "United States is subject to the EAR, whatever its origin"))
        return JurisdictionResult(status="subject", steps=steps,
                                  summary="subject to the EAR: item in the United States "
                                          f"({pack.location_rule.citations[0].ref})")
    else:
        steps.append(Step(name="location", outcome="abroad", inputs={"exporter_country": shipment.exporter_country},
                          citations=l_cites,
                          detail=f"re-exported from {exporter.name} ({exporter.code}): outside the United States"))
    return None


def _conclude_subject(ctx: _Ctx, dm: _DmOutcome, paras: list[_ParaOutcome], caught: list[_ParaOutcome],
                      origin: Country | None, findings: list[Finding]) -> str:
    """Subject to the EAR by de minimis or an FDP paragraph: mark the deciding steps, the summary."""
    for s in dm.steps:
        if dm.value is True and s.outcome in ("subject", "no_de_minimis"):
            s.deciding = True
    for p in caught:
        p.step.deciding = True
    for p in paras:
        if p.step.outcome == "excluded":
            p.step.deciding = True
    reasons = (["de minimis"] if dm.value is True else []) + [f"§ {p.paragraph}" for p in caught]
    summary = f"subject to the EAR: {', '.join(reasons)}"
    if origin is None:
        summary += " (whatever the item's origin)"
    findings += [_para_finding(ctx, p) for p in caught if p.rule and p.rule.consequence.outcome]
    return summary


def _conclude_unknown(ctx: _Ctx, dm: _DmOutcome, paras: list[_ParaOutcome], unknown_paras: list[_ParaOutcome],
                      origin: Country | None, steps: list[Step], missing: list[tuple[str, str]], would: list[str],
                      findings: list[Finding]) -> str:
    """Undetermined: the facts that would decide it, as one JUR-INDETERMINATE finding."""
    if origin is None:
        missing.insert(0, (f"{ctx.f}.origin", "the item is of U.S. origin"))
        would.insert(0, "if the item is of U.S. origin, it is subject to the EAR (§ 734.3(a)(2))")
    for s in dm.steps:
        if s.outcome == "unknown":
            s.deciding = True
    missing += dm.missing
    would += dm.would
    for p in paras:
        if p.value is None or p.step.outcome == "excluded":
            p.step.deciding = True
    for p in unknown_paras:
        missing += p.missing
        would.append(p.would)
    for s in steps:
        if s.name in ("origin", "location") and s.outcome == "unknown":
            s.deciding = True
    facts = list(dict.fromkeys(m[0] for m in missing))
    findings.append(_indeterminate(ctx, missing, would, [s for s in steps if s.deciding]))
    return f"undetermined: missing {', '.join(facts)}"


def _conclude_not_subject(item: Item, paras: list[_ParaOutcome], steps: list[Step]) -> str:
    """Not subject: foreign-made, abroad, within de minimis, no FDP paragraph reaches it."""
    for s in steps:
        if s.name in ("origin", "location", "de minimis") or s.outcome == "excluded":
            s.deciding = True
    excluded = [p.paragraph for p in paras if p.step.outcome == "excluded"]
    pct = item.us_content_percent
    summary = (f"not subject to the EAR: foreign-made item abroad, U.S. content {pct:g} % within de minimis, "
               f"no FDP paragraph reaches it" if pct is not None else
               "not subject to the EAR: foreign-made item abroad, no de minimis or FDP reach")
    if excluded:
        summary += f" (excluded by exporting country: {', '.join('§ ' + e for e in excluded)})"
    return summary


def _para_finding(ctx: _Ctx, p: _ParaOutcome) -> Finding:
    r = p.rule
    assert r is not None and r.consequence.outcome is not None and p.product and p.reach
    cons = r.consequence
    msg = (f"{_label(ctx.item, ctx.idx)} is a foreign-produced item caught by § {r.paragraph} ({r.title}): "
           f"{p.product.text}; {p.reach.text}. Consequence: {cons.text}.")
    return Finding(rule_id=r.rule_id, pack_id=ctx.pack_id, outcome=cons.outcome, title=cons.title, message=msg,
                   item_index=ctx.idx, evidence=p.product.evidence + p.reach.evidence,
                   citations=_cites(r) + list(cons.citations), effective_from=r.effective_from,
                   effective_to=r.effective_to, notes=list(r.notes) + list(r.product.notes) + list(r.reach.notes),
                   steps=[p.step])


def _indeterminate(ctx: _Ctx, missing: list[tuple[str, str]], would: list[str], steps: list[Step]) -> Finding:
    ind = ctx.comp.pack.indeterminate
    facts = list(dict.fromkeys(m[0] for m in missing))
    sentences = list(dict.fromkeys(w for w in would if w))
    msg = (f"Cannot decide whether {_label(ctx.item, ctx.idx)} is subject to the EAR: missing "
           f"{', '.join(facts)}. " + " ".join(s[0].upper() + s[1:] + "." for s in sentences))
    ev = [Evidence(field=f, value=None, detail="missing: " + "; ".join(dict.fromkeys(m[1] for m in missing if m[0] == f)))
          for f in facts]
    cites: list[Citation] = list(ind.citations)
    for s in steps:
        for c in s.citations:
            if c not in cites:
                cites.append(c)
    return Finding(rule_id=ind.rule_id, pack_id=ctx.pack_id, outcome=Outcome.review, title=ind.title, message=msg,
                   item_index=ctx.idx, evidence=ev, citations=cites, steps=list(steps),
                   notes=["Answer the missing facts (or attach the FDP due-diligence certificate of Supplement No. 1 "
                          "to part 734) to decide."])


def explain(result: JurisdictionResult, full: bool = False) -> list[str]:
    """Text lines of the chain: the deciding steps (default) or every step (``full``)."""
    out = []
    for s in result.steps:
        if full or s.deciding:
            cite = ", ".join(c.ref for c in s.citations[:3])
            out.append(f"[{s.outcome}] {s.name}: {s.detail}" + (f" ({cite})" if cite else ""))
    return out

