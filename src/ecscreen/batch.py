"""Batch screening of order CSVs exported from an ERP: ``ecscreen batch ORDERS.csv``.

Design (see docs/batch-and-gate.md):

* the file is streamed: bytes are read line by line, decoded as UTF-8 (a BOM is dropped) with a
  per-line Latin-1 fallback and a warning, and fed to :mod:`csv` (quoted newlines, any of
  ``, ; TAB |`` as delimiter, detected from the header line);
* adjacent rows sharing an ``order_id`` form one shipment; shipment-level fields (date, destination,
  parties, end use) come from the order's first row, and a later row that contradicts them is an
  ``error`` row (fail closed) while the rest of the order is still screened;
* every input row is written exactly once, in input order, with ``decision``, ``rule_ids``,
  ``reasons``, ``list_hits`` and ``message`` added; a row that cannot be screened gets ``error``;
* the engine is built once; results are memoised per distinct shipment (same date, destination,
  parties, end use and item facts) in a bounded cache, so memory stays flat as the file grows.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import json
import math
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from pydantic import BaseModel, ConfigDict, Field

from . import yamlio
from .countries import resolve
from .errors import UsageError
from .formats import parse_date_option
from .models import Finding, Item, Outcome, Party, PartyRole, Shipment, ShipmentResult
from .packs import normalize_eccn

__all__ = [
    "OrderRow",
    "BatchOptions",
    "BatchSummary",
    "BatchScreener",
    "read_rows",
    "run_batch",
    "batch_command",
    "spreadsheet_safe",
]

# --------------------------------------------------------------------------- the row shape


class OrderRow(BaseModel):
    """One order line of an ERP export (CSV columns, case-insensitive; ``param_<name>`` for parameters).

    Shipment-level columns (``date``, ``destination``, ``destination_region``, parties, ``end_use``)
    are taken from the first line of an order; item columns are per line.
    """

    model_config = ConfigDict(extra="forbid")

    order_id: str | None = Field(default=None, description="Lines sharing an order_id (adjacent) form one shipment")
    date: dt.date | None = Field(default=None, description="Shipment date (rules are evaluated at it; --as-of wins)")
    destination: str = Field(min_length=1, description="Destination country (ISO code or English name)")
    destination_region: str | None = Field(default=None, description="Region, e.g. Crimea, Donetsk, Luhansk")
    description: str = Field(min_length=1, description="Item description")
    eccn: str | None = Field(default=None, description="ECCN or EAR99; empty = unclassified")
    origin: str | None = Field(default=None, description="Country of origin of the item")
    end_user: str | None = None
    end_user_country: str | None = None
    consignee: str | None = None
    consignee_country: str | None = None
    purchaser: str | None = None
    purchaser_country: str | None = None
    end_use: str | None = None
    us_content_percent: float | None = Field(default=None, ge=0, le=100)
    license_exception: str | None = None
    sku: str | None = None
    quantity: float | None = None
    value_usd: float | None = Field(default=None, ge=0)
    exporter_country: str | None = Field(default=None, description="Country exported from (default US)")
    params: dict[str, float] = Field(
        default_factory=dict, description="Technical parameters: one column per parameter, named param_<name>"
    )


SHIPMENT_FIELDS = ("date", "destination", "destination_region", "end_user", "end_user_country", "consignee",
                   "consignee_country", "purchaser", "purchaser_country", "end_use", "exporter_country")
TEXT_FIELDS = ("order_id", "destination", "destination_region", "description", "eccn", "origin", "end_user",
               "end_user_country", "consignee", "consignee_country", "purchaser", "purchaser_country", "end_use",
               "license_exception", "sku", "exporter_country")
NUMBER_FIELDS = {"us_content_percent": (0.0, 100.0), "quantity": (None, None), "value_usd": (0.0, None)}
KNOWN_FIELDS = frozenset(TEXT_FIELDS) | frozenset(NUMBER_FIELDS) | {"date"}
PARTY_COLUMNS = (("end_user", "end_user_country", PartyRole.end_user),
                 ("consignee", "consignee_country", PartyRole.consignee),
                 ("purchaser", "purchaser_country", PartyRole.purchaser))
OUT_COLUMNS = ("decision", "rule_ids", "reasons", "list_hits", "message")
FORMATS = ("csv", "jsonl", "json")
DELIMITERS = (",", ";", "\t", "|")
MAX_ORDER_LINES = 5000
RECENT_ORDERS = 100_000
CACHE_SIZE = 10_000
CHUNK = 2_000  # orders read ahead and screened together (their new parties in one batch call)
GC_THRESHOLD = 50_000  # gen-0 collection threshold during a run (see run_batch)
PARTY_BATCH = True  # False: one screen_parties call per new party (the reference path the tests compare with)


# --------------------------------------------------------------------------- reading


@dataclass
class RawRow:
    line: int  # physical line the row starts on (1-based; the header is line 1)
    values: list[str]


@dataclass
class ReadState:
    """What the reader learnt while streaming: header, delimiter, encoding fallbacks, position."""

    header: list[str] = field(default_factory=list)
    delimiter: str = ","
    bom: bool = False
    latin1_lines: int = 0
    first_latin1_line: int | None = None
    bytes_read: int = 0
    size: int | None = None


def _decode_lines(stream: IO[bytes], state: ReadState) -> Iterator[str]:
    """Yield text lines; UTF-8 (BOM dropped) with a per-line Latin-1 fallback that is counted."""
    for n, raw in enumerate(stream, 1):
        state.bytes_read += len(raw)
        if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
            state.bom = True
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            state.latin1_lines += 1
            if state.first_latin1_line is None:
                state.first_latin1_line = n
            yield raw.decode("latin-1")


def _sniff_delimiter(header_line: str) -> str:
    """The delimiter among , ; TAB | that occurs most in the header line (outside quotes)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_rows(stream: IO[bytes], state: ReadState, delimiter: str | None = None) -> Iterator[RawRow]:
    """Stream CSV rows (after the header) from a binary stream. Sets ``state.header``/``delimiter``."""
    lines = _decode_lines(stream, state)
    first = next(lines, None)
    if first is None:
        return
    while first is not None and not first.strip():
        first = next(lines, None)
    if first is None:
        return
    state.delimiter = delimiter or _sniff_delimiter(first)

    def chain() -> Iterator[str]:
        yield first
        yield from lines

    reader = csv.reader(chain(), delimiter=state.delimiter)
    header = next(reader, None)
    if header is None:
        return
    state.header = [h.strip() for h in header]
    prev = reader.line_num
    for values in reader:
        start = prev + 1
        prev = reader.line_num
        if not values or (len(values) == 1 and not values[0].strip()):
            continue  # blank line: not a row
        yield RawRow(line=start, values=values)


