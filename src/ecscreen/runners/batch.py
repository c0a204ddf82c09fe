"""Batch screening of order CSVs exported from an ERP: ``ecscreen batch ORDERS.csv``.

Design (see docs/batch-and-gate.md):

* the file is streamed: bytes are read line by line, decoded as UTF-8 (a BOM is dropped) with a
  per-line Latin-1 fallback and a warning, and fed to :mod:`csv` (quoted newlines, any of
  ``, ; TAB |`` as delimiter, detected from the header line);
* adjacent rows sharing an ``order_id`` form one shipment; shipment-level fields (date, destination,
  parties, end use) come from the order's first row, and a later row that contradicts them is an
  ``error`` row (fail closed) while the rest of the order is still screened;
* every input row is written exactly once, in input order, with ``decision``, ``rule_ids``,
  ``reasons``, ``list_hits``, ``message`` and ``party_screening`` (per party: the lists it was screened
  against and the result, "no match" included) added; a row that cannot be screened gets ``error``;
* the engine is built once; results are memoised per distinct shipment (same date, destination,
  parties, end use and item facts) in a bounded cache, so memory stays flat as the file grows.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import functools
import gc
import io
import json
import math
import os
import re
import signal
import sys
import tempfile
import time
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ecscreen.domain.countries import resolve
from ecscreen.engine.fastmodel import built, replaced
from ecscreen.errors import Interrupted, UsageError
from ecscreen.model import Finding, Item, Outcome, Party, PartyRole, Shipment, ShipmentResult, normalize_hts
from ecscreen.packs.registry import normalize_eccn, yamlio

__all__ = [
    "OrderRow",
    "BatchOptions",
    "BatchSummary",
    "BatchScreener",
    "read_rows",
    "run_batch",
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
    for_eccn: str | None = Field(default=None, description="ECCN of the item the software / technology / "
                                 "equipment is for, where its control depends on it (items[].for_eccn)")
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
    hts_code: str | None = Field(default=None, description="HTS code (6 to 10 digits, dots allowed)")
    category: str | None = Field(
        default=None, description="Item category a general authorisation depends on: food, medicine, "
        "medical_device or agricultural")
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
               "license_exception", "sku", "exporter_country", "hts_code", "category", "for_eccn")
NUMBER_FIELDS = {"us_content_percent": (0.0, 100.0), "quantity": (None, None), "value_usd": (0.0, None)}
KNOWN_FIELDS = frozenset(TEXT_FIELDS) | frozenset(NUMBER_FIELDS) | {"date"}
SHARED_FIELDS = tuple(k for k in SHIPMENT_FIELDS if k != "date")  # one value per order
PARTY_COLUMNS = (("end_user", "end_user_country", PartyRole.end_user),
                 ("consignee", "consignee_country", PartyRole.consignee),
                 ("purchaser", "purchaser_country", PartyRole.purchaser))
OUT_COLUMNS = ("decision", "rule_ids", "reasons", "list_hits", "message", "party_screening")
FORMATS = ("csv", "jsonl", "json")
DELIMITERS = (",", ";", "\t", "|")
MAX_ORDER_LINES = 5000
RECENT_ORDERS = 100_000
CACHE_SIZE = 10_000
SHRINK_AT = (2_000, 20_000)  # shipment-cache misses at which a cache that hardly ever hits (< 5 %) shrinks
SHRUNK_SIZE = 1_000
SHARED_VALUES = 1_000  # distinct summary texts and list sets kept by PartyMemo._share (cleared when full)
CHUNK = 2_000  # orders read ahead and screened together (their new parties in one batch call)
GC_THRESHOLD = 1_000_000  # gen-0 collection threshold during a run (see run_batch; 50,000 -> 200,000: GC 2.3 -> 0.8 CPU-s per 100k ERP rows; -> 1,000,000: 0.9 -> 0.5 CPU-s, same peak RSS)
SUFFIXES_KEPT = 2_048  # rendered outcome cells kept by the CSV writer (cleared when full; only speed depends on it)
SUFFIX_MAX_CHARS = 1_000  # outcome cells longer than this (together) are rendered each time, not kept (memory)
OBJ_CACHE = 5_000  # validated Party / Item objects kept for reuse (only speed depends on it)
MATCHER_CACHE_NAMES = 4_000  # parties screened after which the list matcher's query caches are emptied
SCREENED_KEPT = 4_096  # row_outcomes: parties' screened dicts kept per summaries (cleared when full; speed only)
SHIPS_KEPT = 8_192  # PartyMemo: screenings kept per shipment's parties and date (cleared when full; speed only)
REINDEXED_SIZE = 4_096  # re-indexed party summaries kept by PartyMemo._summary_at (cleared when full)
PARTY_BATCH = True  # False: one screen_parties call per new party (the reference path the tests compare with)


# --------------------------------------------------------------------------- reading


def _category_problem(text: str) -> str | None:
    try:
        Item(description="x", category=text)  # type: ignore[arg-type]
    except ValidationError as exc:
        return str(exc.errors(include_url=False)[0]["msg"]).removeprefix("Value error, ")
    return None


MAX_CELL = 1 << 20  # 1 MiB: a larger cell makes its row an error row (documented in docs/batch-and-gate.md)
MAX_LINE = 4 << 20  # 4 MiB: a longer physical line is one error row (its bytes are skipped, not kept)
_BLOCK = 1 << 20
_BAD_TEXT = re.compile("[\x00\udc80-\udcff]")  # NUL, or a byte the encoding could not decode


@dataclass(slots=True)  # no per-row __dict__ (issue 14: one of each per order line)
class RawRow:
    line: int  # physical line the row starts on (1-based; the header is line 1)
    values: list[str]
    error: str | None = None  # the row could not be read as CSV (it is an ``error`` row)
    lines: int = 1  # physical lines the row spans
    reliable: int | None = None  # for an unreadable row: how many leading cells come before any quote


@dataclass
class ReadState:
    """What the reader learnt while streaming: header, delimiter, encoding, position."""

    header: list[str] = field(default_factory=list)
    header_line: int = 1
    delimiter: str = ","
    encoding: str = "utf-8"
    bom: bool = False
    latin1_lines: int = 0  # kept for callers; undecodable bytes are row errors now (never guessed)
    first_latin1_line: int | None = None
    bad_rows: int = 0  # rows the reader turned into error rows
    bytes_read: int = 0
    lines_read: int = 0
    size: int | None = None


def _physical_lines(stream: IO[bytes], state: ReadState) -> Iterator[bytes | None]:
    """Physical lines with their terminator, split at CR LF, LF or a lone CR (any mix of them).

    A line longer than :data:`MAX_LINE` is yielded as ``None`` (its bytes are skipped), so memory
    stays bounded whatever the input."""
    carry = b""
    skipping = False
    while True:
        block = stream.read(_BLOCK)
        state.bytes_read += len(block)
        if not block:
            if skipping:
                yield None
            elif carry:
                yield carry
            return
        data = carry + block if carry else block
        parts = data.splitlines(keepends=True)
        last = parts[-1]
        # an unterminated tail, or a CR that a LF in the next block may complete, waits for more data
        carry = last if not last.endswith(b"\n") else b""
        if carry:
            parts.pop()
        for p in parts:
            if skipping:
                skipping = False
                yield None  # the rest of an over-long line
                continue
            yield p if len(p) <= MAX_LINE else None
        if len(carry) > MAX_LINE:
            carry = b""
            skipping = True


def _text_lines(stream: IO[bytes], state: ReadState) -> Iterator[str | None]:
    """Decoded physical lines. Bytes the encoding cannot decode are kept as surrogates
    (``surrogateescape``) so the row they are in becomes an error row naming the column."""
    enc = state.encoding
    for n, raw in enumerate(_physical_lines(stream, state), 1):
        state.lines_read = n
        if raw is None:
            yield None
            continue
        if n == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 BOM, whatever --encoding says
            raw = raw[3:]
            state.bom = True
        yield raw.decode(enc, "surrogateescape")


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


def _column_name(header: list[str], i: int) -> str:
    return f"column {i + 1}" + (f" ({header[i]})" if i < len(header) and header[i] else "")


def _bad_text(values: list[str], header: list[str]) -> str | None:
    """Why a row's text cannot be screened (NUL or undecodable bytes), naming the column."""
    joined = "".join(values)
    if joined.isascii() and "\x00" not in joined:  # the usual case (undecodable bytes are not ASCII)
        return None
    if _BAD_TEXT.search(joined) is None:  # one search over the row
        return None
    for i, v in enumerate(values):
        m = _BAD_TEXT.search(v)
        if m is None:
            continue
        ch = m.group()
        if ch == "\x00":
            return f"{_column_name(header, i)}: contains a NUL character"
        return (f"{_column_name(header, i)}: byte 0x{ord(ch) - 0xDC00:02X} is not valid text in the file's "
                f"encoding; save the file as UTF-8 or give --encoding (e.g. cp1252, latin-1)")
    return None


def _naive_cells(text: str, delimiter: str) -> list[str]:
    """Best-effort cells of a line the CSV parser rejected (for the error row's pass-through cells)."""
    cells = [c.strip('"') for c in text.rstrip("\r\n").split(delimiter)]
    keep = MAX_CELL - 64
    return [c if len(c) <= keep else c[:keep] + f"... [cut: {len(c):,} characters]" for c in cells]


def _swallowed(values: list[str], delimiter: str, ncols: int, lines: list[str] | None = None) -> bool:
    """A quoted cell that spans lines and looks like it swallowed whole rows of the file: almost surely
    an unterminated quote (a real multi-line description is not a row of the file). Two signs: a line
    inside the cell holds as many delimiters as a row; or a following physical line of the record is,
    read on its own, a complete row (unless the cell is the first column and it is the record's last
    line, which a genuine multi-line first cell also gives)."""
    need = max(2, ncols - 1)
    first_multi = None
    for j, v in enumerate(values):
        if "\n" in v or "\r" in v:
            if first_multi is None:
                first_multi = j
            if v.count(delimiter) >= need:
                for seg in v.splitlines()[1:]:
                    if seg.count(delimiter) >= need:
                        return True
    if lines and len(lines) > 1:
        for k, text in enumerate(lines[1:], 1):
            if first_multi == 0 and k == len(lines) - 1:
                continue
            try:
                alone = next(csv.reader([text], delimiter=delimiter, strict=True), [])
            except csv.Error:
                continue
            if len(alone) == ncols:
                return True
    return False


def read_rows(stream: IO[bytes], state: ReadState, delimiter: str | None = None) -> Iterator[RawRow]:
    """Stream CSV rows (after the header) from a binary stream. Sets ``state.header``/``delimiter``.

    Strict: a row that cannot be read exactly (unterminated quote, text after a closing quote, a
    quoted cell that swallowed whole rows, wrong number of cells, a cell over :data:`MAX_CELL`, an
    over-long line, NUL or undecodable bytes) is yielded with ``error`` set, and reading resumes on
    the physical line after the row's first line, so no row after it is lost or merged."""
    csv.field_size_limit(MAX_CELL)  # the cap (the module's default, 128 KiB, raised a crash before)
    return _Reader(stream, state, delimiter).rows()


