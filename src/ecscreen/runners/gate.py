"""A CI gate over a product catalog: ``ecscreen gate CATALOG``.

Every product is screened for every market it is sold to (one single-item shipment per
``SKU@MARKET`` pair, built from the catalog). A pair fails when a finding at or above ``--fail-on``
is covered neither by a licence the catalog records nor by an unexpired waiver. Classification gaps
(an unclassified / EAR99 product whose description or parameters meet criteria the rule packs use
for a controlled ECCN or an emerging category) are ``review`` findings on each of its pairs.

Waiver subjects are ``SKU@MARKET`` patterns (``*``/``?`` wildcards; MARKET as ISO code or name; a
bare ``SKU`` means ``SKU@*``); see docs/batch-and-gate.md.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ecscreen.domain.countries import resolve
from ecscreen.errors import InputFileError, UsageError
from ecscreen.model import (
    Citation,
    Coverage,
    Evidence,
    Finding,
    InputError,
    Item,
    License,
    Outcome,
    Shipment,
)
from ecscreen.model.gate import GateReport, PairResult, WaiverStatus
from ecscreen.packs.registry import Cond, NamedList, Registry, Rule, RulesPack, normalize_eccn, yamlio
from ecscreen.runners.batch import ReadState, read_rows

__all__ = [
    "Product",
    "Catalog",
    "Waiver",
    "WaiverFile",
    "PairResult",
    "WaiverStatus",
    "GateReport",
    "load_catalog",
    "load_waivers",
    "run_gate",
    "GAP_RULE_ID",
]

GAP_RULE_ID = "CLASSIFICATION-GAP"
INPUT_RULE_ID = "INPUT-ERROR"
FORMATS = ("table", "json", "sarif", "junit", "markdown")

# --------------------------------------------------------------------------- input shapes


class Product(BaseModel):
    """One catalog product and the markets (destination countries) it is sold to."""

    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1)
    description: str = Field(min_length=1)
    name: str | None = None
    eccn: str | None = Field(default=None, description="ECCN or EAR99; empty/missing = unclassified")
    origin: str | None = None
    parameters: dict[str, float] = Field(default_factory=dict)
    us_content_percent: float | None = Field(default=None, ge=0, le=100)
    license_exception: str | None = None
    markets: list[str] = Field(min_length=1, description="Destination countries the product is sold to")
    licenses: list[License] = Field(default_factory=list, description="Licences held: {id, destinations, expires}")
    notes: str | None = None

    @field_validator("eccn", "origin", "license_exception", "name", "notes", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():
            return None
        return v.strip() if isinstance(v, str) else v

    @field_validator("parameters", mode="before")
    @classmethod
    def _params(cls, v: Any) -> Any:
        return {} if v is None else v


class Catalog(BaseModel):
    """A product catalog: YAML with a top-level ``products`` list (or CSV, one row per product)."""

    model_config = ConfigDict(extra="forbid")

    products: list[Product] = Field(min_length=1)
    exporter_country: str | None = Field(default=None, description="Country the products ship from (default US)")
    name: str | None = None


class Waiver(BaseModel):
    """An accepted finding: ``rule`` and ``subject`` are patterns (``*``, ``?``)."""

    model_config = ConfigDict(extra="forbid")

    rule: str = Field(min_length=1, description="Rule id pattern, e.g. AC-3A090A-2023 or CLASSIFICATION-GAP or EMB-*")
    subject: str = Field(min_length=1, description="SKU@MARKET pattern, e.g. GPU-X1@CN, GPU-*@*, GPU-X1 (= GPU-X1@*)")
    reason: str = Field(min_length=1)
    approver: str = Field(min_length=1)
    expires: dt.date = Field(description="Last day the waiver applies")


class WaiverFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    waivers: list[Waiver] = Field(default_factory=list)


# --------------------------------------------------------------------------- output shapes
# (in ecscreen.model.gate, so the output formatters need not import this runner)

# --------------------------------------------------------------------------- loading


@dataclass
class LoadedProduct:
    product: Product
    line: int | None


def _product_errors(exc: ValidationError, doc: Any, file: str, prefix: str, line: int | None) -> InputError:
    errs = yamlio.pydantic_errors(exc, doc, file, prefix=prefix)
    ln, fld, msg = errs[0]
    more = f" (and {len(errs) - 1} more error(s))" if len(errs) > 1 else ""
    return InputError(file=file, line=ln or line, field=fld, message=msg + more)


def _load_yaml_catalog(path: Path) -> tuple[list[LoadedProduct], list[InputError], str | None]:
    file = str(path)
    data = yamlio.load_file(path)
    if not isinstance(data, dict) or not isinstance(data.get("products"), list):
        raise InputFileError("a catalog must be a mapping with a top-level 'products' list", file=file, line=1)
    extra = set(data) - {"products", "exporter_country", "name"}
    if extra:
        k = sorted(extra)[0]
        raise InputFileError("unknown key", file=file, line=getattr(data, "key_lines", {}).get(k), field=k)
    if not data["products"]:
        raise InputFileError("the catalog lists no products", file=file, line=getattr(data, "line", 1))
    products: list[LoadedProduct] = []
    errors: list[InputError] = []
    plist = data["products"]
    for n, doc in enumerate(plist):
        line = plist.item_lines[n] if isinstance(plist, yamlio.LList) else None
        prefix = f"products[{n}]"
        if not isinstance(doc, dict):
            errors.append(InputError(file=file, line=line, field=prefix, message="a product must be a mapping"))
            continue
        try:
            products.append(LoadedProduct(Product.model_validate(doc), getattr(doc, "line", line)))
        except ValidationError as exc:
            errors.append(_product_errors(exc, doc, file, prefix, line))
    exp = data.get("exporter_country")
    return products, errors, str(exp) if exp else None


def _split(cell: str) -> list[str]:
    return [x.strip() for x in cell.split("|") if x.strip()]


# CSV columns of the product's one licence: column -> (licence field, list-valued)
_LICENCE_COLUMNS = {"license_id": ("id", False), "license_destinations": ("destinations", True),
                    "license_expires": ("expires", False), "license_eccns": ("eccns", True)}


def _csv_product(cells: dict[str, str], hdr: list[str], header: list[str]) -> tuple[dict[str, Any], str | None]:
    """A product document from one CSV row's cells (lower-case header -> text), and the first unknown
    column with a value (None: all known)."""
    doc: dict[str, Any] = {}
    params: dict[str, Any] = {}
    lic: dict[str, Any] = {}
    bad: str | None = None
    for h, v in cells.items():
        if not v:
            continue
        if h.startswith("param_") and len(h) > 6:
            params[header[hdr.index(h)][6:]] = v
        elif h == "markets":
            doc["markets"] = _split(v)
        elif h in _LICENCE_COLUMNS:
            key, many = _LICENCE_COLUMNS[h]
            lic[key] = _split(v) if many else v
        elif h in Product.model_fields:
            doc[h] = v
        else:
            bad = bad or h
    if params:
        doc["parameters"] = params
    if lic:
        doc["licenses"] = [lic]
    return doc, bad


def _load_csv_catalog(path: Path) -> tuple[list[LoadedProduct], list[InputError], str | None]:
    file = str(path)
    state = ReadState()
    products: list[LoadedProduct] = []
    errors: list[InputError] = []
    with path.open("rb") as fh:
        rows = list(read_rows(fh, state))
    if not state.header:
        raise InputFileError("the catalog is empty", file=file)
    hdr = [h.lower() for h in state.header]
    for need in ("sku", "description", "markets"):
        if need not in hdr:
            raise InputFileError(f"no {need!r} column (headers: {', '.join(state.header)})", file=file, line=1)
    for raw in rows:
        if raw.error:  # a row the strict CSV reader could not read exactly: an input error, never skipped
            errors.append(InputError(file=file, line=raw.line, message=raw.error))
            continue
        cells = {h: (raw.values[i].strip() if i < len(raw.values) else "") for i, h in enumerate(hdr)}
        doc, bad = _csv_product(cells, hdr, state.header)
        if bad:
            errors.append(InputError(file=file, line=raw.line, field=bad, message="unknown column"))
            continue
        try:
            products.append(LoadedProduct(Product.model_validate(doc), raw.line))
        except ValidationError as exc:
            errs = yamlio.pydantic_errors(exc, doc, file)
            _, fld, msg = errs[0]
            errors.append(InputError(file=file, line=raw.line, field=fld, message=msg))
    if not products and not errors:
        raise InputFileError("the catalog lists no products", file=file, line=2)
    if state.latin1_lines:
        errors.append(InputError(file=file, line=state.first_latin1_line,
                                 message="not valid UTF-8 (read as Latin-1): save the catalog as UTF-8"))
    return products, errors, None


def load_catalog(path: Path) -> tuple[list[LoadedProduct], list[InputError], str | None]:
    """Products (with their line), per-product errors, and the catalog's exporter country."""
    if not path.is_file():
        raise UsageError("file not found", file=str(path))
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return _load_csv_catalog(path)
    return _load_yaml_catalog(path)


