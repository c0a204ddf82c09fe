"""Name normalisation for party screening.

``normalize(name)`` turns a party or list name into comparable tokens:

* Unicode NFKC, case folding, diacritics and other scripts folded to ASCII (``anyascii``);
* text as a reader sees it (:func:`prefold`): bidi controls dropped and right-to-left overrides read in
  visual order; invisible characters (NUL and other controls, zero-width characters, soft hyphen) dropped
  inside words; unusual spaces (NBSP, TAB ...) kept as word joiners for :mod:`ecscreen.parties.variants`;
* look-alike letters folded BY SHAPE (Unicode UTS #39 confusables, ``data/normalize/confusables.txt``)
  in words that mix Latin with Cyrillic/Greek/Cherokee letters or are written in Cherokee/Lisu; a whole
  word in Cyrillic or Greek is transliterated by sound instead (Хуавэй -> khuavey), decided per word;
* Persian/Arabic words romanised with ``data/normalize/arabic_script.txt`` (BGN/PCGN-like) after the
  word translations of ``script_terms.txt`` (بانک -> bank); kana and hangul romanised by ``anyascii``;
  words from kana, hangul, Cyrillic and Greek (and Persian/Arabic words of organisation names) are
  remembered (``sound_tokens``) so the matcher can try sound-alike readings;
* Chinese (Han) text: traditional characters converted to simplified (OpenCC ``t2s``), known words
  translated from ``data/normalize/han_terms.txt`` (技术 -> technology, 有限公司 -> co ltd) and
  ``han_names.txt`` (the Chinese names of listed entities: 海康威视 -> hikvision), everything
  else romanised with ``pypinyin`` (华为 -> huawei);
* punctuation removed ("S.A." -> "sa", "Xi'an" -> "xian"), stop words dropped;
* digits used as letters inside a word read as letters ("HU4W31" -> huawei, "r0s0b0r0n" -> rosoboron);
* abbreviations canonicalised (``abbreviations.txt``: CORP, INTL, MFG, TECH, COMM, GRP ...);
* legal forms removed and remembered (``legal_forms.txt``: Co., Ltd., LLC, GmbH, OOO ...).

The tables are data files so they can be reviewed and extended without touching code.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from anyascii import anyascii

from ecscreen.domain.charclass import CharClass
from ecscreen.settings import package_file

__all__ = [
    "NormalizedName",
    "normalize",
    "prefold",
    "Prefolded",
    "initials",
    "skeleton",
    "legal_forms",
    "abbreviations",
    "given_name_forms",
    "cjk_characters",
    "arabic_vowel_forms",
    "term_alternatives",
]


def _table_lines(filename: str) -> list[str]:
    text = package_file("data", "normalize", filename).read_text(encoding="utf-8")
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


# first-use tables an upper layer read from its cache (see seed_table): used instead of building them
_SEEDS: dict[str, Any] = {}


def seed_table(name: str, value: Any) -> None:
    """Give this module a first-use table (``"nicknames"``) that an earlier process built: ecscreen.parties.matching
    keeps it in its derived cache, keyed by this module's source and tables. Used when the table is first
    needed; a table already built stays as it is."""
    _SEEDS[name] = value


@lru_cache(maxsize=1)
def _nicknames() -> dict[str, frozenset[str]]:
    """Nickname -> the given names it is short for (``nicknames.csv``: the maintained 'nicknames' data set,
    Apache-2.0). Nicknames of one or two letters and words that are name particles or stop words are left out."""
    seeded = _SEEDS.pop("nicknames", None)
    if seeded is not None:
        return seeded  # type: ignore[no-any-return]
    return _build_nicknames()


def _build_nicknames() -> dict[str, frozenset[str]]:
    skip = particles() | _stopwords()
    pairs: dict[str, set[str]] = {}
    for line in _table_lines("nicknames.csv"):
        name, relation, nick = (x.strip() for x in line.split(","))
        if relation != "has_nickname" or len(nick) < 3 or nick in skip or name in skip:
            continue
        pairs.setdefault(nick, set()).add(name)
    return {k: frozenset(v) for k, v in pairs.items()}


def given_name_forms(tok: str) -> frozenset[str]:
    """The given names ``tok`` is a nickname of (ted -> theodore, ben -> benjamin); empty for any other word.

    One way only: a query that writes a nickname meets the given name lists write ('Ted Doe' ~ 'Theodore
    Doe'); a given name in the query does not meet a word of the list that happens to be a nickname
    ('Arthur J. Gallagher' is not 'The Art Gallery')."""
    return _nicknames().get(tok, frozenset())


@lru_cache(maxsize=1)
def _han_terms() -> tuple[dict[str, str], int]:
    """Han words -> English: common words of names (``han_terms.txt``) and the Chinese names of listed
    entities (``han_names.txt``: translations such as 海康威视 -> hikvision that pinyin cannot find)."""
    terms: dict[str, str] = {}
    for table in ("han_terms.txt", "han_names.txt"):
        for line in _table_lines(table):
            han, english = line.split(None, 1)
            terms[han] = english.strip()
    return terms, max(len(k) for k in terms)


# runs of [\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff] (read without a regex: ecscreen.domain.charclass)
_HAN_RUN = CharClass((("\u3400", "\u4dbf"), ("\u4e00", "\u9fff"), ("\uf900", "\ufaff")), runs=True)
HAN_RUN = _HAN_RUN  # the same runs for the readings of parties.variants
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


def load_han_tables() -> None:
    """Load the tables a Han-script name is normalised with (pypinyin's, ~0.15 s; OpenCC's) now rather than on the
    first such name: a matcher calls this before it forks workers (issue 11), so they share the parent's tables
    copy-on-write instead of each loading its own."""
    import pypinyin  # noqa: F401 - imported for its tables

    _t2s()


@lru_cache(maxsize=1)
def _t2s() -> Any:
    """OpenCC traditional -> simplified converter (phrase and character tables maintained by OpenCC)."""
    import opencc

    return opencc.OpenCC("t2s")


_SIMPLIFIED_SEED: dict[str, str] = {}  # _simplified results an earlier process computed (seed_simplified)


def seed_simplified(known: dict[str, str]) -> None:
    """Give :func:`_simplified` the results of an earlier process for these Han runs (the compiled packs
    snapshot stores those of every pack text, keyed by OpenCC's version): a check whose texts hold no other
    Han run never starts OpenCC (~5 ms to import and load its tables)."""
    _SIMPLIFIED_SEED.update(known)


@lru_cache(maxsize=50_000)
def _simplified(run: str) -> str:
    known = _SIMPLIFIED_SEED.get(run)
    if known is not None:
        return known
    out: str = _t2s().convert(run)
    return out if len(out) == len(run) else run


# [\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af] (read without a regex)
_CJK_CHAR = CharClass((("\u3040", "\u30ff"), ("\u3400", "\u4dbf"), ("\u4e00", "\u9fff"), ("\uf900", "\ufaff"),
                       ("\uac00", "\ud7af")))


def cjk_characters(text: str) -> str | None:
    """The Han, kana and hangul characters of a name written in those scripts only (no Latin, Cyrillic or other
    letters; spaces, dots and punctuation ignored), traditional Han folded to simplified (OpenCC ``t2s``);
    None for a name with other letters or without such characters."""
    chars = _CJK_CHAR.findall(text)
    if not chars or any(ch.isalpha() and not _CJK_CHAR.match(ch) for ch in text):
        return None
    return _simplified("".join(chars))


@lru_cache(maxsize=1)
def _kanji_terms() -> tuple[dict[str, str], int]:
    """Han words read the Japanese way in a name written partly in kana (``kanji_terms.txt``: 航空 -> air,
    as in マハーン航空 Mahan Air), over :func:`_han_terms`."""
    terms, _ = _han_terms()
    out = dict(terms)
    for line in _table_lines("kanji_terms.txt"):
        han, english = line.split(None, 1)
        out[han] = _first_rendering(english)
    return out, max(len(k) for k in out)


def _first_rendering(english: str) -> str:
    """A term table's English for a word: the first of its renderings ('air | airlines' -> 'air')."""
    return english.split("|", 1)[0].strip()


@lru_cache(maxsize=1)
def _term_alternatives() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Script words whose term-table line gives several English renderings (``航空 air | airlines``: Japanese
    airlines call themselves either, 日本航空 Japan Airlines, イラン航空 Iran Air) -> (the first, the others)."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for table in ("kanji_terms.txt", "script_terms.txt"):
        for line in _table_lines(table):
            word, english = line.split(None, 1)
            forms = [f.strip() for f in english.split("|") if f.strip()]
            if len(forms) >= 2:
                out[unicodedata.normalize("NFKC", word).lower()] = (forms[0], tuple(forms[1:]))
    return out


def term_alternatives(text: str) -> dict[str, tuple[str, ...]]:
    """The other English renderings of the script words of ``text`` that have several (see
    :func:`_term_alternatives`): the first rendering (as :func:`normalize` reads the word) -> the others."""
    table = _term_alternatives_ascii() if text.isascii() else _term_alternatives()
    return {first: others for word, (first, others) in table.items() if word in text}


@lru_cache(maxsize=1)
def _term_alternatives_ascii() -> dict[str, tuple[str, tuple[str, ...]]]:
    """The ASCII words of :func:`_term_alternatives`, in its order: the only ones an ASCII text can hold (the tables
    are script words, so for the usual party name this is empty and :func:`term_alternatives` looks at none)."""
    return {w: v for w, v in _term_alternatives().items() if w.isascii()}


_KANA = re.compile(r"[\u3041-\u30ff]")


def _han_to_latin(run: str, japanese: bool = False) -> str:
    terms, max_len = _kanji_terms() if japanese else _han_terms()
    if not japanese:
        run = _simplified(run)
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
_ORDINAL_DIGITS = re.compile(r"(?<![a-z0-9])[0-9]{1,2}(?:st|nd|rd|th)(?![a-z0-9])")


@lru_cache(maxsize=1)
def _number_table() -> tuple[dict[str, tuple[int, str]], dict[int, str]]:
    """(number word -> (value, kind), ordinal value -> ordinal word) from ``numbers.txt``."""
    words: dict[str, tuple[int, str]] = {}
    ordinals: dict[int, str] = {}
    for line in _table_lines("numbers.txt"):
        word, value, kind = line.split()
        words[word] = (int(value), kind)
        if kind == "ordinal":
            ordinals.setdefault(int(value), word)
    return words, ordinals


@lru_cache(maxsize=1)
def _number_words() -> frozenset[str]:
    return frozenset(w for w, (_, kind) in _number_table()[0].items() if kind == "tens")


def _numbers(raw: list[str]) -> list[str]:
    """Numbers in words read as digits when a tens word is in the run ('forty four', 'forty 4' -> '44'),
    ordinals in digits read as words ('1st' -> 'first'); see numbers.txt."""
    words, ordinals = _number_table()
    out: list[str] = []
    i = 0
    while i < len(raw):
        tok = raw[i]
        m = _ORDINAL_DIGITS.fullmatch(tok)
        if m is not None and int(tok[:-2]) in ordinals:
            out.append(ordinals[int(tok[:-2])])
            i += 1
            continue
        info = words.get(tok)
        if info is not None and info[1] == "tens":
            value = info[0]
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            unit = words.get(nxt)
            if unit is not None and unit[1] == "unit":
                value += unit[0]
                i += 1
            elif len(nxt) == 1 and nxt.isdigit() and nxt != "0":
                value += int(nxt)
                i += 1
            out.append(str(value))
            i += 1
            continue
        out.append(tok)
        i += 1
    return out


def _unleet(tok: str) -> str:
    """Digits used as letters inside a word ('ig0r', 'HU4W31', 'r0s0b0r0n3xp0rt') become letters.

    A token is read as leetspeak when it has at least two letters and at least as many letters as digits
    (so '4x4', 'a320', 'b2', '3m' and plain numbers stay as written).
    """
    if tok.isalpha() or tok.isdigit():
        return tok
    letters = sum(c.isalpha() for c in tok)
    if letters >= 2 and 2 * letters >= len(tok):
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
    # the text after prefold (case kept, punctuation kept): what ecscreen.parties.variants re-reads
    clean: str = ""
    # tokens romanised from a script that does not write vowels the Latin way (kana, hangul, Arabic,
    # Cyrillic, Greek): the matcher may try sound-alike list words for them
    sound_tokens: tuple[str, ...] = ()
    # (sound reading, shape reading) of whole Cyrillic/Greek words made only of Latin look-alikes
    shape_alts: tuple[tuple[str, str], ...] = ()


@lru_cache(maxsize=1)
def _legal_starts() -> frozenset[str]:
    return frozenset(form[0] for form in legal_forms())


def _strip_legal(tokens: list[str]) -> tuple[list[str], list[str]]:
    forms = legal_forms()
    starts = _legal_starts()
    if not tokens or starts.isdisjoint(tokens):
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


# ---------------------------------------------------------------- prefold: the text as a reader sees it

_BIDI_CONTROLS = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# invisible inside a word: C0/C1 controls (but TAB/LF/CR), zero-width characters, word joiner, BOM, soft
# hyphen, Mongolian vowel separator, combining grapheme joiner
_INVISIBLE = (
    "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r")
    + "\x7f" + "".join(chr(c) for c in range(0x80, 0xA0))
    + "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u034f"
)
_DROP_INVISIBLE = {ord(c): None for c in _BIDI_CONTROLS + _INVISIBLE}
# spaces nobody types between words of a name: kept as '_' (a word joiner ecscreen.parties.variants may close)
_ODD_SPACES = "\t\u00a0\u2007\u202f\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2008\u2009\u200a\u3000\u205f\u1680"
_ODD_TO_JOINER = {ord(c): "_" for c in _ODD_SPACES}
_RLO_SEGMENT = re.compile("\u202e([^\u202a-\u202e\u2066-\u2069\n]*)")
_ASCII_ODD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\t]")
# a "word" for per-word script decisions: a run of anything but whitespace and ASCII punctuation
_SCRIPT_WORD = re.compile(r"[^\s!-/:-@\[-`{-~]+")