class _Reader:
    """The state of :func:`read_rows`: physical lines fed to :mod:`csv`, with the lines of the current
    record kept (``consumed``) so that an unreadable record can be re-read from its second line."""

    def __init__(self, stream: IO[bytes], state: ReadState, delimiter: str | None) -> None:
        self.src = _text_lines(stream, state)
        self.state = state
        self.delimiter = delimiter
        self.pending: deque[tuple[int, str | None]] = deque()
        self.counter = 0
        self.consumed: list[tuple[int, str]] = []
        self.cut: list[int] = []  # set when feed() stopped early at an over-long line (the reader is then spent)
        self.ncols = 0

    def pull(self) -> tuple[int, str | None] | None:
        if self.pending:
            return self.pending.popleft()
        t = next(self.src, _END)
        if t is _END:
            return None
        self.counter += 1
        return self.counter, t  # type: ignore[return-value]

    def feed(self) -> Iterator[str]:
        pending, src, consumed = self.pending, self.src, self.consumed
        while True:
            if pending:  # self.pull(), inlined (once per physical line)
                n, text = pending.popleft()
            else:
                t = next(src, _END)
                if t is _END:
                    return
                self.counter += 1
                n, text = self.counter, t  # type: ignore[assignment]
            if text is None:
                if self.consumed:  # inside a quoted cell: end the record here, the long line comes next
                    self.pending.appendleft((n, None))
                self.cut.append(n)
                return
            consumed.append((n, text))
            yield text

    def reader(self) -> Any:
        return csv.reader(self.feed(), delimiter=self.state.delimiter, strict=True)

    def header(self) -> Any:
        """Read the header (the first non-blank line); returns the csv reader positioned after it."""
        while True:
            got = self.pull()
            if got is None:
                return None
            n, first = got
            if first is not None and first.strip():
                break
        state = self.state
        state.header_line = n
        state.delimiter = self.delimiter or _sniff_delimiter(first)
        self.pending.appendleft((n, first))
        reader = self.reader()
        try:
            header = next(reader)
        except (csv.Error, StopIteration):
            header = _naive_cells(first, state.delimiter)
            self.pending.extendleft(reversed(self.consumed[1:]))
            reader = self.reader()
        self.consumed.clear()
        state.header = [h.strip() for h in header]
        self.ncols = len(header)
        return reader

    def rows(self) -> Iterator[RawRow]:
        reader = self.header()
        if reader is None:
            return
        while True:
            problem: str | None = None
            values: list[str] = []
            try:
                values = next(reader)
            except StopIteration:
                if not self.cut:
                    return
                # an over-long physical line where a row starts: one error row, then read on
                n = self.cut[0]
                self.cut.clear()
                self.consumed.clear()
                self.state.bad_rows += 1
                reader = self.reader()
                yield RawRow(line=n, values=[], error=f"the line is longer than {MAX_LINE // (1 << 20)} MiB (not read)")
                continue
            except csv.Error as exc:
                problem = self._csv_problem(str(exc))
            if not self.consumed:  # nothing read (end of data)
                if self.cut:
                    self.cut.clear()
                    reader = self.reader()
                    continue
                return
            if problem is None:
                problem, row = self._read_row(values)
                if problem is None:
                    if row is not None:
                        yield row
                    continue
            row, reader = self._unreadable(values, problem, reader)
            yield row

    def _csv_problem(self, problem: str) -> str:
        if self.cut or "unexpected end of data" in problem:
            return "unterminated quote (the quoted cell never closes)"
        if "field larger than field limit" in problem:
            return f"a cell is larger than {MAX_CELL // 1024} KiB"
        if "expected after" in problem:
            return f"text after a closing quote ({problem})"
        return problem

    def _read_row(self, values: list[str]) -> tuple[str | None, RawRow | None]:
        """A record the csv module read: (None, the row or None for a blank line), or (problem, None)
        when it is not a row of this file after all."""
        consumed, ncols, state, delim = self.consumed, self.ncols, self.state, self.state.delimiter
        start = consumed[0][0]
        span = len(consumed)
        if not values or (len(values) == 1 and not values[0].strip()):
            consumed.clear()
            return None, None  # blank line: not a row
        if span > 1 and _swallowed(values, delim, ncols, [t for _, t in consumed]):
            return ("unterminated quote: a quoted cell runs over the following lines, which look like "
                    "rows of their own"), None
        if len(values) != ncols and span > 1:
            # quotes pair up across lines but the result is not a row of this file: most likely an
            # unterminated quote paired with a quote on a later line. Re-read the later lines (an
            # extra error row is safer than a row lost inside a cell)
            return (f"row has {len(values)} cells, the header has {ncols} (a quoted cell runs over "
                    f"{span} lines: is a quote unterminated?)"), None
        consumed.clear()
        if len(values) != ncols:  # one line, read correctly, but not this file's shape
            state.bad_rows += 1
            reliable = None
            if len(values) < ncols or any(_BAD_TEXT.search(v) for v in values):
                reliable = min(len(values), ncols)
            return None, RawRow(line=start, values=values[:ncols], error=f"row has {len(values)} cells, the "
                                f"header has {ncols}", lines=span, reliable=reliable)
        bad = _bad_text(values, state.header)
        if bad is not None:
            state.bad_rows += 1
            return None, RawRow(line=start, values=values, error=bad, lines=span)
        return None, RawRow(line=start, values=values, lines=span)

    def _unreadable(self, values: list[str], problem: str, reader: Any) -> tuple[RawRow, Any]:
        """An unreadable row, reported on its first line; the lines after that one are read again."""
        consumed, delim = self.consumed, self.state.delimiter
        start, span = consumed[0][0], len(consumed)
        self.state.bad_rows += 1
        first_text = consumed[0][1]
        rest = consumed[1:]
        consumed.clear()
        if rest or self.cut:
            self.pending.extendleft(reversed(rest))
            self.cut.clear()
            reader = self.reader()
        if len(values) == self.ncols and span == 1:
            cells, reliable = values, None
        else:
            cells = _naive_cells(first_text, delim)
            reliable = first_text.split('"', 1)[0].count(delim)  # cells that end before the first quote
        return RawRow(line=start, values=cells, error=problem, reliable=reliable), reader


_END = object()


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
    """Where each known field sits in the row (headers are matched case-insensitively)."""

    index: dict[str, int]
    params: dict[str, int]
    unknown: list[str]
    dups: dict[str, list[int]] = field(default_factory=dict)  # field (or param_<name>) -> all its columns
    file: str = "<stdin>"
    header: list[str] = field(default_factory=list)

    @classmethod
    def from_header(cls, header: list[str], mapping: dict[str, str], file: str) -> Columns:
        lower: dict[str, int] = {}
        for i, h in enumerate(header):
            lower.setdefault(h.lower(), i)
        index: dict[str, int] = {}
        params: dict[str, int] = {}
        dups: dict[str, list[int]] = {}
        used: set[int] = set()
        for fld, hdr in mapping.items():
            found = lower.get(hdr.lower())
            if found is None:
                raise UsageError(f"column map: header {hdr!r} (for {fld}) is not in the file "
                                 f"(headers: {', '.join(header)})", file=file, line=1)
            i = found
            if fld.startswith("param_"):
                params[fld[6:].lower()] = i
            else:
                index[fld] = i
            used.add(i)
        for i, h in enumerate(header):
            k = h.lower()
            if i in used:
                continue
            if k in KNOWN_FIELDS:
                if k in index:  # the same field twice: both columns are read and must agree
                    dups.setdefault(k, [index[k]]).append(i)
                else:
                    index[k] = i
                used.add(i)
            elif k.startswith("param_") and len(k) > 6:
                name = k[6:]
                if name in params:
                    dups.setdefault("param_" + name, [params[name]]).append(i)
                else:
                    params[name] = i
                used.add(i)
        for need in ("destination", "description"):
            if need not in index:
                raise UsageError(f"no {need!r} column (headers: {', '.join(header)}); map one with --columns",
                                 file=file, line=1)
        unknown = [h for i, h in enumerate(header) if i not in used]
        return cls(index=index, params=params, unknown=unknown, dups=dups, file=file, header=list(header))


# --------------------------------------------------------------------------- parsing rows


@dataclass(slots=True)  # no per-row __dict__ (issue 14: one of each per order line)
class ParsedRow:
    raw: RawRow
    fields: dict[str, Any]
    params: dict[str, float]
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    bad: set[str] = field(default_factory=set)  # fields present but unreadable (shared facts of its order)


def _country_problem(text: str) -> str | None:
    """None when ``text`` names one country; else why not (unknown, ambiguous...)."""
    return _country_check(text)[1]


@lru_cache(maxsize=4096)
def _country_check(text: str) -> tuple[str | None, str | None]:
    """(canonical code, problem) for a country cell."""
    try:
        c = resolve(text)
    except Exception as exc:  # e.g. an ambiguous name: the resolver says which countries it could be
        return None, str(getattr(exc, "message", None) or exc)
    if c is None:
        return None, f"unknown country {text!r} (fail closed)"
    return c.code, None


def _country_ok(text: str) -> bool:
    return _country_check(text)[1] is None


@lru_cache(maxsize=8192)
def _eccn_ok(text: str) -> bool:
    return normalize_eccn(text) is not None


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?[1-9]\d{0,2}(?:\.\d{3})+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# digits with at most two decimals and nothing around them: a plain finite number that cannot be read as
# grouped (5.200 has three digits after the point) and needs none of _number's checks (most cells)
_PLAIN_NUMBER = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,2})?")


def _number(text: str) -> tuple[float | None, str | None]:
    """A plain number (``.`` as decimal point, no grouping): (value, None) or (None, why not)."""
    if _PLAIN_NUMBER.fullmatch(text):
        return float(text), None
    t = text.strip()
    if "," in t or "'" in t or "\u00a0" in t or "\u202f" in t or " " in t:
        return None, (f"{t!r} has a thousands separator or a decimal comma; write a plain number such as "
                      f"5200 or 5.2")
    if _GROUPED.fullmatch(t):
        return None, (f"{t!r} is ambiguous (5.200 is 5.2 in one locale and 5200 in another); write it "
                      f"without separators, e.g. {t.replace('.', '')} or {t.rstrip('0').rstrip('.')}")
    if not _NUMBER.fullmatch(t):
        return None, f"not a number: {t!r}"
    v = float(t)
    if not math.isfinite(v):
        return None, f"not a finite number: {t!r}"
    return v, None


def _num(text: str) -> float | None:
    return _number(text)[0]


def _cell(vals: list[str], i: int) -> str:
    return vals[i].strip() if i < len(vals) else ""


_DATES: dict[str, dt.date] = {}  # date cells read (YYYY-MM-DD text -> date; cleared when full)
_COUNTRY_FIELDS = ("destination", "origin", "end_user_country", "consignee_country", "purchaser_country",
                   "exporter_country")


_KINDS: dict[int, tuple[Columns, tuple[tuple[str, int, bool | None], ...]]] = {}


def _field_kinds(cols: Columns) -> tuple[tuple[str, int, bool | None], ...]:
    """Per known column of ``cols`` (in its order): (field, column, kind), kind True for a number, False for
    the date, None for text; made once per Columns (the row loop reads it for every row)."""
    got = _KINDS.get(id(cols))
    if got is None or got[0] is not cols:
        if len(_KINDS) >= 64:
            _KINDS.clear()
        got = _KINDS[id(cols)] = (cols, tuple(
            (name, i, True if name in NUMBER_FIELDS else False if name == "date" else None)
            for name, i in cols.index.items()))
    return got[1]


