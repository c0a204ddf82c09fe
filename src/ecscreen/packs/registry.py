"""Rule packs: declarative YAML under ``rules/`` loaded into pydantic models.

A pack file has a ``kind`` (default ``rules``) and a ``pack`` metadata block. Each kind has
its own model, registered with :func:`register_kind`; the loader dispatches on ``kind``,
rejects unknown keys, duplicate ids, unknown list names and bad dates, naming file and line.

Kinds handled here: ``rules`` (generic rules with conditions) and ``country_groups``
(EAR Country Groups with dated membership changes and territory mappings). Other modules
register their own kinds (party lists, the Commerce Country Chart, jurisdiction data).
"""

# No ``from __future__ import annotations`` here (issue 10): pydantic evaluates string annotations one
# by one when it creates a model class (a compile and an eval each); written as expressions they cost
# nothing more, ~25 % less per class, ~11 ms CPU of every check over these modules' ~80 pack and
# result models. Forward references (a class defined further down) are quoted.

import builtins
import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ecscreen.domain.countries import resolve
from ecscreen.errors import PackError
from ecscreen.model import Citation, ItemCategory, Outcome, PackInfo, StrictModel, new_list
from ecscreen.packs import yamlio
from ecscreen.settings import package_file

MESSAGE_PLACEHOLDERS = frozenset({"destination", "destination_name", "description", "eccn", "origin", "end_use",
                                  "as_of", "matched", "exporter", "parties", "item", "hts_code"})
ECCN_RE = re.compile(r"^(?P<base>[0-9][A-Ea-e][0-9]{3})(?P<paras>(\.[A-Za-z0-9]+)*)$")


def normalize_eccn(text: str) -> str | None:
    """``3a090.A.1`` -> ``3A090.a.1``; ``ear99`` -> ``EAR99``; None if malformed."""
    t = text.strip().replace(" ", "")
    if t.upper() == "EAR99":
        return "EAR99"
    m = ECCN_RE.match(t)
    if not m:
        return None
    return m.group("base").upper() + m.group("paras").lower()


class Strict(StrictModel):
    """Pack models: the one strict model base (:class:`ecscreen.model.StrictModel`, unknown keys rejected)."""


