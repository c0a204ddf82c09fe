"""Restricted-party lists: importers, the local store, the embedded CSL default, list-health guards.

Formats read by :func:`read_list` (detected from content, see docs/party-screening.md):
official CSL CSV (29 columns) and JSON, the compact CSL JSON/CSV, the OFAC SDN legacy CSV set
(sdn/alt/add), the UN Security Council consolidated XML and the ecscreen list format (YAML/CSV,
``kind: party_list``).
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import gzip
import hashlib
import io
import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ecscreen import yamlio
from ecscreen.errors import EcscreenError, InputFileError
from ecscreen.matching import (
    ListEntry,
    Matcher,
    index_cache_dir,
    index_cache_status,
    read_cache_file,
    write_cache_file,
)
from ecscreen.models import ListInfo
from ecscreen.packs import PackMeta

__all__ = [
    "ListError",
    "ScreeningList",
    "OwnList",
    "OwnListEntry",
    "read_list",
    "import_list",
    "stored_lists",
    "load_default",
    "active_lists",
    "matcher_for",
    "matcher_cache_status",
    "parse_footnotes",
    "code_from_source",
    "store_dir",
    "DEFAULT_LIST_FILE",
]

DEFAULT_LIST_FILE = "csl-2026-07-31.json.gz"
SHRINK_WARN = 0.10
SUBLIST_SHRINK_WARN = 0.25


class ListError(InputFileError):
    """A list file could not be read or imported (names file, line and field where known)."""


# --------------------------------------------------------------------------- models


@dataclass
class ScreeningList:
    """A list's metadata plus its entries."""

    info: ListInfo
    entries: list[ListEntry]
    format: str = ""
    path: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def meta(self) -> ListInfo:
        return self.info

    def counts_by_code(self) -> dict[str, int]:
        return dict(Counter(e.source_code for e in self.entries))

    def with_age(self, today: dt.date) -> ScreeningList:
        age = (today - self.info.date).days if self.info.date else None
        return ScreeningList(self.info.model_copy(update={"age_days": age}), self.entries, self.format, self.path)


class OwnListEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    source_code: str | None = None
    source: str | None = None
    countries: list[str] = Field(default_factory=list)
    addresses: list[str] = Field(default_factory=list)
    programs: list[str] = Field(default_factory=list)
    type: str | None = None
    license_requirement: str | None = None
    license_policy: str | None = None
    federal_register_notice: str | None = None
    start_date: dt.date | None = None
    remarks: str | None = None
    source_url: str | None = None
    footnotes: list[int] | None = None

    @model_validator(mode="after")
    def _check(self) -> OwnListEntry:
        for fn in self.footnotes or []:
            if not 1 <= fn <= 5:
                raise ValueError(f"footnote {fn} is not an Entity List footnote (1-5)")
        return self