def load_waivers(path: Path) -> tuple[list[Waiver], list[int | None]]:
    data = yamlio.load_file(path)
    if data is None:
        return [], []
    if not isinstance(data, dict):
        raise InputFileError("a waivers file must be a mapping with a 'waivers' list", file=str(path), line=1)
    try:
        wf = WaiverFile.model_validate(data)
    except ValidationError as exc:
        ln, fld, msg = yamlio.pydantic_errors(exc, data, str(path))[0]
        raise InputFileError(msg, file=str(path), line=ln, field=fld) from None
    wl = data.get("waivers")
    lines: list[int | None] = list(wl.item_lines) if isinstance(wl, yamlio.LList) else [None] * len(wf.waivers)
    return wf.waivers, lines


# --------------------------------------------------------------------------- waivers


@dataclass
class _WaiverMatcher:
    waiver: Waiver
    sku_pat: str
    market_pat: str
    rule_pat: str


def _market_code(text: str) -> str | None:
    c = resolve(text)
    return c.code if c else None


def _compile_waiver(w: Waiver) -> _WaiverMatcher:
    sku, _, market = w.subject.partition("@")
    market = market.strip() or "*"
    if not any(ch in market for ch in "*?["):
        market = _market_code(market) or market.upper()
    return _WaiverMatcher(waiver=w, sku_pat=sku.strip(), market_pat=market.upper(), rule_pat=w.rule.strip().upper())


