"""Address screening: a party's ``address`` (+ country) against the street addresses of the list entries.

Lists that carry addresses: the official CSL CSV/JSON (``addresses``), OFAC ``add.csv`` and the UN XML
(``*_ADDRESS``); the embedded snapshot has none (``lists status`` says so).

How an address is compared (tables in ``data/address_terms.yaml``):

1. :func:`normalize_address` folds to ASCII lower case, rewrites floors (``18/F``, ``18th floor``,
   ``floor 18`` -> ``fl:18``), units (``Flat/Rm/Room/Suite/Unit 1803`` -> ``unit:1803``), blocks and
   numbers (``No. 5`` -> ``no:5``), number ranges (``1318-19`` -> ``1318-1319``), street, building and
   district forms (``Road`` -> ``rd``, ``Building`` -> ``bldg``, ``Tsim Sha Tsui`` -> ``tst``, ``Hong Kong``
   -> ``hk``).
2. A list address is *street-level* when it has a number that is not a postcode and a distinctive word,
   or three distinctive words; only those are indexed (``Havana, Cuba`` locates no premises).
3. A party address matches a list address when the countries agree (or one is unknown), every street,
   unit, floor and block number of the list address is in the party address (a postcode may be
   missing), and the list address's distinctive words (street and building names, weighted by rarity
   among all list addresses; one typo allowed in words of 5+ letters) are covered at least
   :data:`MIN_COVERAGE`.

Findings: an address-only entry (the Entity List's "Address NN" entries) or an entry whose name did
not match gives ``review``; an entry matched by name AND address gives the entry's own outcome.
Cost: the index is built once per set of lists; a party address is compared only with the list
addresses sharing one of its distinctive words (posting lists), so the work is linear in its length.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import yaml
from anyascii import anyascii
from rapidfuzz.distance import Levenshtein

from ecscreen.model import Citation, Coverage, Evidence, Finding, Outcome, Party
from ecscreen.parties.matching import AllowList, ListEntry, PartyHit
from ecscreen.settings import package_file

if TYPE_CHECKING:
    from ecscreen.parties.screening import PartyListsPack
    from ecscreen.parties.store import ScreeningList

_SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser (~10x faster), the same safe tags

__all__ = [
    "AddressKey",
    "AddressHit",
    "AddressIndex",
    "normalize_address",
    "address_index",
    "address_findings",
    "is_address_only",
    "MIN_COVERAGE",
    "MAX_ADDRESS_CHARS",
]

MIN_COVERAGE = 0.8
MAX_ADDRESS_CHARS = 512
MAX_POSTING = 300  # words in more list addresses than this do not select candidates (still scored)
RULE_ID = "PARTY-ADDRESS"


# --------------------------------------------------------------------------- normalisation


@lru_cache(maxsize=1)
def _localities() -> tuple[frozenset[str], float]:
    raw = package_file("data", "address_terms.yaml").read_text(encoding="utf-8")
    data = yaml.load(raw, Loader=_SAFE_LOADER)
    return frozenset(str(x) for x in data.get("localities") or []), float(data.get("locality_weight", 0.2))


@lru_cache(maxsize=1)
def _terms() -> tuple[None, dict[str, str], dict[str, str], frozenset[str], re.Pattern[str]]:
    raw = package_file("data", "address_terms.yaml").read_text(encoding="utf-8")
    data = yaml.load(raw, Loader=_SAFE_LOADER)
    phrases: dict[str, str] = {}
    for canon, variants in (data.get("phrases") or {}).items():
        for v in variants or []:
            phrases[" ".join(str(v).split())] = str(canon)
    words: dict[str, str] = {}
    for canon, variants in (data.get("words") or {}).items():
        for v in variants or []:
            words[str(v)] = str(canon)
    generic = frozenset(str(g) for g in data.get("generic") or [])
    only = re.compile(str(data.get("address_only_name") or r"(?!)"), re.I)
    return None, phrases, words, generic, only


def _plain(text: str) -> str:
    """Lower-case ASCII words, apostrophes dropped (as normalize_address does: People's -> peoples)."""
    folded = anyascii(text).lower().replace("'", "").replace("`", "")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded).split())