class _RowCheck:
    """The checks of one readable row: each cell's problems are collected, naming ``file:line:column``."""

    __slots__ = ("vals", "cols", "line", "pr", "problems")

    def __init__(self, vals: list[str], cols: Columns, line: int, pr: ParsedRow) -> None:
        self.vals, self.cols, self.line, self.pr = vals, cols, line, pr
        self.problems: list[str] = []

    @property
    def where(self) -> str:  # made only for a problem (most rows have none)
        return f"{self.cols.file}:{self.line}"

    def col(self, i: int, name: str) -> str:
        hdr = self.cols.header
        if not hdr or hdr[i].lower() == name:
            return f"{self.where}:{i + 1}: {name}"
        return f"{self.where}:{i + 1}: {name} ({hdr[i]})"

    def value(self, name: str, i: int) -> str | None:
        """The cell, or None when duplicated columns disagree (a problem is recorded)."""
        vals = self.vals
        v = _cell(vals, i)
        for j in self.cols.dups.get(name, ()):
            w = _cell(vals, j)
            if w and v and w != v:
                self.problems.append(f"{self.col(j, name)}: the column appears twice and the two cells disagree "
                                     f"({v!r} in column {i + 1}, {w!r} in column {j + 1})")
                self.pr.bad.add(name)
                return None
            v = v or w
        return v

    def number(self, name: str, i: int, v: str) -> None:
        n, why = _number(v.rstrip("%").strip() if name == "us_content_percent" else v)
        lo, hi = NUMBER_FIELDS[name]
        if n is not None and ((lo is not None and n < lo) or (hi is not None and n > hi)):
            rng = f"between {lo:g} and {hi:g}" if lo is not None and hi is not None else "≥ 0"
            why = f"{v!r} is out of range (must be {rng})"
        if why is not None:
            self.problems.append(f"{self.col(i, name)}: {why}")
        else:
            self.pr.fields[name] = n

    def date(self, name: str, i: int, v: str) -> None:
        d = _DATES.get(v)
        if d is None and _DATE.fullmatch(v):
            try:
                d = dt.date.fromisoformat(v)
            except ValueError:
                d = None
            if d is not None:
                if len(_DATES) >= 4096:
                    _DATES.clear()
                _DATES[v] = d  # rows repeat their dates (dates are immutable: one object serves every row)
        if d is None:
            self.problems.append(f"{self.col(i, name)}: not a date (exactly YYYY-MM-DD): {v!r}")
            self.pr.bad.add(name)
        else:
            self.pr.fields[name] = d

    def fields(self) -> None:
        f = self.pr.fields
        vals = self.vals
        n = len(vals)
        plain = not self.cols.dups  # no duplicated column: the cell itself (what value() returns then)
        for name, i, kind in _field_kinds(self.cols):
            v = (vals[i].strip() if i < n else "") if plain else self.value(name, i)
            if not v:
                continue
            if kind is None:
                f[name] = v
            elif kind:
                self.number(name, i, v)
            else:
                self.date(name, i, v)

    def params(self) -> None:
        vals = self.vals
        plain = not self.cols.dups
        for pname, i in self.cols.params.items():
            v = (vals[i].strip() if i < len(vals) else "") if plain else self.value("param_" + pname, i)
            if not v:
                continue
            n, why = _number(v)
            if n is not None and n < 0:
                why = f"{v!r} is negative (technical parameters are ≥ 0)"
            if why is not None:
                self.problems.append(f"{self.col(i, 'param_' + pname)}: {why}")
            else:
                self.pr.params[pname] = n  # type: ignore[assignment]

    def codes(self) -> None:
        """Cells that must name something known: ECCN, HTS code, countries, region."""
        f, idx, problems = self.pr.fields, self.cols.index, self.problems
        if "description" not in f:
            problems.append(f"{self.where}: description: missing")
        if "eccn" in f and not _eccn_ok(f["eccn"]):
            problems.append(f"{self.col(idx['eccn'], 'eccn')}: malformed ECCN {f['eccn']!r}")
        if "for_eccn" in f and not _eccn_ok(f["for_eccn"]):
            problems.append(f"{self.col(idx['for_eccn'], 'for_eccn')}: malformed ECCN {f['for_eccn']!r}")
        if "hts_code" in f and normalize_hts(f["hts_code"]) is None:
            problems.append(f"{self.col(idx['hts_code'], 'hts_code')}: not an HTS code (6 to 10 digits, dots "
                            f"allowed): {f['hts_code']!r}")
        if "category" in f and _category_problem(f["category"]) is not None:
            problems.append(f"{self.col(idx['category'], 'category')}: {_category_problem(f['category'])}")
        for cf in _COUNTRY_FIELDS:
            if cf in f:
                why = _country_problem(f[cf])
                if why is not None:
                    problems.append(f"{self.col(idx[cf], cf)}: {why}")
                    self.pr.bad.add(cf)
        if "destination_region" in f and not _region_ok(f["destination_region"]):
            problems.append(f"{self.col(idx['destination_region'], 'destination_region')}: unknown region "
                            f"{f['destination_region']!r}")
            self.pr.bad.add("destination_region")


def _region_ok(text: str) -> bool:
    try:
        reg = resolve(text)
    except Exception:
        reg = None
    return reg is not None and reg.region is not None


def _unreadable_row(raw: RawRow, cols: Columns, ncols: int, pr: ParsedRow, where: str) -> ParsedRow:
    """A row the reader could not read exactly: an error row that still belongs to its order."""
    vals = raw.values
    pr.error = f"{where}: {raw.error}"
    # the row's cells are not trusted, but its order must not lose shared facts: mark them unknown
    pr.bad.update(k for k in SHIPMENT_FIELDS if k in cols.index)
    oid = cols.index.get("order_id")
    known = len(vals) if raw.reliable is None and len(vals) == ncols else (raw.reliable or 0)
    if oid is not None and oid < known and not _BAD_TEXT.search(vals[oid]) and vals[oid].strip():
        pr.fields["order_id"] = vals[oid].strip()  # so the row still belongs to its order
    return pr


def parse_row(raw: RawRow, cols: Columns, ncols: int) -> ParsedRow:
    """Check one row's own fields (cheap, no pydantic); problems make the row an ``error`` row whose
    message names ``file:line:column`` of each bad cell."""
    pr = ParsedRow(raw=raw, fields={}, params={})
    if raw.error:
        return _unreadable_row(raw, cols, ncols, pr, f"{cols.file}:{raw.line}")
    if len(raw.values) != ncols:
        pr.error = f"{cols.file}:{raw.line}: row has {len(raw.values)} cells, the header has {ncols}"
        return pr
    check = _RowCheck(raw.values, cols, raw.line, pr)
    check.fields()
    check.params()
    check.codes()
    if check.problems:
        pr.error = "; ".join(check.problems)
    return pr


# --------------------------------------------------------------------------- grouping into orders


@dataclass(slots=True)  # no per-row __dict__ (issue 14: one of each per order line)
class Order:
    order_id: str
    rows: list[ParsedRow]
    head: dict[str, Any] = field(default_factory=dict)  # shipment-level fields of the first valid row


_SHARD_FIELDS = ("order_id", "end_user", "consignee", "purchaser")  # what a light row carries (see light_row)


def light_row(raw: RawRow, cols: Columns, ncols: int) -> ParsedRow:
    """A row as :func:`group_orders` and :func:`_shard` read it, without checking its fields (``--jobs``: the
    workers parse the rows, :func:`parse_rows_of`): the order id exactly as :func:`parse_row` gives it
    (a row it cannot read plainly is parsed here in full), the party names the shard is chosen by."""
    vals = raw.values
    if raw.error or len(vals) != ncols or cols.dups:
        pr = parse_row(raw, cols, ncols)
        return ParsedRow(raw=raw, fields={k: v for k in _SHARD_FIELDS if (v := pr.fields.get(k)) is not None},
                         params={})
    idx = cols.index
    fields = {k: v for k in _SHARD_FIELDS if k in idx and (v := vals[idx[k]].strip())}
    return ParsedRow(raw=raw, fields=fields, params={})


def pack_order(order: Order) -> tuple[str, list[tuple[Any, ...]]]:
    """An order of light rows as plain tuples (cheap to send to a worker): its id and per row the raw row's
    fields and the warnings grouping gave it."""
    return order.order_id, [(pr.raw.line, pr.raw.values, pr.raw.error, pr.raw.lines, pr.raw.reliable, pr.warnings)
                            for pr in order.rows]


def parse_rows_of(packed: tuple[str, list[tuple[Any, ...]]], cols: Columns, ncols: int) -> Order:
    """The order :func:`pack_order` packed, its rows parsed (:func:`parse_row`) as one process parses
    them, with the warnings of grouping after the row's own."""
    oid, rows = packed
    out = []
    for line, values, error, lines, reliable, warnings in rows:
        pr = parse_row(RawRow(line=line, values=values, error=error, lines=lines, reliable=reliable), cols, ncols)
        pr.warnings += warnings
        out.append(pr)
    return Order(order_id=oid, rows=out)


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


@dataclass(slots=True)  # no per-row __dict__ (issue 14: one per order line)
class RowOutcome:
    decision: str
    rule_ids: str = ""
    reasons: str = ""
    list_hits: str = ""
    message: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    hits: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # per party: the lists it was screened against and the result ('no match' said, so a clear row shows it)
    screened: list[dict[str, Any]] = field(default_factory=list)
    # the text of party_screening when made with ``screened`` (the rows of one shipment share both)
    ps_text: tuple[Any, str] | None = field(default=None, repr=False, compare=False)

    @property
    def party_screening(self) -> str:
        got = self.ps_text
        if got is not None and got[0] is self.screened:
            return got[1]
        return _ps_text(self.screened)


def _ps_text(screened: list[dict[str, Any]]) -> str:
    return " | ".join(f"{s['name']}: {s['summary']}" for s in screened)


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
    envelope: dict[str, Any] | None = None  # the report envelope with counts (when the run was given one)

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


# per tuple of party summaries (by identity: PartyMemo gives repeat customers the same summary objects):
# the rows' ``screened`` dicts and their text, made once (bounded; the summaries are kept with them, so an
# id is never reused while its entry lives)
_SCREENED: dict[tuple[int, ...], tuple[tuple[Any, ...], list[dict[str, Any]], tuple[Any, str]]] = {}


def _screened(summaries: list[Any]) -> tuple[list[dict[str, Any]], tuple[Any, str]]:
    """What a shipment's rows say of its party screening: the per-party dicts (read only downstream: shared
    by the rows of a shipment, and by the shipments of the same parties) and their text."""
    key = tuple([id(ps) for ps in summaries])
    got = _SCREENED.get(key)
    if got is not None and all(a is b for a, b in zip(got[0], summaries, strict=True)):
        return got[1], got[2]
    screened = [{"party_index": ps.party_index, "name": ps.name, "lists": ps.lists, "matches": ps.matches,
                 "firm": ps.firm, "summary": ps.summary} for ps in summaries]
    ps_text = (screened, _ps_text(screened))
    if len(_SCREENED) >= SCREENED_KEPT:
        _SCREENED.clear()
    _SCREENED[key] = (tuple(summaries), screened, ps_text)
    return screened, ps_text


def row_outcomes(res: ShipmentResult, n_items: int) -> list[RowOutcome]:
    """Split a shipment result into one outcome per item (shipment-level findings apply to every row)."""
    if res.decision == "error":
        msg = "; ".join((f"{e.field}: " if e.field else "") + e.message for e in res.errors) or "cannot screen"
        return [RowOutcome(decision="error", message=msg) for _ in range(n_items)]
    outs = []
    screened, ps_text = _screened(res.party_screening)
    if not res.findings:  # the common case: every row clear, nothing to split (what the loop below gives)
        # one outcome for every row of the shipment (outcomes are only read: the shipment cache shares them
        # between orders too; a row with warnings of its own gets a copy, see BatchScreener._finish)
        return [RowOutcome(decision="clear", warnings=list(res.warnings), screened=screened, ps_text=ps_text)
                ] * n_items
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
            screened=screened,
            ps_text=ps_text,
        ))
    return outs