def _waiver_hits(m: _WaiverMatcher, rule_id: str, sku: str, market_code: str) -> bool:
    return (fnmatch.fnmatchcase(rule_id.upper(), m.rule_pat) and fnmatch.fnmatchcase(sku, m.sku_pat)
            and fnmatch.fnmatchcase(market_code.upper(), m.market_pat))


# --------------------------------------------------------------------------- classification gaps


Tri = bool | None  # True / False / unknown


@dataclass
class _Criterion:
    rule: Rule
    pack: RulesPack
    cond: Cond
    eccns: list[str]
    kind: str  # "eccn-criteria" or "unclassified-rule"
    fn: Any = None  # the engine's compiled form of ``cond`` (one evaluator for every command)


_ITEM_KEYS = ("param", "description_has")


def _item_only(c: Cond) -> bool:
    """True when a condition reads only the item's description/parameters (no ECCN, no destination)."""
    if c.all is not None:
        return all(_item_only(x) for x in c.all)
    if c.any is not None:
        return all(_item_only(x) for x in c.any)
    if c.not_ is not None:
        return _item_only(c.not_)
    return c.param is not None or c.description_has is not None


def _walk(c: Cond) -> list[Cond]:
    out = [c]
    for sub in (c.all or []) + (c.any or []) + ([c.not_] if c.not_ is not None else []):
        out += _walk(sub)
    return out