class PackMeta(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: str
    jurisdiction: str = Field(description="Regime whose law the pack states: US-EAR, US-OFAC, JP-FEFTA, NL-SE...")
    title: str
    description: str | None = None
    sources: list[Citation] = Field(default_factory=new_list)
    seeds: list[str] = Field(default_factory=new_list, description="seeds/MANIFEST.yaml ids this pack draws on")
    as_of: dt.date | None = Field(default=None, description="Date the pack's content was checked against")


# --------------------------------------------------------------------------- conditions

ListRef = str  # "CN", "group:D:5", "list:name"


class Cond(Strict):
    """One condition node. Exactly one key must be set.

    Shipment-level: ``destination_in``, ``exporter_in``, ``end_use_has``, ``party_country_in``,
    ``party_hit``, ``party_name_in``. Item-level: ``eccn_in``, ``eccn_unclassified``,
    ``description_has``, ``param``, ``origin_in``, ``fact_missing``. Combinators: ``all``,
    ``any``, ``not``.
    """

    all: "list[Cond] | None" = None
    any: "list[Cond] | None" = None
    not_: "Cond | None" = Field(default=None, alias="not")
    destination_in: list[ListRef] | None = None
    exporter_in: list[ListRef] | None = None
    origin_in: list[ListRef] | None = None
    eccn_in: list[str] | None = None
    eccn_unclassified: bool | None = Field(default=None, description="true: ECCN missing or EAR99")
    description_has: list[str] | None = None
    end_use_has: "PhraseCond | list[str] | None" = None
    param: "ParamCond | None" = None
    party_country_in: "PartyCountryCond | None" = None
    party_name_in: "PartyNameCond | None" = None
    party_hit: "PartyHitCond | None" = None
    fact_missing: Literal[
        "eccn", "origin", "us_content_percent", "direct_product_of", "end_use", "parties", "end_user", "hts_code"
    ] | None = None
    policy: Literal["enforced", "cfr-text"] | None = Field(
        default=None, description="true when the run's --policy is this one (ecscreen.domain.policy): for codified "
        "text BIS does not enforce")
    hts_in: list[str] | None = Field(
        default=None, description="item's HTS code starts with one of these prefixes (digits; 'list:name' refs "
        "to a `hts` list); a missing hts_code is unknown (fail closed)")
    category_in: list[ItemCategory] | None = Field(
        default=None, description="the item's stated category (items[].category) is one of these. A category "
        "the shipment does not state is not met: it is what the shipper claims to be eligible for an "
        "authorisation, never assumed")
    license_exception_in: list[str] | None = Field(
        default=None, description="the item claims one of these licence exceptions (items[].license_exception, "
        "symbol such as AGR); no claim is not met")

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    @model_validator(mode="after")
    def _one_key(self) -> "Cond":
        n = sum(1 for k in type(self).model_fields if getattr(self, k) is not None)
        if n != 1:
            raise ValueError(f"a condition must have exactly one key, found {n}")
        return self

    @field_validator("eccn_in")
    @classmethod
    def _eccns(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        out = []
        for e in v:
            if e.startswith("list:"):
                out.append(e)
                continue
            n = normalize_eccn(e)
            if n is None or n == "EAR99":
                raise ValueError(f"not an ECCN pattern: {e!r}")
            out.append(n)
        return out


IF_MISSING_DOC = (
    "What a missing fact makes the condition. Default `unknown` (fail closed: the rule becomes `review` "
    "naming the fact). `false` opts out and needs a `reason` saying why the regulation makes the fact irrelevant."
)


class FactCond(Strict):
    """A condition on a shipment fact that may be missing (fail closed by default)."""

    if_missing: Literal["false", "unknown"] = Field(default="unknown", description=IF_MISSING_DOC)
    reason: str | None = Field(default=None, description="Why a missing fact may count as not met (if_missing: false)")

    @field_validator("if_missing", mode="before")
    @classmethod
    def _if_missing(cls, v: Any) -> Any:
        return "false" if v is False else v  # YAML `false` is the boolean

    @model_validator(mode="after")
    def _opt_out_reason(self) -> "FactCond":
        if self.if_missing == "false" and not (self.reason or "").strip():
            raise ValueError("if_missing: false opts out of failing closed and needs a `reason` "
                             "(why the regulation makes the missing fact irrelevant)")
        if self.reason is not None and self.if_missing != "false":
            raise ValueError("`reason` is only for if_missing: false")
        return self


class PhraseCond(FactCond):
    phrases: list[str]


class ParamCond(FactCond):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Parameter name (lower case, as declared)")
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    eq: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> "ParamCond":
        if all(getattr(self, k) is None for k in ("gt", "gte", "lt", "lte", "eq")):
            raise ValueError("param condition needs at least one of gt, gte, lt, lte, eq")
        return self


class ParamDecl(Strict):
    """A technical parameter shipments may give (``items[].parameters``), declared by a pack."""

    type: Literal["number", "boolean"] = Field(
        default="number", description="number: finite, >= 0; boolean: true/false (or 1/0)")
    unit: str | None = None
    description: str


class PartyCountryCond(FactCond):
    """A named party (in ``roles``) is located in one of ``countries``. A party named without a
    country is a missing fact (``if_missing``, default unknown)."""

    countries: list[ListRef]
    roles: list[str] | None = None


class PartyNameCond(Strict):
    list: str
    roles: builtins.list[str] | None = None
    min_score: float = Field(default=90, ge=50, le=100)


class PartyHitCond(Strict):
    """A party matched the screening lists (party screening runs before the rules)."""

    sources: list[str] | None = Field(default=None, description="list codes, e.g. EL, SDN, MEU")
    footnotes: list[int] | None = Field(default=None, description="Entity List FDP footnotes 1-5")
    roles: list[str] | None = None


# (forward references resolved when the schema is first built: the models defer their build)


# --------------------------------------------------------------------------- rules kind


class Authorisation(Strict):
    """A general authorisation that covers a rule's finding for the items it fits: an OFAC general
    licence, an EAR licence exception, or an exclusion the regulation itself writes into the licence
    requirement (e.g. EAR99 food and medicine). With ``confirm`` the authorisation depends on
    conditions the shipment facts cannot show: the finding becomes ``review`` naming them instead of
    being covered."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    kind: Literal["general_license", "license_exception", "exclusion"]
    ref: str = Field(description="What authorises it, e.g. '31 CFR 560.530(a)(1)' or 'License Exception AGR'")
    when: Cond = Field(description="Item-level condition the authorisation needs (evaluated per item)")
    detail: str = Field(description="Why the item is authorised (placeholders as in rule messages)")
    confirm: str | None = Field(
        default=None, description="Conditions the facts cannot show: the finding becomes review naming them")
    citations: list[Citation] = Field(min_length=1)
    effective_from: dt.date | None = None
    effective_to: dt.date | None = Field(default=None, description="first day it no longer applies")
    notes: list[str] = Field(default_factory=new_list)

    def in_force(self, on: dt.date) -> bool:
        return (self.effective_from is None or self.effective_from <= on) and (
            self.effective_to is None or on < self.effective_to)


class NamedList(Strict):
    type: Literal["countries", "eccns", "phrases", "names", "hts"]
    members: list[str] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=new_list)
    not_within: list[str] = Field(
        default_factory=new_list, description="phrases lists: a member found inside one of these phrases is not a "
        "hit (the word in another sense, e.g. PLA in 'PLA filament', polylactic acid)")
    description: str | None = None
    citations: list[Citation] = Field(default_factory=new_list)


class Rule(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    title: str
    outcome: Outcome
    when: Cond
    message: str
    citations: list[Citation] = Field(min_length=1)
    seeds: list[str] = Field(default_factory=new_list)
    effective_from: dt.date
    effective_to: dt.date | None = Field(default=None, description="first day the rule no longer applies")
    notes: list[str] = Field(default_factory=new_list)
    subject_to_ear_only: bool = Field(
        default=True,
        description="US-EAR rules apply only to items subject to the EAR (jurisdiction step); "
        "false for rules that apply regardless (e.g. allied regimes, OFAC)",
    )
    authorisations: list[Authorisation] = Field(
        default_factory=new_list, description="General authorisations that cover the finding for the items they fit "
        "(first that fits wins; a shipment-level finding is covered when every item is)")

    @field_validator("outcome")
    @classmethod
    def _not_clear(cls, v: Outcome) -> Outcome:
        if v == Outcome.clear:
            raise ValueError("a rule's outcome cannot be 'clear'")
        return v

    @model_validator(mode="after")
    def _dates(self) -> "Rule":
        if self.effective_to and self.effective_to <= self.effective_from:
            raise ValueError("effective_to must be after effective_from")
        return self

    def in_force(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on < self.effective_to)


class RulesPack(Strict):
    kind: Literal["rules"] = "rules"
    pack: PackMeta
    parameters: dict[str, ParamDecl] = Field(
        default_factory=dict, description="Technical parameters the pack reads (also declared by `param` conditions)")
    lists: dict[str, NamedList] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=new_list)


# --------------------------------------------------------------------------- country groups


class GroupChange(Strict):
    country: str
    change: Literal["add", "remove"]
    date: dt.date
    citations: list[Citation] = Field(min_length=1)


class CountryGroup(Strict):
    title: str
    members: list[str]
    changes: list[GroupChange] = Field(default_factory=new_list)
    citations: list[Citation] = Field(default_factory=new_list)
    notes: list[str] = Field(default_factory=new_list)


class Territory(Strict):
    treat_as: str
    effective_from: dt.date
    effective_to: dt.date | None = None
    citations: list[Citation] = Field(min_length=1)


class CountryGroupsPack(Strict):
    kind: Literal["country_groups"]
    pack: PackMeta
    snapshot_date: dt.date = Field(description="date the member lists state (changes are applied around it)")
    groups: dict[str, CountryGroup]
    territories: dict[str, Territory] = Field(default_factory=dict)


# --------------------------------------------------------------------------- registry


@dataclass
class LoadedPack:
    """One loaded pack: its report info, its validated model, its file and the line of each rule."""

    info: PackInfo
    model: Any
    path: Path
    rule_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class Registry:
    """Every pack loaded, indexed for the engine."""

    packs: list[LoadedPack] = field(default_factory=list)
    groups: dict[str, CountryGroup] = field(default_factory=dict)
    groups_snapshot: dt.date | None = None
    # technical parameters the packs read: name -> declaration (from `parameters:` tables and `param` conditions)
    parameters: "dict[str, DeclaredParam]" = field(default_factory=dict)
    territories: dict[str, Territory] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. user packs replacing shipped ones
    _kinds: dict[str, list[LoadedPack]] = field(default_factory=dict, repr=False)
    _kinds_n: int = field(default=-1, repr=False)

    def of_kind(self, kind: str) -> list[LoadedPack]:
        n = len(self.packs)
        if self._kinds_n != n:  # packs are appended while loading; index again when that changed
            self._kinds = {}
            for p in self.packs:
                self._kinds.setdefault(getattr(p.model, "kind", "rules"), []).append(p)
            self._kinds_n = n
        return self._kinds.get(kind, [])

    @property
    def rule_packs(self) -> list[RulesPack]:
        return [p.model for p in self.of_kind("rules")]

    @property
    def infos(self) -> list[PackInfo]:
        return [p.info for p in self.packs]

    # --- country groups with dates
    def group_members(self, name: str, on: dt.date) -> frozenset[str]:
        return _group_members(self, name, on)

    def territory_parents(self, code: str, on: dt.date) -> list[str]:
        t = self.territories.get(code)
        if t and t.effective_from <= on and (t.effective_to is None or on < t.effective_to):
            return [t.treat_as]
        return []

    def expand(self, refs: list[str], lists: dict[str, NamedList], on: dt.date) -> frozenset[str]:
        """Expand country refs (codes, ``group:X``, ``list:name``) to a set of codes at a date."""
        out: set[str] = set()
        for r in refs:
            if r.startswith("group:"):
                out |= self.group_members(r[6:], on)
            elif r.startswith("list:"):
                nl = lists[r[5:]]
                out |= self.expand(nl.members, lists, on) - self.expand(nl.exclude, lists, on)
            else:
                out.add(r)
        return frozenset(out)


@dataclass(frozen=True)
class DeclaredParam:
    """An item parameter declared by the packs: its type, unit, description and the packs that declare it."""

    name: str
    type: str  # number | boolean
    unit: str | None
    description: str | None
    packs: tuple[str, ...]


def _declare_parameters(staged: list[tuple[LoadedPack, dict[str, int]]], reg: Registry) -> None:
    """The parameters the packs read: every `parameters:` table first, then every `param` condition
    (a parameter only used in conditions is a number)."""
    decls: dict[str, tuple[ParamDecl, str, str]] = {}  # name -> (declaration, pack id, file)
    for lp, _ in staged:
        m: RulesPack = lp.model
        for name, decl in m.parameters.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise PackError(f"parameter name {name!r}: lower case letters, digits and _ only",
                                file=lp.info.path, field=f"parameters.{name}")
            if name in decls and decls[name][0].type != decl.type:
                raise PackError(f"parameter {name!r} declared {decl.type} here and {decls[name][0].type} in "
                                f"{decls[name][2]}", file=lp.info.path, field=f"parameters.{name}")
            decls.setdefault(name, (decl, m.pack.id, lp.info.path))
    used: dict[str, list[str]] = {}
    for lp, lines in staged:
        m = lp.model
        for i, rule in enumerate(m.rules):
            for path_s, cond in _walk(rule.when, f"rules[{i}].when"):
                pc = cond.param
                if pc is None:
                    continue
                used.setdefault(pc.name, [])
                if m.pack.id not in used[pc.name]:
                    used[pc.name].append(m.pack.id)
                d = decls.get(pc.name)
                if d is not None and d[0].type == "boolean":
                    bounds = [getattr(pc, k) for k in ("gt", "gte", "lt", "lte") if getattr(pc, k) is not None]
                    if bounds or pc.eq not in (0, 1):
                        raise PackError(f"parameter {pc.name!r} is boolean: test it with eq: 1 (true) or eq: 0 (false)",
                                        file=lp.info.path, line=lines.get(f"rules[{i}]"), field=path_s)
    for name in sorted(set(decls) | set(used)):
        d = decls.get(name)
        packs = tuple(dict.fromkeys(([d[1]] if d else []) + used.get(name, [])))
        reg.parameters[name] = DeclaredParam(name=name, type=d[0].type if d else "number",
                                             unit=d[0].unit if d else None,
                                             description=d[0].description if d else None, packs=packs)


def _group_members(reg: Registry, name: str, on: dt.date) -> frozenset[str]:
    g = reg.groups[name]
    # membership only changes on change dates: cache per interval between them, not per day
    key = (id(reg), name, sum(1 for ch in g.changes if ch.date <= on))
    hit = _GROUP_CACHE.get(key)
    if hit is not None:
        return hit
    members = set(g.members)
    snap = reg.groups_snapshot or dt.date.max
    # changes after the date being asked about are undone; changes before the snapshot are in the list
    for ch in sorted(g.changes, key=lambda c: c.date, reverse=True):
        if on < ch.date <= snap:  # change happened after `on` but is reflected in the snapshot: undo it
            if ch.change == "add":
                members.discard(ch.country)
            else:
                members.add(ch.country)
    for ch in sorted(g.changes, key=lambda c: c.date):
        if snap < ch.date <= on:  # change after the snapshot that is in force at `on`: apply it
            if ch.change == "add":
                members.add(ch.country)
            else:
                members.discard(ch.country)
    out = frozenset(members)
    _GROUP_CACHE[key] = out
    return out


_GROUP_CACHE: dict[tuple[int, str, int], frozenset[str]] = {}

# kind -> (model, post-load hook(registry, loaded pack, raw data))
KindHook = Callable[[Registry, LoadedPack, Any], None]
_KINDS: dict[str, tuple[type[BaseModel], KindHook | None]] = {}


def register_kind(kind: str, model: type[BaseModel], hook: KindHook | None = None) -> None:
    _KINDS[kind] = (model, hook)


def _groups_hook(reg: Registry, lp: LoadedPack, raw: Any) -> None:
    m: CountryGroupsPack = lp.model
    for name in m.groups:
        if name in reg.groups:
            raise PackError(f"country group {name!r} defined twice", file=str(lp.path))
    if reg.groups_snapshot is not None and reg.groups_snapshot != m.snapshot_date:
        raise PackError(f"country group packs state different snapshot dates ({reg.groups_snapshot} and "
                        f"{m.snapshot_date}): one registry has one snapshot", file=str(lp.path))
    reg.groups.update(m.groups)
    reg.groups_snapshot = m.snapshot_date
    reg.territories.update(m.territories)


register_kind("rules", RulesPack)
register_kind("country_groups", CountryGroupsPack, _groups_hook)


def default_rules_dir() -> Path:
    """The packs shipped with ecscreen: inside the wheel, or the repo's rules/ in a checkout."""
    packaged = Path(str(package_file("rules")))
    if packaged.is_dir():
        return packaged
    repo = Path(__file__).resolve().parents[3] / "rules"
    if repo.is_dir():
        return repo
    raise PackError("no rule packs found (neither packaged ecscreen/rules nor ./rules)")


def pack_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise PackError("rules path not found", file=str(root))
    out = []
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() not in (".yaml", ".yml", ".json") or p.is_dir():
            continue
        if not p.is_file():  # FIFO, socket, device or broken link: never skipped silently, never opened
            what = "a broken link" if not p.exists() else "not a regular file"
            raise PackError(f"cannot read pack file: {what}", file=str(p))
        out.append(p)
    return out


def _ensure_modules() -> None:
    """Import the modules that register pack kinds of their own."""
    import importlib

    for mod in ("parties.screening", "engine.chart", "engine.jurisdiction"):
        importlib.import_module(f"ecscreen.{mod}")


def load_pack_file(path: Path, reg: Registry, display: str | None = None) -> LoadedPack:
    lp, data, hook = _parse_pack_file(path, display)
    if hook:
        hook(reg, lp, data)
    return lp


def _parse_pack_file(path: Path, display: str | None = None) -> tuple[LoadedPack, Any, KindHook | None]:
    """Read and validate one pack file; its kind's registry hook is returned, not yet applied."""
    shown = display or str(path)
    raw_bytes_text = yamlio.read_text(path, error=PackError)
    digest = hashlib.sha256(raw_bytes_text.encode("utf-8")).hexdigest()
    data = yamlio.parse(raw_bytes_text, file=shown, json_hint=path.suffix.lower() == ".json", error=PackError)
    if not isinstance(data, dict):
        raise PackError("a rule pack must be a mapping with 'pack' metadata", file=shown, line=1)
    kind = data.get("kind", "rules")
    if kind not in _KINDS:
        line = data.key_lines.get("kind") if isinstance(data, yamlio.LDict) else None
        raise PackError(f"unknown pack kind {kind!r} (known: {', '.join(sorted(_KINDS))})",
                        file=shown, line=line, field="kind")
    model_cls, hook = _KINDS[kind]
    try:
        model = model_cls.model_validate(data)
    except ValidationError as exc:
        errs = yamlio.pydantic_errors(exc, data, shown)
        line, fld, msg = errs[0]
        more = f" (and {len(errs) - 1} more error(s))" if len(errs) > 1 else ""
        raise PackError(msg + more, file=shown, line=line, field=fld) from None
    meta: PackMeta = model.pack  # type: ignore[attr-defined]
    n_rules = len(getattr(model, "rules", []) or [])
    info = PackInfo(id=meta.id, version=meta.version, jurisdiction=meta.jurisdiction, title=meta.title,
                    sha256=digest, path=shown, rules=n_rules)
    return LoadedPack(info=info, model=model, path=path, rule_lines=_rule_lines(data)), data, hook


def _check_rules_pack(lp: LoadedPack, reg: Registry, data_lines: dict[str, int], rule_ids: dict[str, str]) -> None:
    m: RulesPack = lp.model
    shown = lp.info.path
    for i, rule in enumerate(m.rules):
        if rule.id in rule_ids:
            raise PackError(f"duplicate rule id {rule.id!r} (also in {rule_ids[rule.id]})",
                            file=shown, line=data_lines.get(f"rules[{i}]"), field=f"rules[{i}].id")
        rule_ids[rule.id] = shown
        for path_s, cond in _walk(rule.when, f"rules[{i}].when"):
            _check_refs(cond, m, reg, shown, data_lines.get(f"rules[{i}]"), path_s)
        for k, auth in enumerate(rule.authorisations):
            for path_s, cond in _walk(auth.when, f"rules[{i}].authorisations[{k}].when"):
                _check_refs(cond, m, reg, shown, data_lines.get(f"rules[{i}]"), path_s)
    for i, rule in enumerate(m.rules):
        texts = [rule.message] + [t for a in rule.authorisations for t in (a.detail, a.confirm or "")]
        for ph in (p for t in texts for p in re.findall(r"\{([^{}]*)\}", t)):
            if ph not in MESSAGE_PLACEHOLDERS and not re.fullmatch(r"param\.[A-Za-z0-9_]+", ph):
                raise PackError(f"unknown placeholder {{{ph}}} in message (known: {', '.join(sorted(MESSAGE_PLACEHOLDERS))},"
                                " param.<name>)", file=shown, line=data_lines.get(f"rules[{i}]"),
                                field=f"rules[{i}].message")
    for name, nl in m.lists.items():
        if nl.type == "countries":
            for ref in nl.members + nl.exclude:
                _check_country_ref(ref, m, reg, shown, None, f"lists.{name}")
        if nl.type == "eccns":
            for e in nl.members + nl.exclude:
                n = normalize_eccn(e)
                if n is None or n == "EAR99":
                    raise PackError(f"not an ECCN: {e!r}", file=shown, field=f"lists.{name}")


def _walk(c: Cond, path: str) -> list[tuple[str, Cond]]:
    out = [(path, c)]
    if c.all:
        for i, sub in enumerate(c.all):
            out += _walk(sub, f"{path}.all[{i}]")
    if c.any:
        for i, sub in enumerate(c.any):
            out += _walk(sub, f"{path}.any[{i}]")
    if c.not_:
        out += _walk(c.not_, f"{path}.not")
    return out


def _check_list(name: str, want: str, m: RulesPack, shown: str, line: int | None, fld: str) -> None:
    nl = m.lists.get(name)
    if nl is None:
        raise PackError(f"unknown list {name!r}", file=shown, line=line, field=fld)
    if nl.type != want:
        raise PackError(f"list {name!r} is of type {nl.type}, expected {want}", file=shown, line=line, field=fld)


def _check_country_ref(ref: str, m: RulesPack, reg: Registry, shown: str, line: int | None, fld: str) -> None:
    if ref.startswith("group:"):
        if ref[6:] not in reg.groups:
            raise PackError(f"unknown country group {ref[6:]!r}", file=shown, line=line, field=fld)
    elif ref.startswith("list:"):
        _check_list(ref[5:], "countries", m, shown, line, fld)
    else:
        c = resolve(ref)
        if c is None or c.code != ref:
            raise PackError(f"not an ISO 3166 code: {ref!r} (write codes, e.g. CN, UA-43)",
                            file=shown, line=line, field=fld)


def _check_refs(c: Cond, m: RulesPack, reg: Registry, shown: str, line: int | None, fld: str) -> None:
    for refs in (c.destination_in, c.exporter_in, c.origin_in,
                 c.party_country_in.countries if c.party_country_in else None):
        for ref in refs or []:
            _check_country_ref(ref, m, reg, shown, line, fld)
    for e in c.eccn_in or []:
        if e.startswith("list:"):
            _check_list(e[5:], "eccns", m, shown, line, fld)
    phrase_src = c.description_has or []
    if isinstance(c.end_use_has, list):
        phrase_src = phrase_src + c.end_use_has
    elif c.end_use_has is not None:
        phrase_src = phrase_src + c.end_use_has.phrases
    for p in phrase_src:
        if p.startswith("list:"):
            _check_list(p[5:], "phrases", m, shown, line, fld)
    if c.party_name_in:
        _check_list(c.party_name_in.list, "names", m, shown, line, fld)
    for h in c.hts_in or []:
        if h.startswith("list:"):
            _check_list(h[5:], "hts", m, shown, line, fld)
            members = m.lists[h[5:]].members
        else:
            members = [h]
        for code in members:
            digits = code.replace(".", "")
            if not (digits.isascii() and digits.isdigit() and 2 <= len(digits) <= 10):
                raise PackError(f"not an HTS prefix: {code!r} (2 to 10 digits, dots allowed)",
                                file=shown, line=line, field=fld)


def _rule_lines(data: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    rules = data.get("rules") if isinstance(data, dict) else None
    if isinstance(rules, yamlio.LList):
        for i, ln in enumerate(rules.item_lines):
            out[f"rules[{i}]"] = ln
    return out


def load_registry(paths: list[Path] | None = None, *, extend: bool = False) -> Registry:
    """Load packs. Raises PackError.

    * no ``paths``: the shipped packs;
    * ``paths`` (``--rules-only``): only those packs (plus the shipped Country Groups when they bring none,
      since user packs refer to ``group:D:5`` etc.);
    * ``paths`` with ``extend=True`` (``--rules``): the shipped packs plus those; a user pack with the id of a
      shipped pack replaces that one pack, and ``Registry.notes`` says so (reports carry it as a warning).
    """
    _ensure_modules()
    shipped_root = default_rules_dir()
    layers: list[tuple[str, list[Path], list[Path]]] = []  # (layer, roots, files)
    if not paths:
        layers.append(("shipped", [shipped_root], pack_files(shipped_root)))
    else:
        if extend:
            layers.append(("shipped", [shipped_root], pack_files(shipped_root)))
        user_files: list[Path] = []
        for r in paths:
            user_files += pack_files(r)
        layers.append(("user", list(paths), user_files))
        if not extend and not any(_peek_kind(f) == "country_groups" for f in user_files):
            groups = [f for f in pack_files(shipped_root) if _peek_kind(f) == "country_groups"]
            layers.insert(0, ("shipped", [shipped_root], groups))
    if not any(files for _, _, files in layers):
        raise PackError("no rule packs found", file=", ".join(str(r) for _, roots, _ in layers for r in roots))
    reg = Registry()
    chosen: dict[str, tuple[str, LoadedPack, Any, KindHook | None]] = {}
    for layer, roots, files in layers:
        seen_here: dict[str, str] = {}
        for f in sorted(files, key=str):
            lp, data, hook = _parse_pack_file(f, display=_display(f, roots))
            pid = lp.info.id
            if pid in seen_here:
                raise PackError(f"duplicate pack id {pid!r} (also {seen_here[pid]})", file=str(f), field="pack.id")
            seen_here[pid] = str(f)
            if pid in chosen and chosen[pid][0] != layer:
                old = chosen[pid][1]
                reg.notes.append(f"pack {pid!r} from {lp.info.path} replaces the shipped pack "
                                 f"(version {old.info.version}, {old.info.path})")
            chosen[pid] = (layer, lp, data, hook)
    if paths and not extend:
        reg.notes.append("shipped rule packs not used (--rules-only): only "
                         + ", ".join(str(p) for p in paths) + (" and the shipped Country Groups" if any(
                             layer == "shipped" for layer, *_ in chosen.values()) else ""))
    # country groups first: rules refer to them
    ordered = sorted(chosen.values(),
                     key=lambda c: (0 if getattr(c[1].model, "kind", "rules") == "country_groups" else 1,
                                    str(c[1].path)))
    staged: list[tuple[LoadedPack, dict[str, int]]] = []
    for _layer, lp, data, hook in ordered:
        if hook:
            hook(reg, lp, data)
        reg.packs.append(lp)
        if getattr(lp.model, "kind", None) == "rules":
            staged.append((lp, lp.rule_lines))
    rule_ids: dict[str, str] = {}
    for lp, lines in staged:
        _check_rules_pack(lp, reg, lines, rule_ids)
    _declare_parameters(staged, reg)
    return reg


def _display(f: Path, roots: list[Path]) -> str:
    """Path shown in reports: relative to the rules root, so hashes and names are reproducible."""
    for r in roots:
        try:
            rel = f.resolve().relative_to(r.resolve() if r.is_dir() else r.resolve().parent)
            return f"{r.name}/{rel.as_posix()}" if r.is_dir() else f.name
        except ValueError:
            continue
    return f"rules/{f.name}"


def _peek_kind(p: Path) -> str:
    try:
        with p.open("r", encoding="utf-8-sig") as fh:
            for _ in range(40):
                line = fh.readline()
                if not line:
                    break
                if line.startswith("kind:"):
                    return line.split(":", 1)[1].strip().strip("'\"")
                if line.lstrip().startswith('"kind"'):
                    return line.split(":", 1)[1].strip().strip(",").strip().strip("'\"")
    except (OSError, UnicodeDecodeError):
        return "rules"  # load_pack_file reports the file (unreadable / not UTF-8) as a pack error
    return "rules"


@lru_cache(maxsize=8)
def cached_registry(paths: tuple[str, ...] = (), extend: bool = False) -> Registry:
    return load_registry([Path(p) for p in paths] or None, extend=extend)