# --------------------------------------------------------------------------- column mapping


def load_column_map(path: Path) -> dict[str, str]:
    """``--columns MAP.yaml``: ``field: Their Header`` (``param_<name>`` fields allowed)."""
    data = yamlio.load_file(path, error=UsageError)
    if not isinstance(data, dict):
        raise UsageError("column map must be a mapping of field: header", file=str(path))
    out: dict[str, str] = {}
    for k, v in data.items():
        key = str(k).strip().lower()
        if key not in KNOWN_FIELDS and not (key.startswith("param_") and len(key) > 6):
            raise UsageError(f"unknown field {k!r} (known: {', '.join(sorted(KNOWN_FIELDS))}, param_<name>)",
                             file=str(path), line=getattr(data, "key_lines", {}).get(k), field=str(k))
        if not isinstance(v, str) or not v.strip():
            raise UsageError("the header name must be a non-empty string", file=str(path),
                             line=getattr(data, "key_lines", {}).get(k), field=str(k))
        out[key] = v.strip()
    return out


@dataclass
class Columns:
    """Where each known field sits in the row."""

    index: dict[str, int]
    params: dict[str, int]
    unknown: list[str]

    @classmethod
    def from_header(cls, header: list[str], mapping: dict[str, str], file: str) -> Columns:
        lower: dict[str, int] = {}
        for i, h in enumerate(header):
            lower.setdefault(h.lower(), i)
        index: dict[str, int] = {}
        params: dict[str, int] = {}
        used: set[int] = set()
        for fld, hdr in mapping.items():
            found = lower.get(hdr.lower())
            if found is None:
                raise UsageError(f"column map: header {hdr!r} (for {fld}) is not in the file "
                                 f"(headers: {', '.join(header)})", file=file, line=1)
            i = found
            if fld.startswith("param_"):
                params[fld[6:]] = i
            else:
                index[fld] = i
            used.add(i)
        for i, h in enumerate(header):
            k = h.lower()
            if i in used:
                continue
            if k in KNOWN_FIELDS and k not in index:
                index[k] = i
                used.add(i)
            elif k.startswith("param_") and len(k) > 6 and k[6:] not in params:
                params[h[6:]] = i
                used.add(i)
        for need in ("destination", "description"):
            if need not in index:
                raise UsageError(f"no {need!r} column (headers: {', '.join(header)}); map one with --columns",
                                 file=file, line=1)
        unknown = [h for i, h in enumerate(header) if i not in used]
        return cls(index=index, params=params, unknown=unknown)


# --------------------------------------------------------------------------- parsing rows


@dataclass
class ParsedRow:
    raw: RawRow
    fields: dict[str, Any]
    params: dict[str, float]
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@lru_cache(maxsize=4096)
def _country_ok(text: str) -> bool:
    return resolve(text) is not None


@lru_cache(maxsize=8192)
def _eccn_ok(text: str) -> bool:
    return normalize_eccn(text) is not None