class OwnList(BaseModel):
    """The ecscreen list format (``kind: party_list``)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["party_list"]
    name: str = Field(min_length=1)
    source: str | None = None
    date: dt.date | None = None
    source_code: str | None = None
    source_url: str | None = None
    pack: PackMeta | None = Field(default=None, description="Optional rule-pack metadata (derived when omitted)")
    entries: list[OwnListEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fill(self) -> OwnList:
        ids = Counter(e.id for e in self.entries)
        dup = [i for i, n in ids.items() if n > 1]
        if dup:
            raise ValueError(f"duplicate entry id(s): {', '.join(sorted(dup))}")
        for e in self.entries:
            if not (e.source_code or self.source_code):
                raise ValueError(f"entry {e.id!r} has no source_code and the list sets no default")
        if self.pack is None:
            slug = re.sub(r"[^a-z0-9_.-]+", "-", self.name.lower()).strip("-") or "list"
            self.pack = PackMeta(
                id=f"party-list.{slug}"[:80],
                version=str(self.date or "1"),
                jurisdiction="US-EAR",
                title=self.name,
                as_of=self.date,
            )
        return self

    def to_entries(self) -> list[ListEntry]:
        out = []
        for e in self.entries:
            code = (e.source_code or self.source_code or "").upper()
            footnotes = e.footnotes if e.footnotes is not None else parse_footnotes(e.license_requirement, e.remarks)
            out.append(
                ListEntry(
                    id=e.id,
                    source=e.source or self.source or _SOURCE_NAMES.get(code, code),
                    source_code=code,
                    name=e.name,
                    aliases=list(e.aliases),
                    countries=_countries(e.countries),
                    addresses=list(e.addresses),
                    programs=list(e.programs),
                    type=e.type,
                    license_requirement=e.license_requirement,
                    license_policy=e.license_policy,
                    federal_register_notice=e.federal_register_notice,
                    start_date=e.start_date,
                    remarks=e.remarks,
                    source_url=e.source_url or self.source_url,
                    footnotes=sorted(set(footnotes)),
                    list_name=self.name,
                )
            )
        return out


_SOURCE_NAMES = {
    "EL": "Entity List (EL) - Bureau of Industry and Security",
    "SDN": "Specially Designated Nationals (SDN) - Treasury Department",
    "DPL": "Denied Persons List (DPL) - Bureau of Industry and Security",
    "UVL": "Unverified List (UVL) - Bureau of Industry and Security",
    "MEU": "Military End User (MEU) List - Bureau of Industry and Security",
    "DTC": "ITAR Debarred (DTC) - State Department",
    "SSI": "Sectoral Sanctions Identifications List (SSI) - Treasury Department",
    "ISN": "Nonproliferation Sanctions (ISN) - State Department",
    "PLC": "Palestinian Legislative Council List (PLC) - Treasury Department",
    "CMIC": "Non-SDN Chinese Military-Industrial Complex Companies List (CMIC) - Treasury Department",
    "NS-MBS": "Non-SDN Menu-Based Sanctions List (NS-MBS List) - Treasury Department",
    "CAP": "Capta List (CAP) - Treasury Department",
}


# --------------------------------------------------------------------------- helpers

_FN_SECTION = re.compile(r"734\.9\s*\([a-z]\)(?:\(\d\))?\s*,?\s?([1-5])(?![\d.(])")
_FN_EAR = re.compile(r"of\s+the\s+EAR\s*\.?\)?\.?\s?([1-5])(?!\d)")
_CODE = re.compile(r"\(([A-Z][A-Z-]*)(?: List)?\)")


def parse_footnotes(*texts: str | None) -> list[int]:
    """Entity List footnote designations printed in a licence requirement ('§ 734.9(e)1', 'EAR)4')."""
    found: set[int] = set()
    for text in texts:
        if not text:
            continue
        for rx in (_FN_SECTION, _FN_EAR):
            found.update(int(m.group(1)) for m in rx.finditer(text))
    return sorted(found)


def code_from_source(source: str) -> str:
    """'Entity List (EL) - Bureau of Industry and Security' -> 'EL'."""
    m = _CODE.search(source or "")
    if m:
        return m.group(1)
    s = (source or "").strip().upper()
    for code, full in _SOURCE_NAMES.items():
        if s == full.upper() or s == code:
            return code
    return s or "CUSTOM"


def _countries(values: Iterable[str]) -> list[str]:
    from ecscreen.countries import resolve

    out: list[str] = []
    for v in values:
        v = (v or "").strip()
        if not v:
            continue
        c = resolve(v)
        code = c.alpha2 if c is not None else v.upper()[:2]
        if code not in out:
            out.append(code)
    return out


def _split(cell: str | None, sep: str) -> list[str]:
    if not cell:
        return []
    return [p.strip() for p in cell.split(sep) if p.strip()]


def _digest(entries: list[ListEntry]) -> str:
    h = hashlib.sha256()
    for e in entries:
        h.update(e.model_dump_json().encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def _make(
    name: str, source: str, date: dt.date | None, entries: list[ListEntry], fmt: str, path: str | None
) -> ScreeningList:
    for e in entries:
        e.list_name = name
    info = ListInfo(
        name=name,
        source=source,
        date=date,
        entries=len(entries),
        aliases=sum(len(e.aliases) for e in entries),
        sha256=_digest(entries),
    )
    return ScreeningList(info=info, entries=entries, format=fmt, path=path)


def _parse_date(text: str | None) -> dt.date | None:
    if not text:
        return None
    m = re.search(r"(\d{4})-(\d{2})-(\d{2})", text)
    if m:
        try:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    return None


# --------------------------------------------------------------------------- importers

CSL_COLUMNS = ["_id", "source", "entity_number", "type", "programs", "name", "title", "addresses", "federal_register_notice", "start_date", "end_date", "standard_order", "license_requirement", "license_policy", "call_sign", "vessel_type", "gross_tonnage", "gross_registered_tonnage", "vessel_flag", "vessel_owner", "remarks", "source_list_url", "alt_names", "citizenships", "dates_of_birth", "nationalities", "places_of_birth", "source_information_url", "ids"]
COMPACT_CSV_COLUMNS = ["source", "entity_number", "type", "programs", "name", "alt_names", "countries", "federal_register_notice", "license_requirement", "license_policy", "source_list_url"]


def _text(value: Any) -> str:
    """A cell as clean text: None -> '', numbers -> str, lists -> '; '-joined."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value if v is not None)
    return " ".join(str(value).split())