@dataclass(frozen=True, slots=True)
class Prefolded:
    """What :func:`prefold` made of a name (``text`` is ASCII)."""

    text: str
    transliterated: bool = False
    notes: tuple[str, ...] = ()
    sound_tokens: tuple[str, ...] = ()
    shape_alts: tuple[tuple[str, str], ...] = ()


@lru_cache(maxsize=1)
def confusables() -> dict[str, str]:
    """Look-alike character -> Latin letters/digits, from the vendored UTS #39 confusables subset.

    The UTS #39 prototype of the I/l/1 class is 'l'; a capital look-alike of it (Cyrillic І, Greek Ι,
    palochka) is read as 'I', which is what a capital in a name stands for.
    """
    out: dict[str, str] = {}
    for line in _table_lines("confusables.txt"):
        cols = line.split("#", 1)[0].split(";")
        src = chr(int(cols[0].strip(), 16))
        target = "".join(chr(int(x, 16)) for x in cols[1].split())
        if target == "l" and unicodedata.category(src) == "Lu":
            target = "I"
        out[src] = target
    return out


_SHAPE_NOTE = "look-alike letters folded by shape (Unicode confusables)"
UNVOWELLED_NAME_NOTE = "a person's name in Arabic script, read without its short vowels"
# a Latin letter anywhere (ASCII, Latin-1/Extended, fullwidth, mathematical alphanumerics)
_LATIN_LETTER = re.compile("[A-Za-z\u00c0-\u024f\u1e00-\u1eff\uff21-\uff3a\uff41-\uff5a\U0001d400-\U0001d6a3]")