@lru_cache(maxsize=1)
def _country_names() -> tuple[frozenset[str], frozenset[str]]:
    """Country names (as whole phrases) and alpha-2/alpha-3 codes: they never locate premises."""
    import pycountry

    names: set[str] = set()
    codes: set[str] = set()
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            val = getattr(c, attr, None)
            if val:
                names.add(_plain(val))
        codes.add(c.alpha_2.lower())
        codes.add(c.alpha_3.lower())
    from ecscreen.domain.countries import (
        _tables,  # the country aliases ecscreen resolves ('Russia', 'Iran', ...)
    )

    for alias in _tables()[0]:
        names.add(_plain(alias))
    return frozenset(n for n in names if n), frozenset(codes)


def _rewrite_phrases(words: list[str], table: dict[str, str | None], longest: int) -> list[str]:
    """Replace the longest known phrases (n-grams of ``words``) by their canonical form (None: drop)."""
    out: list[str] = []
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            key = " ".join(words[i : i + n]) if n > 1 else words[i]
            if key in table:
                canon = table[key]
                if canon:
                    out.extend(canon.split())
                i += n
                break
        else:
            out.append(words[i])
            i += 1
    return out


@lru_cache(maxsize=1)
def _phrase_table() -> tuple[dict[str, str | None], int]:
    """Address phrases (-> canonical form) and country names (-> dropped), as one n-gram table."""
    _, phrases, _, _, _ = _terms()
    names, _ = _country_names()
    table: dict[str, str | None] = {n: None for n in names}
    table.update(phrases)
    return table, max(len(k.split()) for k in table)


# one pass (alternatives never rewrite each other's output): 18/F, 18F, 18th floor, 6 fl, G/F; 'Room 2206
# Floor 19' is floor 19 (the number before 'floor' is the room when a number follows)
_FLOOR = re.compile(
    r"\b(\d+)\s*/\s*f\b|\b(\d+)\s*(?:st|nd|rd|th)?\s*(?:floor|flr|fl)\b(?!\.?\s*\d)|\b(\d+)f\b"
    r"|\b(?:g|ground)\s*/\s*f\b"
)


def _floor(m: re.Match[str]) -> str:
    num = m.group(1) or m.group(2) or m.group(3) or "0"
    return f" fl {num} "

# canonical tokens that show a street or building is named (an address without any number needs one)
_STREET_MARKERS = frozenset(
    {"rd", "st", "ave", "blvd", "ln", "dr", "hwy", "sq", "ter", "pl", "cres", "ct", "bldg", "ctr", "twr", "plz",
     "hse", "ind", "est", "blk", "unit", "fl", "mansion"}
)  # fmt: skip
_RANGE = re.compile(r"\b(\d{3,})-(\d{1,2})\b")
_NUMSUFFIX = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_TAGGERS = {"unit", "fl", "blk", "no"}
_POSTCODE = re.compile(r"^(?:\d{5,6}|[a-z]{1,3}-?\d{3,6}|\d{3,5}-\d{3,4}|[a-z]+\d+[a-z]+\d*|\d+[a-z]{2,})$")


def _range(m: re.Match[str]) -> str:
    left, right = m.group(1), m.group(2)
    full = left[: len(left) - len(right)] + right
    return f"{left}-{full}" if int(full) > int(left) else m.group(0)


@dataclass(frozen=True)
class AddressKey:
    """A normalised address: its tokens, its locating numbers and its distinctive words."""

    text: str
    tokens: tuple[str, ...]
    numbers: frozenset[str]  # street/unit/floor/block numbers (tagged 'unit:1803', or plain '213')
    postcodes: frozenset[str]
    words: frozenset[str]  # distinctive words (not generic, not country words, no digits)

    @property
    def street_level(self) -> bool:
        """Locates premises: a street/unit number and two distinctive words (a street or building name
        besides the city), or three distinctive words."""
        n = len(self.words - _localities()[0])
        return (bool(self.numbers) and n >= 2) or (n >= 3 and not _STREET_MARKERS.isdisjoint(self.tokens))