def _csl_entry(row: dict[str, Any], idx: int, countries: list[str], aliases: list[str]) -> ListEntry:
    source = _text(row.get("source"))
    code = code_from_source(source)
    lr = _text(row.get("license_requirement")) or None
    remarks = _text(row.get("remarks")) or None
    rid = _text(row.get("_id") or row.get("id"))
    number = _text(row.get("entity_number"))
    eid = f"{code}-{number}" if number else (f"{code}-{rid[:16]}" if rid else f"{code}-{idx}")
    programs = row.get("programs") or []
    if isinstance(programs, str):
        programs = _split(programs, ";")
    return ListEntry(
        id=eid,
        source=source,
        source_code=code,
        name=_text(row.get("name")),
        aliases=[_text(a) for a in aliases if _text(a)],
        countries=countries,
        addresses=[],
        programs=[_text(p) for p in programs if _text(p)],
        type=_text(row.get("type")) or None,
        license_requirement=lr,
        license_policy=_text(row.get("license_policy")) or None,
        federal_register_notice=_text(row.get("federal_register_notice")) or None,
        start_date=_parse_date(_text(row.get("start_date"))),
        remarks=remarks,
        source_url=_text(row.get("source_list_url")) or None,
        footnotes=parse_footnotes(lr, remarks) if code == "EL" else [],
    )


def _unique_ids(entries: list[ListEntry]) -> list[ListEntry]:
    seen: Counter[str] = Counter()
    for e in entries:
        seen[e.id] += 1
        if seen[e.id] > 1:
            e.id = f"{e.id}.{seen[e.id]}"
    return entries


def read_csl_csv(text: str, path: str) -> list[ListEntry]:
    reader = csv.DictReader(io.StringIO(text))
    entries = []
    for i, row in enumerate(reader):
        if not (row.get("name") or "").strip():
            raise ListError("row without a name", file=path, line=reader.line_num, field="name")
        countries: list[str] = []
        for addr in _split(row.get("addresses"), ";"):
            last = addr.rsplit(",", 1)[-1].strip()
            if len(last) == 2 and last.isalpha() and last.upper() not in countries:
                countries.append(last.upper())
        entry = _csl_entry(row, i, countries, _split(row.get("alt_names"), ";"))
        entry.addresses = _split(row.get("addresses"), ";")
        entries.append(entry)
    return _unique_ids(entries)


def read_compact_csv(text: str, path: str) -> list[ListEntry]:
    reader = csv.DictReader(io.StringIO(text))
    entries = []
    for i, row in enumerate(reader):
        if not (row.get("name") or "").strip():
            raise ListError("row without a name", file=path, line=reader.line_num, field="name")
        entries.append(_csl_entry(row, i, _split(row.get("countries"), "|"), _split(row.get("alt_names"), "|")))
    return _unique_ids(entries)


def read_csl_json(data: Any, path: str) -> list[ListEntry]:
    rows = data.get("results", data.get("entries")) if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise ListError("CSL JSON without a 'results' list", file=path)
    entries = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not row.get("name"):
            raise ListError(f"result {i} has no name", file=path, field=f"results[{i}].name")
        countries: list[str] = []
        for addr in row.get("addresses") or []:
            c = (addr.get("country") or "").strip().upper() if isinstance(addr, dict) else ""
            if c and c not in countries:
                countries.append(c)
        alt = row.get("alt_names") or []
        if isinstance(alt, str):
            alt = _split(alt, ";")
        entry = _csl_entry(row, i, countries, [a for a in alt if a])
        entry.addresses = [
            ", ".join(str(a.get(k)) for k in ("address", "city", "state", "postal_code", "country") if a.get(k))
            for a in row.get("addresses") or []
            if isinstance(a, dict)
        ]
        entries.append(entry)
    return _unique_ids(entries)