def _script(ch: str) -> str:
    o = ord(ch)
    if (
        o < 0x250 or 0x1E00 <= o <= 0x1EFF or 0x2C60 <= o <= 0x2C7F or 0xA720 <= o <= 0xA7FF
        or 0xFF21 <= o <= 0xFF5A or 0x1D400 <= o <= 0x1D6A3
    ):
        return "latin"
    if 0x370 <= o <= 0x3FF or 0x1F00 <= o <= 0x1FFF:
        return "greek"
    if 0x400 <= o <= 0x52F or 0x1C80 <= o <= 0x1C8F or 0x2DE0 <= o <= 0x2DFF or 0xA640 <= o <= 0xA69F:
        return "cyrillic"
    if 0x13A0 <= o <= 0x13FF or 0xAB70 <= o <= 0xABBF or 0xA4D0 <= o <= 0xA4FF:
        return "cherokee"  # and Lisu: scripts whose letters are Latin shapes; not used for list names
    if 0x600 <= o <= 0x6FF or 0x750 <= o <= 0x77F or 0x8A0 <= o <= 0x8FF or 0xFB50 <= o <= 0xFEFF:
        return "arabic"
    if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF:
        return "kana"
    if 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
        return "hangul"
    return "other"


_SHAPE_SCRIPTS = frozenset({"latin", "cyrillic", "greek", "cherokee"})