class PartyMemo:
    """Memoises party screening per party for one batch run (deterministic, bounded).

    ``screen_parties(parties, as_of)`` is, party by party, independent: the result for a shipment is
    the per-party results joined, with evidence fields re-indexed (``parties[i]``). The active lists
    and the party_lists pack are resolved once per run instead of once per shipment.

    :meth:`prefetch` screens the parties of a whole chunk of orders that are not memoised yet in one
    :func:`ecscreen.parties.screening.screen_party_batches` call (single-party batches), so the matcher scores
    them together instead of one ``screen_parties`` call per name; :meth:`one` then serves them.

    The key is (role, name, country, address) plus the date when the result can depend on it. Given
    the lists and pack fixed for the run, a party's hits and findings depend on the date only through
    clearances (``$ECSCREEN_CLEARANCES``: expiry is checked at ``as_of``); list staleness (``lists``)
    is kept per date separately. So without clearances the date is left out of the key (parties recur
    on many dates), with clearances it is kept and a chunk's parties are screened in one call per date.
    ``batch=False`` is the plain per-party path (one call per name, date always in the key).
    """

    def __init__(self, screen: Any, size: int = 100_000, *, batch: bool = True, lists: list[Any] | None = None,
                 allowlist: Any = None, max_age_days: int | None = None) -> None:
        from ecscreen.parties.screening import PartyScreening, load_pack, screen_parties, screen_party_batches
        from ecscreen.parties.store import active_lists

        self._screening_cls = PartyScreening  # (an import statement per shipment was ~0.7 % of a batch)
        self.screen = screen
        # the engine's allow-list (clearances files and review decisions, passed in by the CLI): given to
        # every screening call; clearances depend on the date, so the date is then part of the key
        self.allowlist = allowlist
        self.lists = lists if lists is not None else active_lists()
        self.pack = load_pack()
        # the run's clearances and staleness limit (from the engine: the CLI's --clearances /
        # $ECSCREEN_CLEARANCES and $ECSCREEN_LIST_MAX_AGE_DAYS), passed on every screening call
        self.kw: dict[str, Any] = {"allowlist": allowlist, "max_age_days": max_age_days}
        self.size = size
        # prefetch only when ``screen`` is the stock screener (its batch form gives the same results)
        self.batch: Any = screen_party_batches if batch and screen is screen_parties else None
        self.dated = self.batch is None or allowlist is not None
        # per party: (hits, findings, warnings); the list infos (same for every party) once per date
        self.cache: OrderedDict[tuple[Any, ...], tuple[Any, ...]] = OrderedDict()
        self.infos: OrderedDict[dt.date, list[Any]] = OrderedDict()
        self.fresh: set[tuple[Any, ...]] = set()  # prefetched, not looked up yet (counted as misses then)
        self._reindexed: dict[tuple[int, int], tuple[Any, Any]] = {}  # see _summary_at
        # per the parties' memo keys (with the date only where those depend on it): the memo entries the
        # screening was made of, the screening and the lists' infos it holds, given again while every party is
        # still memoised as that entry (its parts are only read: the engine copies the lists; issue 14: repeat
        # customers, on any date: ~46 % of 1M ERP orders, 4 % when keyed per date)
        self._ships: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any, Any]] = {}
        self._shared: dict[Any, Any] = {}  # see _share
        self._new_since_clear = 0  # parties screened since the list matcher's caches were emptied
        self.hits = 0
        self.misses = 0

    def _key(self, party: Party, as_of: dt.date) -> tuple[Any, ...]:
        return (party.role, party.name, party.country, party.address, as_of if self.dated else None)

    def _entry(self, r: Any) -> tuple[Any, ...]:
        summary = r.summaries[0] if getattr(r, "summaries", None) else None
        if summary is not None:
            self._share(summary)
        return (tuple(r.hits[0]) if r.hits and r.hits[0] else _EMPTY, tuple(r.findings) or _EMPTY,
                tuple(r.warnings) or _EMPTY, summary)

    def _share(self, summary: Any) -> None:
        """One copy of what every party's summary repeats (the lists screened against, and the text, e.g.
        'screened against 3 list(s) [...]: no match'): equal values, read only downstream (issue 14: memory)."""
        shared = self._shared
        if len(shared) >= SHARED_VALUES:
            shared.clear()
        d = summary.__dict__
        lists = d.get("lists")
        if type(lists) is list:
            key = ("lists", *lists)
            got = shared.get(key)
            if got is None:
                got = shared[key] = lists
            d["lists"] = got
        text = d.get("summary")
        if type(text) is str:
            d["summary"] = shared.setdefault(text, text)

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
            res = self.batch([[todo[k][0]] for k in keys], as_of=on, lists=self.lists, pack=self.pack, **self.kw)
            for k, r in zip(keys, res, strict=True):
                self.cache[k] = self._entry(r)
                self.fresh.add(k)
            if res:
                self._keep_infos(on, res[0].lists)
        self._evict(keep=seen + len(todo))
        self._bound_matcher(len(todo))
        return len(todo)

    def _bound_matcher(self, new: int) -> None:
        """Empty the list matcher's per-query caches after every :data:`MATCHER_CACHE_NAMES` parties screened.

        This memo keeps each party's result, so the matcher's caches (normalised queries, their hits,
        calibration weights, word expansions) mostly hold names that are never asked again; over a long run
        they grew by ~3 KB per distinct party (issue 14: peak memory). Word expansions are re-made when a
        word recurs after the clearing (~0.2 s per clearing). Results never depend on these caches."""
        self._new_since_clear += new
        if self._new_since_clear < MATCHER_CACHE_NAMES:
            return
        self._new_since_clear = 0
        try:
            from ecscreen.parties.store import matcher_for

            m = matcher_for(self.lists)
        except Exception:  # only memory depends on it
            return
        m.clear_caches()

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
        r = self.screen([party], as_of=as_of, lists=self.lists, pack=self.pack, **self.kw)
        got = self._entry(r)
        self._keep_infos(as_of, r.lists)
        self.cache[key] = got
        self._evict()
        return got

    def _summary_at(self, summary: Any, idx: int) -> Any:
        """The party's summary with ``party_index`` = ``idx``: the memoised one itself at its own index, else
        one copy per (summary, index), reused (summaries are only read downstream)."""
        if summary.party_index == idx:
            return summary
        key = (id(summary), idx)
        got = self._reindexed.get(key)
        if got is None or got[0] is not summary:  # the id of a summary no longer memoised may be reused
            if len(self._reindexed) >= REINDEXED_SIZE:
                # bounded apart from the party memo: each entry pins its summary (also one evicted from the
                # memo) and holds a copy, ~2 KB; a copy is re-made on a miss, equal (issue 14: memory)
                self._reindexed.clear()
            got = self._reindexed[key] = (summary, summary.model_copy(update={"party_index": idx}))
        return got[1]

    def _allow(self) -> dict[str, Any]:
        return {"allowlist": self.allowlist} if self.allowlist is not None else {}

    def __call__(self, parties: list[Party], *, as_of: dt.date, **kw: Any) -> Any:
        if kw and kw != self._allow():
            return self.screen(parties, as_of=as_of, **kw)
        hits: list[Any] = []
        findings: list[Finding] = []
        warnings: list[str] = []
        summaries: list[Any] = []
        cache, fresh, day = self.cache, self.fresh, as_of if self.dated else None
        keys = tuple([(p.role, p.name, p.country, p.address, day) for p in parties])  # self._key, inlined
        # the date is in the key where the parties' entries depend on it (clearances: ``day``); the lists'
        # infos (their age on the date) are checked below
        skey = (keys, day)
        ship = self._ships.get(skey)
        if ship is not None and all(cache.get(k) is g and (not fresh or k not in fresh)
                                    for k, g in zip(keys, ship[0], strict=True)):
            # the same parties, each still memoised as the same entry: the same screening (counted and
            # refreshed party by party, as the loop below does), with the lists' infos of this date
            for k in keys:
                cache.move_to_end(k)
            self.hits += len(keys)
            prev = ship[1]
            infos = self.infos.get(as_of)
            if infos is not None and infos is ship[2]:
                return prev
            if infos is None:
                infos = list(self.screen([], as_of=as_of, lists=self.lists, pack=self.pack, **self.kw).lists)
                self._keep_infos(as_of, infos)
            # the parts are shared (only read downstream, as the whole screening was shared before)
            ps = self._screening_cls(hits=prev.hits, findings=prev.findings, warnings=prev.warnings,
                                     lists=list(infos), summaries=prev.summaries)
            self._ships[skey] = (ship[0], ps, infos)
            return ps
        gots = []
        for idx, p in enumerate(parties):
            key = keys[idx]
            got = cache.get(key)
            if got is not None and key not in fresh:  # a memo hit, as self.one counts and refreshes it
                cache.move_to_end(key)
                self.hits += 1
            else:
                got = self.one(p, as_of)
            gots.append(got)
            p_hits, p_findings, p_warnings, p_summary = got
            hits.append(list(p_hits))
            if p_summary is not None:  # what the party was screened against, re-indexed like the evidence
                summaries.append(self._summary_at(p_summary, idx))
            for f in p_findings:
                if idx:
                    f = f.model_copy(update={"evidence": [
                        e.model_copy(update={"field": e.field.replace("parties[0]", f"parties[{idx}]", 1)})
                        for e in f.evidence]})
                findings.append(f)
            warnings += [w for w in p_warnings if w not in warnings]
        infos = self.infos.get(as_of)
        if infos is None:
            infos = list(self.screen([], as_of=as_of, lists=self.lists, pack=self.pack, **self.kw).lists)
            self._keep_infos(as_of, infos)
        ps = self._screening_cls(hits=hits, findings=findings, warnings=warnings, lists=list(infos), summaries=summaries)
        if len(self._ships) >= SHIPS_KEPT:
            self._ships.clear()
        self._ships[skey] = (tuple(gots), ps, infos)
        return ps


_EMPTY: tuple[Any, ...] = ()