def normalize_address(text: str) -> AddressKey:
    """See the module docstring, step 1."""
    _, _, words, generic, _ = _terms()
    s = anyascii(text[:MAX_ADDRESS_CHARS]).lower()
    s = s.replace("'", "").replace("`", "").replace("#", " no ")
    s = _FLOOR.sub(_floor, s)
    s = _RANGE.sub(_range, s)
    s = _NUMSUFFIX.sub(r"\1", s)
    s = re.sub(r"[^a-z0-9\-]+", " ", s)
    s = re.sub(r"(?<![0-9])-(?![0-9])", " ", s)  # keep '-' next to a digit (1318-1319, 10-2, CH-8022)
    s = re.sub(r"(?<![0-9a-z])-|-(?![0-9a-z])", " ", s)
    table, longest = _phrase_table()
    countries = _country_names()[1]
    raw = [words.get(t, t) for t in _rewrite_phrases(s.split(), table, longest)]
    # 'No. 5', 'Suite #4': the number marker only says a number follows
    raw = [t for j, t in enumerate(raw) if not (t == "no" and j + 1 < len(raw) and raw[j + 1][:1].isdigit())]
    tokens: list[str] = []
    numbers: set[str] = set()
    postcodes: set[str] = set()
    dist: set[str] = set()
    i = 0
    while i < len(raw):
        t = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if t in _TAGGERS and nxt and nxt[0].isdigit():
            tok = f"{t}:{nxt}"
            tokens.append(tok)
            numbers.add(tok)
            i += 2
            continue
        tokens.append(t)
        if any(ch.isdigit() for ch in t):
            if _POSTCODE.match(t):
                postcodes.add(t)
            else:
                numbers.add(t)
        elif t not in generic and t not in countries and len(t) > 1:
            dist.add(t)
        i += 1
    # 'fl:18' alone and a plain '18' name the same number for a building without unit markers
    return AddressKey(text, tuple(tokens), frozenset(numbers), frozenset(postcodes), frozenset(dist))


def is_address_only(entry: ListEntry) -> bool:
    """An Entity List address-only entry ("Address 01"): the listed party IS the address."""
    return bool(_terms()[4].match(entry.name))


# --------------------------------------------------------------------------- index


@dataclass(frozen=True)
class AddressHit:
    """A list entry whose address matches a party's address: the words and numbers in common and the score."""

    entry: ListEntry
    address: str
    score: float
    matched_words: tuple[str, ...]
    matched_numbers: tuple[str, ...]
    country: str | None
    address_only: bool

    def explanation(self) -> str:
        parts = []
        if self.matched_numbers:
            parts.append("numbers " + ", ".join(n.replace(":", " ") for n in self.matched_numbers))
        if self.matched_words:
            parts.append("street/building words " + ", ".join(self.matched_words))
        if self.country:
            parts.append(f"country {self.country}")
        return (
            f"address matches '{self.address}' of list entry {self.entry.id} ({self.score:.0%} of its "
            f"distinctive words; {'; '.join(parts)})"
        )


def _address_country(address: str, entry: ListEntry) -> str | None:
    from ecscreen.domain.countries import resolve

    tail = address.rsplit(",", 1)[-1].strip()
    c = resolve(tail) if tail else None
    if c is not None:
        return c.alpha2
    return entry.countries[0] if len(entry.countries) == 1 else None