def _num(text: str) -> float | None:
    try:
        v = float(text.replace(",", "") if text.count(",") and "." in text else text.replace(",", "."))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def parse_row(raw: RawRow, cols: Columns, ncols: int) -> ParsedRow:
    """Check one row's own fields (cheap, no pydantic); problems make the row an ``error`` row."""
    vals = raw.values
    pr = ParsedRow(raw=raw, fields={}, params={})
    if len(vals) > ncols and any(v.strip() for v in vals[ncols:]):
        pr.error = f"row has {len(vals)} fields, the header has {ncols}"
        return pr
    f = pr.fields
    problems: list[str] = []
    for name, i in cols.index.items():
        v = vals[i].strip() if i < len(vals) else ""
        if not v:
            continue
        if name in NUMBER_FIELDS:
            n = _num(v.rstrip("%").strip())
            lo, hi = NUMBER_FIELDS[name]
            if n is None or (lo is not None and n < lo) or (hi is not None and n > hi):
                rng = f" between {lo:g} and {hi:g}" if lo is not None and hi is not None else (
                    " ≥ 0" if lo is not None else "")
                problems.append(f"{name}: not a number{rng}: {v!r}")
                continue
            f[name] = n
        elif name == "date":
            try:
                f[name] = dt.date.fromisoformat(v[:10])
            except ValueError:
                problems.append(f"date: not a date (YYYY-MM-DD): {v!r}")
        else:
            f[name] = v
    for pname, i in cols.params.items():
        v = vals[i].strip() if i < len(vals) else ""
        if not v:
            continue
        n = _num(v)
        if n is None:
            problems.append(f"param_{pname}: not a number: {v!r}")
        else:
            pr.params[pname] = n
    if "description" not in f:
        problems.append("description: missing")
    if "eccn" in f and not _eccn_ok(f["eccn"]):
        problems.append(f"eccn: malformed ECCN {f['eccn']!r}")
    for cf in ("destination", "origin", "end_user_country", "consignee_country", "purchaser_country",
               "exporter_country"):
        if cf in f and not _country_ok(f[cf]):
            problems.append(f"{cf}: unknown country {f[cf]!r} (fail closed)")
    if "destination_region" in f:
        reg = resolve(f["destination_region"])
        if reg is None or reg.region is None:
            problems.append(f"destination_region: unknown region {f['destination_region']!r}")
    if problems:
        pr.error = "; ".join(problems)
    return pr


# --------------------------------------------------------------------------- grouping into orders


@dataclass
class Order:
    order_id: str
    rows: list[ParsedRow]
    head: dict[str, Any] = field(default_factory=dict)  # shipment-level fields of the first valid row


def group_orders(rows: Iterable[ParsedRow], order_col: bool) -> Iterator[Order]:
    """Adjacent rows with the same ``order_id`` form one order (bounded; memory stays flat)."""
    recent: OrderedDict[str, None] = OrderedDict()
    cur: Order | None = None

    def close(o: Order) -> None:
        recent[o.order_id] = None
        recent.move_to_end(o.order_id)
        if len(recent) > RECENT_ORDERS:
            recent.popitem(last=False)

    for pr in rows:
        oid = pr.fields.get("order_id") if order_col else None
        key = oid or f"line-{pr.raw.line}"
        if cur is not None and cur.order_id == key and oid and len(cur.rows) < MAX_ORDER_LINES:
            cur.rows.append(pr)
            continue
        if cur is not None:
            if cur.order_id == key and oid:
                pr.warnings.append(f"order {oid} has over {MAX_ORDER_LINES} lines: later lines screened as a "
                                   f"separate shipment")
            yield cur
            close(cur)
        if oid and oid in recent and not (cur is not None and cur.order_id == key):
            pr.warnings.append(f"order {oid}: lines are not adjacent; this part is screened as a separate shipment")
        cur = Order(order_id=key, rows=[pr])
    if cur is not None:
        yield cur


# --------------------------------------------------------------------------- screening


@dataclass
class RowOutcome:
    decision: str
    rule_ids: str = ""
    reasons: str = ""
    list_hits: str = ""
    message: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    hits: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class BatchSummary:
    rows: int = 0
    orders: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("clear", "review", "license_required", "prohibited", "error"), 0))
    cache_hits: int = 0
    cache_misses: int = 0
    party_hits: int = 0
    party_misses: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.counts["error"]:
            return 3
        if self.rows - self.counts["clear"] > 0:
            return 1
        return 0

    def line(self) -> str:
        c = self.counts
        rate = f", {self.rows / self.seconds:,.0f} rows/s" if self.seconds > 0 else ""
        return (f"screened {self.rows:,} rows ({self.orders:,} orders) in {self.seconds:.1f}s{rate}: "
                f"{c['clear']:,} clear, {c['review']:,} review, {c['license_required']:,} licence required, "
                f"{c['prohibited']:,} prohibited, {c['error']:,} errors")


def _finding_dict(f: Finding) -> dict[str, Any]:
    d: dict[str, Any] = {"rule_id": f.rule_id, "outcome": f.outcome.value, "message": f.message,
                         "citations": [c.ref for c in f.citations]}
    if f.covered_by is not None:
        d["covered_by"] = {"kind": f.covered_by.kind, "ref": f.covered_by.ref, "detail": f.covered_by.detail}
    return d


def _hits_of(f: Finding) -> list[dict[str, Any]]:
    out = []
    for e in f.evidence:
        if e.score is not None:
            out.append({"rule_id": f.rule_id, "field": e.field, "name": e.value, "matched": e.matched,
                        "score": e.score, "detail": e.detail})
    return out


def _hit_text(h: dict[str, Any]) -> str:
    det = f" [{h['detail']}]" if h.get("detail") else ""
    return f"{h['name']} ~ {h['matched']} ({h['score']:.0f}){det}"