class _party_memo:
    """Install a :class:`PartyMemo` for the run: through ``engine.party_screener`` when the engine has
    that hook, else by swapping ``ecscreen.parties.screening.screen_parties`` for the run and restoring it."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.memo: PartyMemo | None = None
        self._saved: Any = None
        self._mod: Any = None

    def __enter__(self) -> PartyMemo | None:
        if not getattr(self.engine, "use_lists", False):
            return None
        try:
            from ecscreen.parties import screening as parties
        except ModuleNotFoundError:
            return None
        # the engine's clearances go to the memo (the date is then part of its key: expiry)
        batch = PARTY_BATCH
        if hasattr(self.engine, "party_screener"):
            self._saved = self.engine.party_screener
            self.memo = PartyMemo(self._saved or parties.screen_parties, batch=batch,
                                  lists=getattr(self.engine, "party_lists", None),
                                  allowlist=getattr(self.engine, "allowlist", None),
                                  max_age_days=getattr(self.engine, "max_age_days", None))
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


Prep = tuple[list["RowOutcome | None"], "dict[str, Any] | None", "list[tuple[list[int], tuple[Any, ...]]]"]


class BatchScreener:
    """Screens orders with one engine; memoises per distinct shipment facts (bounded LRU)."""

    def __init__(self, engine: Any, options: BatchOptions | None = None) -> None:
        self.engine = engine
        self.opts = options or BatchOptions()
        # the caller's date (the CLI reads the clock); None: the engine's own ``today``
        self.today: dt.date | None = self.opts.today or getattr(engine, "today", None)
        self.cache: OrderedDict[tuple[Any, ...], list[RowOutcome]] = OrderedDict()
        self.size = self.opts.cache_size
        self.hits = 0
        self.misses = 0
        self._party_objs: dict[tuple[Any, ...], Party] = {}
        self._item_objs: dict[tuple[Any, ...], Item] = {}

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
            for _, head, groups in preps:
                if head is None:
                    continue
                for _, key in groups:
                    if key not in self.cache:
                        wanted += [(p, key[0]) for p in self._parties(head)]
            memo.prefetch(wanted)
        return [self._finish(o, p) for o, p in zip(orders, preps, strict=True)]

    @staticmethod
    def _canon(name: str, value: Any) -> Any:
        """The value a shared fact is compared by: one country however it is spelled (``KR`` and
        ``Korea, Republic of``), names and end uses without case or spacing differences."""
        if name.endswith("country") or name == "destination":
            return _country_check(value)[0] or value
        if name == "destination_region":
            try:
                c = resolve(value)
            except Exception:
                c = None
            return c.code if c is not None else value
        if isinstance(value, str):
            return " ".join(value.split()).casefold()
        return value

    @staticmethod
    def _plain(value: Any) -> str:
        return value.isoformat() if isinstance(value, dt.date) else f"'{value}'"

    def _head(self, rows: list[ParsedRow]) -> tuple[dict[str, Any], list[str], list[str]]:
        """The order's shared facts (first value given by any line), the lines' disagreements and the
        facts a line gives unreadably (both only matter for an order of several lines)."""
        head: dict[str, Any] = dict.fromkeys(SHIPMENT_FIELDS)
        seen: dict[str, tuple[Any, int]] = {}  # per fact: the first value given and its line
        conflicts: list[str] = []
        unknown: list[str] = []
        if len(rows) == 1:  # one line: its own facts, nothing to compare
            fields = rows[0].fields
            for k in SHARED_FIELDS:
                v = fields.get(k)
                if v is not None:
                    head[k] = v
            return head, conflicts, unknown
        line0 = list(map(rows[0].fields.get, SHARED_FIELDS))
        if all(not pr.bad and list(map(pr.fields.get, SHARED_FIELDS)) == line0 for pr in rows):
            # every line gives the same text for every shared fact (most orders): the first line's facts,
            # nothing disagrees and nothing is unreadable (what the loop below gives then)
            for k, v in zip(SHARED_FIELDS, line0, strict=True):
                if v is not None:
                    head[k] = v
            return head, conflicts, unknown
        for pr in rows:
            line = pr.raw.line
            bad, fields = pr.bad, pr.fields
            for k in SHARED_FIELDS:
                if bad and k in bad:
                    unknown.append(f"{k} on line {line}")
                v = fields.get(k)
                if v is None:
                    continue
                first = seen.get(k)
                if first is None:
                    seen[k] = (v, line)
                    head[k] = v
                # the same text as the first line's is the same fact (most orders): compared as facts otherwise
                elif v != first[0] and self._canon(k, first[0]) != self._canon(k, v) and not any(
                        x.startswith(f"{k} is ") for x in conflicts):
                    conflicts.append(f"{k} is {self._plain(first[0])} on line {first[1]} but "
                                     f"{self._plain(v)} on line {line}")
        return head, conflicts, unknown

    def _prepare(self, order: Order) -> Prep:
        """Row-level checks of an order: outcomes of error rows, the order's shared facts (the head)
        and its screenable rows grouped by date with each group's cache key.

        Shared facts (destination, parties, end use...) come from all of the order's lines, error
        lines included; a fact that is unreadable on one line, or that two lines give differently
        (compared as one country / one name however spelled), makes every line of the order an error.
        Each line is screened at its own date (a line without one takes the order's, if it has one)."""
        rows = order.rows
        outs: list[RowOutcome | None] = [None] * len(rows)
        multi = len(rows) > 1
        head, conflicts, unknown = self._head(rows)
        if multi and (conflicts or unknown):
            why = ("lines disagree: " + "; ".join(conflicts)) if conflicts else (
                "cannot read " + ", ".join(dict.fromkeys(unknown)))
            msg = (f"order {order.order_id}: {why}; an order has one destination, end user and end use, "
                   f"so none of its {len(rows)} lines can be screened")
            for i, pr in enumerate(rows):
                outs[i] = RowOutcome(decision="error", message=f"{pr.error}; {msg}" if pr.error else msg)
            return outs, None, []
        dates = sorted({pr.fields["date"] for pr in rows if pr.fields.get("date") is not None})
        date_unknown = any("date" in pr.bad for pr in rows)
        groups: dict[dt.date | None, list[int]] = {}
        for i, pr in enumerate(rows):
            if pr.error:
                outs[i] = RowOutcome(decision="error", message=pr.error)
                continue
            if head["destination"] is None:
                outs[i] = RowOutcome(decision="error",
                                     message="destination: missing (cannot screen without a destination)")
                continue
            on = self.opts.as_of or pr.fields.get("date")
            if on is None:
                if len(dates) > 1 or date_unknown:
                    why = (f"the order's lines have different dates ({', '.join(d.isoformat() for d in dates)})"
                           if len(dates) > 1 else "another line's date cannot be read")
                    outs[i] = RowOutcome(decision="error", message=(
                        f"order {order.order_id}: line {pr.raw.line} has no date and {why}; give its date"))
                    continue
                on = dates[0] if dates else self.today
            groups.setdefault(on, []).append(i)
        out_groups: list[tuple[list[int], tuple[Any, ...]]] = []
        shared = tuple(head[k] for k in SHIPMENT_FIELDS if k != "date")
        for on, idx in groups.items():
            items = tuple(self._item_key(rows[i]) for i in idx)
            out_groups.append((idx, (on, shared, items)))
        return outs, head, out_groups

    def _finish(self, order: Order, prep: Prep) -> list[RowOutcome]:
        outs, head, groups = prep
        for good, key in groups:
            assert head is not None
            on, _, items = key
            cached = self.cache.get(key)
            if cached is not None:
                self.hits += 1
                self.cache.move_to_end(key)
            else:
                self.misses += 1
                if self.misses in SHRINK_AT and self.hits * 20 < self.misses:
                    # shipments do not repeat (ERP orders: dates, lines and quantities vary): keep the cache
                    # small; only speed depends on its size, never a result. Checked early (2,000 misses):
                    # memory freed after the cache has filled is seldom given back to the system (peak RSS)
                    self.size = min(self.size, SHRUNK_SIZE)
                    while len(self.cache) > self.size:
                        self.cache.popitem(last=False)
                cached = self._screen(order.order_id, head, on, items)
                self.cache[key] = cached
                if len(self.cache) > self.size:
                    self.cache.popitem(last=False)
            for j, i in enumerate(good):
                outs[i] = cached[j]
        result: list[RowOutcome] = []
        for i, o in enumerate(outs):
            assert o is not None
            w = order.rows[i].warnings
            if w:
                o = replace(o, warnings=o.warnings + w, message="; ".join(([o.message] if o.message else []) + w))
            result.append(o)
        return result

    def _screen(self, oid: str, head: dict[str, Any], on: dt.date, items: tuple[tuple[Any, ...], ...]
                ) -> list[RowOutcome]:
        """Screen one shipment (one order at one date); an item the model rejects is an error row and
        the others are screened without it."""
        built: list[Item | None] = []
        problems: list[str | None] = []
        for it in items:
            try:
                built.append(self._item(it))
                problems.append(None)
            except ValidationError as exc:
                built.append(None)
                problems.append("; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'item'}: {e['msg']}"
                                          for e in exc.errors(include_url=False)))
        ok = [b for b in built if b is not None]
        res_rows: list[RowOutcome] = []
        if ok:
            try:
                sh = self._shipment(oid, head, ok, on)
            except ValidationError as exc:
                msg = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'shipment'}: {e['msg']}"
                                for e in exc.errors(include_url=False))
                return [RowOutcome(decision="error", message=msg) for _ in items]
            res = self.engine.screen_one(sh, as_of=on, label=oid, today=self.today)
            res_rows = row_outcomes(res, len(ok))
        it_rows = iter(res_rows)
        return [next(it_rows) if p is None else RowOutcome(decision="error", message=p) for p in problems]

    @staticmethod
    def _item_key(pr: ParsedRow) -> tuple[Any, ...]:
        f = pr.fields
        p = pr.params
        return (f["description"], f.get("eccn"), f.get("origin"), tuple(sorted(p.items())) if p else (),
                f.get("us_content_percent"), f.get("license_exception"), f.get("quantity"), f.get("value_usd"),
                f.get("sku"), f.get("hts_code"), f.get("category"), f.get("for_eccn"))

    def _parties(self, head: dict[str, Any]) -> list[Party]:
        """The order's parties; one validated Party per distinct (role, name, country), reused across orders
        (the engine never changes a party: it reads them)."""
        out: list[Party] = []
        known = self._party_objs
        for n, c, role in PARTY_COLUMNS:
            name = head.get(n)
            if not name:
                continue
            key = (role, name, head[c])
            p = known.get(key)
            if p is None:
                if len(known) >= OBJ_CACHE:
                    known.clear()
                p = known[key] = Party(role=role, name=name, country=head[c])
            out.append(p)
        return out

    def _item(self, it: tuple[Any, ...]) -> Item:
        """The Item of an item key. Repeat products differ in quantity and value only: the rest is validated
        once per product and the two numbers set on a copy. Both were checked by :func:`parse_row` (finite,
        value >= 0: the model's own constraints), so the copy equals a validated Item; anything else (and any
        validation error) goes through full validation."""
        d, e, o, p, u, le, q, v, s, h, c, fe = it

        def full() -> Item:
            return Item(description=d, eccn=e, origin=o, parameters=dict(p), us_content_percent=u,
                        license_exception=le, quantity=q, value_usd=v, sku=s, hts_code=h, category=c, for_eccn=fe)

        if not ((q is None or type(q) is float) and (v is None or type(v) is float)):
            return full()
        # origin, sku (plain text fields without validators) and the US content (a float in [0, 100], checked
        # by parse_row like the model's own constraint) vary between lines of one product: set on the copy too
        plain = ((o is None or type(o) is str) and (s is None or type(s) is str)
                 and (u is None or (type(u) is float and 0.0 <= u <= 100.0)))
        key = (d, e, p, le, h, c, fe) if plain else (d, e, o, p, u, le, s, h, c, fe)
        base = self._item_objs.get(key)
        if base is None:
            try:
                base = Item(description=d, eccn=e, origin=None if plain else o, parameters=dict(p),
                            us_content_percent=None if plain else u, license_exception=le, quantity=None,
                            value_usd=None, sku=None if plain else s, hts_code=h, category=c, for_eccn=fe)
            except ValidationError:
                return full()
            if len(self._item_objs) >= OBJ_CACHE:
                self._item_objs.clear()
            self._item_objs[key] = base
        if (q is None or math.isfinite(q)) and (v is None or (math.isfinite(v) and v >= 0)):
            if plain:  # model_copy, without its overhead
                return replaced(base, {"origin": o, "us_content_percent": u, "quantity": q, "value_usd": v,
                                       "sku": s})
            return replaced(base, {"quantity": q, "value_usd": v})
        return full()

    def _shipment(self, oid: str, head: dict[str, Any], items: list[Item], on: dt.date | None = None) -> Shipment:
        parties = self._parties(head)
        values = {"id": oid, "date": on or head.get("date"), "destination": head["destination"],
                  "destination_region": head["destination_region"], "parties": parties, "end_use": head["end_use"],
                  "items": items, "exporter_country": head["exporter_country"]}
        if _valid_shipment(values):  # what validation would accept unchanged: built without validating again
            return built(Shipment, values)
        return Shipment(**values)


def _valid_shipment(v: dict[str, Any]) -> bool:
    """The values are ones :class:`Shipment` validation keeps as they are (text ids and names, a date,
    validated parties and items, at least one item, a non-empty destination)."""
    return (type(v["id"]) is str and (v["date"] is None or type(v["date"]) is dt.date)
            and type(v["destination"]) is str and v["destination"] != ""
            and all(x is None or type(x) is str for x in (v["destination_region"], v["end_use"], v["exporter_country"]))
            and bool(v["items"]) and all(type(i) is Item for i in v["items"])
            and all(type(p) is Party for p in v["parties"]))


# --------------------------------------------------------------------------- writing


_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_LEADING = " \t\r\n\x0b\x0c\u00a0\u3000"
_GUARDED = frozenset(_DANGEROUS) | frozenset(_LEADING)  # first characters spreadsheet_safe may act on
# in an ASCII row joined with "," in which no cell holds a ",": a cell starting with a character spreadsheet_safe
# acts on (ASCII ones: see _GUARDED), or a quote, CR, LF or NUL anywhere (Writer._fast_text)
_PLAIN_ASCII_BAD = re.compile('(?:^|,)[=+\\-@\t \x0b\x0c]|["\r\n\x00]')
_UNSAFE_OUT = re.compile("[\x00\udc80-\udfff\ud800-\udbff]")


def spreadsheet_safe(value: str) -> str:
    """Neutralise a cell a spreadsheet would read as a formula (OWASP CSV injection): prefix ``'``.

    Also when the formula character follows leading spaces, TABs, CRs or line feeds (spreadsheets
    skip them), and for a cell starting with TAB or CR."""
    if not value:
        return value
    if value[0] in _DANGEROUS:
        return "'" + value
    if value[0] in _LEADING:
        rest = value.lstrip(_LEADING)
        if rest[:1] in ("=", "+", "-", "@"):
            return "'" + value
    return value


def _clean_out(value: str) -> str:
    """Text that can be written as UTF-8 without NULs: undecodable input bytes and NULs become U+FFFD."""
    return _UNSAFE_OUT.sub("\ufffd", value)


def _csv_cell(c: str) -> str:
    """One cell as ``csv.writer`` (QUOTE_MINIMAL, delimiter ``,``, line terminator LF) writes it in a row of
    several cells without a CR (see Writer._fast_text)."""
    if "," in c or '"' in c or "\n" in c:
        return '"' + c.replace('"', '""') + '"'
    return c


def _csv_line(cells: list[str], delimiter: str = ",") -> str:
    """One CSV record with every cell that holds CR, LF, a quote or the delimiter quoted (the csv
    module leaves a lone CR unquoted when the line terminator is LF)."""
    out = []
    for c in cells:
        if delimiter in c or '"' in c or "\r" in c or "\n" in c:
            c = '"' + c.replace('"', '""') + '"'
        out.append(c)
    return delimiter.join(out) + "\n"


