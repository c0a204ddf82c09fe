"""Name normalisation for party screening.

``normalize(name)`` turns a party or list name into comparable tokens:

* Unicode NFKC, case folding, diacritics and other scripts folded to ASCII (``anyascii``);
* Chinese (Han) text: known words translated from ``data/normalize/han_terms.txt`` (技术 -> technology,
  有限公司 -> co ltd), everything else romanised with ``pypinyin`` (华为 -> huawei);
* punctuation removed ("S.A." -> "sa", "Xi'an" -> "xian"), stop words dropped;
* abbreviations canonicalised (``abbreviations.txt``: CORP, INTL, MFG, TECH, COMM, GRP ...);
* legal forms removed and remembered (``legal_forms.txt``: Co., Ltd., LLC, GmbH, OOO ...).

The tables are data files so they can be reviewed and extended without touching code.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from anyascii import anyascii

__all__ = [
    "NormalizedName",
    "normalize",
    "initials",
    "skeleton",
    "legal_forms",
    "abbreviations",
]


def _table_lines(filename: str) -> list[str]:
    text = resources.files("ecscreen").joinpath("data", "normalize", filename).read_text(encoding="utf-8")
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


@lru_cache(maxsize=1)
def legal_forms() -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(line.split()) for line in _table_lines("legal_forms.txt"))


@lru_cache(maxsize=1)
def abbreviations() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in _table_lines("abbreviations.txt"):
        variant, canonical = line.split(None, 1)
        out[variant] = canonical.strip()
    return out


@lru_cache(maxsize=1)
def particles() -> frozenset[str]:
    """Name particles (al, bin, van, de ...): they weigh little when names are compared."""
    return frozenset(_table_lines("particles.txt"))


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    return frozenset(_table_lines("stopwords.txt"))


@lru_cache(maxsize=1)
def _han_terms() -> tuple[dict[str, str], int]:
    terms: dict[str, str] = {}
    for line in _table_lines("han_terms.txt"):
        han, english = line.split(None, 1)
        terms[han] = english.strip()
    return terms, max(len(k) for k in terms)


_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_INITIAL_DOTS = re.compile(r"(?<![a-z0-9])([a-z](?:\.[a-z])+)\.?(?![a-z0-9])")
_APOSTROPHES = re.compile(r"['\u2019\u2018`\u00b4]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_WORDS = re.compile(r"[a-z0-9]+").findall
_HAS_DIGIT = re.compile(r"[0-9]").search
_DROP_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018`\u00b4")


@lru_cache(maxsize=200_000)
def _pinyin(text: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text))


def _han_to_latin(run: str) -> str:
    terms, max_len = _han_terms()
    pieces: list[str] = []
    buffer: list[str] = []

    def flush() -> None:
        if buffer:
            pieces.append(_pinyin("".join(buffer)))
            buffer.clear()

    i = 0
    n = len(run)
    while i < n:
        for size in range(min(max_len, n - i), 0, -1):
            word = run[i : i + size]
            if word in terms:
                flush()
                pieces.append(terms[word])
                i += size
                break
        else:
            buffer.append(run[i])
            i += 1
    flush()
    return " " + " ".join(pieces) + " "


_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "9": "g", "8": "b"})


def _unleet(tok: str) -> str:
    """Digits used as letters inside a word ('ig0r', 'sech1n') become letters; numbers stay numbers."""
    if tok.isalpha() or tok.isdigit():
        return tok
    letters = sum(c.isalpha() for c in tok)
    if letters >= 2 and letters > len(tok) // 2:
        return tok.translate(_LEET)
    return tok


@dataclass(slots=True)
class NormalizedName:
    """Tokens of a name plus what normalisation did (for explanations)."""

    original: str
    tokens: tuple[str, ...]
    full_tokens: tuple[str, ...]
    legal: tuple[str, ...] = ()
    expanded: tuple[tuple[str, str], ...] = ()
    transliterated: bool = False
    notes: list[str] = field(default_factory=list)


@lru_cache(maxsize=1)
def _legal_starts() -> frozenset[str]:
    return frozenset(form[0] for form in legal_forms())


def _strip_legal(tokens: list[str]) -> tuple[list[str], list[str]]:
    forms = legal_forms()
    starts = _legal_starts()
    if not tokens or not any(t in starts for t in tokens):
        return tokens, []
    removed: list[str] = []
    kept: list[str] = []
    i = 0
    n = len(tokens)
    # pass 1: multi-word forms and long single-word forms, anywhere
    while i < n:
        hit = 0
        for size in range(min(6, n - i), 0, -1) if tokens[i] in starts else ():
            cand = tuple(tokens[i : i + size])
            if cand in forms and (size > 1 or len(cand[0]) >= 4):
                hit = size
                break
        if hit:
            removed.append(" ".join(tokens[i : i + hit]))
            i += hit
        else:
            kept.append(tokens[i])
            i += 1
    # pass 2: short single-word forms at either end
    while len(kept) > 1 and (kept[-1],) in forms:
        removed.append(kept.pop())
    while len(kept) > 1 and (kept[0],) in forms:
        removed.append(kept.pop(0))
    if not kept:
        return tokens, []
    return kept, removed


def normalize(name: str) -> NormalizedName:
    """Normalise a name into matching tokens (see module docstring)."""
    text = name
    transliterated = False
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        if _HAN_RUN.search(text):
            text = _HAN_RUN.sub(lambda m: _han_to_latin(m.group(0)), text)
            transliterated = True
        if not text.isascii():
            folded = anyascii(text)
            if not transliterated:
                transliterated = any(ord(c) > 0x24F and c.isalpha() for c in text)
            text = folded
    text = text.lower().translate(_DROP_APOSTROPHES)
    if "." in text:
        text = _INITIAL_DOTS.sub(lambda m: m.group(1).replace(".", ""), text)
    raw = _WORDS(text)
    if _HAS_DIGIT(text):
        raw = [_unleet(t) for t in raw]
    abbr = abbreviations()
    stop = _stopwords()
    expanded: list[tuple[str, str]] = []
    full: list[str] = []
    for tok in raw:
        canon = abbr.get(tok)
        if canon is not None:
            expanded.append((tok, canon))
            full.extend(canon.split())
        elif tok not in stop:
            full.append(tok)
    if not full:
        full = raw
    core, legal = _strip_legal(list(full))
    return NormalizedName(
        original=name,
        tokens=tuple(dict.fromkeys(core)),
        full_tokens=tuple(full),
        legal=tuple(legal),
        expanded=tuple(expanded),
        transliterated=transliterated,
    )


def initials(tokens: tuple[str, ...] | list[str]) -> str:
    """First letters of the alphabetic tokens: ('semiconductor', 'manufacturing', ...) -> 'smic'."""
    return "".join(t[0] for t in tokens if t and t[0].isalpha())


_SKEL_PAIRS = (("ph", "f"), ("ck", "k"), ("kh", "k"), ("gh", "g"), ("dh", "d"), ("th", "t"), ("sh", "s"), ("ch", "c"))
_SKEL_MAP = str.maketrans({"q": "k", "c": "k", "z": "s", "w": "v", "j": "y", "x": "s"})
_VOWELS = frozenset("aeiouy")
_REPEATS = re.compile(r"(.)\1+").sub
_SKEL_DROP = re.compile(r"[aeiouyh]").sub


@lru_cache(maxsize=500_000)
def skeleton(token: str) -> str:
    """Consonant skeleton used as a phonetic key: mohammed / muhammad / mohamed -> mhmd."""
    t = token
    for a, b in _SKEL_PAIRS:
        if a in t:
            t = t.replace(a, b)
    t = t.translate(_SKEL_MAP)
    if not t:
        return t
    if t[0] in _VOWELS:
        t = "a" + t[1:]  # osama / usama, ahmed / ehmed
    dedup = _REPEATS("\\1", t)
    return dedup[0] + _SKEL_DROP("", dedup[1:])