@lru_cache(maxsize=1)
def _arabic_letters() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in _table_lines("arabic_script.txt"):
        letter, latin = line.split(None, 1)
        out[letter] = "" if latin.strip() == "-" else latin.strip()
    return out


@lru_cache(maxsize=1)
def _script_terms() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in _table_lines("script_terms.txt"):
        word, english = line.split(None, 1)
        out[unicodedata.normalize("NFKC", word).lower()] = _first_rendering(english)
    return out


_ALEF = frozenset("اآأإٱ")
_DIGRAPH_FIRST = frozenset("pkcsztgd")
_WAW = frozenset("و")
_YEH = frozenset("یيىې")
_VOWEL_LETTERS = _ALEF | _WAW | _YEH
_HEH = "\u0647"


@lru_cache(maxsize=50_000)  # a pure function of the word (h45: the sound readings ask again for every name)
def _arabic_word(word: str, persian_vowels: bool = False) -> str:
    """Romanise one Persian/Arabic word (consonants per arabic_script.txt, long vowels from alef/waw/yeh);
    the article al- written joined to its word (التكريتي) is read as a word of its own. ``persian_vowels``:
    a waw between consonants read 'o' and a final heh after a consonant 'eh' (:func:`arabic_vowel_forms`)."""
    if len(word) >= 6 and word.startswith("ال"):
        return "al " + _arabic_word(word[2:], persian_vowels)
    letters = _arabic_letters()
    out: list[str] = []
    prev_vowel = True  # word start behaves like "after a vowel": initial waw/yeh are consonants
    chars = [c for c in word if not unicodedata.category(c).startswith("M")]  # harakat, shadda
    for i, c in enumerate(chars):
        if i == 0 and c == "\u0639" and len(chars) >= 3:
            out.append("a")  # a word-initial ayn carries a vowel: علي Ali, عبد Abd, عمر Umar (skeleton 'amr')
            continue
        if c in _ALEF:
            if i == 0 and i + 1 < len(chars) and chars[i + 1] in _YEH:
                out.append("i")  # ای- : iran
                prev_vowel = True
                chars[i + 1] = "\u0640"  # consumed
                continue
            out.append("a")
            prev_vowel = True
        elif c in _WAW:
            between = persian_vowels and not prev_vowel and i + 1 < len(chars) and chars[i + 1] not in _VOWEL_LETTERS
            out.append("v" if prev_vowel else "o" if between else "u")
            prev_vowel = not prev_vowel
        elif c in _YEH:
            out.append("y" if prev_vowel else "i")
            prev_vowel = not prev_vowel
        elif c == "\u0640":  # tatweel
            continue
        elif persian_vowels and c == _HEH and i == len(chars) - 1 and i >= 2 and not prev_vowel and chars[i - 1] != "\u0644":
            out.append("eh")  # silent final heh; not after lam: the divine name الله ends in a pronounced h
        else:
            latin = letters.get(c)
            if latin is None:
                latin = anyascii(c)
            if latin.startswith("h") and out and out[-1][-1:] in _DIGRAPH_FIRST and not prev_vowel:
                out.append("a")  # p+h is not 'ph' (Persian writes f, kh, sh ... with letters of their own)
            out.append(latin)
            prev_vowel = False
    return "".join(out)