def read_csl_compact(data: dict[str, Any], path: str) -> tuple[list[ListEntry], dt.date | None]:
    t = data.get("tables") or {}

    def tab(name: str, idx: Any) -> str | None:
        if idx is None:
            return None
        try:
            return str(t[name][idx])
        except (KeyError, IndexError, TypeError):
            raise ListError(f"index {idx} not in table {name}", file=path) from None

    entries = []
    for i, e in enumerate(data.get("entries") or []):
        row = {
            "source": tab("sources", e.get("s")),
            "entity_number": e.get("e"),
            "type": e.get("t"),
            "programs": tab("programmes", e.get("pg")),
            "name": e.get("n"),
            "federal_register_notice": e.get("fr"),
            "license_requirement": tab("licenceRequirements", e.get("lr")),
            "license_policy": tab("licencePolicies", e.get("lp")),
            "source_list_url": tab("urls", e.get("u")),
        }
        if not row["name"]:
            raise ListError(f"entry {i} has no name", file=path, field=f"entries[{i}].n")
        entries.append(_csl_entry(row, i, list(e.get("c") or []), list(e.get("a") or [])))
    return _unique_ids(entries), _parse_date(str(data.get("sourceGeneratedAt") or ""))


def _ofac_rows(path: Path) -> list[list[str]]:
    text = path.read_bytes().decode("utf-8", errors="replace").replace("\x1a", "")
    return [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]


def _ofac(cell: str) -> str:
    c = cell.strip()
    return "" if c == "-0-" else c


def read_ofac_sdn(path: Path) -> list[ListEntry]:
    rows = _ofac_rows(path)
    folder = path.parent
    alts: dict[str, list[str]] = {}
    adds: dict[str, list[tuple[str, str]]] = {}
    for cand in ("alt.csv", "ALT.CSV", "alt.CSV"):
        if (folder / cand).is_file():
            for r in _ofac_rows(folder / cand):
                if len(r) >= 4 and _ofac(r[3]):
                    alts.setdefault(r[0].strip(), []).append(_ofac(r[3]))
            break
    for cand in ("add.csv", "ADD.CSV", "add.CSV"):
        if (folder / cand).is_file():
            for r in _ofac_rows(folder / cand):
                if len(r) >= 5:
                    addr = ", ".join(x for x in (_ofac(r[2]), _ofac(r[3]), _ofac(r[4])) if x)
                    adds.setdefault(r[0].strip(), []).append((addr, _ofac(r[4])))
            break
    entries = []
    for lineno, r in enumerate(rows, 1):
        if len(r) < 4:
            raise ListError(f"expected 12 columns, found {len(r)}", file=str(path), line=lineno)
        num = r[0].strip()
        name = _ofac(r[1])
        if not name:
            raise ListError("record without a name", file=str(path), line=lineno, field="SDN_Name")
        countries = _countries(c for _, c in adds.get(num, []) if c)
        entries.append(
            ListEntry(
                id=f"SDN-{num}",
                source=_SOURCE_NAMES["SDN"],
                source_code="SDN",
                name=name,
                aliases=alts.get(num, []),
                countries=countries,
                addresses=[a for a, _ in adds.get(num, []) if a],
                programs=_split(_ofac(r[3]).strip("[]"), "] ["),
                type=_ofac(r[2]) or "entity",
                remarks=_ofac(r[11]) if len(r) > 11 else None,
                source_url="https://sanctionslist.ofac.treas.gov/Home/SdnList",
            )
        )
    return entries


