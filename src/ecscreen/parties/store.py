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
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ecscreen.errors import EXIT_USAGE, EcscreenError, InputFileError
from ecscreen.model import ListInfo
from ecscreen.packs.registry import PackMeta, yamlio
from ecscreen.parties.matching import (
    ListEntry,
    Matcher,
    index_cache_dir,
    index_cache_status,
    read_cache_file,
    write_cache_file,
)
from ecscreen.settings import Settings, file_stamps, package_file, settled, utc_now


class _EnvDefault:
    """Marks a parameter left to the legacy environment default (callers that build a ScreeningContext
    pass the settings' values explicitly)."""

    def __repr__(self) -> str:  # pragma: no cover - shown in signatures only
        return "<from the environment>"


ENV_DEFAULT: Any = _EnvDefault()

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
# List-health guards (see import_list): a new list that shrinks by more than SHRINK_REFUSE in total, loses
# a whole sub-list, or shrinks a sub-list by more than SUBLIST_SHRINK_REFUSE (and at least
# SUBLIST_MIN_DROP entries) against the list it replaces or the embedded snapshot is refused unless forced;
# smaller shrinks above the *_WARN levels are warnings (errors with --strict).
SHRINK_REFUSE = 0.10
SUBLIST_SHRINK_REFUSE = 0.25
SUBLIST_MIN_DROP = 10
SHRINK_WARN = 0.02
SUBLIST_SHRINK_WARN = 0.10
SNAPSHOT_LIMITS = [
    "embedded snapshot of 2026-07-31 (third-party compact projection of the trade.gov CSL), not a live list",
    "no street addresses: address screening needs an official list ('ecscreen lists update')",
    "names, aliases, countries and licence text only (no ids, dates of birth or vessel data)",
]


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
    model_config = ConfigDict(extra="forbid", defer_build=True)

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

    model_config = ConfigDict(extra="forbid", defer_build=True)

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
    from ecscreen.domain.countries import resolve

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
        addresses=sum(len(e.addresses) for e in entries),
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
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ListError(f"cannot read file: {exc.strerror or exc}", file=str(path)) from None
    text = raw.decode("utf-8", errors="replace").replace("\x1a", "")
    try:
        return [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    except csv.Error as exc:
        raise ListError(f"invalid CSV: {exc}", file=str(path)) from None


def _companion(folder: Path, name: str) -> Path | None:
    """``name`` in ``folder``, any letter case (OFAC serves ADD.CSV, older sets used add.csv)."""
    try:
        for child in folder.iterdir():
            if child.name.lower() == name and child.is_file():
                return child
    except OSError:
        return None
    return None


def _nonsdn_code(programs: list[str]) -> str:
    """CSL sub-list of an OFAC non-SDN record, from its programs (the legacy CSV has no list column)."""
    joined = " ".join(programs).upper()
    for key, code in (("UKRAINE-EO13662", "SSI"), ("CMIC", "CMIC"), ("NS-PLC", "PLC"), ("561", "CAP")):
        if key in joined:
            return code
    return "NS-MBS"


def _ofac(cell: str) -> str:
    c = cell.strip()
    return "" if c == "-0-" else c


def read_ofac_sdn(path: Path) -> list[ListEntry]:
    """OFAC legacy CSV: sdn.csv (+ alt.csv, add.csv) or the non-SDN cons_prim.csv (+ cons_alt, cons_add)."""
    rows = _ofac_rows(path)
    folder = path.parent
    nonsdn = path.name.lower().startswith("cons_")
    prefix = "cons_" if nonsdn else ""
    alts: dict[str, list[str]] = {}
    adds: dict[str, list[tuple[str, str]]] = {}
    alt_file = _companion(folder, f"{prefix}alt.csv")
    if alt_file is not None:
        for r in _ofac_rows(alt_file):
            if len(r) >= 4 and _ofac(r[3]):
                alts.setdefault(r[0].strip(), []).append(_ofac(r[3]))
    add_file = _companion(folder, f"{prefix}add.csv")
    if add_file is not None:
        for r in _ofac_rows(add_file):
            if len(r) >= 5:
                addr = ", ".join(x for x in (_ofac(r[2]), _ofac(r[3]), _ofac(r[4])) if x)
                adds.setdefault(r[0].strip(), []).append((addr, _ofac(r[4])))
    entries = []
    for lineno, r in enumerate(rows, 1):
        if len(r) < 4:
            raise ListError(f"expected 12 columns, found {len(r)}", file=str(path), line=lineno)
        num = r[0].strip()
        name = _ofac(r[1])
        if not name:
            raise ListError("record without a name", file=str(path), line=lineno, field="SDN_Name")
        countries = _countries(c for _, c in adds.get(num, []) if c)
        programs = _split(_ofac(r[3]).strip("[]"), "] [")
        code = _nonsdn_code(programs) if nonsdn else "SDN"
        entries.append(
            ListEntry(
                id=f"{code}-{num}",
                source=_SOURCE_NAMES[code],
                source_code=code,
                name=name,
                aliases=alts.get(num, []),
                countries=countries,
                addresses=[a for a, _ in adds.get(num, []) if a],
                programs=programs,
                type=_ofac(r[2]) or "entity",
                remarks=_ofac(r[11]) if len(r) > 11 else None,
                source_url=(
                    "https://sanctionslist.ofac.treas.gov/Home/ConsolidatedList"
                    if nonsdn
                    else "https://sanctionslist.ofac.treas.gov/Home/SdnList"
                ),
            )
        )
    return _unique_ids(entries)


def read_un_xml(text: str, path: str) -> tuple[list[ListEntry], dt.date | None]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ListError(f"invalid XML: {exc}", file=path, line=exc.position[0]) from None
    if root.tag != "CONSOLIDATED_LIST":
        raise ListError(f"not a UN consolidated list (root element <{root.tag}>, expected <CONSOLIDATED_LIST>)",
                        file=path)  # fmt: skip

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
            addresses: list[str] = []
            for ad in el.findall(addr_tag):
                c = txt(ad, "COUNTRY")
                if c:
                    countries.extend(_countries([c]))
                parts = [txt(ad, t) for t in ("STREET", "CITY", "STATE_PROVINCE", "ZIP_CODE", "COUNTRY")]
                if parts[0]:  # a street address, not just a city or country
                    addresses.append(", ".join(x for x in parts if x))
            ref = txt(el, "REFERENCE_NUMBER") or txt(el, "DATAID")
            entries.append(
                ListEntry(
                    id=f"UN-{ref}",
                    source="UN Security Council Consolidated List",
                    source_code="UN",
                    name=name,
                    aliases=aliases,
                    countries=list(dict.fromkeys(c for c in countries if len(c) == 2)),
                    addresses=addresses,
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


def read_list(path: Path | str, name: str | None = None, *,
              cache_dir: Path | None | _EnvDefault = ENV_DEFAULT, parsed: OwnList | None = None) -> ScreeningList:
    """Read a list file in any supported format (see module docstring).

    ``parsed``: the file's ``kind: party_list`` document as already validated (a party-list pack of a
    registry, from the compiled snapshot): the list is made from it, without reading and validating the file
    again (the same list; ~15 ms of a one-shipment check).
    Every failure is a :class:`ListError` naming the file (never a traceback, never an empty list).
    """
    try:
        sl = _read_list(Path(path), name, cache_dir) if parsed is None else _own_screening_list(
            parsed, str(Path(path)), name)
    except ListError as exc:
        exc.message = " ".join(exc.message.split())  # one line (YAML/XML parser messages span several)
        exc.args = (exc.message,)
        raise
    except (csv.Error, RecursionError, UnicodeError, MemoryError) as exc:
        raise ListError(f"cannot parse the list ({type(exc).__name__}: {exc})", file=str(path)) from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        # malformed structure the format readers did not anticipate (e.g. a number where a list belongs)
        raise ListError(f"malformed list file ({type(exc).__name__}: {exc})", file=str(path)) from None
    except OSError as exc:
        raise ListError(f"cannot read file: {exc.strerror or exc}", file=str(path)) from None
    if not sl.entries:
        raise ListError(f"the list has no entries ({sl.format} format): nothing to screen against", file=str(path))
    return sl


def _read_list(p: Path, name: str | None, cache_dir: Path | None | _EnvDefault = ENV_DEFAULT) -> ScreeningList:
    shown = str(p)
    lower = p.name.lower()
    if lower.endswith(".gz"):
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise ListError(f"cannot read stored list: {exc.strerror or exc}", file=shown) from None
        return _decode_store(raw, shown, cache_dir)
    if lower in ("sdn.csv", "cons_prim.csv") or (lower.endswith(".csv") and _looks_ofac(p)):
        entries = read_ofac_sdn(p)
        if lower.startswith("cons_"):
            return _make(name or "OFAC non-SDN", "OFAC Consolidated (non-SDN) legacy CSV (cons_prim/alt/add)",
                         _file_date(p), entries, "ofac-sdn", shown)  # fmt: skip
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
        return _own_screening_list(_own_list(data, shown), shown, name)
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


def _own_screening_list(own: OwnList, shown: str, name: str | None) -> ScreeningList:
    return _make(name or own.name, own.source or shown, own.date, own.to_entries(), "ecscreen-yaml", shown)


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


def store_dir(home: Path | None | _EnvDefault = ENV_DEFAULT) -> Path:
    """The list store, ``HOME/lists``; ``home`` from :class:`ecscreen.settings.Settings` (left out: the
    legacy default from ``$ECSCREEN_HOME`` or ``~/.local/share/ecscreen``)."""
    base = home if isinstance(home, Path) else Settings.from_env().home
    if base is None:
        raise ListError("no home directory for the list store: set ECSCREEN_HOME")
    return base / "lists"


def _cache_dir(cache_dir: Path | None | _EnvDefault) -> Path | None:
    return index_cache_dir() if isinstance(cache_dir, _EnvDefault) else cache_dir


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
    """A stored list, verified against its recorded entry count and hash (a list that fails is an error,
    never an empty or partial list)."""
    try:
        info = ListInfo.model_validate(data["info"])
        raw_entries = data["entries"]
        if not isinstance(raw_entries, list):
            raise TypeError("'entries' is not a list")
        entries = [ListEntry.model_validate(e) for e in raw_entries]
    except (KeyError, TypeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ListError(f"damaged stored list ({first}); re-import or update it", file=path) from None
    if len(entries) != info.entries:
        raise ListError(
            f"damaged stored list: it records {info.entries} entries but holds {len(entries)}; "
            "re-import or update it",
            file=path,
        )
    if _digest(entries) != info.sha256:
        raise ListError(
            f"damaged stored list: its entries do not match the recorded sha256 {info.sha256[:16]}; "
            "re-import or update it",
            file=path,
        )
    if not info.addresses:  # stored before lists counted their addresses
        info.addresses = sum(len(e.addresses) for e in entries)
    return ScreeningList(info=info, entries=entries, format=str(data.get("format") or "stored"), path=path)


def list_health(old: ScreeningList, new: ScreeningList, against: str) -> tuple[list[str], list[str]]:
    """(refusals, warnings) for replacing ``old`` by ``new``: total shrink, lost or shrunk sub-lists."""
    refusals: list[str] = []
    warnings: list[str] = []
    n_old, n_new = len(old.entries), len(new.entries)
    if n_old and n_new < n_old:
        drop = (n_old - n_new) / n_old
        msg = f"{n_new} entries against {n_old} in {against} (-{drop:.0%})"
        if drop > SHRINK_REFUSE:
            refusals.append(f"{msg}, more than the {SHRINK_REFUSE:.0%} the guard allows")
        elif drop > SHRINK_WARN:
            warnings.append(msg)
    before, after = old.counts_by_code(), new.counts_by_code()
    lost = [f"{code} ({cnt})" for code, cnt in sorted(before.items(), key=lambda kv: -kv[1]) if after.get(code, 0) == 0]
    if lost:
        refusals.append(f"sub-list(s) missing that {against} has: {_few(lost)}")
    shrunk: list[str] = []
    dipped: list[str] = []
    for code, cnt in sorted(before.items(), key=lambda kv: -kv[1]):
        now = after.get(code, 0)
        if now == 0 or now >= cnt:
            continue
        drop = (cnt - now) / cnt
        if drop > SUBLIST_SHRINK_REFUSE and cnt - now >= SUBLIST_MIN_DROP:
            shrunk.append(f"{code} {cnt}->{now}")
        elif drop > SUBLIST_SHRINK_WARN:
            dipped.append(f"{code} {cnt}->{now}")
    if shrunk:
        refusals.append(
            f"sub-list(s) shrank by more than the {SUBLIST_SHRINK_REFUSE:.0%} the guard allows against {against}: "
            + _few(shrunk)
        )
    if dipped:
        warnings.append(f"sub-list(s) shrank by more than {SUBLIST_SHRINK_WARN:.0%} against {against}: {_few(dipped)}")
    return refusals, warnings


def _few(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def health_check(old: ScreeningList, new: ScreeningList) -> list[str]:
    """Every list-health problem (refusals and warnings) of replacing ``old`` by ``new``."""
    refusals, warnings = list_health(old, new, f"the list it replaces ('{old.info.name}')")
    return refusals + warnings


def _is_csl(sl: ScreeningList) -> bool:
    """A Consolidated Screening List (any format): importing one replaces the embedded snapshot."""
    return sl.format.startswith("csl")


def _file_sha256(path: Path) -> str | None:
    try:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None


@contextmanager
def _locked_store(directory: Path) -> Iterator[None]:
    """Create the store if needed and hold its exclusive lock (``.lock``, flock where available) for a
    compare-and-replace; an unwritable store is a one-line ListError naming it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ListError(f"cannot write the list store: {exc.strerror or exc}", file=str(directory)) from None
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: the atomic rename still applies
            pass
        else:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to a unique temporary file next to ``target``, fsync, rename over ``target``."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def import_list(
    path: Path | str,
    name: str | None = None,
    *,
    strict: bool = False,
    force: bool = False,
    meta: dict[str, Any] | None = None,
    loaded: ScreeningList | None = None,
) -> tuple[ScreeningList, list[str]]:
    """Read a list and save it in the store; returns it with list-health warnings.

    The new list is compared with the stored list it replaces and, for a Consolidated Screening List
    (which replaces the embedded snapshot), with the embedded snapshot. A list that drops more than the
    guards allow is refused (:class:`ListError`, previous list kept) unless ``force``; a forced import
    is recorded in the list's info (``forced``), shown by ``lists status`` and in reports. With
    ``strict`` warnings are refusals too. ``meta`` sets ListInfo fields (source_url, retrieved_at, ...).
    """
    sl = loaded if loaded is not None else read_list(path, name)
    if not sl.entries:
        raise ListError("the list has no entries", file=str(path))
    directory = store_dir()
    target = directory / f"{_slug(sl.info.name)}.json.gz"
    with _locked_store(directory):
        refusals: list[str] = []
        warnings: list[str] = []
        if target.is_file():
            try:
                old = read_list(target)
            except ListError as exc:
                warnings.append(f"the stored list it replaces could not be read and was not compared ({exc.message})")
            else:
                r, w = list_health(old, sl, f"the stored list it replaces ('{old.info.name}', {old.info.date or 'undated'})")
                refusals += r
                warnings += w
        if _is_csl(sl):
            r, w = list_health(load_default(), sl, "the embedded snapshot (2026-07-31)")
            refusals += r
            warnings += w
        if strict:
            refusals, warnings = refusals + warnings, []
        now = utc_now().replace(microsecond=0)
        if refusals and not force:
            raise ListError(
                ("import refused (--strict), " if strict else "import refused, ")
                + "the previous list is kept: " + "; ".join(refusals)
                + ". Check the file (truncated download?); if the change is real, re-run with --force "
                "(the forced import is recorded in reports)",
                file=str(path),
                exit_code=EXIT_USAGE,
            )
        update: dict[str, Any] = {
            "origin": "import",
            "retrieved_at": now,
            "file_sha256": _file_sha256(Path(path)),
            "forced": (
                f"accepted with --force on {now.isoformat().replace('+00:00', 'Z')} despite: " + "; ".join(refusals)
                if refusals
                else None
            ),
        }
        update.update(meta or {})
        sl.info = sl.info.model_copy(update=update)
        try:
            _atomic_write(target, _to_store(sl))
        except OSError as exc:
            raise ListError(f"cannot write the list store: {exc.strerror or exc}", file=str(directory)) from None
    sl.path = str(target)
    return sl, warnings


def stored_lists(home: Path | None | _EnvDefault = ENV_DEFAULT,
                 cache_dir: Path | None | _EnvDefault = ENV_DEFAULT) -> list[ScreeningList]:
    """The imported lists, each verified on load; an unreadable store is an error naming the path.
    ``home=None``: no store (no lists)."""
    if home is None:
        return []
    d = store_dir(home)
    try:
        names = sorted(n for n in os.listdir(d) if n.endswith(".json.gz") and not n.startswith("."))
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise ListError("the list store is not a directory", file=str(d)) from None
    except OSError as exc:
        raise ListError(
            f"cannot read the list store ({exc.strerror or exc}): imported lists would be skipped", file=str(d)
        ) from None
    out = []
    for n in names:
        p = d / n
        try:
            mtime = p.stat().st_mtime_ns
        except OSError as exc:
            raise ListError(f"cannot read stored list: {exc.strerror or exc}", file=str(p)) from None
        out.append(_cached_own(str(p), mtime, _cache_dir(cache_dir)))
    return out


def load_default(cache_dir: Path | None | _EnvDefault = ENV_DEFAULT) -> ScreeningList:
    """The embedded CSL snapshot (kept for the process; decoded through the cache in ``cache_dir``)."""
    return _load_default(_cache_dir(cache_dir))


@lru_cache(maxsize=2)
def _load_default(cache_dir: Path | None) -> ScreeningList:
    f = package_file("data", DEFAULT_LIST_FILE)
    shown = f"ecscreen/data/{DEFAULT_LIST_FILE}"
    # the decoded-list cache is keyed by the file's state (path, size, inode, modification and change times), as
    # the code is: reading and hashing the ~0.8 MB file cost ~2 ms CPU of every check; it is read only to decode
    stamp = _settled_stamp(f) if isinstance(f, Path) else None
    sl = _decode_store(f.read_bytes, shown, cache_dir, stamp=stamp)
    sl.info = sl.info.model_copy(update={"origin": "snapshot", "limits": list(SNAPSHOT_LIMITS)})
    return sl


# Decoding a big stored list (JSON + validating ~26,000 entries) takes a few tenths of a second; the
# decoded list is cached next to the matcher index (same directory, checks and ECSCREEN_NO_CACHE switch,
# see ecscreen.parties.matching), keyed by the sha256 of the stored file and of the code that decodes it.
LIST_CACHE_MIN_BYTES = 100_000  # smaller stored lists decode in milliseconds


@lru_cache(maxsize=1)
def _list_code_fingerprint() -> bytes:
    import sys

    import pydantic

    import ecscreen.model as models_module
    from ecscreen import __version__
    from ecscreen.parties import indexcache as indexcache_module
    from ecscreen.parties import lazyentries as lazyentries_module
    from ecscreen.parties import matching as matching_module
    from ecscreen.settings import dist_version

    h = hashlib.sha256(f"list|{__version__}|{sys.version_info[:2]}|pydantic {pydantic.VERSION}".encode())
    h.update(f"|pydantic-core {dist_version('pydantic-core')}".encode())  # no importlib.metadata import
    # lazyentries and indexcache shape the file (rows, out-of-band layout). Their state (path, size, inode,
    # modification and change times: any edit, replacement or reinstall changes it), not their text: reading
    # and hashing the ~0.3 MB of sources was ~1.5 ms CPU of every check (issue 10)
    h.update(file_stamps([Path(src or "") for src in (__file__, matching_module.__file__, models_module.__file__,
                                                      lazyentries_module.__file__, indexcache_module.__file__)]))
    return h.digest()


def _list_cache_target(raw: bytes | Callable[[], bytes], directory: Path | None,
                       stamp: bytes | None = None) -> tuple[Path, str] | None:
    """(cache file, digest) of a stored list's decoded form, or None when it is not cached (no directory, a
    small list). The digest covers the decoding code and the list: its bytes (``raw``), or, given ``stamp``
    (:func:`~ecscreen.settings.file_stamps` of the file ``raw`` reads, the embedded list), the file's state."""
    if directory is None:
        return None
    if stamp is not None:
        state = _stamped_state(stamp)
        if state is None or state[0] < LIST_CACHE_MIN_BYTES:
            return None
        digest = hashlib.sha256(_list_code_fingerprint() + b"\x00file\x00" + stamp).hexdigest()
        return directory / f"list-{digest}.bin", digest
    data = raw if isinstance(raw, bytes) else raw()
    if len(data) < LIST_CACHE_MIN_BYTES:
        return None
    digest = hashlib.sha256(_list_code_fingerprint() + data).hexdigest()
    return directory / f"list-{digest}.bin", digest


def _settled_stamp(path: Path) -> bytes | None:
    """:func:`~ecscreen.settings.file_stamps` of ``path``, or None when the file is missing or has not settled
    (:func:`~ecscreen.settings.settled`: then its bytes key the cache)."""
    stamp = file_stamps([path])
    state = _stamped_state(stamp)
    if state is None or not settled(state[2], state[3]):
        return None
    return stamp


def _stamped_state(stamp: bytes) -> tuple[int, int, int, int] | None:
    """(size, inode, modification ns, change ns) in a one-file :func:`~ecscreen.settings.file_stamps`, or None
    (the file was missing)."""
    fields = stamp.split(b"\x00")
    if len(fields) != 3 or fields[1] == b"missing":
        return None
    try:
        size, ino, mtime, ctime = (int(x) for x in fields[1].split(b"|"))
    except ValueError:
        return None
    return size, ino, mtime, ctime


def _decode_store(raw: bytes | Callable[[], bytes], shown: str, cache_dir: Path | None | _EnvDefault = ENV_DEFAULT,
                  *, stamp: bytes | None = None) -> ScreeningList:
    """A stored list (gzip JSON, see ``_to_store``) from its bytes, through the decoded-list cache.

    The cache holds the entries as plain rows (``ecscreen.parties.lazyentries``): a list read from it has
    :class:`~ecscreen.parties.lazyentries.LazyEntries`, each entry decoded when first read. ``raw`` may be a
    function reading the bytes, with ``stamp`` the state of the file it reads (:func:`_list_cache_target`): then
    the file is read only when its decoded form is not cached."""
    target = _list_cache_target(raw, _cache_dir(cache_dir), stamp)
    if target is not None:
        cached = _cached_decoded(*target, shown)
        if cached is not None:
            return cached
    if not isinstance(raw, bytes):
        raw = raw()
    try:
        data = json.loads(gzip.decompress(raw).decode("utf-8"))
    except (OSError, EOFError, zlib.error, ValueError, RecursionError) as exc:
        what = "truncated" if isinstance(exc, EOFError) else "damaged"
        raise ListError(
            f"stored list is {what} and cannot be read ({exc}); re-import or update it", file=shown
        ) from None
    if not isinstance(data, dict):
        raise ListError("damaged stored list: not a JSON object", file=shown)
    sl = _from_store(data, shown)
    if target is not None and len(sl.entries) == sl.info.entries:
        from ecscreen.parties.lazyentries import LazyEntries, encode_rows

        rows = encode_rows(sl.entries)
        if rows is not None:
            state = {"digest": target[1], "info": sl.info, "list_format": sl.format, **rows.to_state()}
            write_cache_file(target[0], target[1], state)
            # the same entries, known by the same content key as when read back from the cache (the
            # party index cache is keyed by it)
            sl.entries = LazyEntries.of(rows, sl.entries, content_key=target[1])  # type: ignore[assignment]
    _keep()
    return sl


def _cached_decoded(path: Path, digest: str, shown: str) -> ScreeningList | None:
    """The list from its decoded-list cache file, or None (missing, foreign, damaged, another layout)."""
    state = read_cache_file(path, digest)
    if state is None:
        return None
    from ecscreen.parties.lazyentries import LazyEntries, Rows

    info, fmt = state.get("info"), state.get("list_format")
    if not (isinstance(info, ListInfo) and isinstance(fmt, str)):
        return None
    rows = Rows.from_state(state, info.entries)
    if rows is None:
        return None
    return ScreeningList(info=info, entries=LazyEntries(rows, content_key=digest),  # type: ignore[arg-type]
                         format=fmt, path=shown)


def rules_list_files(roots: Iterable[Path] | None = None) -> list[Path]:
    """Own-format list files (``kind: party_list``) under the rule directories (scanned once per process;
    :func:`refresh` forgets the scan)."""
    return list(_rules_list_files(tuple(roots) if roots is not None else None))


def refresh() -> None:
    """Forget cached scans of the rule directories (for long-running processes after edits)."""
    _rules_list_files.cache_clear()
    _cached_own.cache_clear()
    _load_default.cache_clear()


@lru_cache(maxsize=16)
def _rules_list_files(roots: tuple[Path, ...] | None) -> tuple[Path, ...]:
    if roots is None:
        from ecscreen.packs.registry import default_rules_dir

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
    *, include_default: bool = True, include_store: bool = True, rules_roots: Iterable[Path] | None = None,
    home: Path | None | _EnvDefault = ENV_DEFAULT, cache_dir: Path | None | _EnvDefault = ENV_DEFAULT,
) -> list[ScreeningList]:
    """The lists screening uses: embedded CSL + imported lists + own-format lists under rules/.

    An imported Consolidated Screening List (any CSL format) replaces the embedded snapshot.
    """
    out: list[ScreeningList] = []
    stored = stored_lists(home, cache_dir) if include_store else []
    if include_default and not any(sl.format.startswith("csl") for sl in stored):
        out.append(load_default(cache_dir))
    out.extend(stored)
    for p in rules_list_files(rules_roots):
        own = _cached_own(str(p), p.stat().st_mtime_ns, _cache_dir(cache_dir))
        if own.info.origin is None:
            own.info.origin = "rules"
        out.append(own)
    return out


@lru_cache(maxsize=64)
def _cached_own(path: str, mtime: int, cache_dir: Path | None = None) -> ScreeningList:
    return read_list(path, cache_dir=cache_dir)


_MATCHERS: dict[tuple[str, ...], Matcher] = {}


def _cache_key(lists: list[ScreeningList]) -> str:
    return "lists:" + ",".join(sl.info.sha256 for sl in lists)


def matcher_for(lists: list[ScreeningList], cache_dir: Path | None | _EnvDefault = ENV_DEFAULT) -> Matcher:
    """The Matcher over ``lists``, built once per process per set of list hashes.

    The built index is also cached on disk (``ecscreen.parties.matching.index_cache_dir``), keyed by the lists'
    sha256 among other things, so later processes load it instead of rebuilding it.
    """
    key = tuple(sl.info.sha256 for sl in lists)
    found = _MATCHERS.get(key)
    if found is None:
        found = Matcher(_entries_of(lists), cache_key=_cache_key(lists), cache_dir=_cache_dir(cache_dir))
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


def _entries_of(lists: list[ScreeningList]) -> Sequence[ListEntry]:
    """The entries of ``lists`` in order; lazily decoded ones stay lazy (the index cache reads none)."""
    from ecscreen.parties.lazyentries import ConcatEntries

    return ConcatEntries([sl.entries for sl in lists])


def matcher_cache_status(lists: list[ScreeningList]) -> dict[str, Any]:
    """State of the on-disk index cache for ``lists`` (see ``ecscreen.parties.matching.index_cache_status``)."""
    return index_cache_status(_entries_of(lists), cache_key=_cache_key(lists))