class AddressIndex:
    """The street-level addresses of a set of list entries, with word rarity and posting lists."""

    def __init__(self, entries: list[ListEntry]) -> None:
        self.items: list[tuple[ListEntry, str, AddressKey, str | None]] = []
        postings: dict[str, list[int]] = defaultdict(list)
        for e in entries:
            for addr in e.addresses:
                if not addr or not addr.strip():
                    continue
                key = normalize_address(addr)
                if not key.street_level:
                    continue
                idx = len(self.items)
                self.items.append((e, addr, key, _address_country(addr, e)))
                for w in key.words:
                    postings[w].append(idx)
        n = max(len(self.items), 1)
        localities, factor = _localities()
        self.idf = {w: math.log(1 + n / len(p)) * (factor if w in localities else 1.0) for w, p in postings.items()}
        self.postings = {w: p for w, p in postings.items() if len(p) <= MAX_POSTING}
        self.max_idf = math.log(1 + n)

    def __len__(self) -> int:
        return len(self.items)

    def _weight(self, word: str) -> float:
        return self.idf.get(word, self.max_idf)

    def search(self, address: str, country: str | None = None) -> list[AddressHit]:
        """List addresses matching ``address`` (best per entry, best first)."""
        if not self.items or not address or not address.strip():
            return []
        party = normalize_address(address)
        if not party.words:
            return []
        pc = _party_country(country)
        cands: set[int] = set()
        for w in party.words:
            cands.update(self.postings.get(w, ()))
        party_numbers = _with_plain(party.numbers)
        fuzzy: dict[str, list[str]] = defaultdict(list)  # party words of 4+ letters by first letter (typos)
        for w in party.words:
            if len(w) >= 4:
                fuzzy[w[0]].append(w)
        best: dict[str, AddressHit] = {}
        for i in sorted(cands):
            entry, addr, key, ac = self.items[i]
            # every street/unit/floor number of the list address must be in the party address
            if not key.numbers <= party_numbers or not _compatible(pc, ac, entry):
                continue
            hit = self._compare(party, key, fuzzy)
            if hit is None:
                continue
            score, words, numbers = hit
            prev = best.get(entry.id)
            if prev is None or score > prev.score:
                best[entry.id] = AddressHit(
                    entry, addr, score, words, numbers, ac or pc, is_address_only(entry)
                )
        return sorted(best.values(), key=lambda h: (-h.score, h.entry.id))

    def _compare(
        self, party: AddressKey, listed: AddressKey, fuzzy: dict[str, list[str]]
    ) -> tuple[float, tuple[str, ...], tuple[str, ...]] | None:
        """(coverage, matched words, numbers) when ``party`` covers ``listed`` (see the module docstring)."""
        weight = self._weight
        exact = listed.words & party.words
        missing = listed.words - exact
        got = sum(weight(w) for w in exact)
        lost = sum(weight(w) for w in missing)
        # most candidates share only a city word: stop before the typo search when it cannot reach the bar
        open_ = sum(weight(w) for w in missing if len(w) >= 5 and w[0] in fuzzy)
        total = got + lost
        if total <= 0 or got + open_ < MIN_COVERAGE * total:
            return None
        matched = set(exact)
        for w in missing:
            if len(w) >= 5 and any(
                abs(len(p) - len(w)) <= 1 and Levenshtein.distance(w, p, score_cutoff=1) <= 1 for p in fuzzy.get(w[0], ())
            ):
                got += weight(w)
                matched.add(w)
        if not matched or got < MIN_COVERAGE * total:
            return None
        return round(got / total, 3), tuple(sorted(matched)), tuple(sorted(listed.numbers))


def _with_plain(numbers: frozenset[str]) -> frozenset[str]:
    """A party's numbers plus their untagged forms ('fl:18' also counts as '18' when the list says '18')."""
    return numbers | {n.split(":", 1)[1] for n in numbers if ":" in n}


def _compatible(party: str | None, listed: str | None, entry: ListEntry) -> bool:
    if not party or not listed or party == listed or party in entry.countries:
        return True
    from ecscreen.domain.countries import party_country_codes

    return listed in party_country_codes(party)


def _party_country(country: str | None) -> str | None:
    if not country:
        return None
    from ecscreen.domain.countries import resolve

    c = resolve(country)
    return c.alpha2 if c is not None else None


_INDEXES: dict[tuple[str, ...], AddressIndex] = {}


def address_index(lists: list[ScreeningList]) -> AddressIndex:
    """The address index over ``lists``, built once per process per set of list hashes."""
    key = tuple(sl.info.sha256 for sl in lists)
    found = _INDEXES.get(key)
    if found is None:
        entries = [e for sl in lists for e in sl.entries]
        found = AddressIndex(entries)
        if len(_INDEXES) >= 4:
            _INDEXES.clear()
        _INDEXES[key] = found
    return found