def read_un_xml(text: str, path: str) -> tuple[list[ListEntry], dt.date | None]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ListError(f"invalid XML: {exc}", file=path, line=exc.position[0]) from None

    def txt(el: ET.Element, tag: str) -> str:
        found = el.find(tag)
        return (found.text or "").strip() if found is not None and found.text else ""

    entries: list[ListEntry] = []
    for kind, tag, alias_tag, addr_tag in (
        ("Individual", "INDIVIDUALS/INDIVIDUAL", "INDIVIDUAL_ALIAS", "INDIVIDUAL_ADDRESS"),
        ("Entity", "ENTITIES/ENTITY", "ENTITY_ALIAS", "ENTITY_ADDRESS"),
    ):
        for el in root.findall(tag):
            parts = [txt(el, t) for t in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")]
            name = " ".join(p for p in parts if p)
            if not name:
                continue
            aliases = []
            for a in el.findall(alias_tag):
                an = txt(a, "ALIAS_NAME")
                if an and an not in aliases:
                    aliases.append(an)
            orig = txt(el, "NAME_ORIGINAL_SCRIPT")
            if orig:
                aliases.append(orig)
            countries: list[str] = []
            for nat in el.findall("NATIONALITY/VALUE"):
                if nat.text:
                    countries.extend(_countries([nat.text]))
            for ad in el.findall(addr_tag):
                c = txt(ad, "COUNTRY")
                if c:
                    countries.extend(_countries([c]))
            ref = txt(el, "REFERENCE_NUMBER") or txt(el, "DATAID")
            entries.append(
                ListEntry(
                    id=f"UN-{ref}",
                    source="UN Security Council Consolidated List",
                    source_code="UN",
                    name=name,
                    aliases=aliases,
                    countries=list(dict.fromkeys(c for c in countries if len(c) == 2)),
                    programs=[txt(el, "UN_LIST_TYPE")] if txt(el, "UN_LIST_TYPE") else [],
                    type=kind,
                    start_date=_parse_date(txt(el, "LISTED_ON")),
                    remarks=txt(el, "COMMENTS1") or None,
                    source_url="https://main.un.org/securitycouncil/en/content/un-sc-consolidated-list",
                )
            )
    return _unique_ids(entries), _parse_date(root.get("dateGenerated"))


def _own_list(data: Any, path: str) -> OwnList:
    try:
        return OwnList.model_validate(data)
    except ValidationError as exc:
        errs = yamlio.pydantic_errors(exc, data, path)
        line, fld, msg = errs[0]
        more = f" (and {len(errs) - 1} more error(s))" if len(errs) > 1 else ""
        raise ListError(msg + more, file=path, line=line, field=fld) from None


def read_own_csv(text: str, path: str, name: str) -> OwnList:
    reader = csv.DictReader(io.StringIO(text))
    allowed = {
        "id", "name", "aliases", "countries", "source_code", "source", "license_requirement", "license_policy",
        "federal_register_notice", "start_date", "footnotes", "remarks", "source_url", "programs", "addresses",
        "type",
    }  # fmt: skip
    unknown = [c for c in reader.fieldnames or [] if c not in allowed]
    if unknown:
        raise ListError(f"unknown column(s): {', '.join(unknown)}", file=path, line=1, field=unknown[0])
    entries: list[dict[str, Any]] = []
    for i, row in enumerate(reader):
        rec: dict[str, Any] = {k: v.strip() for k, v in row.items() if k and v and v.strip()}
        rec.setdefault("id", f"row-{i + 1}")
        for k in ("aliases", "countries", "programs", "addresses"):
            if k in rec:
                rec[k] = _split(rec[k], "|")
        if "footnotes" in rec:
            try:
                rec["footnotes"] = [int(x) for x in _split(rec["footnotes"], "|")]
            except ValueError:
                raise ListError(
                    "footnotes must be numbers 1-5", file=path, line=reader.line_num, field="footnotes"
                ) from None
        rec.setdefault("source_code", "CUSTOM")
        entries.append(rec)
    try:
        return OwnList.model_validate({"kind": "party_list", "name": name, "entries": entries})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err["loc"]
        line = int(loc[1]) + 2 if len(loc) > 1 and isinstance(loc[1], int) else None
        fld = str(loc[2]) if len(loc) > 2 else None
        raise ListError(err["msg"], file=path, line=line, field=fld) from None


def read_list(path: Path | str, name: str | None = None) -> ScreeningList:
    """Read a list file in any supported format (see module docstring)."""
    p = Path(path)
    shown = str(p)
    lower = p.name.lower()
    if lower.endswith(".gz"):
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise ListError(f"cannot read gzip JSON: {exc}", file=shown) from None
        return _decode_store(raw, shown)
    if lower in ("sdn.csv",) or (lower.endswith(".csv") and _looks_ofac(p)):
        entries = read_ofac_sdn(p)
        return _make(name or "OFAC SDN", "OFAC SDN legacy CSV (sdn/alt/add)", _file_date(p), entries, "ofac-sdn", shown)
    text = yamlio.read_text(p, error=ListError)
    head = text.lstrip()[:400]
    if head.startswith("<"):
        entries, date = read_un_xml(text, shown)
        return _make(name or "UN SC Consolidated List", "UN Security Council consolidated XML", date, entries,
                     "un-xml", shown)  # fmt: skip
    if lower.endswith(".csv") or lower.endswith(".tsv"):
        first = text.splitlines()[0] if text else ""
        cols = [c.strip().strip('"') for c in first.split(",")]
        if cols[: len(CSL_COLUMNS)] == CSL_COLUMNS or cols[:3] == ["_id", "source", "entity_number"]:
            entries = read_csl_csv(text, shown)
            return _make(name or "US CSL", "Consolidated Screening List CSV (trade.gov)", _file_date(p), entries,
                         "csl-csv", shown)  # fmt: skip
        if cols[: len(COMPACT_CSV_COLUMNS)] == COMPACT_CSV_COLUMNS:
            entries = read_compact_csv(text, shown)
            return _make(name or "US CSL", "Consolidated Screening List (compact CSV)", _file_date(p), entries,
                         "csl-compact-csv", shown)  # fmt: skip
        if "name" not in cols:
            raise ListError("unrecognised CSV list: no 'name' column", file=shown, line=1)
        own = read_own_csv(text, shown, name or p.stem)
        return _make(own.name, shown, None, own.to_entries(), "ecscreen-csv", shown)
    data = yamlio.parse(text, file=shown, json_hint=lower.endswith(".json"), error=ListError)
    if isinstance(data, dict) and data.get("kind") == "party_list":
        own = _own_list(data, shown)
        sl = _make(name or own.name, own.source or shown, own.date, own.to_entries(), "ecscreen-yaml", shown)
        return sl
    if isinstance(data, dict) and "entries" in data and "tables" in data:
        entries, date = read_csl_compact(data, shown)
        return _make(name or "US CSL", "Consolidated Screening List (compact JSON)", date, entries,
                     "csl-compact-json", shown)  # fmt: skip
    if isinstance(data, dict) and "info" in data and "entries" in data:
        return _from_store(data, shown)
    if (isinstance(data, dict) and "results" in data) or isinstance(data, list):
        entries = read_csl_json(data, shown)
        return _make(name or "US CSL", "Consolidated Screening List JSON (trade.gov)", _file_date(p), entries,
                     "csl-json", shown)  # fmt: skip
    if isinstance(data, dict) and "kind" in data:
        raise ListError(f"unknown list kind {data['kind']!r} (expected party_list)", file=shown, field="kind")
    raise ListError("unrecognised list format (see docs/party-screening.md)", file=shown)


def _looks_ofac(p: Path) -> bool:
    try:
        with p.open("rb") as fh:
            first = fh.readline()
    except OSError:
        return False
    return bool(re.match(rb"^\d+,\"", first))


def _file_date(p: Path) -> dt.date | None:
    m = re.search(r"(\d{4}-\d{2}-\d{2})", str(p))
    return _parse_date(m.group(1)) if m else None


# --------------------------------------------------------------------------- store


def store_dir() -> Path:
    home = os.environ.get("ECSCREEN_HOME")
    base = Path(home) if home else Path.home() / ".local" / "share" / "ecscreen"
    return base / "lists"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-").lower() or "list"


def _to_store(sl: ScreeningList) -> bytes:
    doc = {
        "info": json.loads(sl.info.model_dump_json()),
        "format": sl.format,
        "entries": [e.model_dump(mode="json", exclude_defaults=True) for e in sl.entries],
    }
    return gzip.compress(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), mtime=0)


