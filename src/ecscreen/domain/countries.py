"""Country normalisation: ISO 3166 alpha-2/alpha-3 codes or English names -> a Country.

Regions the EAR treats separately (Crimea, so-called DNR/LNR) resolve to their ISO 3166-2
subdivision code with ``alpha2`` set to the parent country (UA). Unknown input returns
``None``: callers must fail closed (never treat an unknown destination as clear).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from ecscreen.settings import package_file


@dataclass(frozen=True)
class Country:
    """A resolved country (or ISO 3166-2 region): alpha-2 and alpha-3 codes and the English name."""

    alpha2: str
    name: str
    alpha3: str | None = None
    region: str | None = None  # ISO 3166-2 code, e.g. UA-43 (Crimea)

    @property
    def code(self) -> str:
        """The most specific code: the region if any, else alpha-2."""
        return self.region or self.alpha2

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"


_SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser (~10x faster), the same safe tags
_WS = re.compile(r"\s+")


def _key(text: str) -> str:
    return _WS.sub(" ", text.strip().lower().replace(".", "").replace("’", "'"))


# The parsed tables as a compiled packs snapshot stored them (ecscreen.engine.snapshot, keyed by these files'
# bytes and pycountry's version): a check that loads a snapshot does not parse the YAML (~1 ms CPU with libyaml)
# and pycountry's JSON again. Empty: read from the files. Only speed depends on it (the same tables either way).
_SEEDED: dict[str, Any] = {}
TABLE_FILES = ("resources/country-aliases.yaml", "data/party-country-equivalents.yaml")  # in the ecscreen package


def tables_state() -> dict[str, Any]:
    """The parsed country tables (the alias table, pycountry's ISO rows, the party-country groups) as plain data
    for :func:`seed_tables`."""
    rows = _iso_rows()
    return {"data": _data(), "groups": _party_country_groups(),
            "iso_rows": None if rows is None else [(r.alpha_2, r.alpha_3, r.name, r.common_name) for r in rows]}


def seed_tables(state: Any) -> bool:
    """Use ``state`` (from :func:`tables_state`) instead of reading the files, when it has that shape and no
    table was read yet; False (nothing seeded) otherwise."""
    if _SEEDED or any(f.cache_info().currsize for f in (_data, _iso_rows, _party_country_groups)):
        return False
    if not isinstance(state, dict) or not isinstance(state.get("data"), dict) or not isinstance(state.get("groups"), tuple):
        return False
    rows = state.get("iso_rows")
    if rows is not None and not (isinstance(rows, list) and all(
            isinstance(r, tuple) and len(r) == 4 and all(x is None or type(x) is str for x in r) for r in rows)):
        return False
    if not all(isinstance(g, frozenset) for g in state["groups"]):
        return False
    _SEEDED.update(data=state["data"], groups=state["groups"],
                   iso_rows=None if rows is None else tuple(_IsoCountry(*r) for r in rows))
    return True


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    if "data" in _SEEDED:
        seeded: dict[str, Any] = _SEEDED["data"]
        return seeded
    raw = package_file("resources", "country-aliases.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.load(raw, Loader=_SAFE_LOADER)
    return data


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, str], dict[str, dict[str, Any]], dict[str, str]]:
    data = _data()
    aliases = {_key(k): str(v) for k, v in data["aliases"].items()}
    return aliases, data.get("extra_codes", {}), data.get("region_names", {})


@lru_cache(maxsize=1)
def _ambiguous() -> dict[str, list[str]]:
    return {_key(k): [str(c) for c in v] for k, v in (_data().get("ambiguous") or {}).items()}


def ambiguous(text: str | None) -> list[Country]:
    """The countries an ambiguous name (``Korea``, ``Congo``) could stand for; [] if not ambiguous."""
    if not text:
        return []
    codes = _ambiguous().get(_key(text), [])
    return [c for c in (_from_code(code) for code in codes) if c is not None]


def unknown_message(text: str, what: str = "country") -> str:
    """Why ``text`` does not resolve: ambiguous (listing the candidates) or unknown."""
    cands = ambiguous(text)
    if cands:
        return (f"ambiguous {what} {text!r}: it could be " + " or ".join(c.label for c in cands)
                + "; write the ISO code (fail closed)")
    return f"unknown {what} {text!r}: cannot screen (fail closed)"


@dataclass(frozen=True)
class _IsoCountry:
    """A country record of pycountry's ISO 3166-1 table (the fields this module reads)."""

    alpha_2: str
    alpha_3: str
    name: str
    common_name: str | None = None


@lru_cache(maxsize=1)
def _iso_rows() -> tuple[_IsoCountry, ...] | None:
    """pycountry's ISO 3166-1 table (``databases/iso3166-1.json`` of the installed pycountry) in its order,
    read without importing pycountry: its import reads its own version through importlib.metadata (~19 ms CPU
    of a one-shipment check, for two code lookups). None when the file is not where pycountry keeps it (then
    pycountry answers)."""
    if "iso_rows" in _SEEDED:
        seeded: tuple[_IsoCountry, ...] | None = _SEEDED["iso_rows"]
        return seeded
    from importlib.util import find_spec

    try:
        spec = find_spec("pycountry")
        where = list(spec.submodule_search_locations or []) if spec is not None else []
        with open(f"{where[0]}/databases/iso3166-1.json", encoding="utf-8") as fh:
            rows = json.load(fh)["3166-1"]
        return tuple(_IsoCountry(alpha_2=r["alpha_2"], alpha_3=r["alpha_3"], name=r["name"],
                                 common_name=r.get("common_name")) for r in rows)
    except (OSError, ValueError, LookupError, TypeError, AttributeError, ImportError):
        return None


@lru_cache(maxsize=1)
def _iso_index() -> dict[str, dict[str, _IsoCountry]] | None:
    """:func:`_iso_rows` indexed the way ``pycountry.countries.get`` indexes them (lower-cased codes, a later
    duplicate replacing an earlier one)."""
    rows = _iso_rows()
    if rows is None:
        return None
    index: dict[str, dict[str, _IsoCountry]] = {"alpha_2": {}, "alpha_3": {}}
    for rec in rows:
        index["alpha_2"][rec.alpha_2.lower()] = rec
        index["alpha_3"][rec.alpha_3.lower()] = rec
    return index


def iso_countries() -> list[Any]:
    """Every ISO 3166-1 country in pycountry's order (``list(pycountry.countries)``), each with ``alpha_2``,
    ``alpha_3``, ``name`` and ``common_name`` (None when it has none)."""
    rows = _iso_rows()
    if rows is None:
        import pycountry

        return [_IsoCountry(alpha_2=c.alpha_2, alpha_3=c.alpha_3, name=c.name,
                            common_name=getattr(c, "common_name", None)) for c in pycountry.countries]
    return list(rows)


def _country_by(field: str, code: str) -> Any:
    """``pycountry.countries.get(**{field: code})``: the ISO table read directly (see :func:`_iso_index`)."""
    index = _iso_index()
    if index is None:
        import pycountry

        return pycountry.countries.get(alpha_2=code) if field == "alpha_2" else pycountry.countries.get(alpha_3=code)
    return index[field].get(code.lower())


def _from_code(code: str) -> Country | None:
    code = code.upper()
    aliases, extra, region_names = _tables()
    if code in extra:
        e = extra[code]
        return Country(alpha2=code, name=e["name"], alpha3=e.get("alpha3"))
    if "-" in code and code in region_names:
        # a region this package names itself (Crimea, Donetsk, Luhansk ...): no need to load pycountry's
        # 5,000 subdivisions (a tenth of a second) to read a name the table already gives
        parent = _country_by("alpha_2", code.split("-", 1)[0])
        if parent is not None:
            return Country(alpha2=parent.alpha_2, name=region_names[code], alpha3=parent.alpha_3, region=code)
    if "-" in code:
        import pycountry

        sub = pycountry.subdivisions.get(code=code)
        if sub is None:
            return None
        parent = _country_by("alpha_2", sub.country_code)
        if parent is None:  # pragma: no cover - pycountry is consistent
            return None
        name = region_names.get(code) or f"{sub.name}, {_name(parent)}"
        return Country(alpha2=parent.alpha_2, name=name, alpha3=parent.alpha_3, region=code)
    rec = None
    if len(code) == 2:
        rec = _country_by("alpha_2", code)
    elif len(code) == 3:
        rec = _country_by("alpha_3", code)
        if rec is None:
            for k, e in extra.items():
                if e.get("alpha3") == code:
                    return Country(alpha2=k, name=e["name"], alpha3=code)
    if rec is None:
        return None
    return Country(alpha2=rec.alpha_2, name=_name(rec), alpha3=rec.alpha_3)


def _name(rec: Any) -> str:
    return getattr(rec, "common_name", None) or rec.name


@lru_cache(maxsize=4096)
def resolve(text: str | None) -> Country | None:
    """Resolve a code or English name (case-insensitive). None if unknown."""
    if text is None:
        return None
    t = text.strip()
    if not t:
        return None
    aliases = _tables()[0]
    k = _key(t)
    if k in _ambiguous():
        return None  # an input error listing the candidates (see unknown_message), never a silent pick
    if k in aliases:
        return _from_code(aliases[k])
    if re.fullmatch(r"[A-Za-z]{2,3}", t) or re.fullmatch(r"[A-Za-z]{2}-[A-Za-z0-9]{1,3}", t):
        c = _from_code(t)
        if c is not None:
            return c
    import pycountry  # names not in the aliases table: pycountry's lookup (codes, names, official names)

    try:
        rec = pycountry.countries.lookup(t)
    except LookupError:
        return None
    return Country(alpha2=rec.alpha_2, name=_name(rec), alpha3=rec.alpha_3)


def code_of(text: str) -> str | None:
    c = resolve(text)
    return c.code if c else None


@lru_cache(maxsize=1)
def _party_country_groups() -> tuple[frozenset[str], ...]:
    """Groups of alpha-2 codes that count as one country in party screening (data/party-country-equivalents.yaml)."""
    if "groups" in _SEEDED:
        seeded: tuple[frozenset[str], ...] = _SEEDED["groups"]
        return seeded
    raw = package_file("data", "party-country-equivalents.yaml").read_text("utf-8")
    return tuple(frozenset(str(c).upper() for c in g["members"]) for g in (yaml.load(raw, Loader=_SAFE_LOADER) or {}).get("groups", []))


def party_country_codes(code: str) -> frozenset[str]:
    """``code`` and the codes that count as the same country when a party is compared with a list entry."""
    code = code.upper()
    out = {code}
    for group in _party_country_groups():
        if code in group:
            out |= group
    return frozenset(out)