def _eccn_refs(refs: list[str], lists: dict[str, NamedList]) -> list[str]:
    out: list[str] = []
    for r in refs:
        if r.startswith("list:") and r[5:] in lists:
            out += [normalize_eccn(m) or m for m in lists[r[5:]].members]
        else:
            out.append(r)
    return out


def gap_criteria(registry: Registry, engine: Any = None) -> list[_Criterion]:
    """Item-only criteria the packs attach to controlled ECCNs or to unclassified items.

    * an ``any`` node with an ``eccn_in`` branch: its other, item-only branches are criteria for
      those ECCNs (e.g. ``param: {name: tpp, gte: 4800}`` next to ``eccn_in: [3A090.a]``);
    * a rule whose top-level ``all`` contains ``eccn_unclassified: true``: its item-only conjuncts
      are the criteria of that (emerging / controlled) category.

    Each criterion is evaluated by the engine's compiled conditions (the same code ``check`` runs), so a
    gap and a finding can never disagree about what the facts meet.
    """
    from ecscreen.engine.core import Engine

    eng = engine if engine is not None else Engine.build(registry, use_lists=False)
    compiled = {id(cp.pack): cp for cp in eng.compiled}
    out: list[_Criterion] = []
    for pack in registry.rule_packs:
        for rule in pack.rules:
            for node in _walk(rule.when):
                if node.any is None:
                    continue
                eccns = [e for x in node.any if x.eccn_in is not None for e in _eccn_refs(x.eccn_in, pack.lists)]
                if not eccns:
                    continue
                for alt in node.any:
                    if alt.eccn_in is None and _item_only(alt):
                        out.append(_Criterion(rule, pack, alt, eccns, "eccn-criteria"))
            top = rule.when.all
            if top and any(x.eccn_unclassified is True for x in top):
                conj = [x for x in top if _item_only(x)]
                if conj:
                    out.append(_Criterion(rule, pack, Cond.model_construct(all=conj), [], "unclassified-rule"))
    for cr in out:
        cr.fn = compiled[id(cr.pack)]._compile(cr.cond)[0]
    return out