def _from_store(data: dict[str, Any], path: str) -> ScreeningList:
    try:
        info = ListInfo.model_validate(data["info"])
        entries = [ListEntry.model_validate(e) for e in data["entries"]]
    except (KeyError, ValidationError) as exc:
        raise ListError(f"damaged stored list: {exc}", file=path) from None
    return ScreeningList(info=info, entries=entries, format=str(data.get("format") or "stored"), path=path)


def health_check(old: ScreeningList, new: ScreeningList) -> list[str]:
    """Warnings when ``new`` shrank abnormally or lost a sub-list compared with ``old``."""
    warnings: list[str] = []
    n_old, n_new = len(old.entries), len(new.entries)
    if n_old and (n_old - n_new) / n_old > SHRINK_WARN:
        warnings.append(
            f"list '{new.info.name}' shrank from {n_old} to {n_new} entries "
            f"({(n_old - n_new) / n_old:.0%}, more than {SHRINK_WARN:.0%})"
        )
    before, after = old.counts_by_code(), new.counts_by_code()
    for code, cnt in sorted(before.items()):
        now = after.get(code, 0)
        if now == 0:
            warnings.append(f"list '{new.info.name}' lost the whole sub-list {code} ({cnt} entries before)")
        elif (cnt - now) / cnt > SUBLIST_SHRINK_WARN:
            warnings.append(
                f"sub-list {code} of '{new.info.name}' shrank from {cnt} to {now} entries ({(cnt - now) / cnt:.0%})"
            )
    return warnings