class Writer:
    def __init__(self, out: IO[str], fmt: str, header: list[str], head: dict[str, Any] | None = None) -> None:
        self.out = out
        self.fmt = fmt
        self.header = header
        self.head = head  # json: the report envelope, written around the results
        names = {h.lower() for h in header}
        self.added = [c if c not in names else f"ecscreen_{c}" for c in OUT_COLUMNS]
        self.n = 0
        self._buf: io.StringIO | None = None  # see render
        self._ncols = len(header)
        self._suffixes: dict[tuple[str, ...], str] = {}  # see _fast_text ("": the slow path)
        self._buf_csv: Any = None
        if fmt == "csv":
            self.csv = csv.writer(out, lineterminator="\n")
            self._row([spreadsheet_safe(h) for h in header] + self.added)
        elif fmt == "json":
            if head is None:
                out.write("[")
            else:
                fields = {k: v for k, v in head.items() if k != "warnings"}
                text = json.dumps(fields, ensure_ascii=False, indent=1, default=str)
                out.write(text[:-1].rstrip() + ',\n "results": [')

    def _row(self, cells: list[str], out: IO[str] | None = None, w: Any = None) -> None:
        joined = "".join(cells)
        if _UNSAFE_OUT.search(joined):
            cells = [_clean_out(c) for c in cells]
        if "\r" in joined:
            (out or self.out).write(_csv_line(cells))
        else:
            (w or self.csv).writerow(cells)

    def _fast_text(self, raw: RawRow, o: RowOutcome) -> str | None:
        """The CSV line of a row, as :meth:`_row` writes it, rendered without the csv module: the outcome's
        cells once per distinct outcome (repeat customers give equal outcomes: the long ``party_screening``
        cell is quoted once, not once per row), the input cells per row. None: the slow path (a row with a
        CR, a NUL or an undecodable byte, or not as many cells as the header).

        Equal text: with more than one cell and no CR, ``csv.writer`` (QUOTE_MINIMAL, ``,``, ``"\n"``)
        quotes a cell exactly when it holds ``,``, ``"`` or LF, doubling quotes (:func:`_csv_cell`), cell by
        cell; the spreadsheet guard and the NUL / undecodable-byte cleaning are per cell too."""
        vals = raw.values
        if len(vals) != self._ncols:
            return None
        key = (o.decision, o.rule_ids, o.reasons, o.list_hits, o.message, o.party_screening)
        sfx = self._suffixes.get(key)
        if sfx is None:
            cells = [spreadsheet_safe(c) if c and c[0] in _GUARDED else c for c in key]
            joined = "".join(cells)
            sfx = "" if "\r" in joined or _UNSAFE_OUT.search(joined) else ",".join(map(_csv_cell, cells)) + "\n"
            if len(joined) <= SUFFIX_MAX_CHARS:  # long texts (flagged rows' reasons) seldom repeat: not kept
                if len(self._suffixes) >= SUFFIXES_KEPT:
                    self._suffixes.clear()
                self._suffixes[key] = sfx
        if not sfx:
            return None
        line = ",".join(vals)
        if line.isascii() and line.count(",") == len(vals) - 1 and not _PLAIN_ASCII_BAD.search(line):
            # the usual row (ASCII, no cell with a delimiter, quote, CR, LF or NUL, none starting with a character
            # the spreadsheet guard acts on): every cell as it is, none quoted (what the lines below give then)
            return line + "," + sfx
        cells = [spreadsheet_safe(c) if c and c[0] in _GUARDED else c for c in vals]
        joined = "".join(cells)
        # (_UNSAFE_OUT finds NUL or a surrogate: none in ASCII text without NUL, the usual row)
        if "\r" in joined or ((not joined.isascii() or "\x00" in joined) and _UNSAFE_OUT.search(joined)):
            return None
        if "," in joined or '"' in joined or "\n" in joined:  # some cell is quoted (as _csv_cell does)
            cells = ['"' + c.replace('"', '""') + '"' if ("," in c or '"' in c or "\n" in c) else c for c in cells]
        return ",".join(cells) + "," + sfx

    def render(self, raw: RawRow, o: RowOutcome) -> str:
        """The text :meth:`write` writes for one row (without the separator of the ``json`` format): what a
        ``--jobs`` worker sends back, :meth:`put` then writes it. The same text as :meth:`write`."""
        if self.fmt != "csv":
            return self._record(raw, o)
        text = self._fast_text(raw, o)
        if text is not None:
            return text
        buf = self._buf
        if buf is None:
            buf = self._buf = io.StringIO()
            self._buf_csv = csv.writer(buf, lineterminator="\n")
        self._row(self._cells(raw, o), buf, self._buf_csv)
        text = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return text

    def put(self, text: str) -> None:
        """Write one row rendered by :meth:`render` (in a worker, by a Writer of the same format and header)."""
        if self.fmt == "csv":
            self.out.write(text)
        elif self.fmt == "jsonl":
            self.out.write(text + "\n")
        else:
            self.out.write(("\n" if self.n == 0 else ",\n") + text)
        self.n += 1

    def _cells(self, raw: RawRow, o: RowOutcome) -> list[str]:
        vals = raw.values
        n = len(self.header)
        cells = vals[:n] if len(vals) >= n else vals + [""] * (n - len(vals))
        cells += [o.decision, o.rule_ids, o.reasons, o.list_hits, o.message, o.party_screening]
        # only a cell starting with a formula character or a blank can need the spreadsheet guard
        return [spreadsheet_safe(c) if c and c[0] in _GUARDED else c for c in cells]

    def _record(self, raw: RawRow, o: RowOutcome) -> str:
        vals = raw.values
        rec = {
            "line": raw.line,
            "input": {h: _clean_out(vals[i] if i < len(vals) else "") for i, h in enumerate(self.header)},
            "decision": o.decision,
            "rule_ids": [r for r in o.rule_ids.split(";") if r],
            "findings": o.findings,
            "list_hits": o.hits,
            "message": _clean_out(o.message) or None,
            "warnings": o.warnings,
            "party_screening": o.screened,
        }
        return json.dumps(rec, ensure_ascii=False, default=str)

    def write(self, raw: RawRow, o: RowOutcome) -> None:
        if self.fmt == "csv":
            text = self._fast_text(raw, o)
            if text is not None:
                self.out.write(text)
            else:
                self._row(self._cells(raw, o))
            self.n += 1
        else:
            self.put(self._record(raw, o))

    def close(self, tail: dict[str, Any] | None = None) -> None:
        if self.fmt == "json":
            if self.head is None:
                self.out.write("\n]\n" if self.n else "]\n")
            else:
                rest = json.dumps(tail or {}, ensure_ascii=False, indent=1, default=str)[1:].strip()
                self.out.write(("\n]" if self.n else "]") + (",\n " + rest if rest != "}" else "}") + "\n")
        self.out.flush()


# --------------------------------------------------------------------------- the run


# --------------------------------------------------------------------------- parallel (--jobs)

_WORKER: dict[str, Any] = {}
CHUNK_ORDERS = 256  # a --jobs run's first window: orders per process; the windows after it double in size up to
CHUNK_ORDERS_MAX = 256  # this many orders per process. Larger windows (a process's part of a window is one chunk,
# its new parties matched in one batch call) gained no CPU the noise could show at 100k ERP rows under load
# (512: 27.5 against 27.3 CPU-s over the tree) and cost 15-35 MB of peak PSS (488 / 508-511 MB at 512 / 1,024
# against 473 MB; the target is <= 500 MB for --jobs 2): kept equal, the ramp is there to tune.
# --jobs auto (the default): one more process per AUTO_BYTES of input, at most one per CPU this process may
# run on and at most AUTO_MAX_JOBS (memory: each process keeps its own caches). Below 2 * AUTO_BYTES (about
# 3,500 ERP rows), or when the size is not known (stdin), one process: a fork and a second cold cache do not
# pay for themselves on a small file. The output never depends on the number of processes.
AUTO_BYTES = 256 * 1024
AUTO_MAX_JOBS = 4


def cpus_available() -> int:
    """CPUs this process may run on (its affinity mask, e.g. under ``taskset`` or a container's cpuset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def auto_jobs(size: int | None, cpus: int | None = None) -> int:
    """The processes ``--jobs auto`` uses for an input of ``size`` bytes (None: unknown, e.g. stdin)."""
    if not size:
        return 1
    cpus = cpus_available() if cpus is None else cpus
    return max(1, min(cpus, AUTO_MAX_JOBS, size // AUTO_BYTES))


Rendered = tuple[list[str], list[str]]  # an order's rows as written (Writer.render) and their decisions


def _worker_chunk(orders: list[Order]) -> tuple[list[Any], tuple[int, int, int, int, int, float, float]]:
    """Runs in a forked worker (or in the parent, for its own shard): screen a chunk of orders with the
    inherited engine (memo per process).

    With a writer spec (``_WORKER["render"]``: no recorder needs the outcomes) the worker also renders the
    rows as they will be written and sends back text and decisions (:data:`Rendered`) per order, not the
    outcome objects: the parent then only reads, shards and writes the workers' rows, and far less is
    pickled.

    The stats end with the seconds (wall) the process spent between its chunks since its first one: in a
    worker, the time it waited for work (issue 14; :data:`LAST_WAITS`)."""
    t0 = time.perf_counter()
    last = _WORKER.get("chunk_end")
    if last is not None:
        _WORKER["idle"] = _WORKER.get("idle", 0.0) + t0 - last
    if "screener" not in _WORKER:
        _WORKER["screener"] = BatchScreener(_WORKER["engine"], _WORKER["options"])
        memo_cm = _WORKER["memo_cm"] = _party_memo(_WORKER["engine"])
        _WORKER["memo"] = memo_cm.__enter__()  # process-local: lives as long as the worker (the parent: the run)
        spec = _WORKER.get("render")
        _WORKER["writer"] = Writer(io.StringIO(), spec[0], spec[1]) if spec is not None else None
    sc: BatchScreener = _WORKER["screener"]
    memo: PartyMemo | None = _WORKER["memo"]
    parse = _WORKER.get("parse")
    if parse is not None:  # packed orders of raw rows (pack_order): parsed here, not in the parent
        orders = [parse_rows_of(o, *parse) for o in orders]  # type: ignore[arg-type]
    outs = sc.screen_orders(orders, memo)
    w: Writer | None = _WORKER["writer"]
    got: list[Any] = outs if w is None else [
        ([w.render(pr.raw, o) for pr, o in zip(order.rows, rows, strict=True)], [o.decision for o in rows])
        for order, rows in zip(orders, outs, strict=True)]
    stats = (os.getpid(), sc.hits, sc.misses, memo.hits if memo else 0, memo.misses if memo else 0,
             time.process_time(),  # the process's CPU seconds so far: what _Balance compares
             _WORKER.get("idle", 0.0))
    _WORKER["chunk_end"] = time.perf_counter()
    return got, stats


class _Here:
    """The parent's own share of a window, screened here when the window is drained (not when it is sent), so
    that the worker always has the next window queued while the parent screens, writes and reads: answers
    like the pool's async result."""

    __slots__ = ("orders", "value")

    def __init__(self, orders: list[Any]) -> None:
        self.orders: list[Any] | None = orders
        self.value: Any = None

    def ready(self) -> bool:
        """Whether the part has been screened (``get`` screens it if not)."""
        return self.orders is None

    def wait(self, timeout: float | None = None) -> None:
        return None

    def get(self) -> Any:
        if self.orders is not None:
            self.value, self.orders = _worker_chunk(self.orders), None
            _check_signal()
        return self.value