def classification_gap(p: Product, criteria: list[_Criterion], on: dt.date) -> Finding | None:
    """A ``review`` finding when an unclassified / EAR99 product meets a pack's ECCN or category criteria."""
    eccn = normalize_eccn(p.eccn) if p.eccn else None
    if eccn not in (None, "EAR99"):
        return None
    from ecscreen.domain.countries import resolve as _resolve
    from ecscreen.engine.core import ItemCtx, ShipCtx

    item = Item(description=p.description, parameters=p.parameters)
    here = _resolve("US")
    assert here is not None
    sctx = ShipCtx(shipment=Shipment(destination="US", items=[item]), dest=here, dest_codes=frozenset(),
                   exporter_codes=frozenset(), as_of=on, party_codes=[], party_hits=[])
    ictx = ItemCtx(item=item, index=0, eccn=None, origin_codes=frozenset())
    evidence: list[Evidence] = []
    cites: list[Citation] = []
    # facts text -> (ECCNs / categories, rule ids, missing facts), merged across rules
    groups: dict[str, tuple[list[str], list[str], list[str]]] = {}
    for cr in criteria:
        if not cr.rule.in_force(on):
            continue
        r, evs, missing_raw = cr.fn(sctx, ictx)
        ev = [_product_evidence(e.model()) for e in evs]
        missing = [_product_field(m) for m in missing_raw]
        if r is False or (r is None and not ev):
            continue  # nothing about the product points at the category: not a gap
        facts = "; ".join(dict.fromkeys(e.detail or str(e.value) for e in ev))
        whats, rule_ids, miss = groups.setdefault(facts, ([], [], []))
        whats += [w for w in (cr.eccns or [f"'{cr.rule.title}'"]) if w not in whats]
        if cr.rule.id not in rule_ids:
            rule_ids.append(cr.rule.id)
        miss += [m for m in missing if m not in miss]
        for e in ev:
            if not any(x.field == e.field and x.detail == e.detail for x in evidence):
                evidence.append(e)
        for m in missing:
            evidence.append(Evidence(field=m, value=None, detail=f"missing (rule {cr.rule.id})"))
        for c in list(cr.rule.citations) + [Citation(kind="seed", ref=s) for s in cr.rule.seeds]:
            if c not in cites:
                cites.append(c)
    parts = []
    for facts, (whats, rule_ids, miss) in groups.items():
        maybe = f" (if {', '.join(miss)} confirm)" if miss else ""
        parts.append(f"{facts}: a criterion of {', '.join(whats)} (rule {', '.join(rule_ids)}){maybe}")
    if not parts:
        return None
    state = "EAR99" if eccn == "EAR99" else "not classified (no ECCN)"
    msg = (f"{p.sku} '{p.description}' is {state}, but {'; '.join(parts)}. Classify the product (15 CFR 734.3, "
           f"part 774) and record its ECCN, or record why it falls outside these entries.")
    evidence.insert(0, Evidence(field="eccn", value=p.eccn, detail=state))
    return Finding(rule_id=GAP_RULE_ID, pack_id="ecscreen-gate", outcome=Outcome.review,
                   title="Classification gap: unclassified product meets criteria of a controlled or emerging category",
                   message=msg, item_index=0, evidence=evidence, citations=cites or [
                       Citation(kind="regulation", ref="15 CFR 734.3")])


def _product_field(name: str) -> str:
    """An item field of the engine (``items[0].parameters.tpp``) as a catalog product field (``parameters.tpp``)."""
    return name[len("items[0]."):] if name.startswith("items[0].") else name


def _product_evidence(e: Evidence) -> Evidence:
    return e.model_copy(update={"field": _product_field(e.field)})


# --------------------------------------------------------------------------- the gate


class _Waivers:
    """The waivers of a gate run: which findings they cover, which pairs each matched, their states."""

    def __init__(self, waivers: list[Waiver], lines: list[int | None] | None, on: dt.date) -> None:
        self.waivers = waivers
        self.lines = lines or [None] * len(waivers)
        self.on = on
        self.matchers = [_compile_waiver(w) for w in waivers]
        self.matched: list[list[str]] = [[] for _ in waivers]

    def cover(self, f: Finding, sku: str, market: str, subject: str, warnings: list[str]) -> Finding:
        """``f`` covered by the first waiver that names it (an expired one only warns)."""
        if f.covered_by is not None:
            return f
        for k, m in enumerate(self.matchers):
            if not _waiver_hits(m, f.rule_id, sku, market):
                continue
            self.matched[k].append(subject)
            w = m.waiver
            if self.on > w.expires:
                warnings.append(f"waiver {w.rule} for {w.subject} expired on {w.expires}: "
                                f"{f.rule_id} on {subject} is no longer waived")
                continue
            return f.model_copy(update={"covered_by": Coverage(
                kind="waiver", ref=f"{w.rule} {w.subject}",
                detail=f"waived by {w.approver} until {w.expires}: {w.reason}")})
        return f

    def states(self, warnings: list[str]) -> list[WaiverStatus]:
        out: list[WaiverStatus] = []
        for k, w in enumerate(self.waivers):
            expired = self.on > w.expires
            state: Literal["used", "unused", "expired"] = (
                "expired" if expired else ("used" if self.matched[k] else "unused"))
            if state == "unused":
                warnings.append(f"waiver {w.rule} for {w.subject} matched no finding (unused)")
            elif expired and not self.matched[k]:
                warnings.append(f"waiver {w.rule} for {w.subject} expired on {w.expires}")
            out.append(WaiverStatus(index=k, rule=w.rule, subject=w.subject, reason=w.reason, approver=w.approver,
                                    expires=w.expires, state=state, matched=sorted(set(self.matched[k])),
                                    line=self.lines[k]))
        return out