def import_list(
    path: Path | str, name: str | None = None, *, strict: bool = False
) -> tuple[ScreeningList, list[str]]:
    """Read a list and save it in the store; returns it with list-health warnings.

    With ``strict`` any warning raises :class:`ListError` and the previous import is kept.
    """
    sl = read_list(path, name)
    if not sl.entries:
        raise ListError("the list has no entries", file=str(path))
    target = store_dir() / f"{_slug(sl.info.name)}.json.gz"
    warnings: list[str] = []
    if target.is_file():
        old = read_list(target)
        warnings = health_check(old, sl)
    if warnings and strict:
        raise ListError("; ".join(warnings) + " (--strict: import refused, previous list kept)", file=str(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(_to_store(sl))
    tmp.replace(target)
    sl.path = str(target)
    return sl, warnings


def stored_lists() -> list[ScreeningList]:
    d = store_dir()
    if not d.is_dir():
        return []
    return [_cached_own(str(p), p.stat().st_mtime_ns) for p in sorted(d.glob("*.json.gz"))]


@lru_cache(maxsize=1)
def load_default() -> ScreeningList:
    """The embedded CSL snapshot (cached)."""
    raw = resources.files("ecscreen").joinpath("data", DEFAULT_LIST_FILE).read_bytes()
    return _decode_store(raw, f"ecscreen/data/{DEFAULT_LIST_FILE}")


# Decoding a big stored list (JSON + validating ~26,000 entries) takes a few tenths of a second; the
# decoded list is cached next to the matcher index (same directory, checks and ECSCREEN_NO_CACHE switch,
# see ecscreen.matching), keyed by the sha256 of the stored file and of the code that decodes it.
LIST_CACHE_MIN_BYTES = 100_000  # smaller stored lists decode in milliseconds


@lru_cache(maxsize=1)
def _list_code_fingerprint() -> bytes:
    import sys
    from importlib import metadata

    import pydantic

    from ecscreen import __version__
    from ecscreen import matching as matching_module
    from ecscreen import models as models_module

    h = hashlib.sha256(f"list|{__version__}|{sys.version_info[:2]}|pydantic {pydantic.VERSION}".encode())
    try:
        h.update(f"|pydantic-core {metadata.version('pydantic-core')}".encode())
    except metadata.PackageNotFoundError:
        h.update(b"|pydantic-core ?")
    for src in (__file__, matching_module.__file__, models_module.__file__):
        try:
            h.update(b"\x00" + Path(src or "").read_bytes())
        except OSError:
            h.update(b"\x00no source")
    return h.digest()


def _list_cache_target(raw: bytes) -> tuple[Path, str] | None:
    if len(raw) < LIST_CACHE_MIN_BYTES:
        return None
    directory = index_cache_dir()
    if directory is None:
        return None
    digest = hashlib.sha256(_list_code_fingerprint() + raw).hexdigest()
    return directory / f"list-{digest}.bin", digest


def _decode_store(raw: bytes, shown: str) -> ScreeningList:
    """A stored list (gzip JSON, see ``_to_store``) from its bytes, through the decoded-list cache."""
    target = _list_cache_target(raw)
    if target is not None:
        state = read_cache_file(*target)
        if state is not None:
            info, entries, fmt = state.get("info"), state.get("entries"), state.get("list_format")
            if (
                isinstance(info, ListInfo)
                and isinstance(fmt, str)
                and isinstance(entries, list)
                and len(entries) == info.entries
                and all(type(e) is ListEntry for e in entries)
            ):
                return ScreeningList(info=info, entries=entries, format=fmt, path=shown)
    try:
        data = json.loads(gzip.decompress(raw).decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise ListError(f"cannot read gzip JSON: {exc}", file=shown) from None
    if not isinstance(data, dict):
        raise ListError("damaged stored list: not a JSON object", file=shown)
    sl = _from_store(data, shown)
    if target is not None and len(sl.entries) == sl.info.entries:
        state = {"digest": target[1], "info": sl.info, "entries": sl.entries, "list_format": sl.format}
        write_cache_file(target[0], target[1], state)
    _keep()
    return sl


def rules_list_files(roots: Iterable[Path] | None = None) -> list[Path]:
    """Own-format list files (``kind: party_list``) under the rule directories (scanned once per process;
    :func:`refresh` forgets the scan)."""
    return list(_rules_list_files(tuple(roots) if roots is not None else None))


def refresh() -> None:
    """Forget cached scans of the rule directories (for long-running processes after edits)."""
    _rules_list_files.cache_clear()
    _cached_own.cache_clear()


@lru_cache(maxsize=16)
def _rules_list_files(roots: tuple[Path, ...] | None) -> tuple[Path, ...]:
    if roots is None:
        from ecscreen.packs import default_rules_dir

        try:
            roots = (default_rules_dir(),)
        except EcscreenError:
            return ()
    found: list[Path] = []
    for root in roots:
        files = [root] if root.is_file() else sorted(root.rglob("*.y*ml")) if root.is_dir() else []
        for f in files:
            try:
                head = f.read_text(encoding="utf-8-sig")[:4000]
            except OSError:
                continue
            if re.search(r"^kind:\s*['\"]?party_list['\"]?\s*$", head, re.M):
                found.append(f)
    return tuple(found)


def active_lists(
    *, include_default: bool = True, include_store: bool = True, rules_roots: Iterable[Path] | None = None
) -> list[ScreeningList]:
    """The lists screening uses: embedded CSL + imported lists + own-format lists under rules/.

    An imported Consolidated Screening List (any CSL format) replaces the embedded snapshot.
    """
    out: list[ScreeningList] = []
    stored = stored_lists() if include_store else []
    if include_default and not any(sl.format.startswith("csl") for sl in stored):
        out.append(load_default())
    out.extend(stored)
    out.extend(_cached_own(str(p), p.stat().st_mtime_ns) for p in rules_list_files(rules_roots))
    return out


@lru_cache(maxsize=64)
def _cached_own(path: str, mtime: int) -> ScreeningList:
    return read_list(path)


_MATCHERS: dict[tuple[str, ...], Matcher] = {}


def _cache_key(lists: list[ScreeningList]) -> str:
    return "lists:" + ",".join(sl.info.sha256 for sl in lists)


def matcher_for(lists: list[ScreeningList]) -> Matcher:
    """The Matcher over ``lists``, built once per process per set of list hashes.

    The built index is also cached on disk (``ecscreen.matching.index_cache_dir``), keyed by the lists'
    sha256 among other things, so later processes load it instead of rebuilding it.
    """
    key = tuple(sl.info.sha256 for sl in lists)
    found = _MATCHERS.get(key)
    if found is None:
        found = Matcher(_entries_of(lists), cache_key=_cache_key(lists))
        if len(_MATCHERS) >= 4:
            _MATCHERS.clear()
        _MATCHERS[key] = found
        _keep()
    return found


def _keep() -> None:
    """Lists and indexes are kept for the life of the process: take them (and what exists already) out of
    the cyclic GC's generations so later passes do not scan them again (they are still freed by reference
    counting when dropped). Without this, every GC pass while the packs load rescans ~600,000 objects."""
    gc.freeze()


def _entries_of(lists: list[ScreeningList]) -> list[ListEntry]:
    entries: list[ListEntry] = []
    for sl in lists:
        entries.extend(sl.entries)
    return entries


def matcher_cache_status(lists: list[ScreeningList]) -> dict[str, Any]:
    """State of the on-disk index cache for ``lists`` (see ``ecscreen.matching.index_cache_status``)."""
    return index_cache_status(_entries_of(lists), cache_key=_cache_key(lists))