# --------------------------------------------------------------------------- findings


def address_findings(
    pack: PartyListsPack,
    idx: int,
    party: Party,
    name_hits: list[PartyHit],
    lists: list[ScreeningList],
    as_of: dt.date,
    allowlist: AllowList | None = None,
) -> list[Finding]:
    """Findings for the list addresses ``party.address`` matches (see the module docstring)."""
    if not party.address or not party.address.strip() or not any(sl.info.addresses for sl in lists):
        return []
    index = address_index(lists)
    out: list[Finding] = []
    named = {h.entry.id: h for h in name_hits}
    for hit in index.search(party.address, party.country):
        out.append(_finding(pack, idx, party, hit, named.get(hit.entry.id), as_of, allowlist))
    return out


def _finding(
    pack: PartyListsPack,
    idx: int,
    party: Party,
    hit: AddressHit,
    name_hit: PartyHit | None,
    as_of: dt.date,
    allowlist: AllowList | None,
) -> Finding:
    e = hit.entry
    rule = pack.rule_for(e.source_code)
    role = party.role.value.replace("_", " ").capitalize()
    where = f"{e.source}" + (f" ({e.list_name})" if e.list_name else "")
    if name_hit is not None:
        outcome = rule.outcome
        message = (
            f"{role} '{party.name}' matches list entry '{e.name}' ({e.id}, {where}) by name "
            f"('{name_hit.matched_alias}', score {name_hit.score:g}) AND by address ('{hit.address}'): "
            f"{rule.title}."
        )
    elif hit.address_only:
        outcome = Outcome.review
        message = (
            f"{role} '{party.name}' is at an address the {e.source_code} list names as a listed party "
            f"itself ({e.id} '{e.name}': '{hit.address}'): any party at this address needs review; "
            f"confirm the premises before shipping."
        )
    else:
        outcome = Outcome.review
        message = (
            f"{role} '{party.name}' is at an address of list entry '{e.name}' ({e.id}, {where}): "
            f"'{hit.address}'. The names differ: confirm whether the party is, or shares premises with, "
            f"the listed party (if it is the listed party the outcome is {rule.outcome.value})."
        )
    evidence = [
        Evidence(
            field=f"parties[{idx}].address",
            value=party.address,
            matched=hit.address,
            detail=hit.explanation(),
            score=round(hit.score * 100, 1),
        ),
        Evidence(field=f"parties[{idx}].address", value=e.id, matched=e.name, detail=f"list entry {e.id} on {where}"),
    ]
    if name_hit is not None:
        evidence.append(
            Evidence(
                field=f"parties[{idx}].name",
                value=party.name,
                matched=name_hit.matched_alias,
                detail=name_hit.explanation,
                score=name_hit.score,
            )
        )
    citations = list(rule.citations)
    for ref in re.split(r"\s*[;,]\s*", e.federal_register_notice or ""):
        ref = " ".join(ref.split())
        if ref and not any(c.ref == ref for c in citations):
            citations.append(Citation(kind="federal_register", ref=ref, note=f"list entry {e.id}"))
    notes = [f"Address screening: {hit.explanation()}."]
    if e.source_url:
        notes.append(f"Source: {e.source_url}")
    covered = None
    if allowlist is not None:
        cleared, _warn = allowlist.lookup(party.name, e.id, as_of, party.country)
        if cleared is not None:
            covered = Coverage(
                kind="clearance",
                ref=f"{cleared.party} / {cleared.entry_id}",
                detail=f"cleared by {cleared.approver}: {cleared.reason}"
                + (f" (expires {cleared.expires})" if cleared.expires else ""),
            )
    return Finding(
        rule_id=f"{RULE_ID}-{e.source_code}",
        pack_id=pack.pack.id,
        outcome=outcome,
        title=("Name and address match a restricted party" if name_hit is not None
               else "Party address matches a restricted-party list address"),  # fmt: skip
        message=message,
        evidence=evidence,
        citations=citations,
        effective_from=e.start_date,
        covered_by=covered,
        notes=notes,
    )