def row_outcomes(res: ShipmentResult, n_items: int) -> list[RowOutcome]:
    """Split a shipment result into one outcome per item (shipment-level findings apply to every row)."""
    if res.decision == "error":
        msg = "; ".join((f"{e.field}: " if e.field else "") + e.message for e in res.errors) or "cannot screen"
        return [RowOutcome(decision="error", message=msg) for _ in range(n_items)]
    outs = []
    for idx in range(n_items):
        mine = [f for f in res.findings if f.item_index is None or f.item_index == idx]
        blocking = [f for f in mine if f.covered_by is None]
        decision = Outcome.worst([f.outcome for f in blocking]).value
        hits = [h for f in mine for h in _hits_of(f)]
        reasons = [f"{f.rule_id} ({f.outcome.value}{', covered by ' + f.covered_by.ref if f.covered_by else ''}):"
                   f" {f.message}" for f in mine]
        outs.append(RowOutcome(
            decision=decision,
            rule_ids=";".join(dict.fromkeys(f.rule_id for f in mine)),
            reasons=" | ".join(reasons),
            list_hits="; ".join(_hit_text(h) for h in hits),
            findings=[_finding_dict(f) for f in mine],
            hits=hits,
            warnings=list(res.warnings),
        ))
    return outs


class PartyMemo:
    """Memoises party screening per party for one batch run (deterministic, bounded).

    ``screen_parties(parties, as_of)`` is, party by party, independent: the result for a shipment is
    the per-party results joined, with evidence fields re-indexed (``parties[i]``). The active lists
    and the party_lists pack are resolved once per run instead of once per shipment.

    :meth:`prefetch` screens the parties of a whole chunk of orders that are not memoised yet in one
    :func:`ecscreen.parties.screen_party_batches` call (single-party batches), so the matcher scores
    them together instead of one ``screen_parties`` call per name; :meth:`one` then serves them.

    The key is (role, name, country, address) plus the date when the result can depend on it. Given
    the lists and pack fixed for the run, a party's hits and findings depend on the date only through
    clearances (``$ECSCREEN_CLEARANCES``: expiry is checked at ``as_of``); list staleness (``lists``)
    is kept per date separately. So without clearances the date is left out of the key (parties recur
    on many dates), with clearances it is kept and a chunk's parties are screened in one call per date.
    ``batch=False`` is the plain per-party path (one call per name, date always in the key).
    """

    def __init__(self, screen: Any, size: int = 100_000, *, batch: bool = True) -> None:
        from .lists import active_lists
        from .parties import default_allowlist, load_pack, screen_parties, screen_party_batches

        self.screen = screen
        self.lists = active_lists()
        self.pack = load_pack()
        self.size = size
        # prefetch only when ``screen`` is the stock screener (its batch form gives the same results)
        self.batch: Any = screen_party_batches if batch and screen is screen_parties else None
        self.dated = self.batch is None or default_allowlist() is not None
        # per party: (hits, findings, warnings); the list infos (same for every party) once per date
        self.cache: OrderedDict[tuple[Any, ...], tuple[Any, ...]] = OrderedDict()
        self.infos: OrderedDict[dt.date, list[Any]] = OrderedDict()
        self.fresh: set[tuple[Any, ...]] = set()  # prefetched, not looked up yet (counted as misses then)
        self.hits = 0
        self.misses = 0

    def _key(self, party: Party, as_of: dt.date) -> tuple[Any, ...]:
        return (party.role, party.name, party.country, party.address, as_of if self.dated else None)

    @staticmethod
    def _entry(r: Any) -> tuple[Any, ...]:
        return (tuple(r.hits[0]) if r.hits and r.hits[0] else _EMPTY, tuple(r.findings) or _EMPTY,
                tuple(r.warnings) or _EMPTY)

    def _keep_infos(self, as_of: dt.date, infos: list[Any]) -> None:
        if as_of not in self.infos:
            self.infos[as_of] = list(infos)
            if len(self.infos) > 1024:
                self.infos.popitem(last=False)

    def _counted(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1
            if self.misses == 20_000 and self.hits < 2_000:
                # parties rarely repeat at the same date (rows carry their own dates): keep the memo small;
                # only speed depends on the size, never the result
                self.size = min(self.size, 5_000)

    def _evict(self, keep: int = 0) -> None:
        limit = max(self.size, keep)
        while len(self.cache) > limit:
            self.fresh.discard(self.cache.popitem(last=False)[0])

    def prefetch(self, wanted: Iterable[tuple[Party, dt.date]]) -> int:
        """Screen the wanted (party, date) pairs not memoised yet in one batch call; returns how many.

        Memoised ones are refreshed (moved to the young end), and the memo keeps at least every pair of
        this call until the next one, so the chunk's lookups all hit."""
        if self.batch is None:
            return 0
        todo: dict[tuple[Any, ...], tuple[Party, dt.date]] = {}
        seen = 0
        for party, on in wanted:
            k = self._key(party, on)
            if k in todo:
                continue
            if k in self.cache:
                self.cache.move_to_end(k)
                seen += 1
                continue
            todo[k] = (party, on)
        if not todo:
            return 0
        groups: dict[dt.date | None, list[tuple[Any, ...]]] = {}
        for k, (_, on) in todo.items():
            groups.setdefault(on if self.dated else None, []).append(k)
        for keys in groups.values():
            on = todo[keys[0]][1]
            res = self.batch([[todo[k][0]] for k in keys], as_of=on, lists=self.lists, pack=self.pack)
            for k, r in zip(keys, res, strict=True):
                self.cache[k] = self._entry(r)
                self.fresh.add(k)
            if res:
                self._keep_infos(on, res[0].lists)
        self._evict(keep=seen + len(todo))
        return len(todo)

    def one(self, party: Party, as_of: dt.date) -> tuple[Any, ...]:
        key = self._key(party, as_of)
        got = self.cache.get(key)
        if got is not None:
            self.cache.move_to_end(key)
            if key in self.fresh:
                self.fresh.discard(key)
                self._counted(False)
            else:
                self._counted(True)
            return got
        self._counted(False)
        r = self.screen([party], as_of=as_of, lists=self.lists, pack=self.pack)
        got = self._entry(r)
        self._keep_infos(as_of, r.lists)
        self.cache[key] = got
        self._evict()
        return got

    def __call__(self, parties: list[Party], *, as_of: dt.date, **kw: Any) -> Any:
        from .parties import PartyScreening

        if kw:
            return self.screen(parties, as_of=as_of, **kw)
        hits: list[Any] = []
        findings: list[Finding] = []
        warnings: list[str] = []
        for idx, p in enumerate(parties):
            p_hits, p_findings, p_warnings = self.one(p, as_of)
            hits.append(list(p_hits))
            for f in p_findings:
                if idx:
                    f = f.model_copy(update={"evidence": [
                        e.model_copy(update={"field": e.field.replace("parties[0]", f"parties[{idx}]", 1)})
                        for e in f.evidence]})
                findings.append(f)
            warnings += [w for w in p_warnings if w not in warnings]
        infos = self.infos.get(as_of)
        if infos is None:
            infos = list(self.screen([], as_of=as_of, lists=self.lists, pack=self.pack).lists)
            self._keep_infos(as_of, infos)
        return PartyScreening(hits=hits, findings=findings, warnings=warnings, lists=list(infos))


_EMPTY: tuple[Any, ...] = ()


class _party_memo:  # noqa: N801 - used as a context manager
    """Install a :class:`PartyMemo` for the run: through ``engine.party_screener`` when the engine has
    that hook, else by swapping ``ecscreen.parties.screen_parties`` for the run and restoring it."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.memo: PartyMemo | None = None
        self._saved: Any = None
        self._mod: Any = None

    def __enter__(self) -> PartyMemo | None:
        if not getattr(self.engine, "use_lists", False):
            return None
        try:
            from . import parties
        except ModuleNotFoundError:
            return None
        # with an engine allow-list the engine passes it on every call and the memo is bypassed
        batch = PARTY_BATCH and getattr(self.engine, "allowlist", None) is None
        if hasattr(self.engine, "party_screener"):
            self._saved = self.engine.party_screener
            self.memo = PartyMemo(self._saved or parties.screen_parties, batch=batch)
            self.engine.party_screener = self.memo
        else:
            self._mod = parties
            self._saved = parties.screen_parties
            self.memo = PartyMemo(self._saved, batch=batch)
            parties.screen_parties = self.memo  # type: ignore[assignment]
        return self.memo

    def __exit__(self, *exc: Any) -> None:
        if self.memo is None:
            return
        if self._mod is not None:
            self._mod.screen_parties = self._saved
        else:
            self.engine.party_screener = self._saved


@dataclass
class BatchOptions:
    as_of: dt.date | None = None
    today: dt.date | None = None
    cache_size: int = CACHE_SIZE
    jobs: int = 1


class BatchScreener:
    """Screens orders with one engine; memoises per distinct shipment facts (bounded LRU)."""

    def __init__(self, engine: Any, options: BatchOptions | None = None) -> None:
        self.engine = engine
        self.opts = options or BatchOptions()
        self.today = self.opts.today or dt.date.today()
        self.cache: OrderedDict[tuple[Any, ...], list[RowOutcome]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def screen_order(self, order: Order) -> list[RowOutcome]:
        """One outcome per row of the order, in order."""
        return self._finish(order, self._prepare(order))

    def screen_orders(self, orders: list[Order], memo: PartyMemo | None = None) -> list[list[RowOutcome]]:
        """Screen a chunk of orders: first the parties of its not yet memoised shipments, all in one
        batch call (``memo.prefetch``), then each order through the engine. Same results as
        :meth:`screen_order` order by order."""
        preps = [self._prepare(o) for o in orders]
        if memo is not None and memo.batch is not None:
            wanted: list[tuple[Party, dt.date]] = []
            for _, _, head, key in preps:
                if key is not None and head is not None and key not in self.cache:
                    wanted += [(p, key[0]) for p in self._parties(head)]
            memo.prefetch(wanted)
        return [self._finish(o, p) for o, p in zip(orders, preps, strict=True)]

    def _prepare(self, order: Order) -> tuple[list[RowOutcome | None], list[int], dict[str, Any] | None,
                                              tuple[Any, ...] | None]:
        """Row-level checks of an order: outcomes of error rows, the good rows, the shipment head and
        the shipment's cache key (None when no row can be screened)."""
        outs: list[RowOutcome | None] = [None] * len(order.rows)
        good: list[int] = []
        head: dict[str, Any] | None = None
        for i, pr in enumerate(order.rows):
            if pr.error:
                outs[i] = RowOutcome(decision="error", message=pr.error)
                continue
            if head is None:
                if "destination" not in pr.fields:
                    outs[i] = RowOutcome(decision="error",
                                         message="destination: missing (cannot screen without a destination)")
                    continue
                head = {k: pr.fields.get(k) for k in SHIPMENT_FIELDS}
            else:
                clash = [f"{k} {pr.fields[k]!r} differs from {head[k]!r} on the order's first line"
                         for k in SHIPMENT_FIELDS if pr.fields.get(k) is not None and head[k] is not None
                         and pr.fields[k] != head[k]]
                clash += [f"{k} {pr.fields[k]!r} given but the order's first line has none"
                          for k in SHIPMENT_FIELDS if pr.fields.get(k) is not None and head[k] is None]
                if clash:
                    outs[i] = RowOutcome(decision="error", message=f"order {order.order_id}: " + "; ".join(clash))
                    continue
            good.append(i)
        key: tuple[Any, ...] | None = None
        if good and head is not None:
            items = tuple(self._item_key(order.rows[i]) for i in good)
            on = self.opts.as_of or head["date"] or self.today
            key = (on, tuple(head[k] for k in SHIPMENT_FIELDS if k != "date"), items)
        return outs, good, head, key

    def _finish(self, order: Order, prep: tuple[list[RowOutcome | None], list[int], dict[str, Any] | None,
                                                  tuple[Any, ...] | None]) -> list[RowOutcome]:
        outs, good, head, key = prep
        if key is not None and head is not None:
            items = key[2]
            on = key[0]
            cached = self.cache.get(key)
            if cached is not None:
                self.hits += 1
                self.cache.move_to_end(key)
            else:
                self.misses += 1
                sh = self._shipment(order.order_id, head, items)
                res = self.engine.screen_one(sh, as_of=on, label=order.order_id, today=self.today)
                cached = row_outcomes(res, len(items))
                self.cache[key] = cached
                if len(self.cache) > self.opts.cache_size:
                    self.cache.popitem(last=False)
            for j, i in enumerate(good):
                outs[i] = cached[j]
        result: list[RowOutcome] = []
        for i, o in enumerate(outs):
            assert o is not None
            w = order.rows[i].warnings
            if w:
                o = RowOutcome(**{**o.__dict__, "warnings": o.warnings + w,
                                  "message": "; ".join(([o.message] if o.message else []) + w)})
            result.append(o)
        return result

    @staticmethod
    def _item_key(pr: ParsedRow) -> tuple[Any, ...]:
        f = pr.fields
        return (f["description"], f.get("eccn"), f.get("origin"), tuple(sorted(pr.params.items())),
                f.get("us_content_percent"), f.get("license_exception"), f.get("quantity"), f.get("value_usd"),
                f.get("sku"))

    @staticmethod
    def _parties(head: dict[str, Any]) -> list[Party]:
        return [Party(role=role, name=head[n], country=head[c]) for n, c, role in PARTY_COLUMNS if head.get(n)]

    @staticmethod
    def _shipment(oid: str, head: dict[str, Any], items: tuple[tuple[Any, ...], ...]) -> Shipment:
        parties = BatchScreener._parties(head)
        its = [Item(description=d, eccn=e, origin=o, parameters=dict(p), us_content_percent=u,
                    license_exception=le, quantity=q, value_usd=v, sku=s)
               for d, e, o, p, u, le, q, v, s in items]
        return Shipment(id=oid, date=head["date"], destination=head["destination"],
                        destination_region=head["destination_region"], parties=parties, end_use=head["end_use"],
                        items=its, exporter_country=head["exporter_country"])


# --------------------------------------------------------------------------- writing


_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """Neutralise a cell a spreadsheet would read as a formula (OWASP CSV injection): prefix ``'``."""
    if value and value[0] in _DANGEROUS:
        return "'" + value
    return value


class Writer:
    def __init__(self, out: IO[str], fmt: str, header: list[str]) -> None:
        self.out = out
        self.fmt = fmt
        self.header = header
        names = {h.lower() for h in header}
        self.added = [c if c not in names else f"ecscreen_{c}" for c in OUT_COLUMNS]
        self.n = 0
        if fmt == "csv":
            self.csv = csv.writer(out, lineterminator="\n")
            self.csv.writerow([spreadsheet_safe(h) for h in header] + self.added)
        elif fmt == "json":
            out.write("[")

    def write(self, raw: RawRow, o: RowOutcome) -> None:
        vals = raw.values
        if self.fmt == "csv":
            cells = [vals[i] if i < len(vals) else "" for i in range(len(self.header))]
            cells += [o.decision, o.rule_ids, o.reasons, o.list_hits, o.message]
            self.csv.writerow([spreadsheet_safe(c) for c in cells])
        else:
            rec = {
                "line": raw.line,
                "input": {h: (vals[i] if i < len(vals) else "") for i, h in enumerate(self.header)},
                "decision": o.decision,
                "rule_ids": [r for r in o.rule_ids.split(";") if r],
                "findings": o.findings,
                "list_hits": o.hits,
                "message": o.message or None,
                "warnings": o.warnings,
            }
            text = json.dumps(rec, ensure_ascii=False, default=str)
            if self.fmt == "jsonl":
                self.out.write(text + "\n")
            else:
                self.out.write(("\n" if self.n == 0 else ",\n") + text)
        self.n += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.out.write("\n]\n" if self.n else "]\n")
        self.out.flush()


# --------------------------------------------------------------------------- the run


# --------------------------------------------------------------------------- parallel (--jobs)

_WORKER: dict[str, Any] = {}
CHUNK_ORDERS = 256


def _worker_chunk(orders: list[Order]) -> tuple[list[list[RowOutcome]], tuple[int, int, int, int, int]]:
    """Runs in a forked worker: screen a chunk of orders with the inherited engine (memo per worker)."""
    if "screener" not in _WORKER:
        _WORKER["screener"] = BatchScreener(_WORKER["engine"], _WORKER["options"])
        memo_cm = _party_memo(_WORKER["engine"])
        _WORKER["memo"] = memo_cm.__enter__()  # process-local: lives as long as the worker
    sc: BatchScreener = _WORKER["screener"]
    memo: PartyMemo | None = _WORKER["memo"]
    outs = sc.screen_orders(orders, memo)
    return outs, (os.getpid(), sc.hits, sc.misses, memo.hits if memo else 0, memo.misses if memo else 0)


def _warm_up(engine: Any) -> None:
    """Load the lists and build the list matcher before screening (and before forking workers)."""
    if not getattr(engine, "use_lists", False):
        return
    try:
        from .lists import active_lists, matcher_for
        from .parties import load_pack
    except ModuleNotFoundError:
        return
    matcher_for(active_lists())
    load_pack()


def _run_parallel(orders: Iterable[Order], engine: Any, options: BatchOptions, jobs: int, emit: Any,
                  summary: BatchSummary, tick: Any) -> None:
    """Screen chunks of orders in ``jobs`` forked processes; results are written in input order and at
    most ``2 * jobs`` chunks are in flight, so memory stays flat."""
    import multiprocessing as mp
    from collections import deque

    _WORKER.clear()
    _WORKER.update(engine=engine, options=options)
    ctx = mp.get_context("fork")
    stats: dict[int, tuple[int, int, int, int, int]] = {}  # per worker pid: its cumulative counters
    with ctx.Pool(jobs) as pool:
        pending: deque[tuple[list[Order], Any]] = deque()

        def drain_one() -> None:
            chunk, fut = pending.popleft()
            outs, st = fut.get()
            stats[st[0]] = st
            for o, rows in zip(chunk, outs, strict=True):
                emit(o, rows)
            if tick is not None:
                tick()

        chunk: list[Order] = []
        for order in orders:
            chunk.append(order)
            if len(chunk) >= CHUNK_ORDERS:
                pending.append((chunk, pool.apply_async(_worker_chunk, (chunk,))))
                chunk = []
                while len(pending) >= 2 * jobs:
                    drain_one()
        if chunk:
            pending.append((chunk, pool.apply_async(_worker_chunk, (chunk,))))
        while pending:
            drain_one()
    _WORKER.clear()
    summary.cache_hits = sum(s[1] for s in stats.values())
    summary.cache_misses = sum(s[2] for s in stats.values())
    summary.party_hits = sum(s[3] for s in stats.values())
    summary.party_misses = sum(s[4] for s in stats.values())


def _chunks(orders: Iterable[Order], n: int) -> Iterator[list[Order]]:
    chunk: list[Order] = []
    for order in orders:
        chunk.append(order)
        if len(chunk) >= n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_batch(
    stream: IO[bytes],
    out: IO[str],
    engine: Any,
    *,
    fmt: str = "csv",
    file: str = "<stdin>",
    columns: dict[str, str] | None = None,
    delimiter: str | None = None,
    options: BatchOptions | None = None,
    progress: Any = None,
    size: int | None = None,
) -> BatchSummary:
    """Screen every row of ``stream`` and write them to ``out``. ``progress(rows, bytes)`` is optional."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    t0 = time.perf_counter()
    state = ReadState(size=size)
    summary = BatchSummary()
    rows = read_rows(stream, state, delimiter)
    first = next(rows, None)
    if not state.header:
        raise UsageError("no header row: the file is empty", file=file)
    cols = Columns.from_header(state.header, columns or {}, file)
    if cols.unknown:
        summary.warnings.append(f"columns not used for screening (passed through): {', '.join(cols.unknown)}")
    writer = Writer(out, fmt, state.header)
    screener = BatchScreener(engine, options)
    ncols = len(state.header)

    def parsed() -> Iterator[ParsedRow]:
        if first is not None:
            yield parse_row(first, cols, ncols)
        for r in rows:
            yield parse_row(r, cols, ncols)

    counts = summary.counts
    orders = group_orders(parsed(), "order_id" in cols.index)

    def emit(order: Order, outs: list[RowOutcome]) -> None:
        summary.orders += 1
        for pr, o in zip(order.rows, outs, strict=True):
            writer.write(pr.raw, o)
            counts[o.decision] += 1
            summary.rows += 1

    jobs = (options.jobs if options else 1) or 1
    _warm_up(engine)
    gc.collect()
    gc.freeze()  # engine, lists, matcher index: never scanned by the GC again, never copied into workers
    # screening allocates millions of short-lived objects (freed by reference counting) while the memos
    # and caches keep a large young heap: with the default gen-0 threshold (700) cyclic GC passes took
    # about a quarter of the run. Rarer passes for the run (inherited by --jobs workers), restored after.
    saved_threshold = gc.get_threshold()
    gc.set_threshold(max(saved_threshold[0], GC_THRESHOLD), *saved_threshold[1:])
    try:
        if jobs > 1:
            _run_parallel(orders, engine, options or BatchOptions(), jobs, emit, summary,
                          (lambda: progress(summary.rows, state.bytes_read)) if progress is not None else None)
        else:
            with _party_memo(engine) as memo:
                for chunk in _chunks(orders, CHUNK):
                    for order, outs in zip(chunk, screener.screen_orders(chunk, memo), strict=True):
                        emit(order, outs)
                        if progress is not None:
                            progress(summary.rows, state.bytes_read)
            if memo is not None:
                summary.party_hits, summary.party_misses = memo.hits, memo.misses
            summary.cache_hits = screener.hits
            summary.cache_misses = screener.misses
    finally:
        gc.set_threshold(*saved_threshold)
        gc.unfreeze()
    writer.close()
    if state.latin1_lines:
        msg = (f"{file}: {state.latin1_lines} line(s) not valid UTF-8 (first: line {state.first_latin1_line}): "
               f"decoded as Latin-1 (ISO-8859-1)")
        summary.warnings.append(msg)
    summary.seconds = time.perf_counter() - t0
    return summary


def _open_out(path: Path | None) -> IO[str]:
    if path is None:
        return sys.stdout
    try:
        return path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"cannot write: {exc.strerror}", file=str(path)) from None


def batch_command(
    orders: Annotated[Path, typer.Argument(help="Order CSV exported from an ERP ('-' for stdin).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write rows here (default stdout).")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="csv, jsonl or json")] = "csv",
    columns: Annotated[Path | None, typer.Option("--columns", help="YAML map 'field: Their Header'.")] = None,
    delimiter: Annotated[str | None, typer.Option("--delimiter", help="Field delimiter (default: detected).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Evaluate rules at this date (overrides row dates).")] = None,
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="Rule pack directory or file (repeatable).")] = None,
    no_lists: Annotated[bool, typer.Option("--no-lists", help="Do not screen parties against restricted-party lists.")] = False,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Progress bar (default: when stderr is a terminal).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes (0 = one per CPU). Output order is kept.")] = 1,
) -> None:
    """Screen order lines from a CSV: every row out once, in order, with decision, rule ids, reasons and list hits."""
    from rich.console import Console

    from .engine import Engine
    from .packs import load_registry

    if format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
    if delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise UsageError(f"--delimiter must be one character, not {delimiter!r}")
    on = parse_date_option(as_of)
    if jobs < 0:
        raise UsageError(f"--jobs must be 0 (one per CPU) or more, not {jobs}")
    jobs = jobs or (os.cpu_count() or 1)
    colmap = load_column_map(columns) if columns is not None else None
    stdin = str(orders) == "-"
    if not stdin and not orders.is_file():
        raise UsageError("file not found", file=str(orders))
    engine = Engine.build(load_registry(list(rules) if rules else None), use_lists=not no_lists)
    err = Console(stderr=True, highlight=False)
    show = err.is_terminal if progress is None else progress
    size = None if stdin else orders.stat().st_size
    stream: IO[bytes] = sys.stdin.buffer if stdin else orders.open("rb")
    sink = _open_out(out)
    try:
        if show:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            cols_ = [TextColumn("screening"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                     TextColumn("{task.fields[rows]:,} rows"), TextColumn("{task.fields[rate]:,.0f} rows/s"),
                     TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
            if size is None:
                cols_ = [TextColumn("screening"), TextColumn("{task.fields[rows]:,} rows"),
                         TextColumn("{task.fields[rate]:,.0f} rows/s"), TimeElapsedColumn(), MofNCompleteColumn()]
            t0 = time.perf_counter()
            with Progress(*cols_, console=err, transient=True) as bar:
                task = bar.add_task("screening", total=size, rows=0, rate=0.0)
                last = [0.0]

                def tick(rows: int, pos: int) -> None:
                    now = time.perf_counter()
                    if now - last[0] >= 0.2:
                        last[0] = now
                        bar.update(task, completed=pos, rows=rows, rate=rows / max(now - t0, 1e-9))

                summary = run_batch(stream, sink, engine, fmt=format, file=str(orders), columns=colmap,
                                    delimiter=delimiter, options=BatchOptions(as_of=on, jobs=jobs), progress=tick, size=size)
        else:
            summary = run_batch(stream, sink, engine, fmt=format, file=str(orders), columns=colmap,
                                delimiter=delimiter, options=BatchOptions(as_of=on, jobs=jobs), size=size)
    finally:
        if not stdin:
            stream.close()
        if out is not None:
            sink.close()
        else:
            sink.flush()
    for w in summary.warnings:
        err.print(f"warning: {w}", markup=False, soft_wrap=True)
    err.print(summary.line(), markup=False, soft_wrap=True)
    raise typer.Exit(summary.exit_code)