def _worker_signals() -> None:
    """Workers leave SIGINT to the parent (which cleans up and stops them) and die on SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _warm_up(engine: Any) -> None:
    """Load the lists and build the list matcher before screening (and before forking workers)."""
    if not getattr(engine, "use_lists", False):
        return
    try:
        from ecscreen.parties.screening import load_pack
        from ecscreen.parties.store import active_lists, matcher_for
    except ModuleNotFoundError:
        return
    matcher_for(engine.party_lists if hasattr(engine, "party_lists") else active_lists())
    load_pack()
    if hasattr(engine, "warm_up"):  # the packs' names lists: shared with the workers (Engine.warm_up)
        engine.warm_up()


def _run_parallel(orders: Iterable[Order], engine: Any, options: BatchOptions, jobs: int, emit: Any,
                  summary: BatchSummary, tick: Any, render: tuple[Any, ...] | None = None) -> None:
    """Screen chunks of orders in ``jobs`` processes: this one and ``jobs - 1`` forked workers (each a shard of
    the customers, see :class:`_Balance`); results are written in input order and at most :data:`IN_FLIGHT`
    windows of at most ``CHUNK_ORDERS_MAX * jobs`` orders are in flight, so memory stays flat. With ``render`` (the run's writer and
    ``emit_text(order, texts, decisions)``) the rows are rendered where they are screened and the parent writes
    the text; with a third member ``(columns, ncols)`` the orders are of light rows (:func:`light_row`), sent
    packed (:func:`pack_order`) and parsed where they are screened.

    The parent screens a shard itself rather than only reading and writing beside ``jobs`` workers (issue 14,
    memory): the engine, lists and index loaded before the fork are shared with the workers until a process
    writes to a page (reference counts, allocations); a page every screening process writes to was copied
    into each of them, and with an idle parent its original stayed too (three copies for two workers)."""
    import multiprocessing as mp

    _WORKER.clear()
    _WORKER.update(engine=engine, options=options)
    if render is not None:
        _WORKER["render"] = (render[0].fmt, render[0].header)
        emit = render[1]
        if len(render) > 2:  # the orders are of light rows: the workers parse them
            _WORKER["parse"] = render[2]
    ctx = mp.get_context("fork")
    stats: dict[int, tuple[int, int, int, int, int, float, float]] = {}  # per process pid: its cumulative counters
    _DEFER[0] = True
    try:
        _pool_run(ctx, jobs, orders, emit, stats, tick)
    finally:
        _DEFER[0] = False
        memo_cm = _WORKER.get("memo_cm")
        if memo_cm is not None:  # the parent's own party memo: the engine's screener restored
            memo_cm.__exit__(None, None, None)
        _WORKER.clear()
    _check_signal()
    summary.cache_hits = sum(s[1] for s in stats.values())
    summary.cache_misses = sum(s[2] for s in stats.values())
    summary.party_hits = sum(s[3] for s in stats.values())
    summary.party_misses = sum(s[4] for s in stats.values())


def _pool_run(ctx: Any, jobs: int, orders: Iterable[Order], emit: Any, stats: dict[int, Any], tick: Any) -> None:
    # shard 0 is screened here, each other shard by its own single-process pool: an order goes to the process
    # of its end user (see _shard), so each process's party memo sees its own customers and a repeat customer
    # is screened once in the run, not once per process
    pools: list[Any] = []
    try:
        for _ in range(jobs - 1):
            pools.append(_quiet_pool()(1, initializer=_worker_signals, context=ctx))
            _widen_pipes(pools[-1])
        _pool_feed(pools, orders, emit, stats, tick)
    except BaseException:
        # interrupted (or failed): stop the workers now. Pool.terminate() can deadlock here (its task
        # thread may be blocked writing a chunk to workers that are gone), so the workers are killed
        # and the pool's exit-time finaliser is cancelled; its threads are daemons.
        from multiprocessing import pool as mp_pool

        for pool in pools:
            with contextlib.suppress(Exception):  # stop the pool from starting replacement workers first
                pool._state = mp_pool.TERMINATE  # type: ignore[attr-defined]
                pool._worker_handler._state = mp_pool.TERMINATE  # type: ignore[attr-defined]
                pool._worker_handler.join(2)  # type: ignore[attr-defined]
            for w in list(getattr(pool, "_pool", [])):
                with contextlib.suppress(Exception):
                    w.kill()
                    w.join(2)
            with contextlib.suppress(Exception):
                pool._terminate.cancel()  # type: ignore[attr-defined]
        raise
    for pool in pools:
        pool.close()
    for pool in pools:
        pool.join()


PIPE_BYTES = 1 << 20  # a --jobs pool's task and result pipes (Linux: F_SETPIPE_SZ; the default is 64 KiB)


def _widen_pipes(pool: Any) -> None:
    """Give a pool's task and result pipes room for a whole window's part (issue 14: a worker's rendered rows are
    ~450 KB a window at 256 orders, its orders ~140 KB). Through a 64 KiB pipe a message went over in pieces: the
    worker, writing its rows, waited for the parent's result thread to read each piece, and that thread needs
    the GIL (held by the parent's screening, given up every switch interval) after each read; the task thread
    likewise, writing the worker's orders. Only where the system allows it (Linux); the pipes work either way."""
    import fcntl

    op = getattr(fcntl, "F_SETPIPE_SZ", None)
    if op is None:
        return
    for conn in (pool._inqueue._writer, pool._outqueue._reader):  # one end of each pipe sets its size
        with contextlib.suppress(OSError, AttributeError, ValueError):
            fcntl.fcntl(conn.fileno(), op, PIPE_BYTES)


@functools.cache
def _quiet_pool() -> type:
    """``multiprocessing.pool.Pool`` whose worker-maintenance thread does not wake on every result.

    The stock pool's maintenance thread waits on the result pipe too, without reading it: from a result's
    arrival until the result thread (which needs the GIL, held by the parent's screening) has read it, that
    thread spun, taking the GIL from the screening in turn (issue 14: 0.18 CPU-s of the parent's threads on
    100k ERP rows). It is woken by what it acts on: a worker's exit (its sentinel, as before) and the pool's
    own notifications (close, terminate, the last result taken out of the cache)."""
    from multiprocessing.pool import Pool

    class QuietPool(Pool):
        def _get_sentinels(self) -> list[Any]:
            return [self._change_notifier._reader]  # type: ignore[attr-defined]

    return QuietPool


# the parent's share of the customers with --jobs, against 1 for each worker: it also reads, groups and writes
# every row, so a smaller share keeps the processes equally busy. Measured (issue 14, 100k ERP rows, CPU per
# process, in-process run): 0.75 left the worker 0.7-1.2 CPU-s busier than the parent, 0.9 the parent 0.4-0.5 s
# busier; through the CLI (imports and start-up, ~0.7 s under load, are the parent's too) 0.85 left the parent
# ~1.4 s busier: 0.8 (--jobs 2: 44 % of the customers). With a recorder the parent also parses every row in
# full and records every order: at 0.72 it was still ~0.25 CPU-s busier than the worker after the fork on a
# recorded 5,000-row run (1.9-2.0 s against 1.7-1.75 s): PARENT_WEIGHT_RECORDED 0.62 (--jobs 2: 38 %).
PARENT_WEIGHT = 0.8
PARENT_WEIGHT_RECORDED = 0.62


def _customer_hash(order: Order) -> int:
    """The hash an order is sharded by: its end user's name (else the first party named; else its id), blanks
    and case folded, so that the orders of one customer go to one process (its party memo screens the customer
    once). Deterministic (crc32)."""
    head = order.rows[0].fields
    key = head.get("end_user") or head.get("consignee") or head.get("purchaser") or order.order_id
    return zlib.crc32(" ".join(str(key).split()).casefold().encode("utf-8", "surrogatepass"))


def _shard(order: Order, n: int, weight: float | None = None) -> int:
    """The process of an order (0: the parent, with ``weight``, default :data:`PARENT_WEIGHT`, against 1 for
    each worker) by :func:`_customer_hash`. Results never depend on it."""
    if n <= 1:
        return 0
    # the split of a --jobs run's first window (one place decides it: _Balance.pick)
    return _Balance(n, PARENT_WEIGHT if weight is None else weight).pick(_customer_hash(order))


# _Balance: how far one window may move a process's weight (a factor), how strongly it follows a window's
# imbalance (the exponent of mean / own CPU), the weights' bounds, and the least CPU a process must have spent
# on a window for the window to count (a nearly empty share measures nothing)
BALANCE_STEP = 1.25
BALANCE_GAIN = 0.5
BALANCE_BOUNDS = (0.05, 20.0)
BALANCE_MIN_CPU = 0.02
IN_FLIGHT = 4  # windows read and not yet written (see _serve): each worker has up to three windows queued after
# the oldest, and the parent screens its part of up to as many windows ahead of a late worker, so that neither
# waits for the other's one window (issue 14)


class _Balance:
    """The processes' shares of the customers during a ``--jobs`` run (process 0: the parent), adjusted from the
    CPU time each process spent on the same window, so that they stay equally busy whatever the file, the
    machine's load or the parent's other work (reading, grouping, writing, recording) costs.

    A window's orders are split by :func:`_customer_hash` into consecutive ranges of the hash space, one per
    process, sized by the weights (the parent starts at ``weight``, each worker at 1, as :func:`_shard`). After
    each window every process that screened part of it reports its CPU seconds so far; a process that spent more
    than the mean on the window gets a smaller weight, one that spent less a larger one (by ``(mean / own) **
    BALANCE_GAIN``, at most a factor :data:`BALANCE_STEP` a window). Only the customers near a range's edge
    change process, and a customer that moves is screened once more by its new process (its party memo):
    results never depend on the split, only the time does.

    With ``lag`` windows between a split and its report (``IN_FLIGHT - 1``: the windows read ahead were split
    before the report of the oldest came back), the CPU is compared over the last ``lag`` windows and each
    report moves the weights by a ``lag``-th of that (exponent and step): moved by every report, with the
    windows already split by the earlier moves, the shares overshot and swung from one process to the other,
    and every swing moved customers (issue 14: at 4 windows in flight the parent's share went 0.22-0.72 and
    ~10 % more parties were screened)."""

    __slots__ = ("weights", "cuts", "last", "updates", "lag", "seen")

    def __init__(self, jobs: int, weight: float, lag: int = 1) -> None:
        self.weights = [weight] + [1.0] * (jobs - 1)
        self.cuts: list[int] = []
        self.last: list[float | None] = [None] * jobs  # each process's CPU seconds at the last window it reported
        self.updates = 0
        self.lag = max(1, lag)
        self.seen: deque[list[float | None]] = deque(maxlen=self.lag)  # ``last`` after each of the last reports
        self._cut()

    def _cut(self) -> None:
        total, acc, cuts = sum(self.weights), 0.0, []
        for w in self.weights[:-1]:
            acc += w
            cuts.append(round(acc / total * 65536))
        self.cuts = cuts

    def pick(self, h: int) -> int:
        x = h % 65536
        for i, c in enumerate(self.cuts):
            if x < c:
                return i
        return len(self.cuts)

    def update(self, cpu: list[float | None]) -> None:
        """``cpu``: each process's CPU seconds after the window (None: it had no part of the window)."""
        base = self.seen[0] if len(self.seen) == self.lag else [None] * len(cpu)  # ``lag`` reports ago
        spent = [None if c is None or b is None else c - b for c, b in zip(cpu, base, strict=True)]
        self.last = [c if c is not None else b for c, b in zip(cpu, self.last, strict=True)]
        self.seen.append(self.last)
        if any(x is None or x < BALANCE_MIN_CPU * self.lag for x in spent):
            return  # a process had no (measurable) part of these windows: nothing to compare
        mean = sum(spent) / len(spent)  # type: ignore[arg-type]
        lo, hi = BALANCE_BOUNDS
        step, gain = BALANCE_STEP ** (1 / self.lag), BALANCE_GAIN / self.lag
        for i, x in enumerate(spent):
            f = min(step, max(1 / step, (mean / x) ** gain))  # type: ignore[operator]
            self.weights[i] = min(hi, max(lo, self.weights[i] * f))
        self.updates += 1
        self._cut()


LAST_BALANCE: list[_Balance] = []  # the last --jobs run's balance (for tests and benchmarks; replaced each run)
# the last --jobs run's waiting (for tests and benchmarks): the seconds (wall) and times the parent waited for a
# worker's part, the windows written, and per worker pid its seconds between chunks (waiting for work, and
# receiving and sending a part), as of the last part it sent
LAST_WAITS: dict[str, Any] = {}


def _pool_feed(pools: list[Any], orders: Iterable[Order], emit: Any, stats: dict[int, Any], tick: Any) -> None:
    """Send windows of ``CHUNK_ORDERS * jobs`` orders (doubling up to ``CHUNK_ORDERS_MAX * jobs``), split by
    customer (:class:`_Balance`), with at most :data:`IN_FLIGHT` windows read and not yet written (the workers'
    parts sent at once, queued in their pools; the parent's own screened later, see :func:`_serve`); each
    window's results are put back in input order before they are written, and the CPU each process spent on it
    adjusts the shares of the windows after it."""
    jobs = len(pools) + 1
    # no render spec: a recorder (the parent also parses every row in full and records every order)
    balance = _Balance(jobs, PARENT_WEIGHT if "render" in _WORKER else PARENT_WEIGHT_RECORDED, lag=IN_FLIGHT - 1)
    LAST_BALANCE[:] = [balance]
    waits = LAST_WAITS
    waits.clear()
    waits.update(parent_wait_s=0.0, parent_waits=0, windows=0, worker_idle_s={})
    pending: deque[tuple[list[Order], list[tuple[int, list[int], Any]]]] = deque()

    def drain_one() -> None:
        window, parts = pending.popleft()
        outs: list[Any] = [None] * len(window)
        cpu: list[float | None] = [None] * jobs
        for proc, pos, fut in parts:
            if proc:  # (the parent's own part is screened by fut.get())
                _wait_for(fut, waits)
            got, st = fut.get()
            stats[st[0]] = st
            if proc:
                waits["worker_idle_s"][st[0]] = st[6]
            cpu[proc] = st[5]
            for p, o in zip(pos, got, strict=True):
                outs[p] = o
        balance.update(cpu)
        waits["windows"] += 1
        for o, got in zip(window, outs, strict=True):
            if type(got) is tuple:  # rendered by the worker: (texts, decisions)
                emit(o, *got)
            else:
                emit(o, got)
        if tick is not None:
            tick()

    window: list[Order] = []
    size = CHUNK_ORDERS * jobs  # the first window small (the workers start early), then doubling up to the most
    for order in orders:
        _check_signal()
        window.append(order)
        if len(window) >= size:
            pending.append((window, _submit(pools, window, balance)))
            window = []
            size = min(2 * size, CHUNK_ORDERS_MAX * jobs)
            _serve(pending, IN_FLIGHT, drain_one, waits)
    if window:
        pending.append((window, _submit(pools, window, balance)))
    _serve(pending, 1, drain_one, waits)


def _serve(pending: deque[tuple[list[Order], list[tuple[int, list[int], Any]]]], limit: int, drain_one: Any,
           waits: dict[str, Any]) -> None:
    """Write windows until fewer than ``limit`` are pending, never waiting for a worker while there is other work
    (issue 14: the parent and its worker took turns being late when each could be at most one window ahead):

    - the oldest window is written as soon as every worker's part of it has come back (the parent's own part is
      screened then if it was not yet);
    - while a worker's part of it has not, the parent screens its own part of the oldest window it has not
      screened yet (one window after another: a process screens its parts in input order);
    - only when it has screened its part of every pending window does it wait for the worker.

    With ``limit`` :data:`IN_FLIGHT` the parent reads the next window as soon as one is written: each worker has
    the windows after the oldest queued (up to ``IN_FLIGHT - 1``) and does not wait while the parent writes and
    reads; the parent gets ahead of a late worker by up to as many windows of its own part."""
    while len(pending) >= limit and pending:
        head = pending[0][1]
        if all(fut.ready() for proc, _, fut in head if proc):
            drain_one()
            continue
        mine = next((fut for _, parts in pending for proc, _, fut in parts if not proc and not fut.ready()), None)
        if mine is not None:  # screen the parent's own part of a later window while the worker catches up
            mine.get()
            continue
        for proc, _, fut in head:
            if proc and not fut.ready():
                _wait_for(fut, waits)
                break


def _wait_for(fut: Any, waits: dict[str, Any]) -> None:
    """Wait until a worker's part has come back (short waits: a deferred signal is acted on within a second),
    adding the time waited to ``waits`` (:data:`LAST_WAITS`)."""
    if fut.ready():
        return
    t0 = time.perf_counter()
    while not fut.ready():
        fut.wait(0.5)
        _check_signal()
    waits["parent_wait_s"] += time.perf_counter() - t0
    waits["parent_waits"] += 1


def _submit(pools: list[Any], window: list[Order], balance: _Balance) -> list[tuple[int, list[int], Any]]:
    """A window's parts (process, positions, result): the parent's own share first (:class:`_Here`, screened when
    the window is drained, while the workers screen theirs), then the workers' shares, sent to their pools."""
    jobs = len(pools) + 1
    split: list[list[int]] = [[] for _ in range(jobs)]
    pick = balance.pick
    for i, o in enumerate(window):
        split[pick(_customer_hash(o))].append(i)
    pack = pack_order if "parse" in _WORKER else None
    parts: list[tuple[int, list[int], Any]] = [
        (w, pos, pools[w - 1].apply_async(_worker_chunk, ([pack(window[i]) if pack else window[i] for i in pos],)))
        for w, pos in enumerate(split) if pos and w]
    if split[0]:  # first: drain_one screens it before it waits for the workers' parts
        parts.insert(0, (0, split[0], _Here([pack(window[i]) if pack else window[i] for i in split[0]])))
    return parts


def _chunks(orders: Iterable[Order], n: int) -> Iterator[list[Order]]:
    chunk: list[Order] = []
    for order in orders:
        chunk.append(order)
        if len(chunk) >= n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _each_row(first: RawRow | None, rows: Iterable[RawRow], fn: Callable[[RawRow, Columns, int], ParsedRow],
              cols: Columns, ncols: int) -> Iterator[ParsedRow]:
    if first is not None:
        yield fn(first, cols, ncols)
    for r in rows:
        yield fn(r, cols, ncols)


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
    encoding: str = "utf-8",
    summary: BatchSummary | None = None,
    envelope: dict[str, Any] | None = None,
    recorder: Any = None,
) -> BatchSummary:
    """Screen every row of ``stream`` and write them to ``out``. ``progress(rows, bytes)`` is optional.

    ``summary`` (optional) is filled in as rows are written, so a caller interrupted by a signal
    can say how many rows were written. ``recorder`` (optional, an ``ecscreen.records.recorder.BatchRecorder``)
    is given the header, then every order with its row outcomes as they are written, then ``finish()``."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    t0 = time.perf_counter()
    _check_encoding(encoding)
    state = ReadState(size=size, encoding=encoding)
    summary = summary if summary is not None else BatchSummary()
    rows = read_rows(stream, state, delimiter)
    first = next(rows, None)
    if not state.header:
        raise UsageError("no header row: the file is empty", file=file)
    cols = Columns.from_header(state.header, columns or {}, file)
    summary.warnings += _column_warnings(cols)
    writer = Writer(out, fmt, state.header, head=envelope)
    if recorder is not None:
        recorder.start(state.header, PARTY_COLUMNS)
    ncols = len(state.header)

    counts = summary.counts
    jobs = (options.jobs if options else 1) or 1
    # --jobs without a recorder: the workers parse and render the rows, the parent reads, groups and writes
    split = jobs > 1 and recorder is None
    orders = group_orders(_each_row(first, rows, light_row if split else parse_row, cols, ncols),
                          "order_id" in cols.index)

    def emit(order: Order, outs: list[RowOutcome]) -> None:
        summary.orders += 1
        for pr, o in zip(order.rows, outs, strict=True):
            writer.write(pr.raw, o)
            counts[o.decision] += 1
            summary.rows += 1
        if recorder is not None:
            recorder.add(order, outs)

    def emit_text(order: Order, texts: list[str], decisions: list[str]) -> None:
        summary.orders += 1
        for text, d in zip(texts, decisions, strict=True):
            writer.put(text)
            counts[d] += 1
            summary.rows += 1

    tick = (lambda: progress(summary.rows, state.bytes_read)) if progress is not None else None
    _warm_up(engine)
    with _gc_for_run():
        # --jobs: the workers render the rows unless a recorder needs the outcome objects
        _screen_all(orders, engine, options, emit, summary, tick,
                    (writer, emit_text, (cols, ncols)) if split else None)
    if recorder is not None:
        recorder.finish()
    if state.bad_rows:
        summary.warnings.append(f"{file}: {state.bad_rows:,} row(s) could not be read as CSV exactly "
                                f"(error rows; see their message)")
    _close(writer, summary, envelope)
    summary.seconds = time.perf_counter() - t0
    return summary


def _check_encoding(encoding: str) -> None:
    try:
        ascii_compatible = codecs.lookup(encoding) and "a,b\r\n".encode(encoding) == b"a,b\r\n"
    except LookupError:
        raise UsageError(f"--encoding: unknown encoding {encoding!r}") from None
    if not ascii_compatible:
        raise UsageError(f"--encoding: {encoding!r} is not supported (use an ASCII-compatible encoding such "
                         f"as utf-8, cp1252 or latin-1)")


def _column_warnings(cols: Columns) -> list[str]:
    out = []
    if cols.unknown:
        out.append(f"columns not used for screening (passed through): {', '.join(cols.unknown)}")
    for name, where in cols.dups.items():
        out.append(f"column {name!r} appears {len(where)} times (columns "
                   f"{', '.join(str(i + 1) for i in where)}): a row where they disagree is an error")
    return out


@contextlib.contextmanager
def _gc_for_run() -> Iterator[None]:
    """Cyclic GC settings for a run (restored after)."""
    # young generations only: a full collection scans the whole heap (seconds in a long-lived process that
    # has screened before); what is old is frozen as it is, and unfrozen into the oldest generation after
    gc.collect(1)
    gc.freeze()  # engine, lists, matcher index: never scanned by the GC again, never copied into workers
    # screening allocates millions of short-lived objects (freed by reference counting) while the memos
    # and caches keep a large young heap: with the default gen-0 threshold (700) cyclic GC passes took
    # about a quarter of the run. Rarer passes for the run (inherited by --jobs workers), restored after.
    # (Freezing after every chunk as well was tried: no faster at 1M rows, and +48 MB peak RSS (523 vs 475 MB),
    # since what became cyclic garbage after a freeze was never collected during the run.)
    saved_threshold = gc.get_threshold()
    gc.set_threshold(max(saved_threshold[0], GC_THRESHOLD), *saved_threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*saved_threshold)
        gc.unfreeze()


def _screen_all(orders: Iterable[Order], engine: Any, options: BatchOptions | None, emit: Any,
                summary: BatchSummary, tick: Any, render: tuple[Any, ...] | None = None) -> None:
    """Screen every order (in ``--jobs`` processes, or here) and emit its rows in input order (``render``:
    see :func:`_run_parallel`)."""
    jobs = (options.jobs if options else 1) or 1
    if jobs > 1:
        _run_parallel(orders, engine, options or BatchOptions(), jobs, emit, summary, tick, render)
        return
    screener = BatchScreener(engine, options)
    with _party_memo(engine) as memo:
        for chunk in _chunks(orders, CHUNK):
            for order, outs in zip(chunk, screener.screen_orders(chunk, memo), strict=True):
                emit(order, outs)
                if tick is not None:
                    tick()
    if memo is not None:
        summary.party_hits, summary.party_misses = memo.hits, memo.misses
    summary.cache_hits = screener.hits
    summary.cache_misses = screener.misses


def _close(writer: Writer, summary: BatchSummary, envelope: dict[str, Any] | None) -> None:
    if envelope is None:
        writer.close()
        return
    from ecscreen.outputs.envelope import envelope_tail

    summary.envelope = {**envelope, **envelope_tail(
        envelope, counts=summary.counts, rows=summary.rows, orders=summary.orders,
        warnings=summary.warnings, exit_code=summary.exit_code)}
    writer.close({k: summary.envelope[k] for k in ("decision", "exit_code", "rows", "orders", "counts",
                                                    "warnings")})


class AtomicOutput:
    """``--out FILE``: rows go to a temporary file in FILE's directory, renamed onto FILE only when the
    run completes. :meth:`discard` (error, SIGINT, SIGTERM) removes it: a partial file never looks
    like a complete one, and an existing FILE is left as it was.

    An existing FILE that is not a regular file (a device such as /dev/null, a FIFO, a socket) is written in
    place (:attr:`in_place`; ``tmp`` is None): renaming onto it would replace the node itself (as root,
    ``-o /dev/null`` turned the device into a plain file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp: Path | None = None
        if not_regular_file(path):
            self.fh: IO[str] = _open_out(path)
            return
        directory = path.parent if str(path.parent) else Path(".")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=directory)
        except OSError as exc:
            raise UsageError(f"cannot write: {exc.strerror}", file=str(path)) from None
        self.tmp = Path(tmp)
        self.fh = os.fdopen(fd, "w", encoding="utf-8", newline="")

    @property
    def in_place(self) -> bool:
        return self.tmp is None

    def commit(self) -> None:
        if self.tmp is None:
            try:
                self.fh.close()
            except OSError as exc:
                raise UsageError(f"cannot write: {exc.strerror}", file=str(self.path)) from None
            return
        self.fh.flush()
        with contextlib.suppress(OSError):
            os.fsync(self.fh.fileno())
        self.fh.close()
        mask = os.umask(0)
        os.umask(mask)
        with contextlib.suppress(OSError):
            os.chmod(self.tmp, 0o666 & ~mask)
        try:
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.discard()
            raise UsageError(f"cannot write: {exc.strerror}", file=str(self.path)) from None

    def discard(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.fh.close()
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                self.tmp.unlink()


def not_regular_file(path: Path) -> bool:
    """True for an existing path that is not a regular file (a device such as /dev/null, a FIFO, a socket)."""
    try:
        return path.exists() and not path.is_file()
    except OSError:
        return False


def _open_out(path: Path | None) -> IO[str]:
    if path is None:
        return sys.stdout
    try:
        return path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"cannot write: {exc.strerror}", file=str(path)) from None


_DEFER: list[bool] = [False]  # True while a worker pool runs: signals are handled at safe points
_PENDING: list[int] = []  # a signal received while deferred


def _check_signal() -> None:
    """Raise :class:`Interrupted` for a signal received while deferred (called at safe points)."""
    if _PENDING:
        raise Interrupted(_PENDING[0])


class _signals:
    """SIGINT/SIGTERM raise :class:`Interrupted` while screening (so outputs are cleaned up); a second
    signal during the clean-up is ignored. The previous handlers are restored on exit.

    While a worker pool runs (``--jobs``), raising from inside the pool's locks could deadlock its
    shutdown: the signal is then recorded and raised at the next safe point (after a chunk)."""

    def __enter__(self) -> _signals:
        self.saved: dict[int, Any] = {}
        _PENDING.clear()
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, self._raise)
        except ValueError:  # not the main thread: leave signals alone
            pass
        return self

    @staticmethod
    def _raise(signum: int, frame: Any) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        if _DEFER[0]:
            _PENDING.append(signum)
            return
        raise Interrupted(signum)

    def __exit__(self, *exc: Any) -> None:
        for sig, h in self.saved.items():
            signal.signal(sig, h)
        _PENDING.clear()