def _pair(engine: Any, lp: Any, item: Item, exporter: str | None, market: str, gap: Finding | None,
          fail_on: Outcome, waivers: _Waivers, warnings: list[str]) -> PairResult:
    """One product x market pair: the engine's screening of a one-item shipment, the classification gap,
    then the waivers."""
    p = lp.product
    on = waivers.on
    mc = resolve(market)
    code = mc.code if mc else None
    subject = f"{p.sku}@{code or market}"
    base = dict(sku=p.sku, market=market, market_code=code, market_name=mc.name if mc else None,
                subject=subject, line=lp.line, eccn=p.eccn, description=p.description)
    sh = Shipment(id=subject, destination=market if code is None or not mc or not mc.region else mc.alpha2,
                  destination_region=market if mc and mc.region else None, items=[item],
                  exporter_country=exporter)
    res = engine.screen_one(sh, as_of=on, label=subject, today=on)
    if res.decision == "error":
        msgs = [(f"{e.field}: " if e.field else "") + e.message for e in res.errors]
        return PairResult(**base, decision="error", status="error", errors=msgs)
    findings = [*res.findings, *([gap] if gap is not None else [])]
    final = [waivers.cover(f, p.sku, code or market, subject, warnings) for f in findings]
    final.sort(key=lambda f: (f.covered_by is not None, -f.outcome.rank, f.rule_id))
    blocking = [f for f in final if f.covered_by is None]
    decision = Outcome.worst([f.outcome for f in blocking])
    status: Literal["pass", "fail"] = "fail" if decision.rank >= fail_on.rank and blocking else "pass"
    return PairResult(**base, decision=decision, status=status, findings=final)


def run_gate(
    catalog: Path,
    engine: Any,
    *,
    as_of: dt.date,
    fail_on: Outcome = Outcome.license_required,
    waivers: list[Waiver] | None = None,
    waiver_lines: list[int | None] | None = None,
    waivers_file: str | None = None,
) -> GateReport:
    """Every product x market pair of ``catalog`` screened at ``as_of`` (the caller's date: this module
    reads no clock), with classification gaps and waivers."""
    on = as_of
    products, errors, exporter = load_catalog(catalog)
    registry: Registry = engine.registry
    criteria = gap_criteria(registry, engine)
    wv = _Waivers(waivers or [], waiver_lines, on)
    warnings: list[str] = []
    pairs: list[PairResult] = []
    seen_skus: dict[str, int | None] = {}
    for lp in products:
        p = lp.product
        if p.sku in seen_skus:
            warnings.append(f"{catalog}:{lp.line}: SKU {p.sku!r} is listed again (first at line {seen_skus[p.sku]})")
        seen_skus.setdefault(p.sku, lp.line)
        gap = classification_gap(p, criteria, on)
        item = Item(description=p.description, eccn=p.eccn, origin=p.origin, parameters=p.parameters,
                    us_content_percent=p.us_content_percent, license_exception=p.license_exception,
                    licenses=p.licenses, sku=p.sku)
        pairs += [_pair(engine, lp, item, exporter, market, gap, fail_on, wv, warnings)
                  for market in dict.fromkeys(p.markets)]
    states = wv.states(warnings)
    if errors or any(p.status == "error" for p in pairs):
        overall: Literal["pass", "fail", "error"] = "error"
    elif any(p.status == "fail" for p in pairs):
        overall = "fail"
    else:
        overall = "pass"
    return GateReport(catalog=str(catalog), as_of=on, fail_on=fail_on, status=overall, pairs=pairs, errors=errors,
                      waivers=states, waivers_file=waivers_file, warnings=warnings, packs=registry.infos)