@lru_cache(maxsize=10_000)
def arabic_vowel_forms(word: str) -> tuple[str, ...]:
    """Other readings of a Persian word as the lists romanise it (BGN/PCGN Persian, 1958): a waw between two
    consonants read as the vowel 'o' (توسعه TOSE'E, کوثر KOSAR: the script does not say whether it is o, ow or
    u; :func:`_arabic_word` reads 'u') and a final heh after a consonant read as the silent vowel 'e' ('eh'
    and 'e': توسعه TOSEEH / TOSEE, مبارکه MOBARAKEH). Empty when nothing changes."""
    if not 3 <= len(word) <= 40 or not all("\u0600" <= c <= "\u06ff" for c in word):
        return ()
    plain = _arabic_word(word)
    first = _arabic_word(word, persian_vowels=True)
    forms = [first, first[:-1]] if first.endswith("eh") and not plain.endswith("eh") else [first]
    return tuple(f for f in dict.fromkeys(forms) if f and f != plain)


_SMALL_Y = frozenset("ャュョゃゅょ")
_SMALL_VOWEL = frozenset("ァィゥェォぁぃぅぇぉ")
_SOKUON = frozenset("ッっ")


def _kana_word(word: str) -> str:
    """Romanise a kana word in Hepburn, as lists write Japanese renderings (no macrons, long-vowel mark
    dropped): small ya/yu/yo join the syllable before (ジョ jo, キャ kya), small vowels replace its vowel
    in loanwords (ファ fa, ティ ti, ツェ tse), the small tsu doubles the next consonant (ック kku, ッチ tchi)."""
    out: list[str] = []
    double = False
    for c in word:
        if c in _SOKUON:
            double = True
            continue
        latin = anyascii(c)
        if c in _SMALL_Y and out and out[-1].endswith("i") and len(out[-1]) >= 2:
            prev = out.pop()[:-1]  # ki+ya -> kya; shi+ya -> sha; ji+yo -> jo; chi+yo -> cho
            latin = prev + (latin[1:] if prev[-1:] in ("h", "j") else latin)
        elif c in _SMALL_VOWEL and out and out[-1][-1:] in "aeiou":
            prev = out.pop()  # fu+a -> fa; te+i -> ti; tsu+e -> tse; u+i -> wi; vu+i -> vi
            stem = prev[:-1] or "w"
            latin = stem + latin
        if double and latin[:1].isalpha() and latin[0] not in "aeiou":
            latin = ("t" if latin.startswith("ch") else latin[0]) + latin
        double = False
        out.append(latin)
    return "".join(out)


_KANA_EPENTHETIC_U = frozenset("kgsztdnhbpmrf")  # ku gu su zu ... ru: a consonant written without its own vowel
_KANA_WORD_MAX = 40


def _kana_loan_syllable(syl: str, i: int, sylls: list[str]) -> str:
    """One romanised kana syllable as a loanword spells it (see :func:`kana_loan_forms`)."""
    nxt = sylls[i + 1] if i + 1 < len(sylls) else ""
    if syl.startswith("ch"):
        syl = "t" + syl[2:]  # チ chi -> ti, チェ che -> te
    if i == 0:
        return syl
    before_consonant = nxt[:1] not in _VOWEL_SET
    epenthetic = len(syl) == 2 and syl[1] == "u" and syl[0] in _KANA_EPENTHETIC_U
    if before_consonant and (epenthetic or syl in ("to", "do")):
        return syl[0]
    if syl == "ti" and i == len(sylls) - 1:
        return "t"  # -フチ -ft (Роснефть)
    if syl == "tsu":
        return "ts"
    return syl


@lru_cache(maxsize=10_000)
def kana_loan_forms(word: str) -> tuple[str, ...]:
    """Readings of a katakana word as a loanword (the Japanese spelling of a foreign word, as the Japanese
    Wikipedia and press write Russian and English names): the epenthetic vowel of a consonant written without
    its own vowel dropped (ス su -> s, フ fu -> f, ク ku -> k, ル ru -> r, ト to -> t after the first syllable:
    ロスネフチ ro-su-ne-fu-chi), チ read 't' (the Russian soft т: ネフチ -neft, ネフチェ -nefte), the doubled
    consonant of ッ read once, and one more reading with ビ/ブ/バ read 'v' (ヴ is rare: ビジョン vision) and a final
    ジョン read '-sion' (the English /ʒən/: ビジョン vision, テレビジョン television). Empty when nothing changes."""
    if not word or len(word) > _KANA_WORD_MAX:
        return ()
    sylls: list[str] = []
    for c in unicodedata.normalize("NFKC", word):
        if c == "ー":
            continue
        if c in _SOKUON:
            sylls.append("")  # the next consonant is doubled in Hepburn; a loanword spells it once
            continue
        latin = anyascii(c).lower()
        if not latin.isalpha():
            return ()
        if (c in _SMALL_Y or c in _SMALL_VOWEL) and sylls and sylls[-1]:
            prev = sylls.pop()
            if c in _SMALL_Y:
                stem = prev[:-1] if prev.endswith("i") else prev
                latin = stem + (latin[1:] if stem[-1:] in ("h", "j") else latin)
            else:
                latin = (prev[:-1] or "w") + latin
        sylls.append(latin)
    sylls = [x for x in sylls if x]
    base = [_kana_loan_syllable(syl, i, sylls) for i, syl in enumerate(sylls)]
    first = "".join(base)
    v_form = "".join("v" + x[1:] if x[:1] == "b" and i > 0 else x for i, x in enumerate(base))
    if v_form.endswith("jon"):
        v_form = v_form[:-3] + "sion"
    plain = _kana_word(unicodedata.normalize("NFKC", word))
    return tuple(f for f in dict.fromkeys((first, v_form)) if f and f != plain)


_VOWEL_SET = frozenset("aeiou")


_HANGUL_BASE = 0xAC00
_JAMO_INITIAL = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h")
_JAMO_VOWEL = ("a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi",
               "yu", "eu", "ui", "i")
_JAMO_FINAL = ("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p", "t",
               "t", "ng", "t", "t", "k", "t", "p", "t")
_EU, _EO, _P_INITIAL, _NO_INITIAL, _R_INITIAL, _B_INITIAL, _L_FINAL = 18, 4, 17, 11, 5, 7, 8


@lru_cache(maxsize=10_000)
def hangul_loan_forms(word: str) -> tuple[str, ...]:
    """Readings of a hangul word as a loanword transliteration (Korean orthography of foreign words,
    NIKL): the epenthetic 'eu' of a consonant written without its own vowel dropped (스 in 카스퍼스키,
    프 in 투폴레프), a doubled 'll' read as one 'l' (폴레 -> pole), and two extra readings: every
    ㅍ without its own vowel read 'f' (Korean writes a final f as 프: 투폴레프 Tupolev) and an open 'eo' before a consonant read 'er'
    (the non-prevocalic r Korean drops: 카스퍼스키 Kaspersky). Empty for a word that is not all hangul
    syllables or where nothing changes."""
    syll = []
    for ch in word:
        code = ord(ch) - _HANGUL_BASE
        if not 0 <= code < 11172:
            return ()
        syll.append((code // 588, (code % 588) // 28, code % 28))
    base: list[str] = []
    eff: list[str] = []
    rhotic: list[str] = []
    vee: list[str] = []
    for i, (ini, vow, fin) in enumerate(syll):
        nxt = syll[i + 1] if i + 1 < len(syll) else None
        on = _JAMO_INITIAL[ini]
        if ini == _R_INITIAL and base and base[-1].endswith("l"):
            on = ""  # 폴레: pol + le -> pole
        vowel = _JAMO_VOWEL[vow]
        if vow == _EU and fin == 0 and ini != _NO_INITIAL and i > 0:
            vowel = ""  # epenthetic: 스 s, 프 p, 트 t
        elif vow == _EU and fin == _L_FINAL and ini != _NO_INITIAL and nxt is not None and nxt[0] == _R_INITIAL:
            vowel = ""  # a consonant cluster with l: 플로 plo (아에로플로트 Aeroflot), 블라 bla
        coda = _JAMO_FINAL[fin]
        piece = on + vowel + coda
        base.append(piece)
        eff.append(("f" if ini == _P_INITIAL and not vowel else on) + vowel + coda)
        # Korean writes v with ㅂ and the English -sion /ʒən/ with 전 (비전 vision, 텔레비전 television)
        vee.append("sion" if nxt is None and piece == "jeon" and i > 0
                   else ("v" if ini == _B_INITIAL and i > 0 else on) + vowel + coda)
        r = "r" if vow == _EO and fin == 0 and nxt is not None and nxt[0] != _NO_INITIAL else ""
        rhotic.append(piece + r)
    forms = dict.fromkeys("".join(f) for f in (base, eff, rhotic, vee))
    plain = anyascii(word).lower()
    return tuple(f for f in forms if f and f != plain)


def _hangul_affixes(word: str) -> str | None:
    """A hangul name written as one word with organisation words at its start or end (단천상업은행 -> 'dancheon
    commercial bank', script_terms.txt), the rest romanised; None when no such word is found."""
    terms = _script_terms()
    head: list[str] = []
    tail: list[str] = []
    stem = word
    changed = True
    while changed:
        changed = False
        for size in range(min(4, len(stem)), 1, -1):
            if stem[-size:] in terms:
                tail.insert(0, terms[stem[-size:]])
                stem, changed = stem[:-size], True
                break
            if stem[:size] in terms:
                head.append(terms[stem[:size]])
                stem, changed = stem[size:], True
                break
    if not head and not tail:
        return None
    return " ".join([*head, *([anyascii(stem).lower()] if stem else []), *tail])


def _shape_fold(word: str) -> str:
    table = confusables()
    return anyascii(unicodedata.normalize("NFKC", "".join(table.get(c, c) for c in word)))


@lru_cache(maxsize=100_000)
def _fold_word(word: str, latin_context: bool = False) -> tuple[str, str, str | None]:
    """(ASCII text, kind, shape reading) of one script word; kind: ascii/shape/sound/unvowelled/term/han/other.

    ``latin_context``: the name has Latin letters elsewhere, so a Cyrillic/Greek word made only of Latin
    look-alikes is read by shape too.
    """
    if _HAN_RUN.search(word):
        return word, "han", None
    scripts = {_script(c) for c in word if c.isalpha()}
    if not scripts or scripts == {"latin"}:
        return anyascii(unicodedata.normalize("NFKC", word)), "ascii", None
    if scripts <= _SHAPE_SCRIPTS and (len(scripts) > 1 or scripts == {"cherokee"}):
        return _shape_fold(word), "shape", None
    table = confusables()
    if latin_context and scripts <= _SHAPE_SCRIPTS and all(
        c in table and table[c].isalpha() for c in word if c.isalpha()
    ):
        return _shape_fold(word), "shape", None
    terms = _script_terms()
    if len(scripts) == 1:
        script = next(iter(scripts))
        term = terms.get(word.lower())
        if term is not None:
            return term, "term", None
        if script == "arabic":
            return _arabic_word(unicodedata.normalize("NFKC", word)), "unvowelled", None
        if script in ("cyrillic", "greek"):
            shape = None
            letters = [c for c in word if c.isalpha()]
            if all(c in table and table[c].isalpha() for c in letters):
                shape = _shape_fold(word)
            return anyascii(unicodedata.normalize("NFKC", word)), "sound", shape
        if script == "kana":
            return _kana_word(unicodedata.normalize("NFKC", word)), "sound", None
        if script == "hangul" and len(word) >= 4:
            split = _hangul_affixes(word)
            if split is not None:
                return split, "sound", None
        if script == "hangul" and len(word) >= 3:
            # (a one- or two-syllable hangul word is a Korean surname or given name: romanised, no
            # sound-alike readings, which would meet too many list names)
            return anyascii(unicodedata.normalize("NFKC", word)), "sound", None
    return anyascii(unicodedata.normalize("NFKC", word)), "other", None


def _word_tokens(text: str) -> list[str]:
    return _WORDS(text.lower().translate(_DROP_APOSTROPHES))


class _ScriptFold:
    """The non-ASCII words of one name folded (:func:`_fold_word`), with what the folding found: notes,
    whether the name was transliterated, sound-alike tokens, shape readings."""

    __slots__ = ("notes", "transliterated", "sound", "unvowelled", "org_term", "shapes")

    def __init__(self, notes: list[str]) -> None:
        self.notes = notes
        self.transliterated = False
        self.sound: list[str] = []
        self.unvowelled: list[str] = []
        self.org_term = False
        self.shapes: list[tuple[str, str]] = []

    def run(self, text: str) -> str:
        matches = [m for m in _SCRIPT_WORD.finditer(text) if not m.group(0).isascii()]
        if not matches:
            return text
        latin_context = _LATIN_LETTER.search(text) is not None
        pieces: list[str] = []
        last = 0
        for m in matches:
            word = m.group(0)
            folded, kind, shape = _fold_word(word, latin_context)
            if kind == "han":
                rest = _HAN_RUN.sub("", word)
                if not rest or rest.isascii():
                    continue
                # kana (or another script) written together with Han characters (ファーウェイ株式会社): the
                # non-Han parts are words of their own, the Han runs are read later
                folded = self._mixed(word, latin_context)
            else:
                self._note(word, folded, kind, shape)
            pieces.append(text[last : m.start()])
            pieces.append(folded)
            last = m.end()
        pieces.append(text[last:])
        if self.org_term or len(matches) == 1:
            # unvowelled (Persian/Arabic) words get sound-alike readings in organisation names (بانک ملی ->
            # melli) and in a name of one word (a brand: هوآوی -> huawei)
            self.sound.extend(self.unvowelled)
        elif self.unvowelled:
            # person names in that script (two words or more) have many near-homographs on the lists: their
            # sound-alike readings must fit one list name together and match it nearly in full (h14)
            self.sound.extend(self.unvowelled)
            self.notes.append(UNVOWELLED_NAME_NOTE)
        return "".join(pieces)

    def _mixed(self, word: str, latin_context: bool) -> str:
        out: list[str] = []
        last = 0
        for h in _HAN_RUN.finditer(word):
            out.append(self._fold_part(word[last : h.start()], latin_context))
            out.append(" " + h.group(0) + " ")
            last = h.end()
        out.append(self._fold_part(word[last:], latin_context))
        return "".join(out)

    def _fold_part(self, part: str, latin_context: bool) -> str:
        if not part or part.isascii():
            return part
        folded, kind, shape = _fold_word(part, latin_context)
        # a kana brand before a kanji word (ファーウェイ株式会社) gets sound-alike readings; one or two kana
        # of a Japanese given name (くみ子) do not
        self._note(part, folded, kind if len(part) >= 3 else "other", shape)
        return folded

    def _note(self, word: str, folded: str, kind: str, shape: str | None) -> None:
        if kind == "shape":
            if _SHAPE_NOTE not in self.notes:
                self.notes.append(_SHAPE_NOTE)
            self.transliterated = True
            return
        if kind not in ("sound", "unvowelled", "term", "other"):
            return
        self.transliterated = self.transliterated or any(ord(c) > 0x24F and c.isalpha() for c in word)
        if kind == "unvowelled":
            self.unvowelled.extend(_word_tokens(folded))
        elif kind == "term":
            self.org_term = True
        elif kind == "sound":
            toks = _word_tokens(folded)
            self.sound.extend(toks)
            if shape is not None:
                shape_toks = _word_tokens(shape)
                if len(toks) == 1 and len(shape_toks) == 1 and toks[0] != shape_toks[0]:
                    self.shapes.append((toks[0], shape_toks[0]))


def prefold(name: str) -> Prefolded:
    """The name as a reader sees it, in ASCII: visual order, no invisible characters, letters folded.

    Look-alike letters are folded per word, before NFKC (which would decompose some of them): a word
    mixing scripts, or a Cyrillic/Greek word made only of Latin look-alikes in a name that also has Latin
    letters, is read by shape; a name written wholly in Cyrillic or Greek is read by sound.
    Linear in the length of the name. ASCII names without control characters come back unchanged.
    """
    text = name
    if text.isascii():
        if _ASCII_ODD.search(text) is None:
            return Prefolded(text)
        text = text.translate(_ODD_TO_JOINER).translate(_DROP_INVISIBLE)
        return Prefolded(text)
    notes: list[str] = []
    if "\u202e" in text:
        text = _RLO_SEGMENT.sub(lambda m: m.group(1)[::-1], text)
        notes.append("right-to-left override read in visual order")
    text = text.translate(_ODD_TO_JOINER).translate(_DROP_INVISIBLE)
    fold = _ScriptFold(notes)
    text = fold.run(text)
    transliterated, sound, shapes = fold.transliterated, fold.sound, fold.shapes
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        if _HAN_RUN.search(text):
            japanese = _KANA.search(name) is not None
            text = _HAN_RUN.sub(lambda m: _han_to_latin(m.group(0), japanese), text)
            transliterated = True
        if not text.isascii():
            text = anyascii(text)
    return Prefolded(text, transliterated, tuple(notes), tuple(dict.fromkeys(sound)), tuple(shapes))


_PLAIN = Prefolded("")


def normalize(name: str) -> NormalizedName:
    """Normalise a name into matching tokens (see module docstring)."""
    if name.isascii() and _ASCII_ODD.search(name) is None:
        pre = _PLAIN  # the usual case: nothing to fold
        text = name
    else:
        pre = prefold(name)
        text = pre.text
    transliterated = pre.transliterated
    text = text.lower().translate(_DROP_APOSTROPHES)
    if "." in text:
        text = _INITIAL_DOTS.sub(lambda m: m.group(1).replace(".", ""), text)
    raw = _WORDS(text)
    if not _number_words().isdisjoint(raw) or (_HAS_DIGIT(text) and _ORDINAL_DIGITS.search(text)):
        raw = _numbers(raw)
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
    if pre is _PLAIN:
        return NormalizedName(
            name, tuple(dict.fromkeys(core)), tuple(full), tuple(legal), tuple(expanded), False, [], name
        )
    return NormalizedName(
        original=name,
        tokens=tuple(dict.fromkeys(core)),
        full_tokens=tuple(full),
        legal=tuple(legal),
        expanded=tuple(expanded),
        transliterated=transliterated,
        notes=list(pre.notes),
        clean=pre.text,
        sound_tokens=pre.sound_tokens,
        shape_alts=pre.shape_alts,
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
