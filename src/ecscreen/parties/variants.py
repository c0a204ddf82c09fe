"""Other readings of a query name, tried by the matcher next to the normalised name itself.

:func:`ecscreen.domain.normalize.normalize` gives one reading of a name. Some disguises can only be undone
against the vocabulary of the list being screened, so the matcher asks :func:`query_variants` for more
readings and keeps, per list entry, the best score (minus the reading's penalty):

* words split by separators inside a word: ``Hua-wei``, ``Hua_wei``, ``Hua.wei``, NBSP/TAB (which
  :func:`ecscreen.domain.normalize.prefold` turns into ``_``): joined when the joined word is a list word;
* letters spaced out (``H u a w e i``): runs of three or more single characters joined;
* words run together: camel case split (``NSOGroup`` -> ``NSO Group``) and vocabulary segmentation
  (``HUAWEITECHNOLOGIES`` -> ``huawei technologies``), pieces being list words or known abbreviations;
  only when a piece is a generic organisation word or legal form (``glue_words.txt``) or the run-together
  word is long, and such a reading counts only with a near-full match (:data:`SPLIT_MIN_SCORE`): brands
  compounded from ordinary words (BlackRock, GoldMining) are not disguises;
* sound-alike list words for words romanised from kana, hangul, Persian/Arabic, Cyrillic or Greek
  (``fuauei`` ~ ``huawei``, ``rosuoboronekusuporuto`` ~ ``rosoboroneksport``, ``mli`` ~ ``melli``): same
  consonant key (:func:`sound_key`) and similar sound string; such a reading costs
  :data:`SOUND_PENALTY` points;
* a whole Cyrillic/Greek word made only of Latin look-alikes (``НАМАS``) also read by shape;
* in a person's name (no legal form, no business word) whose words are all list words but one, the one word
  that is on no list read as a list word at most two letters off that some list name writes together with all
  the other words (``Igor Sechev`` -> ``igor sechin``): :data:`NEAR_PART_PENALTY` points a letter, and the
  calibration (``feature_name_part_variant``) keeps such a hit possible, never firm, and only against an
  individual's name of the same shape.

Everything here is linear in the length of the name (segmentation looks at most :data:`_MAX_PIECE`
characters back from each position) and returns quickly for ordinary names (no trigger, no work).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from rapidfuzz.distance import Indel, Levenshtein
from rapidfuzz.process import cdist

from ecscreen.domain.lazyre import LazyPattern
from ecscreen.domain.normalize import (
    HAN_RUN,
    UNVOWELLED_NAME_NOTE,
    NormalizedName,
    abbreviations,
    arabic_vowel_forms,
    hangul_loan_forms,
    kana_loan_forms,
    legal_forms,
    normalize,
    term_alternatives,
)

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use (issue 10): only a word the lists do not have is read by sound
    from ecscreen.parties.lazynp import np

__all__ = ["Reading", "bracket_head", "group_words", "query_variants", "segment", "sound_key", "sound_string", "SOUND_PENALTY", "JOIN_PENALTY"]

SOUND_PENALTY = 5.0  # a reading with words replaced by sound-alike list words
SOUND_MIN_SCORE = 85.0  # ... counts only when it matches a list name nearly in full
SOUND_NAME_MIN_SCORE = 92.0  # ... a person's name read without vowels (Arabic script): more nearly still
JOIN_PENALTY = 0.0  # re-joined / re-split words: the same letters, read as the writer displayed them
SHAPE_PENALTY = 0.0
# a split reading (camel case, segmentation) counts only when it matches a list name nearly in full
SPLIT_MIN_SCORE = 95.0
# ... or this much when the split also found a legal form ('OOOADIS' -> OOO Adis, 'SKYONECONSTRUCTIONCOMPANYLIMITED'):
# the form marks the words as a company name, and the first-stage score counts the list's legal words as missing
SPLIT_LEGAL_MIN_SCORE = 83.0
_LONG_GLUED = 12
_MIN_GLUED = 6  # shortest run-together word worth splitting (two list words of three letters: 'gaoyan')
_MIN_GLUED_WHOLE = 5  # ... when it is the whole name (aircraft 'EPITA' = EP-ITA)
_MAX_VARIANTS = 24
_MAX_PIECE = 24
_MAX_SOUND_CANDIDATES = 24
# readings tried per query: each costs a full query (batch speed), each may add a false hit
_SOUND_CANDIDATES = 2
_MAX_SOUND_READINGS = 2
NEAR_PART_PENALTY = 7.5  # a person's name part read as a list word one or two letters off: points per letter
NEAR_PART_MIN_SCORE = 95.0  # ... counts only when the reading matches a list name nearly in full
NEAR_PART_REASON = "a name part on no list read as a list word"  # feature_name_part_variant recognises it
_NEAR_PART_EDITS = 2
_NEAR_PART_READINGS = 2

# words joined by an odd separator (no space on either side): Hua-wei, Hua_wei, H.u.a.w.e.i
# (anchored at a word start, possessive: linear on a very long word)
_JOIN_GROUP = LazyPattern(r"(?<![A-Za-z0-9])[A-Za-z0-9]++(?:[_.\-][A-Za-z0-9]++)+")
# three or more single characters separated by one separator: H u a w e i
_SPACED = LazyPattern(r"(?<![A-Za-z0-9])[A-Za-z0-9](?:[ _.\-][A-Za-z0-9](?![A-Za-z0-9])){2,}")
# in a name spelled out letter by letter, two single characters are a word too ("A O", "E P")
_SPACED2 = LazyPattern(r"(?<![A-Za-z0-9])[A-Za-z0-9](?:[ _.][A-Za-z0-9](?![A-Za-z0-9]))+")
_SINGLES = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9](?![A-Za-z0-9])")
_CAMEL = LazyPattern(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z]{2})")
_HAS_CAMEL = re.compile(r"[a-z][A-Z]|[A-Z]{2}[a-z]{2}").search
_NON_ALNUM = LazyPattern(r"[^A-Za-z0-9]+")
_HAS_JOINER = re.compile(r"[A-Za-z0-9][_.\-][A-Za-z0-9]").search
# any of: a joiner inside a word, a single character, camel case, letters mixed with digits
_ANY_TRIGGER = re.compile(
    r"[A-Za-z0-9][_.\-][A-Za-z0-9]|(?<![A-Za-z0-9])[A-Za-z0-9](?![A-Za-z0-9])|[a-z][A-Z]|[A-Z]{2}[a-z]{2}"
    r"|[A-Za-z][0-9]|[0-9][A-Za-z]"
).search
_HAS_DIGIT = re.compile(r"[0-9]").search
_MIXED = re.compile(r"[A-Za-z][0-9]|[0-9][A-Za-z]").search
_MIXED_WORD = LazyPattern(r"[A-Za-z0-9]+")
# a number written against a word of 3+ letters ('LONGXING612', 'QIHOO360TECHNOLOGY'): a word boundary
_DIGIT_EDGE = LazyPattern(r"(?<=[A-Za-z]{3})(?=[0-9])|(?<=[0-9])(?=[A-Za-z]{3})")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "9": "g", "8": "b"})


@lru_cache(maxsize=1)
def _name_words() -> frozenset[str]:
    """Words of names that are not (all) in a list vocabulary: legal-form words, stop words, particles."""
    from ecscreen.domain.normalize import _stopwords, particles

    out = {w for form in legal_forms() for w in form if len(w) >= 3}
    out.update(w for w in _stopwords() if len(w) >= 3)
    out.update(w for w in particles() if len(w) >= 3)
    return frozenset(out)


def _ordinary_compound(pieces: list[str]) -> bool:
    """Pieces that are all ordinary English words of 4+ letters ('black rock', 'good luck'): a brand."""
    from ecscreen.parties.matching import english_words

    english = english_words()
    return all(len(p) >= 4 and p in english for p in pieces)


@lru_cache(maxsize=1)
def _small_words() -> frozenset[str]:
    """Two-letter stop words and name particles (of, al, de): pieces of a run-together name."""
    from ecscreen.domain.normalize import _stopwords, particles

    return frozenset(w for w in (*_stopwords(), *particles()) if len(w) == 2)


@lru_cache(maxsize=1)
def _short_pieces() -> frozenset[str]:
    """Two-letter pieces allowed in a segmentation: legal forms and abbreviations (co, ag, sa ...)."""
    out = {f[0] for f in legal_forms() if len(f) == 1 and len(f[0]) == 2}
    out.update(k for k in abbreviations() if len(k) == 2)
    return frozenset(out)


def segment(word: str, known: Mapping[str, Any] | frozenset[str] | set[str], min_long: int = 4,
            min_len: int = 6) -> list[str] | None:
    """Split a run-together word into the fewest known words (>= 3 letters, or two-letter legal forms and,
    at a higher cost, two-letter list words).

    Returns None unless the word splits into at least two pieces, one of them a known word of >= ``min_long``
    letters. Two-letter stop words and particles (of, al) may be pieces, at the higher cost. Abbreviations (``technologies``) count as known. Linear: O(len(word) * 24).
    """
    n = len(word)
    if n < min_len:
        return None
    abbr = abbreviations()
    short = _short_pieces()
    names = _name_words()
    small = _small_words()

    def piece_ok(piece: str) -> bool:
        return piece in known or piece in abbr or piece in names or piece in short

    # cheap necessary condition first: some prefix and some suffix are known words
    top = min(_MAX_PIECE, n - 2)
    if not any(piece_ok(word[:k]) for k in range(2, top + 1)) or not any(
        piece_ok(word[n - k :]) for k in range(2, top + 1)
    ):
        return None
    # cost: 2 per piece, 3 for a two-letter piece that is not a legal form (hk, al): fewest pieces win
    best: list[int] = [0] + [10_000] * n
    back: list[int] = [0] * (n + 1)
    for i in range(2, n + 1):
        for j in range(max(0, i - _MAX_PIECE), i - 1):
            if best[j] >= 10_000:
                continue
            piece = word[j:i]
            if len(piece) == 2:
                cost = 2 if piece in short else 3 if piece in known or piece in small else 0
            else:  # a three-letter piece costs a little more: 'company of iran', not 'com pan yo fi ran'
                cost = (2 + (len(piece) == 3)) if piece in known or piece in abbr or piece in names else 0
            if cost and best[j] + cost < best[i]:
                best[i] = best[j] + cost
                back[i] = j
    if best[n] >= 10_000 or back[n] == 0:
        return None
    pieces: list[str] = []
    i = n
    while i > 0:
        j = back[i]
        pieces.append(word[j:i])
        i = j
    pieces.reverse()
    if not any(len(p) >= min_long and p in known for p in pieces):
        return None
    return pieces


# ---------------------------------------------------------------- sound-alike keys

_SOUND_PAIRS = (
    ("sch", "s"), ("tch", "c"), ("kh", "h"), ("ph", "f"), ("ck", "k"), ("ch", "c"), ("sh", "s"), ("zh", "j"),
    ("gh", "g"), ("tsu", "tu"), ("ts", "s"), ("x", "ks"), ("q", "k"), ("eo", "o"), ("eu", "u"), ("ge", "je"), ("gi", "ji"),
    ("ce", "se"), ("ci", "si"),
)  # fmt: skip
_DOUBLE = re.compile(r"(.)\1").search
_SOUND_MAP = str.maketrans(
    {"f": "h", "w": "v", "l": "r", "z": "s", "g": "k", "d": "t", "b": "p", "j": "y", "c": "k"}
)
_VOWELS = frozenset("aeiouy")
_SEMI = LazyPattern(r"u(?=[aeioy])")  # ... and a Persian waw before yeh (نوین nuyn ~ novin)
_REPEAT = LazyPattern(r"(.)\1+")
_DROP_VOWELS = LazyPattern(r"[aeiouy]")


def _sound_base(tok: str) -> str:
    t = tok.lower()
    if t.endswith("v"):
        t = t[:-1] + "f"  # final -v is said -f (Tupolev: ツポレフ, 투폴레프)
    elif len(t) >= 4 and t[-1] == "h" and t[-2] in "ae":
        t = t[:-1]  # a final -eh/-ah is a vowel (Persian silent heh: Mobarakeh ~ mbarka, Tose'eh ~ tusa)
    for a, b in _SOUND_PAIRS:
        if a in t:
            t = t.replace(a, b)
    return t.translate(_SOUND_MAP)


def _dedupe(t: str) -> str:
    return _REPEAT.sub(r"\1", t) if _DOUBLE(t) else t


def _key_of(s: str) -> str:
    if not s:
        return s
    first = "a" if s[0] in _VOWELS else s[0]  # air / eyr (Эйр), iran / eran
    return _dedupe(first + _DROP_VOWELS.sub("", s[1:]))


def _sound_pair(tok: str) -> tuple[str, str]:
    """(sound string with 'u' before a vowel read as 'w', sound string without that rule)."""
    base = _sound_base(tok)
    return _dedupe(_SEMI.sub("v", base)), _dedupe(base)


@lru_cache(maxsize=200_000)
def sound_string(tok: str, semivowel: bool = True) -> str:
    """A coarse pronunciation: voicing, l/r, f/h, w/v, c/k merged, and (``semivowel``) a 'u' before a vowel
    read as 'w' (for romanised foreign words).

    huawei, hwawei (hangul), fuauei (katakana), khuavey (Cyrillic) -> 'hvavei'.
    """
    return _sound_pair(tok)[0 if semivowel else 1]


@lru_cache(maxsize=200_000)
def sound_key(tok: str, semivowel: bool = True) -> str:
    """First sound plus the consonants of :func:`sound_string` (vowels carry no weight in kana epenthesis
    or in unvowelled Persian): rosoboronexport, rosuoboronekusuporuto (katakana, ``semivowel=False``)
    -> 'rsprnksprt'. Words are indexed and looked up under both readings of 'u' before a vowel."""
    return _key_of(sound_string(tok, semivowel))


_ANY_VOWEL = LazyPattern(r"[aeiouy]+")


@lru_cache(maxsize=200_000)
def _neutral(s: str) -> str:
    """Vowel quality ignored (each run of vowels -> 'a'): scripts and romanisations disagree most on vowels."""
    return _ANY_VOWEL.sub("a", s)


class _SoundIndex:
    """List words by sound key; per key the words' sound strings (both readings of 'u' before a vowel),
    raw and vowel-neutral, so that candidates are scored in one vectorised pass (rapidfuzz cdist)."""

    def __init__(self, vocab: Mapping[str, Any]) -> None:
        self.vocab = vocab
        rows: dict[str, dict[tuple[str, str], str]] = {}
        words = [(t, t) for t in vocab if len(t) >= 3 and t.isalpha()]
        # abbreviation variants are spellings too: 'technologies' (-> technology) sounds like tekunorojiizu
        words += [(v, c) for v, c in abbreviations().items() if c in vocab and len(v) >= 3 and v.isalpha()]
        for spelling, word in words:
            pair = _sound_pair(spelling)
            for key in {_key_of(pair[0]), _key_of(pair[1])}:
                bucket = rows.setdefault(key, {})
                for string in pair:
                    bucket.setdefault((string, word), word)
        self.by_key: dict[str, tuple[list[str], list[str], list[str]]] = {
            key: ([w for _, w in b], [r for r, _ in b], [_neutral(r) for r, _ in b]) for key, b in rows.items()
        }
        self._memo: dict[str, list[str]] = {}

    def candidates(self, tok: str) -> list[str]:
        """List words that may be ``tok`` said another way, most similar first (memoised)."""
        found = self._memo.get(tok)
        if found is None:
            found = self._candidates(tok)
            if len(self._memo) >= 100_000:
                self._memo.clear()
            self._memo[tok] = found
        return found

    def _candidates(self, tok: str) -> list[str]:
        best: dict[str, float] = {}
        for semi in (True, False):
            key = sound_key(tok, semi)
            bucket = self.by_key.get(key) if len(key) >= 2 else None
            if not bucket:
                continue
            words, raws, neutrals = bucket
            raw = sound_string(tok, semi)
            sim_raw = cdist([raw], raws, scorer=Indel.normalized_similarity)[0]
            sim_neutral = cdist([_neutral(raw)], neutrals, scorer=Indel.normalized_similarity)[0]
            limit = max(2, len(raw) // 2)
            # only the rows that can pass the test below are looked at in Python (a short key's bucket holds
            # thousands of list words); the test itself is unchanged
            if len(key) <= 2:
                near = sim_raw.astype(np.float64) >= 0.8 - 1e-6
            else:
                near = (sim_neutral.astype(np.float64) + sim_raw.astype(np.float64)) / 2 >= (
                    0.7 if len(key) == 3 else 0.6) - 1e-6
            for i in np.flatnonzero(near).tolist():
                word = words[i]
                if abs(len(raws[i]) - len(raw)) > limit:
                    continue
                # vowel-neutral similarity (scripts disagree on vowels), the vowels breaking ties;
                # two consonants say little: then the vowels must agree too
                sim = (float(sim_neutral[i]) + float(sim_raw[i])) / 2
                ok = sim_raw[i] >= 0.8 if len(key) <= 2 else sim >= (0.7 if len(key) == 3 else 0.6)
                if ok and sim > best.get(word, 0.0):
                    best[word] = sim
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
        return [w for w, _ in ranked[:_MAX_SOUND_CANDIDATES]]


# one per list matcher in use (a run screens against several lists: the CSL, project lists, party_list packs);
# too few made them rebuild in turn for every query (770 rebuilds, 2.7 s on 20,000 batch rows)
_MAX_SOUND_INDEXES = 64
_SOUND_INDEXES: dict[int, _SoundIndex] = {}


def _keep_index(cache: dict[int, Any], vocab: Mapping[str, Any], idx: Any) -> None:
    """Keep ``idx`` as ``vocab``'s index in ``cache`` (one per vocabulary in use, at most _MAX_SOUND_INDEXES)."""
    if len(cache) >= _MAX_SOUND_INDEXES:
        cache.clear()
    cache[id(vocab)] = idx


def _vocab_index(cache: dict[int, Any], vocab: Mapping[str, Any], build: Callable[[Mapping[str, Any]], Any]) -> Any:
    """``vocab``'s index from ``cache``, built by ``build`` when missing (or kept for another object of that id)."""
    idx = cache.get(id(vocab))
    if idx is None or idx.vocab is not vocab:
        idx = build(vocab)
        _keep_index(cache, vocab, idx)
    return idx


def _sound_index(vocab: Mapping[str, Any]) -> _SoundIndex:
    idx: _SoundIndex = _vocab_index(_SOUND_INDEXES, vocab, _SoundIndex)
    return idx


def sound_index_keys(vocab: Mapping[str, Any]) -> dict[str, tuple[list[str], list[str], list[str]]]:
    """The sound index of ``vocab`` as plain data (stored in the matcher's index cache)."""
    return _sound_index(vocab).by_key


def seed_sound_index(vocab: Mapping[str, Any], by_key: dict[str, tuple[list[str], list[str], list[str]]]) -> None:
    """Install the sound index of ``vocab`` from :func:`sound_index_keys` data (an index loaded from the cache)."""
    idx = _SoundIndex.__new__(_SoundIndex)
    idx.vocab, idx.by_key, idx._memo = vocab, by_key, {}
    _keep_index(_SOUND_INDEXES, vocab, idx)


# ---------------------------------------------------------------- variants


def _known(tok: str, vocab: Mapping[str, Any]) -> bool:
    return tok in vocab or tok in abbreviations() or tok in _name_words() or tok in _short_pieces()


@lru_cache(maxsize=1)
def group_words() -> frozenset[str]:
    """Words naming a group of companies (``data/normalize/group_words.txt``: group, holding, concern)."""
    from ecscreen.domain.normalize import _table_lines

    return frozenset(_table_lines("group_words.txt"))


_BRACKET_TAIL = LazyPattern(r"\s*\(([^()]{1,60})\)\s*$")


def bracket_head(text: str, places: frozenset[str] = frozenset()) -> str | None:
    """The one-word name before a closing bracket the list adds to it, or None.

    A list name ``Name (long form)`` gives the short name and, in brackets, its long form: "Rostec (Russian
    Technologies State Corporation)", "ASMAT (APPLIED SYSTEMS METHODS AND TECHNOLOGY)". The word before the
    bracket is the name itself and is indexed as an alias too, unless it is shorter than four letters
    ("PCC (UK)") or a place ("INDONESIA (MMI)"). A name of several words before a bracket is not split off:
    its bracket often qualifies it ("TIDEWATER CO. (MIDDLE EAST MARINE SERVICES)") and a generic head would
    find ordinary firms."""
    m = _BRACKET_TAIL.search(text)
    if not m:
        return None
    head = text[: m.start()].strip(" ,;-")
    if sum(c.isalpha() for c in head) < 4 or "(" in head:
        return None
    toks = normalize(head).tokens
    if len(head.split()) != 1 or len(toks) != 1 or toks[0] in places:
        return None
    return head


@lru_cache(maxsize=1)
def glue_words() -> frozenset[str]:
    """Generic organisation words (``data/normalize/glue_words.txt``) plus one-word legal forms."""
    from ecscreen.domain.normalize import _table_lines

    words = set(_table_lines("glue_words.txt"))
    words.update(f[0] for f in legal_forms() if len(f) == 1)
    return frozenset(words)


def _glued(pieces: list[str], length: int) -> bool:
    """Is splitting a run-together word into ``pieces`` a disguise worth undoing (see glue_words.txt)? Also a
    surname written with its name particles joined to it (Vanderbilt / Van der Bilt, Alrashid / Al Rashid: every
    piece but the last a particle of ``particles.txt``, the last of 4+ letters)."""
    return (length >= _LONG_GLUED or any(p in glue_words() for p in pieces)
            or (len(pieces) >= 2 and len(pieces[-1]) >= 4 and all(p in _particles() for p in pieces[:-1])))


@lru_cache(maxsize=1)
def _particles() -> frozenset[str]:
    from ecscreen.domain.normalize import particles

    return particles()


def _finer(pieces: list[str], vocab: Mapping[str, Any]) -> list[str]:
    """Pieces that are themselves two list words run together split again ('skyone' -> 'sky one', 'autoparts'
    -> 'auto parts', 'fuyuan' -> 'fu yuan'): the lists hold both spellings of some names."""
    out: list[str] = []
    for p in pieces:
        if p in _name_words() or p in abbreviations() or p in glue_words():
            out.append(p)  # 'company' is not 'comp any'
            continue
        splits = [(min(k, len(p) - k), k) for k in range(2, len(p) - 1)
                  if p[:k] in vocab and p[k:] in vocab and (min(k, len(p) - k) >= 3 or len(p) >= 6)]
        if splits:
            k = max(splits)[1]
            out += [p[:k], p[k:]]
        else:
            out.append(p)
    return out


def _resegment(tokens: list[str], vocab: Mapping[str, Any], one_word: bool = False,
               fine: bool = False) -> NormalizedName | None:
    """Tokens with every long unknown word segmented, normalised again (legal forms dropped and kept in
    ``legal``, abbreviations expanded); None when nothing was split. ``fine``: compound pieces split again
    (:func:`_finer`)."""
    out: list[str] = []
    changed = False
    abbr = abbreviations()
    memo: _SplitMemo | None = None
    for tok in tokens:
        whole_name = one_word and sum(t.isalpha() for t in tokens) == 1
        if len(tok) >= (_MIN_GLUED_WHOLE if whole_name else _MIN_GLUED) and tok not in vocab and tok not in abbr \
                and tok.isalpha():
            if memo is None:
                memo = _split_memo(vocab)
            pieces = memo.split(tok, whole_name, fine)
            if pieces is not None:
                out.extend(pieces)
                changed = True
                continue
        out.append(tok)
    return normalize(" ".join(out)) if changed else None


def _split_word(tok: str, vocab: Mapping[str, Any], whole_name: bool, fine: bool) -> tuple[str, ...] | None:
    """The pieces :func:`_resegment` splits one long unknown word into (None: kept whole); a pure function of
    the word, the vocabulary and the two flags (memoised per vocabulary by :class:`_SplitMemo`)."""
    pieces = segment(tok, vocab)
    whole = False
    if whole_name and (pieces is None or not _glued(pieces, len(tok))):
        # a short run-together word splits at a generic word (_glued); a whole name written as one
        # word also into list words that are not ordinary English ('GAOYAN' -> 'gao yan'; not
        # 'Goodluck'), and the reading counts only when it matches a list name nearly in full
        alt = segment(tok, vocab, min_long=3, min_len=_MIN_GLUED_WHOLE)
        whole = alt is not None and all(p in vocab for p in alt) and not _ordinary_compound(alt)
        pieces = alt if whole else pieces
    if pieces is not None and (_glued(pieces, len(tok)) or whole):
        return tuple(_finer(pieces, vocab) if fine else pieces)
    return None


_SPLIT_MEMO_WORDS = 100_000


class _SplitMemo:
    """:func:`_split_word` per word of one vocabulary, memoised (issue 11: segmenting a long word the lists do
    not have cost ~150 us, and a batch's names reuse a small vocabulary of such words: surnames, brands)."""

    def __init__(self, vocab: Mapping[str, Any]) -> None:
        self.vocab = vocab
        self._memo: dict[tuple[str, bool, bool], tuple[str, ...] | None] = {}

    def split(self, tok: str, whole_name: bool, fine: bool) -> tuple[str, ...] | None:
        key = (tok, whole_name, fine)
        memo = self._memo
        if key in memo:
            return memo[key]
        got = _split_word(tok, self.vocab, whole_name, fine)
        if len(memo) >= _SPLIT_MEMO_WORDS:
            memo.clear()
        memo[key] = got
        return got


_SPLIT_MEMOS: dict[int, _SplitMemo] = {}


def _split_memo(vocab: Mapping[str, Any]) -> _SplitMemo:
    memo: _SplitMemo = _vocab_index(_SPLIT_MEMOS, vocab, _SplitMemo)
    return memo


def _joined_texts(clean: str, vocab: Mapping[str, Any]) -> list[str]:
    """The text with spaced-out letters and separator-split words joined where a joined word is known.

    Two readings when they differ: letters AND word parts joined (Hua-wei -> Huawei), and letters only
    (AR-AM stays two words when S_E_R_V_I_C_E_S is joined).
    """
    out: list[str] = []
    if _HAS_JOINER(clean) is None and _SINGLES.search(clean) is None:
        return out
    parts_joined = False
    for join_parts in (True, False):
        if not join_parts and not parts_joined:
            break  # the letters-only reading would be the same text
        useful = False

        def close(m: re.Match[str], join_parts: bool = join_parts) -> str:
            nonlocal useful
            group = m.group(0)
            parts = _NON_ALNUM.split(group)
            letters = all(len(p) == 1 for p in parts)
            if len(parts) >= 2 and letters and "." in group and " " not in group:
                return group  # initials (S.A., U.S.): normalize reads these already
            joined = "".join(parts).lower()
            if letters and (_known(joined, vocab) or segment(joined, vocab) is not None):
                useful = True  # H_u_a_w_e_i, L-I-M-I-T-E-D
                return "".join(parts)
            if join_parts and not letters and _known(joined, vocab):
                nonlocal parts_joined
                useful = parts_joined = True  # Hua-wei, Hua_wei
                return "".join(parts)
            return group

        def spelled(m: re.Match[str]) -> str:
            nonlocal useful
            useful = True
            return "".join(_NON_ALNUM.split(m.group(0)))

        text = clean
        if " " in clean:
            words = clean.split()
            singles = len(_SINGLES.findall(clean))
            if len(words) >= 4 and singles >= 0.6 * len(words):
                text = _SPACED2.sub(spelled, clean)  # spelled out letter by letter: every run is a word
            else:
                text = _SPACED.sub(close, clean)
        text = _JOIN_GROUP.sub(close, text)
        if useful and text not in out:
            out.append(text)
    return out


class Reading(NamedTuple):
    """Another reading of a query: its tokens, the points it costs, why it was tried, and the name score
    (before the penalty) a hit of this reading needs to count."""

    tokens: list[str]
    penalty: float
    reason: str
    min_score: float = 0.0
    # the query's normalisation with the legal form the reading found ('OOOADIS' -> 'OOO' 'Adis'); None: the
    # query's own
    norm: NormalizedName | None = None


def _split_min(form: NormalizedName | None) -> float:
    """The name score a split reading needs: lower when the split found a legal form of 3+ letters (OOO, LLC,
    Company); a two-letter one ('CISCO' -> 'cis' 'co', 'TESCO') is too easily found by chance."""
    if form is not None and any(len(f.replace(" ", "")) >= 3 for f in form.legal):
        return SPLIT_LEGAL_MIN_SCORE
    return SPLIT_MIN_SCORE


def _with_form(nn: NormalizedName, found: NormalizedName) -> NormalizedName | None:
    """``nn`` with the legal form and full words of a re-read text, when the reading found a legal form."""
    if not found.legal or set(found.legal) <= set(nn.legal):
        return None
    return dataclasses.replace(
        nn, tokens=found.tokens, full_tokens=found.full_tokens, legal=tuple(dict.fromkeys((*nn.legal, *found.legal)))
    )


WADE_GILES_PENALTY = 0.0  # a Chinese name in the older romanisation: the same name under another convention
WADE_GILES_MIN_SCORE = 90.0  # ... counts only when the pinyin reading matches a list name nearly in full
_WG_GROUP = LazyPattern("[A-Za-z]+(?:['\u2019\u02bc]?-[A-Za-z]+['\u2019\u02bc]?)+|[A-Za-z]+['\u2019\u02bc]?")
_APOSTROPHES = LazyPattern("[\u2019\u02bc]")
_WG_MAX_CHOICES = 8


def _wade_giles_source_table() -> list[tuple[str, str]]:
    """pypinyin's ``_convert_table`` (pinyin, Wade-Giles) read from its module's source as a literal, without
    importing pypinyin: the package's ``__init__`` loads its phrase dictionaries and trains a segmenter
    (~185 ms CPU), which every Latin-script query's Wade-Giles trigger paid in a one-shipment ``check``."""
    from importlib.util import find_spec

    from ecscreen.parties.derived import cached
    from ecscreen.parties.matching import index_cache_dir

    spec = find_spec("pypinyin")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root) / "style" / "wadegiles.py"
        if not path.is_file():
            continue
        # parsed once per cache directory and source text (the literal's parse was ~3 ms of a check)
        table = cached("wade-giles", path.read_bytes(), _parse_wade_giles_source, _valid_wade_giles,
                       index_cache_dir())
        if table is not None:
            return table
    from pypinyin.style.wadegiles import _convert_table  # another layout: import it after all

    return [(str(a), str(b)) for a, b in _convert_table]


def _parse_wade_giles_source(raw: bytes) -> list[tuple[str, str]] | None:
    """The (pinyin, Wade-Giles) table of the source text of ``pypinyin.style.wadegiles``, longest pinyin first
    (as the module sorts it), or None when the source does not hold it as a literal."""
    import ast

    text = raw.decode("utf-8")
    start = text.find("_convert_table = [")
    end = text.find("\n]", start)
    if start < 0 or end < 0:
        return None
    try:
        literal = ast.literal_eval(text[start + len("_convert_table = "):end + 2])
    except (SyntaxError, ValueError):
        return None
    table = [(str(a), str(b)) for a, b in literal]
    table.sort(key=lambda x: len(x[0]), reverse=True)  # as the module sorts it after the literal
    return table


def _valid_wade_giles(value: object) -> bool:
    return value is None or (type(value) is list and all(
        type(x) is tuple and len(x) == 2 and type(x[0]) is str and type(x[1]) is str for x in value))


@lru_cache(maxsize=1)
def _wade_giles() -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """(Wade-Giles syllable -> its pinyin syllables, pinyin syllables), from pypinyin's maintained
    pinyin / Wade-Giles table (``pypinyin.style.wadegiles``; its sources: Wikipedia "Wade-Giles", the
    University of Chicago Library's Wade-Giles to pinyin conversion table, zdic.net). Names are written
    without the aspiration apostrophe and the umlaut as often as with them, so 'ch'i' and 'chi' are both
    read 'qi' or 'ji' (the list's vocabulary decides, see :func:`_wade_giles_readings`)."""
    _convert_table = _wade_giles_source_table()
    out: dict[str, list[str]] = {}
    for pinyin, wg in _convert_table:
        for key in {wg, wg.replace("'", "").replace("\u00fc", "u").replace("\u00ea", "e")}:
            out.setdefault(key, [])
            if pinyin not in out[key]:
                out[key].append(pinyin)
    return {k: tuple(v) for k, v in out.items()}, frozenset(p for p, _ in _convert_table)


def _wade_giles_trigger(tokens: Sequence[str]) -> bool:
    """Every word is a Wade-Giles syllable and one of them is none in pinyin ('hsi', 'tse', 'chin'): a Chinese
    name in Wade-Giles, worth a pinyin reading."""
    table, pinyin = _wade_giles()
    return 2 <= len(tokens) <= 6 and all(t in table for t in tokens) and any(t not in pinyin for t in tokens)


def _wade_giles_readings(nn: NormalizedName, primary: list[str], vocab: Mapping[str, Any]) -> list[_Proposal]:
    """A Chinese name in Wade-Giles read in pinyin, a hyphenated given name joined as pinyin writes it: 'Hsi
    Chin-ping' -> 'xi jinping', 'Mao Tse-tung' -> 'mao zedong'. Of a syllable's pinyin readings the one the
    list's vocabulary has is taken (a joined given name: the joined form it has), else the first."""
    if not _wade_giles_trigger(primary):
        return []
    table, _ = _wade_giles()
    groups = [[_APOSTROPHES.sub("'", g).lower() for g in group.split("-")]
              for group in _WG_GROUP.findall(nn.clean or nn.original)]
    if [sy.replace("'", "") for sylls in groups for sy in sylls] != primary:
        return []  # the words are not the name's own syllables in order (other letters, legal forms ...)
    tokens: list[str] = []
    changed: list[str] = []
    for sylls in groups:
        choices = [table.get(sy) or table.get(sy.replace("'", "")) or (sy.replace("'", ""),) for sy in sylls]
        combos = [""]
        for ch in choices:
            combos = [c + x for c in combos for x in ch][:_WG_MAX_CHOICES]
        word = next((c for c in combos if c in vocab), combos[0])
        tokens.append(word)
        if word != "".join(sy.replace("'", "") for sy in sylls):
            changed.append(f"'{'-'.join(sylls)}' as '{word}'")
    if not changed:
        return []
    return [(tokens, WADE_GILES_PENALTY, "Wade-Giles romanisation read in pinyin: " + ", ".join(changed),
             WADE_GILES_MIN_SCORE, None)]


def query_variants(nn: NormalizedName, vocab: Mapping[str, Any], aliases: Aliases | None = None) -> list[Reading]:
    """Other token readings of a normalised query worth screening, each with its score penalty.

    ``aliases(word)``, when given, gives the list names containing a list word: sound-alike candidates that
    some list name writes together with the query's other words are tried first."""
    clean = nn.clean or nn.original
    if (
        not nn.sound_tokens
        and not nn.shape_alts
        and _ANY_TRIGGER(clean) is None
        and not any(len(t) >= _MIN_GLUED and t not in vocab for t in nn.tokens)
        and not (len(nn.tokens) == 1 and len(nn.tokens[0]) >= _MIN_GLUED_WHOLE and nn.tokens[0] not in vocab)
        and not _wade_giles_trigger(nn.tokens)
        and not _term_trigger(nn)
        and not _business_trigger(nn)
    ):
        # the usual case: nothing that any reading below would change, but a person's misspelt name part
        return [Reading(*prop) for prop in _near_part_readings(nn, vocab, aliases)]
    primary = list(nn.tokens)
    out: list[Reading] = []
    seen = {tuple(primary)}

    def add(tokens: list[str] | None, penalty: float, reason: str, min_score: float = 0.0,
            norm: NormalizedName | None = None) -> None:
        if not tokens or len(out) >= _MAX_VARIANTS:
            return
        key = tuple(tokens)
        if key not in seen:
            seen.add(key)
            out.append(Reading(tokens, penalty, reason, min_score, norm))
        seg = _resegment(tokens, vocab) if latin else None
        if seg is not None and seg.tokens and seg.tokens not in seen and len(out) < _MAX_VARIANTS:
            seen.add(seg.tokens)
            form = _with_form(norm or nn, seg)
            need = _split_min(form) if min_score <= SPLIT_MIN_SCORE else SPLIT_MIN_SCORE
            out.append(Reading(list(seg.tokens), penalty, reason + ", run-together words split",
                               max(min_score if form is None else 0.0, need), form))

    # the disguises below are Latin-script tricks; a name romanised from another script (hangul comes out
    # of anyascii in CamelCase syllables, Chinese as joined pinyin) is not re-split
    latin = not nn.transliterated or any("shape" in note for note in nn.notes)
    proposals = _latin_readings(nn, clean, primary, vocab) if latin else []
    # whole Cyrillic/Greek words that are Latin look-alikes
    shape_map = {sound: shape for sound, shape in nn.shape_alts if sound in primary and shape in vocab}
    if shape_map:
        why = ", ".join(f"'{a}' as '{b}'" for a, b in shape_map.items())
        proposals.append(([shape_map.get(t, t) for t in primary], SHAPE_PENALTY,
                          f"words written only with Latin look-alike letters read by shape: {why}", SPLIT_MIN_SCORE,
                          None))
    proposals += _sound_readings(nn, primary, vocab, aliases)
    if latin:
        proposals += _wade_giles_readings(nn, primary, vocab)
    proposals += _near_part_readings(nn, vocab, aliases)
    for tokens, penalty, reason, min_score, norm in proposals:
        add(tokens, penalty, reason, min_score, norm)
    return out


# tokens, penalty, reason, min score, the normalisation with the legal form the reading found (or None)
_Proposal = tuple[list[str], float, str, float, NormalizedName | None]


def _latin_readings(nn: NormalizedName, clean: str, primary: list[str], vocab: Mapping[str, Any]) -> list[_Proposal]:
    """Readings undoing Latin-script disguises: separators and spaced letters, CamelCase, leetspeak,
    run-together words."""
    out: list[_Proposal] = []
    # separator-split words and spaced-out letters
    if "_" in clean or "-" in clean or "." in clean or " " in clean:
        for joined in _joined_texts(clean, vocab):
            found = normalize(joined)
            out.append((list(found.tokens), JOIN_PENALTY,
                        "letters or word parts split by spaces/separators re-joined", 0.0, _with_form(nn, found)))
    # camel case
    if _HAS_CAMEL(clean):
        found = normalize(_CAMEL.sub(" ", clean))
        tokens = list(found.tokens)
        humps = [t for t in primary if t not in tokens]
        new = [t for t in tokens if t not in primary]
        # at capitals the writer marked the words; a compound of ordinary words ('BlackRock') is a brand
        brand = _ordinary_compound(new) and not _glued(new, max(map(len, humps), default=0))
        if humps and any(t in vocab for t in new) and not brand:
            form = _with_form(nn, found)
            out.append((tokens, JOIN_PENALTY, "words run together split at capitals",
                        _split_min(form), form))
    # leetspeak in every word that mixes letters and digits (normalize reads only mostly-letter words)
    if _HAS_DIGIT(clean) and _MIXED(clean):
        leet = _MIXED_WORD.sub(lambda m: m.group(0).translate(_LEET) if _MIXED(m.group(0)) else m.group(0), clean)
        found = normalize(leet)
        out.append((list(found.tokens), 0.0, "digits read as letters (leetspeak)", SPLIT_MIN_SCORE,
                    _with_form(nn, found)))
    # run-together words; the whole name written as one word, as typed (not a word picked out of a longer name)
    raw = nn.original.strip()
    one_word = " " not in raw and not raw.islower()
    if one_word and _MIXED(clean) and _DIGIT_EDGE.search(clean):
        # a number run together with the words (vessels 'FUYUANYU7868'): split off, the words re-segmented
        numbered = normalize(_DIGIT_EDGE.sub(" ", clean))
        split = _resegment(list(numbered.tokens), vocab, one_word=one_word)
        finer = _resegment(list(numbered.tokens), vocab, one_word=one_word, fine=True)
        for reread in (numbered, split, finer):
            if reread is not None and reread.tokens != tuple(primary):
                out.append((list(reread.tokens), JOIN_PENALTY, "a number run together with the words split off",
                            SPLIT_MIN_SCORE, _with_form(nn, reread)))
    seg = _resegment(primary, vocab, one_word=one_word)
    if seg is not None:
        # compound list words split again only in a whole name written as one word ('SKYONECONSTRUCTION...')
        fine = _resegment(primary, vocab, one_word=one_word, fine=True) if one_word else None
        for found in (seg, fine) if fine is not None and fine.tokens != seg.tokens else (seg,):
            form = _with_form(nn, found)
            out.append((list(found.tokens), JOIN_PENALTY, "run-together words split",
                        _split_min(form), form))
    return out


_HANGUL_WORD = LazyPattern(r"[\uac00-\ud7a3]{3,}")


def _hangul_forms(text: str) -> dict[str, tuple[str, ...]]:
    """Romanised hangul word (as :func:`normalize` reads it) -> its loanword readings."""
    from anyascii import anyascii

    if not _HANGUL_WORD.search(text):
        return {}
    return {anyascii(w).lower(): f for w in _HANGUL_WORD.findall(text) if (f := hangul_loan_forms(w))}


_HAN = HAN_RUN  # runs of Han characters, read without compiling a 64K-entry regex class (issue 10)
_KANA_ANY = LazyPattern("[\u3041-\u30ff]")
_HAN_MAX_READINGS = 3
HAN_RENDERING_REASON = "Chinese words read in their other English renderings"


@lru_cache(maxsize=1)
def _han_renderings() -> tuple[dict[str, tuple[str, ...]], int]:
    """(Han word -> its English renderings, longest word) from ``data/normalize/han_renderings.txt``."""
    from ecscreen.settings import package_file

    text = package_file("data", "normalize", "han_renderings.txt").read_text(encoding="utf-8")
    out: dict[str, tuple[str, ...]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        han, english = line.split(None, 1)
        out[han] = tuple(f.strip() for f in english.split("|") if f.strip())
    return out, max(map(len, out))


def _han_spans(text: str) -> list[tuple[int, int, str]]:
    """The words of :func:`_han_renderings` in ``text`` (simplified Han), leftmost-longest, not overlapping."""
    table, longest = _han_renderings()
    found: list[tuple[int, int, str]] = []
    i = 0
    while i < len(text):
        for size in range(min(longest, len(text) - i), 1, -1):
            if text[i:i + size] in table:
                found.append((i, i + size, text[i:i + size]))
                i += size
                break
        else:
            i += 1
    return found


def _han_trigger(nn: NormalizedName) -> bool:
    """A Chinese name, or a Japanese one with kanji, holding a word of :func:`_han_renderings` (ハルビン工業大学)."""
    if not nn.transliterated or _HAN.search(nn.original) is None:
        return False
    return bool(_han_spans(_simplified_han(nn.original)))


def _term_trigger(nn: NormalizedName) -> bool:
    """A name read from another script holding a word with several English renderings (``han_renderings.txt``,
    the 'a | b' lines of the term tables): worth its other readings even when every word is a list word."""
    if not nn.transliterated:
        return False
    return _han_trigger(nn) or bool(term_alternatives(nn.original.lower()))


def _simplified_han(text: str) -> str:
    from ecscreen.domain.normalize import _simplified

    return _HAN.sub(lambda m: _simplified(m.group(0)), text)


def _han_term_readings(nn: NormalizedName, primary: list[str]) -> list[_Proposal]:
    """A Chinese name with the words of ``han_renderings.txt`` read in each of their English renderings (工业大学
    polytechnical university | university of technology | institute of technology; 中国 ... 集团 china national
    ... corporation; 兵团 corps; 西北 northwestern; 长江 yangtze): the k-th reading gives every such word its k-th
    rendering (its last when it has fewer), the rest of the name read as normalize reads it. Read like the
    sound-alike readings (possible, never firm, on this alone)."""
    if not _han_trigger(nn):
        return []
    table, _ = _han_renderings()
    simple = _simplified_han(nn.original)
    spans = _han_spans(simple)
    # a Japanese name keeps its kanji (normalize reads them the Japanese way); OpenCC's t2s keeps the length of
    # the runs it converts (_simplified), so the places of the words are the same in both texts
    text = nn.original if _KANA_ANY.search(nn.original) and len(simple) == len(nn.original) else simple
    out: list[_Proposal] = []
    for k in range(min(_HAN_MAX_READINGS, max(len(table[w]) for _, _, w in spans))):
        pieces: list[str] = []
        last = 0
        chosen: list[str] = []
        for a, b, word in spans:
            alts = table[word]
            pieces += [text[last:a], f" {alts[min(k, len(alts) - 1)]} "]
            chosen.append(f"{word} '{alts[min(k, len(alts) - 1)]}'")
            last = b
        pieces.append(text[last:])
        tokens = list(normalize("".join(pieces)).tokens)
        if tokens and tokens != primary:
            out.append((tokens, SOUND_PENALTY, f"{HAN_RENDERING_REASON}: {', '.join(chosen)} (as a sound-alike "
                        f"reading); score lowered by {SOUND_PENALTY:g}", SOUND_MIN_SCORE, None))
    return out


# McCune-Reischauer (1939), the romanisation of Korean the DPRK and, after it, the UN and OFAC lists use for North
# Korean names, as the lists write it (no breve, no aspiration apostrophe): the tables of initials, vowels and finals
# are data (``data/normalize/mccune_reischauer.txt``, with their source). normalize reads hangul in the South's
# Revised Romanization (anyascii: 대성 daeseong, 총국 chonggug).


class _MRTables(NamedTuple):
    initial: tuple[str, ...]
    voiced: dict[int, str]  # k t p ch between voiced sounds: g d b j
    sonorant_finals: frozenset[int]  # none, n, l, m, ng: a following k t p ch is voiced
    vowel: tuple[str, ...]
    final: tuple[str, ...]


@lru_cache(maxsize=1)
def _mr_tables() -> _MRTables:
    """The McCune-Reischauer tables of ``data/normalize/mccune_reischauer.txt`` (jamo order; '-' is empty)."""
    from ecscreen.domain.normalize import _table_lines

    rows = dict(line.split("\t", 1) for line in _table_lines("mccune_reischauer.txt"))

    def seq(key: str) -> tuple[str, ...]:
        return tuple("" if v == "-" else v for v in rows[key].split())

    tables = _MRTables(
        initial=seq("initial"),
        voiced={int(k): v for k, v in (item.split(":") for item in rows["voiced"].split())},
        sonorant_finals=frozenset(int(v) for v in rows["sonorant_finals"].split()),
        vowel=seq("vowel"),
        final=seq("final"),
    )
    if (len(tables.initial), len(tables.vowel), len(tables.final)) != (19, 21, 28):
        raise ValueError("mccune_reischauer.txt: expected 19 initials, 21 vowels and 28 finals")
    return tables


_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]{2,}")
_MR_MAX_RUN = 10
MR_REASON = "hangul read in McCune-Reischauer, the romanisation the lists use for North Korean names"


def mccune_reischauer(word: str) -> str:
    """One hangul word in McCune-Reischauer as the lists write it (no breves, no apostrophes): 대성은행 ->
    'taesongunhaeng', 청천강 -> 'chongchongang', 련봉 -> 'ryonbong'; '' for a word that is not all hangul syllables."""
    mr = _mr_tables()
    out: list[str] = []
    prev_final = -1
    for ch in word:
        code = ord(ch) - 0xAC00
        if not 0 <= code < 11172:
            return ""
        ini, vow, fin = code // 588, (code % 588) // 28, code % 28
        onset = mr.initial[ini]
        if prev_final in mr.sonorant_finals and ini in mr.voiced:
            onset = mr.voiced[ini]
        elif ini == 5 and prev_final == 8:
            onset = "l"  # ㄹㄹ: ll
        out.append(onset + mr.vowel[vow] + mr.final[fin])
        prev_final = fin
    return "".join(out)


def _mr_words(run: str) -> list[str]:
    """Readings of a hangul run in McCune-Reischauer: the whole word, and (4+ syllables, an even number) as
    two-syllable words, as the lists write a Sino-Korean compound (정찰총국 CHONGCH'AL CH'ONGGUK)."""
    out = [mccune_reischauer(run)]
    if len(run) >= 4 and len(run) % 2 == 0:
        out.append(" ".join(mccune_reischauer(run[i:i + 2]) for i in range(0, len(run), 2)))
    return [w for w in dict.fromkeys(out) if w]


def _korean_organisation(runs: list[str]) -> bool:
    """Whether hangul words are an organisation's name, worth McCune-Reischauer readings: a word of 4+ syllables or
    one beginning or ending with a Korean organisation word of the term tables (은행 bank, 항공 air ...). A Korean
    person's name (a surname and a given name of one or two syllables, 강 현주) is not re-read: its McCune-Reischauer
    form meets many DPRK names on the lists (강 kang, 최 choe, 장 chang; 21 of 100,000 synthetic negatives)."""
    from ecscreen.domain.normalize import _script_terms

    terms = _script_terms()
    for run in runs:
        if len(run) >= 4 or run in terms:
            return True
        if any(run[:k] in terms or run[-k:] in terms for k in range(2, len(run))):
            return True
    return False


def _mccune_reischauer_readings(nn: NormalizedName, primary: list[str], vocab: Mapping[str, Any]) -> list[_Proposal]:
    """The name with its romanised hangul words read in McCune-Reischauer (:func:`mccune_reischauer`): a hangul
    word or a part of one that normalize read (Revised Romanization) as one of the query's words. Read like the
    sound-alike readings (possible, never firm, on this alone)."""
    from anyascii import anyascii

    runs = [r for r in _HANGUL_RUN.findall(nn.original) if len(r) <= _MR_MAX_RUN]
    if not runs or not _korean_organisation(runs):
        return []
    index = _sound_index(vocab)
    readings: list[dict[str, str]] = [{}, {}]
    for run in runs:
        for size in range(len(run), 1, -1):
            for i in range(len(run) - size + 1):
                part = run[i:i + size]
                rr = anyascii(part).lower()
                if rr not in primary or rr in readings[0]:
                    continue
                forms = _mr_words(part)
                for k, form in enumerate((forms[0], forms[-1])):
                    words = [w if w in vocab else next(iter(index.candidates(w)[:1]), w) for w in form.split()]
                    readings[k][rr] = " ".join(words)
    out: list[_Proposal] = []
    for swap in readings:
        if not swap or all(swap[t] == t for t in swap):
            continue
        tokens = [w for t in primary for w in swap.get(t, t).split()]
        why = ", ".join(f"'{t}' as '{m}'" for t, m in swap.items() if m != t)
        out.append((tokens, SOUND_PENALTY, f"{MR_REASON}: {why} (as a sound-alike reading); score lowered by "
                    f"{SOUND_PENALTY:g}", SOUND_MIN_SCORE, None))
    # the whole name romanised, as the lists romanise a DPRK name whole (CHOSON TAESONG UNHAENG = 조선대성은행):
    # the words normalize translated (조선 korea, 은행 bank) read in McCune-Reischauer too
    whole = _HANGUL_RUN.sub(lambda m: " " + _mr_words(m.group(0))[-1] + " ", nn.original)
    tokens = list(normalize(whole).tokens)
    if tokens and tokens != primary and all(tokens != o[0] for o in out):
        out.append((tokens, SOUND_PENALTY, f"{MR_REASON}: the whole name (as a sound-alike reading); score lowered "
                    f"by {SOUND_PENALTY:g}", SOUND_MIN_SCORE, None))
    return out


# ---------------------------------------------------------------- business vocabulary (issue 11, h47)
# Common corporate words (bank, insurance, central, industrial, electronics, aviation, shipping, research
# institute, university ...) translated per language to the English words the lists use, from
# ``data/normalize/business_terms/<lang>.txt`` (each with its source note). They are applied as OTHER readings of
# a name written in another script (never as its normalisation): the name with each word of the table replaced by
# its English rendering (the k-th reading takes each word's k-th rendering), read like the sound-alike readings
# (possible, never firm, on this alone).
BUSINESS_TERM_REASON = "business words translated from the name's script (business_terms tables)"
BUSINESS_LANGS = ("ko", "ja", "zh", "ru", "fa")
_BT_MAX_READINGS = 4  # rendering choices per language (each reading costs a query)
_BT_MAX_KEY = 12  # longest CJK word of the tables (characters)
_CJK_CHAR_CLASS = "[\u3041-\u30ff\u3400-\u9fff\uac00-\ud7a3\uf900-\ufaff\uff66-\uff9f]"
_CJK_CHAR = LazyPattern(_CJK_CHAR_CLASS)
# CJK words written with spaces or the nakaguro between them (모스크바 항공 대학교, カザン・ヘリコプター): read joined
_CJK_GAP = LazyPattern("(?<=[\u3041-\u30ff\u3400-\u9fff\uac00-\ud7a3\uf900-\ufaff])[\\s\u30fb\u00b7]+"
                        "(?=[\u3041-\u30ff\u3400-\u9fff\uac00-\ud7a3\uf900-\ufaff])")


class _BusinessTable(NamedTuple):
    cjk: dict[str, tuple[str, ...]]  # Han / kana / hangul word -> renderings (matched inside a run, longest first)
    # Cyrillic / Arabic-script keys: their words (a word ending in '*' is a stem: any ending) and renderings,
    # longest key first
    words: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]


@lru_cache(maxsize=len(BUSINESS_LANGS))
def business_terms(lang: str) -> _BusinessTable:
    """The business vocabulary of ``lang`` (``data/normalize/business_terms/<lang>.txt``): word<TAB>rendering |
    rendering ...; a Cyrillic or Arabic-script key may be several words, each may end in '*' (a stem: Russian case
    and gender endings)."""
    import unicodedata

    from ecscreen.domain.normalize import _table_lines

    cjk: dict[str, tuple[str, ...]] = {}
    words: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for line in _table_lines(f"business_terms/{lang}.txt"):
        key, english = line.split("\t", 1)
        key = _fold_word(unicodedata.normalize("NFKC", key.strip())).replace(_ZWNJ, " ")
        renderings = tuple(r.strip() for r in english.split("|") if r.strip())
        if _CJK_CHAR.search(key):
            cjk[key.replace(" ", "")] = renderings
        else:
            words.append((tuple(key.split()), renderings))
    words.sort(key=lambda kv: (-len(kv[0]), -sum(map(len, kv[0]))))
    return _BusinessTable(cjk, tuple(words))


def _business_langs(text: str) -> list[str]:
    """The business tables whose script ``text`` uses. Each of those scripts (Cyrillic, Arabic, kana, Han, hangul)
    lies above U+03FF: a text whose largest character is below (ASCII, accented Latin, Greek: most names) uses
    none, found by one scan (issue 11: five searches before)."""
    if not text or max(text) < "\u0400":
        return []
    langs = []
    if _HANGUL_RUN.search(text):
        langs.append("ko")
    if _KANA_ANY.search(text):
        langs.append("ja")
    if _HAN.search(text):
        langs += ["ja", "zh"] if "ja" not in langs else ["zh"]
    if re.search("[\u0400-\u04ff]", text):
        langs.append("ru")
    if _ARABIC_LETTER.search(text):
        langs.append("fa")
    return list(dict.fromkeys(langs))


def _cjk_pieces(run: str, table: dict[str, tuple[str, ...]]) -> list[tuple[str, tuple[str, ...] | None]]:
    """A CJK run cut into the table's words (leftmost-longest) and the text between them (renderings None)."""
    out: list[tuple[str, tuple[str, ...] | None]] = []
    rest = ""
    i = 0
    while i < len(run):
        for size in range(min(_BT_MAX_KEY, len(run) - i), 0, -1):
            piece = run[i:i + size]
            if piece in table and (size >= 2 or not _HANGUL_RUN.match(piece)):
                if rest:
                    out.append((rest, None))
                    rest = ""
                out.append((piece, table[piece]))
                i += size
                break
        else:
            rest += run[i]
            i += 1
    if rest:
        out.append((rest, None))
    return out


# ё read as е (Russian writes it mostly without the dots); Arabic yeh and kaf read as the Persian letters
_FOLD_WORD = str.maketrans({"\u0451": "\u0435", "\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9"})


def _fold_word(word: str) -> str:
    return word.lower().translate(_FOLD_WORD)


def _word_matches(key: tuple[str, ...], words: list[str], i: int) -> bool:
    if i + len(key) > len(words):
        return False
    for k, w in zip(key, words[i:i + len(key)], strict=False):
        if k.endswith("*"):
            if not (w.startswith(k[:-1]) and len(w) - len(k) < 5):
                return False
        elif k != w:
            return False
    return True


def _keys_by_letter(table: _BusinessTable) -> dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]]:
    """``table.words`` grouped by the first letter of their first word, each group in the table's order (longest
    key first); a key whose first word is a bare stem ('*': any word) is in every group and under ''. A key can
    match at a word only if that word starts with the key's first letter (an equal word, or a stem's prefix), so
    :func:`_word_pieces` tries only the group of the word's letter: the same first match, without trying the
    other ~100 keys at every word (issue 11: ~1 ms a Cyrillic name). Memoised per table (a pure function)."""
    got = _KEYS_BY_LETTER.get(id(table))
    if got is not None and got[0] is table:
        return got[1]
    wild = [k for k, (key, _) in enumerate(table.words) if not key or not key[0].rstrip("*")]
    letters = {key[0][0] for key, _ in table.words if key and key[0].rstrip("*")}
    groups = {c: tuple(e for k, e in enumerate(table.words) if k in wild or (e[0] and e[0][0][:1] == c
                                                                              and e[0][0].rstrip("*")))
              for c in letters}
    groups[""] = tuple(table.words[k] for k in wild)
    _KEYS_BY_LETTER[id(table)] = (table, groups)
    return groups


_KEYS_BY_LETTER: dict[int, tuple[_BusinessTable, dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]]]] = {}


def _word_pieces(words: list[str], table: _BusinessTable) -> list[tuple[str, tuple[str, ...] | None]]:
    """Cyrillic / Arabic-script words matched against the table's keys (longest first; a stem takes an ending of
    up to four letters); at each word only the keys that can match there are tried (:func:`_keys_by_letter`)."""
    keys = [_fold_word(w) for w in words]
    groups = _keys_by_letter(table)
    out: list[tuple[str, tuple[str, ...] | None]] = []
    i = 0
    while i < len(words):
        group = groups.get(keys[i][:1], groups[""])
        found = next(((key, r) for key, r in group if _word_matches(key, keys, i)), None)
        if found is None:
            out.append((words[i], None))
            i += 1
        else:
            out.append((" ".join(words[i:i + len(found[0])]), found[1]))
            i += len(found[0])
    return out


_WORD = re.compile("\\w+")


def _business_pieces(text: str, lang: str) -> list[tuple[str, tuple[str, ...] | None]]:
    """``text`` cut into the words of ``lang``'s business table (with their renderings) and the rest (None)."""
    table = business_terms(lang)
    if lang not in ("ko", "ja", "zh"):
        return _word_pieces(_WORD.findall(text), table)
    src = _CJK_GAP.sub("", _simplified_han(text) if lang == "zh" else text)
    out: list[tuple[str, tuple[str, ...] | None]] = []
    last = 0
    for m in _CJK_RUN.finditer(src):
        if m.start() > last:
            out.append((src[last:m.start()], None))
        out += _cjk_pieces(m.group(0), table.cjk)
        last = m.end()
    if last < len(src):
        out.append((src[last:], None))
    return out


_CJK_RUN = LazyPattern(f"(?:{_CJK_CHAR_CLASS})+")


def _business_trigger(nn: NormalizedName) -> bool:
    """A name written (partly) in a script the business tables cover."""
    return nn.transliterated and bool(_business_langs(nn.original))


def _business_term_readings(nn: NormalizedName, primary: list[str], vocab: Mapping[str, Any],
                            aliases: Aliases | None) -> list[_Proposal]:
    """The name with the words of the business tables (:func:`business_terms`) read in English: per language whose
    script the name uses, the k-th reading gives each such word its k-th rendering (its last when it has fewer);
    the rest of the name is read as normalize reads it (hangul also in McCune-Reischauer, as the lists romanise
    DPRK names), and a word of it that is on no list as its best sound-alike list word among those some list name
    writes with the reading's other words. Read like the sound-alike readings (possible, never firm, on this
    alone)."""
    out: list[_Proposal] = []
    seen = {tuple(primary)}
    for lang in _business_langs(nn.original):
        pieces = _business_pieces(nn.original, lang)
        found = [(p, r) for p, r in pieces if r is not None]
        if not found:
            continue
        rests = ("rr", "mr") if lang == "ko" else ("as is",)
        for choice in _rendering_choices([r for _, r in found]):
            for rest in rests:
                picks = iter(choice)
                text = " ".join(
                    r[next(picks)] if r is not None
                    else (_HANGUL_RUN.sub(lambda m: " " + _mr_words(m.group(0))[0] + " ", p) if rest == "mr" else p)
                    for p, r in pieces)
                tokens = list(normalize(text).tokens)
                chosen = ", ".join(f"{p} '{r[c]}'" for (p, r), c in zip(found, choice, strict=True))
                how = " (the rest in McCune-Reischauer)" if rest == "mr" else ""
                for toks, extra in _with_sound_words(tokens, vocab, aliases):
                    if toks and tuple(toks) not in seen:
                        seen.add(tuple(toks))
                        out.append((toks, SOUND_PENALTY, f"{BUSINESS_TERM_REASON}: {chosen}{how}{extra} (as a "
                                    f"sound-alike reading); score lowered by {SOUND_PENALTY:g}", SOUND_MIN_SCORE, None))
    return out


def _rendering_choices(renderings: list[tuple[str, ...]]) -> list[tuple[int, ...]]:
    """Which rendering of each word a reading takes: every word its first; then one word at a time another of its
    renderings (the lists translate one word of a name and not another: NATIONAL IRANIAN OIL COMPANY, ایران
    'iranian', نفت 'oil'; and romanise a Russian name's country word: BANK ROSSIYA); then every word its second.
    At most :data:`_BT_MAX_READINGS` choices."""
    first = tuple(0 for _ in renderings)
    out = [first]
    for alt in range(1, max(map(len, renderings))):
        for j, r in enumerate(renderings):
            if len(r) > alt:
                out.append(first[:j] + (alt,) + first[j + 1:])
    out.insert(min(len(out), 1 + sum(len(r) >= 2 for r in renderings)),
               tuple(min(1, len(r) - 1) for r in renderings))
    return list(dict.fromkeys(out))[:_BT_MAX_READINGS]


def _with_sound_words(tokens: list[str], vocab: Mapping[str, Any],
                      aliases: Aliases | None) -> list[tuple[list[str], str]]:
    """``tokens``, and (when some are on no list) with those read as their best sound-alike list words written
    together with the other words (:func:`_jointly`)."""
    unknown = [t for t in dict.fromkeys(tokens) if t not in vocab and len(t) >= 3][:4]
    if not unknown:
        return [(tokens, "")]
    index = _sound_index(vocab)
    known = [t for t in tokens if t in vocab]
    cands = {t: c for t in unknown if (c := _in_context(index.candidates(t), known, aliases))}
    if not cands:
        return [(tokens, "")]
    cands = _jointly(cands, known, aliases)
    swap = {t: c[0] for t, c in cands.items()}
    why = ", ".join(f"'{t}' ~ '{c}'" for t, c in swap.items())
    return [(tokens, ""), ([swap.get(t, t) for t in tokens], f"; sound-alike words {why}")]


_ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")
# a word, or the parts of one word written with a zero-width non-joiner between them (لوک‌اویل, روس‌نفت)
_ARABIC_WORD = LazyPattern("[\u0600-\u06ff]+(?:\u200c[\u0600-\u06ff]+)*")
_ZWNJ = "\u200c"
_ARTICLE = "\u0627\u0644"  # ال
_ARTICLE_MIN = 6  # normalize reads a word of 6+ letters beginning with ال as the article al- and a word
_ALEF_WAW = "\u0627\u0648"  # او
_MAX_PART_FORMS = 8
_ALEF_MADDA = "\u0622"  # آ
_PERSIAN_YEH = frozenset("\u06cc\u064a\u0649")
ARTICLE_JOINED = "ARTICLE_JOINED"  # marks a form whose leading 'al' is part of the word (see _arabic_forms)


def _persian_part_forms(part: str) -> list[str]:
    """:func:`_persian_part_forms_cached` as a new list."""
    return list(_persian_part_forms_cached(part))


@lru_cache(maxsize=50_000)  # a pure function of the word: Persian names repeat their words (h45)
def _persian_part_forms_cached(part: str) -> tuple[str, ...]:
    """Readings of one Persian/Arabic word (no ZWNJ inside), :func:`normalize`'s own first: the BGN/PCGN vowel
    readings (:func:`arabic_vowel_forms`: o, final eh) and a word-initial alef+waw read as the vowel 'o' or 'u'
    (BGN/PCGN Persian: او at the start of a word is a vowel, اویل oil, اوکراین Ukraine; normalize reads 'av')."""
    from ecscreen.domain.normalize import _arabic_word

    first = _arabic_word(part)
    forms = [first, *arabic_vowel_forms(part)]
    if part.startswith(_ALEF_WAW) and len(part) >= 3:
        forms += [v + f[2:] for f in forms[:2] if f.startswith("av") for v in ("o", "u")]
    if part.startswith(_ALEF_MADDA) and len(part) >= 4 and part[1] in _PERSIAN_YEH:
        # آی is 'ay' (آینده AYANDEH): the long a, then yeh as a consonant; normalize reads it as ای 'i' (ایران)
        rest = part[2:]
        forms += ["ay" + f for f in (_arabic_word(rest), *arabic_vowel_forms(rest))]
    return tuple(dict.fromkeys(f for f in forms if f))


def _arabic_forms(text: str) -> dict[str, tuple[str, ...]]:
    """Romanised Persian word (as :func:`normalize` reads it) -> its other readings (BGN/PCGN Persian, 1958):

    * the vowels the script leaves unsaid (:func:`arabic_vowel_forms`: a waw between consonants 'o', a silent
      final heh 'eh'/'e'), and a word-initial او read as a vowel (:func:`_persian_part_forms`);
    * a word written in parts joined by a zero-width non-joiner (لوک‌اویل Lukoil, روس‌نفت Rosneft): each part
      read as a word of its own (its initial letters are word-initial: او of اویل is the vowel 'o'), the parts
      written together as normalize writes the word (it drops the ZWNJ);
    * a Persian word that merely begins with the letters ال (الکترونیک elektronik, البرز Alborz): normalize
      reads them as the Arabic article al- (a word of its own, right for Arabic names such as التكريتي); the
      word is also read whole, keyed by its second part and marked with :data:`ARTICLE_JOINED`, so that a
      reading replacing it drops the separate 'al' (:func:`_sound_readings`).
    """
    from ecscreen.domain.normalize import _arabic_word

    if not _ARABIC_LETTER.search(text):
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for w in _ARABIC_WORD.findall(text):
        parts = [p for p in w.split(_ZWNJ) if p]
        whole = "".join(parts)
        if len(whole) < 3:
            continue
        if len(parts) == 1:
            key = _arabic_word(whole)
            forms = [f for f in _persian_part_forms(whole) if f != key]
            if whole.startswith(_ARTICLE) and len(whole) >= _ARTICLE_MIN and " " in key:
                rest = whole[len(_ARTICLE):]
                joined = ["al" + f for f in _persian_part_forms(rest)]
                out[key.split()[-1]] = (ARTICLE_JOINED, *joined)
        else:
            key = _arabic_word(whole)
            if " " in key:
                continue
            combos = [""]
            for part in parts:
                combos = [c + f.replace(" ", "") for c in combos for f in _persian_part_forms(part)][:_MAX_PART_FORMS]
            forms = [f for f in dict.fromkeys([*combos, *arabic_vowel_forms(whole)]) if f != key]
        if forms:
            out[key] = tuple(forms)
    return out
# list word -> the ids of the list names containing it (empty for another word): Matcher._word_aliases
Aliases = Callable[[str], frozenset[int]]
_KANA_WORD = LazyPattern(r"[\u30a1-\u30fa\u30fc\uff66-\uff9f]{3,}")


def _kana_forms(text: str) -> dict[str, tuple[str, ...]]:
    """Romanised katakana word (as :func:`normalize` reads it) -> its other readings: the loanword readings
    (:func:`kana_loan_forms`), the English word of a katakana spelling of one (``script_terms.txt``: テクノロジー
    technology, also in a name written with ・ between its words, which normalize reads as one word), and a ファ
    read 'hua' (katakana writes the Mandarin hua of Chinese names as ファ: ファーウェイ Huawei, ダーファ Dahua)."""
    import unicodedata

    from ecscreen.domain.normalize import _kana_word, _script_terms

    if not _KANA_WORD.search(text):
        return {}
    terms = _script_terms()
    out: dict[str, tuple[str, ...]] = {}
    for w in _KANA_WORD.findall(text):
        plain = _kana_word(unicodedata.normalize("NFKC", w)).lower()
        forms = list(kana_loan_forms(w))
        term = terms.get(unicodedata.normalize("NFKC", w).lower())
        if term is not None and term.isalpha():
            forms.insert(0, term)
        if "\u30d5\u30a1" in w:  # ファ
            forms += [f.replace("fa", "hua") for f in (plain, *forms) if "fa" in f]
        if "\u30fc" in w[1:]:
            # the long-vowel mark also writes the English -er/-ar/-or Japanese does not say (ヘリコプター helicopter,
            # センター center, コンピューター computer): read as a final 'r' (ル without its vowel)
            forms += list(kana_loan_forms(w[0] + w[1:].replace("\u30fc", "\u30eb")))[:1]
        forms = [f for f in dict.fromkeys(forms) if f != plain]
        if forms:
            out[plain] = tuple(forms)
    return out


# Russian relational adjectives of place names (Уральские авиалинии Ural Airlines, Омский Omsk, Донецкий Donetsk):
# the lists translate them as the place's name; -ский/-ская/-ское/-ские and their cases
_RU_ADJECTIVE = LazyPattern("(?:\u0441\u043a|\u0446\u043a)(?:\u0438\u0439|\u0430\u044f|\u043e\u0435|"
                           "\u0438\u0435|\u043e\u0433\u043e|\u043e\u0439|\u043e\u043c\u0443|\u0438\u043c|"
                           "\u0438\u0445|\u0443\u044e|\u0438\u043c\u0438|\u043e\u043c)$")
_CYRILLIC_WORD = LazyPattern("[\u0400-\u04ff]{5,}")


def _cyrillic_forms(text: str) -> dict[str, tuple[str, ...]]:
    """Romanised Russian word (as :func:`normalize` reads it) -> the place name of a relational adjective: the
    ending dropped with its -ск- (уральские -> 'ural', the soft sign dropped) and kept (омский -> 'omsk', донецкий
    -> 'donetsk'), as the lists translate such names (URAL AIRLINES)."""
    from anyascii import anyascii

    if not _CYRILLIC_WORD.search(text):
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for w in _CYRILLIC_WORD.findall(text):
        low = w.lower()
        m = _RU_ADJECTIVE.search(low)
        if m is None or m.start() < 2:
            continue
        stem = low[: m.start()].rstrip("\u044c")
        stems = [stem, low[: m.start() + 2]] if len(stem) >= 3 else [low[: m.start() + 2]]
        plain = re.sub("[^a-z]", "", anyascii(low).lower())
        forms = [f for f in dict.fromkeys(re.sub("[^a-z]", "", anyascii(x).lower()) for x in stems) if f and f != plain]
        if forms:
            out[plain] = tuple(forms)
    return out


def _in_context(cands: list[str], others: list[str], aliases: Aliases | None) -> list[str]:
    """``cands`` with those that some list name writes together with one of the query's other list words first
    ('bank mlt': 'mellat' of BANK MELLAT before 'malta', 'molot' ...), otherwise in their order."""
    if aliases is None or not others:
        return cands
    # meets the union of the others' list names = meets one of them (no union built: a common word's set holds
    # thousands of names, and isdisjoint walks the smaller set)
    context = [aliases(o) for o in others]
    near = [c for c in cands if _meets(aliases(c), context)]
    return near + [c for c in cands if c not in near]


def _meets(names: frozenset[int], sets: Sequence[frozenset[int]]) -> bool:
    """Whether ``names`` shares an element with one of ``sets`` (with their union)."""
    return not all(map(names.isdisjoint, sets))


_JOINT_CANDIDATES = 6  # the other words' candidates a candidate is checked against
_JOINT_RANKED = 6  # the candidates of a word that the joint ranking may move up


def _jointly(cands: dict[str, list[str]], known: list[str], aliases: Aliases | None) -> dict[str, list[str]]:
    """Each word's sound-alike candidates ordered by how many of the query's other words (their candidates,
    or the query's list words) some list name writes together with it: the readings of a name's words that
    fit ONE list name come first ('sdam hsin tkriti': saddam, hussein, tikriti of SADDAM HUSSEIN AL-TIKRITI)."""
    if aliases is None or len(cands) + len(known) < 2:
        return cands
    # per word, the list names any of its first candidates (or the list word itself) stands in
    # (kept as the list of those sets: meeting their union is meeting one of them, :func:`_meets`)
    reach = {tok: [aliases(c) for c in theirs[:_JOINT_CANDIDATES]] for tok, theirs in cands.items()}
    reach.update((k, [aliases(k)]) for k in known if k not in reach)
    out: dict[str, list[str]] = {}
    for tok, mine in cands.items():
        head = mine[:_JOINT_RANKED]
        rest = [names for o, names in reach.items() if o != tok]
        score: dict[str, int] = {}
        for c in head:
            mine_names = aliases(c)  # once per candidate, not once per other word (h45)
            score[c] = sum(1 for names in rest if _meets(mine_names, names))
        out[tok] = sorted(head, key=lambda c: -score[c]) + mine[_JOINT_RANKED:]
    return out


def _fits_one_name(found: dict[str, list[str]], aliases: Aliases | None) -> bool:
    """Whether the first readings of two words of a name (of 4+ letters) stand together in some list name: a
    person's name read without vowels is re-read only then (most words have some sound-alike on the lists)."""
    if aliases is None:
        return False
    firsts = [c[0] for c in found.values() if c and len(c[0]) >= 4]
    return any(not aliases(a).isdisjoint(aliases(b)) for a, b in itertools.combinations(dict.fromkeys(firsts), 2))


def _sound_readings(nn: NormalizedName, primary: list[str], vocab: Mapping[str, Any],
                    aliases: Aliases | None = None) -> list[_Proposal]:
    """Readings replacing romanised words that are not list words by sound-alike list words."""
    strict = UNVOWELLED_NAME_NOTE in nn.notes
    if strict:
        # every word of a name read without vowels may be another list word, list word or not ('hsn' is one,
        # HASSAN is meant): each keeps itself as its first candidate and the joint ranking decides
        unknown = [t for t in nn.sound_tokens if t in primary and len(t) >= 3][:5]
    else:
        unknown = [t for t in nn.sound_tokens if t in primary and t not in vocab]
    index = _sound_index(vocab)
    # in a name of several words, a romanised word that happens to be a list word may still render
    # another one ('kontsern' ~ 'concern'): its best other sound-alike is tried as a second choice
    # (only when every romanised word is a list word: otherwise the unknown words get the readings)
    known = [t for t in nn.sound_tokens if t in primary and t in vocab] if len(primary) >= 2 and not unknown else []
    if not unknown and not known:
        return _other_renderings(nn, primary, [], strict) + _script_readings(nn, primary, vocab, aliases)
    loan = _hangul_forms(nn.original) | _kana_forms(nn.original) | _cyrillic_forms(nn.original)
    unvowelled = _ARABIC_LETTER.search(nn.original) is not None
    vowelled = _arabic_forms(nn.original) if unvowelled else {}
    # the query's other words that are list words ('bank' in 'bank mlt'): the context of a sound-alike reading
    others = [t for t in primary if t in vocab]
    options: list[tuple[str, list[str]]] = []
    for tok in known[:2]:
        other = [c for c in _in_context(index.candidates(tok), [o for o in others if o != tok], aliases)
                 if c != tok][:1]
        if other:
            options.append((tok, [tok, *other]))
    found: dict[str, list[str]] = {}
    for tok in unknown[:5 if strict else 4]:
        cands = [tok] if strict and tok in vocab else []
        cands += [c for c in _form_candidates(tok, loan, vowelled, index, vocab, others, aliases) if c not in cands]
        cands += [c for c in _in_context(index.candidates(tok), [o for o in others if o != tok], aliases)
                  if c not in cands]
        if unvowelled and "ts" in tok:
            # two consonants of a word read without vowels, not the Cyrillic ц ('aqtsad' ~ eqtesad, eghtesad)
            cands += [c for c in index.candidates(tok.replace("ts", "tas")) if c not in cands]
        if cands:
            found[tok] = cands
    if len(found) >= 2:
        found = _jointly(found, others, aliases)
    if strict and not _fits_one_name(found, aliases):
        return []
    for tok, cands in found.items():
        # short consonant keys (unvowelled Persian 'mlt') are ambiguous: try more list words
        size = _SOUND_CANDIDATES * (4 if len(sound_key(tok)) <= 3 else 1)
        options.append((tok, cands[: size if len(unknown) == 1 else 2]))
    script = _script_readings(nn, primary, vocab, aliases)
    if not options:
        return _other_renderings(nn, primary, [], strict) + script
    out: list[_Proposal] = []
    combos = sorted(itertools.product(*[range(len(c)) for _, c in options]), key=lambda ranks: (sum(ranks), ranks))
    combos = [r for r in combos if any(cands[i] != tok for (tok, cands), i in zip(options, r, strict=True))]
    for ranks in combos[: max(_MAX_SOUND_READINGS, len(options[0][1]) if len(options) == 1 else 0)]:
        swap = {tok: cands[r] for (tok, cands), r in zip(options, ranks, strict=True)}
        why = ", ".join(f"'{t}' ~ '{c}'" for t, c in swap.items() if t != c)
        out.append((_swapped(primary, swap, vowelled), SOUND_PENALTY,
                    f"sound-alike reading of romanised words: {why}; score lowered by {SOUND_PENALTY:g}",
                    SOUND_NAME_MIN_SCORE if strict else SOUND_MIN_SCORE, None))
    if strict:
        out += [c for prop in out if (c := _compound(prop, index, vocab)) is not None]
    return out + _other_renderings(nn, primary, out, strict) + script


def _swapped(primary: list[str], swap: dict[str, str], vowelled: dict[str, tuple[str, ...]]) -> list[str]:
    """``primary`` with its words replaced per ``swap``; the 'al' normalize split off a Persian word that only
    begins with ال (:data:`ARTICLE_JOINED`) is dropped when that word is replaced by a list word that begins
    with those letters itself ('al ktrunik' -> 'electronic'; 'al tkriti' -> 'al takriti' keeps its article)."""
    out: list[str] = []
    for i, t in enumerate(primary):
        nxt = primary[i + 1] if i + 1 < len(primary) else None
        new = swap.get(nxt, nxt) if nxt is not None else None
        if (t == "al" and nxt is not None and new is not None and new != nxt and new[:1] in _VOWELS
                and new[1:2] == "l" and ARTICLE_JOINED in vowelled.get(nxt, ())):
            continue
        out.append(swap.get(t, t))
    return out


def _script_readings(nn: NormalizedName, primary: list[str], vocab: Mapping[str, Any],
                     aliases: Aliases | None) -> list[_Proposal]:
    """Readings of a name from another script under the other conventions the lists use: Chinese words in their
    other English renderings, hangul in McCune-Reischauer, Persian words the term tables translate read romanised.
    No reading for a name written in ASCII (most names): every reading here needs Han, hangul, kana, Cyrillic or Arabic
    letters in it (issue 11: the look-ups for these scripts were ~20 us of every such name)."""
    if nn.original.isascii():
        return []
    out = _han_term_readings(nn, primary)
    if _HANGUL_RUN.search(nn.original):
        out += _mccune_reischauer_readings(nn, primary, vocab)
    if _ARABIC_LETTER.search(nn.original):
        out += _persian_term_readings(nn, primary, vocab, aliases)
    # (after the readings above: a reading both give keeps their reason)
    return out + _business_term_readings(nn, primary, vocab, aliases)


def _persian_term_readings(nn: NormalizedName, primary: list[str], vocab: Mapping[str, Any],
                           aliases: Aliases | None) -> list[_Proposal]:
    """The name with the Persian/Arabic words the term tables translate (سازمان organization, صنایع industries)
    read romanised instead, each as its best sound-alike list word among those written with the name's other
    words: the lists give Iranian organisations under their romanised names as often as in English (SAZMANE
    SANAYE HAVA FAZA = AEROSPACE INDUSTRIES ORGANIZATION; BGN/PCGN). Read like the sound-alike readings."""
    import unicodedata

    from ecscreen.domain.normalize import _arabic_word, _script_terms

    terms = _script_terms()
    words = nn.original.split()
    found: dict[int, str] = {}
    for i, w in enumerate(words):
        word = w.replace(_ZWNJ, "")
        if not _ARABIC_LETTER.search(word) or not word.isalpha() or len(word) < 3:
            continue
        english = terms.get(unicodedata.normalize("NFKC", word).lower())
        # (not a word the table writes romanised itself or translates by a word that sounds the same: بانک bank)
        if english is not None and sound_key(english.replace(" ", "")) != sound_key(_arabic_word(word)):
            found[i] = word
    if not found or len(found) == len(words) and len(words) == 1:
        return []
    index = _sound_index(vocab)
    cands: dict[str, list[str]] = {}
    for word in found.values():
        got: list[str] = []
        for form in _persian_part_forms(word):
            got += [c for c in index.candidates(form)[:_JOINT_CANDIDATES] if c not in got]
        if got:
            cands[word] = got
    # the romanised readings of the words that fit one list name together first (SAZMANE SANAYE ...)
    known = [t for t in nn.sound_tokens if t in vocab]
    cands = _jointly(cands, known, aliases)
    pieces = list(words)
    changed: list[str] = []
    for i, word in found.items():
        if word not in cands:
            continue
        best = cands[word][0]
        pieces[i] = best
        changed.append(f"'{terms[unicodedata.normalize('NFKC', word).lower()]}' as '{best}'")
    if not changed:
        return []
    tokens = list(normalize(" ".join(pieces)).tokens)
    if not tokens or tokens == primary:
        return []
    return [(tokens, SOUND_PENALTY, f"Persian words the term tables translate read romanised: {', '.join(changed)} "
             f"(as a sound-alike reading); score lowered by {SOUND_PENALTY:g}", SOUND_MIN_SCORE, None)]


def _form_candidates(tok: str, loan: dict[str, tuple[str, ...]], vowelled: dict[str, tuple[str, ...]],
                     index: _SoundIndex, vocab: Mapping[str, Any], others: list[str], aliases: Aliases | None) -> list[str]:
    """The list words a romanised word's other readings give, tried before its own sound-alikes: the hangul/kana
    loanword readings (epenthetic 'eu' dropped ...: the reading itself when it is a list word, else its best
    sound-alike) and the Persian vowels the script leaves unsaid (o, final eh; BGN/PCGN: the best two sound-alikes,
    those a list name writes with the query's other words first)."""
    out: list[str] = []
    for form in loan.get(tok, ()):
        out += [c for c in ([form] if form in vocab else index.candidates(form)[:1]) if c not in out]
    for form in vowelled.get(tok, ()):
        if form == ARTICLE_JOINED:
            continue
        near = _in_context(index.candidates(form), [o for o in others if o != tok], aliases)
        out += [c for c in near[:_SOUND_CANDIDATES] if c not in out]
    return out


def _other_renderings(nn: NormalizedName, primary: list[str], sound: list[_Proposal], strict: bool) -> list[_Proposal]:
    """The name, and its first sound-alike reading, with every script word that has several English renderings
    read by its second (term tables 'a | b': 航空 air | airlines, جمهوری jomhouri | republic), and (two such words
    or more) with all of them but one so read (ایران is 'Iranian' in NATIONAL IRANIAN OIL COMPANY but 'Iran' in
    ISLAMIC REPUBLIC OF IRAN SHIPPING LINES): read like the sound-alike readings (possible, never firm, on this
    alone)."""
    # (Cyrillic has capitals: the tables hold the words in lower case)
    every = {tok: others[0] for tok, others in term_alternatives(nn.original.lower()).items() if tok in primary}
    if not every:
        return []
    choices = [every] + ([{t: a for t, a in every.items() if t != left} for left in every] if len(every) >= 2 else [])
    out: list[_Proposal] = []
    for alts in choices[:_MAX_OTHER_RENDERINGS]:
        why = ", ".join(f"'{t}' ~ '{a}'" for t, a in alts.items())
        for base, head in [(primary, "")] + [(sound[0][0], sound[0][2].split("; score lowered")[0] + "; ")
                                             for _ in sound[:1]]:
            tokens = [w for t in base for w in alts.get(t, t).split()]
            out.append((tokens, SOUND_PENALTY, f"{head}script words read in their other English rendering (as a "
                        f"sound-alike reading): {why}; score lowered by {SOUND_PENALTY:g}",
                        SOUND_NAME_MIN_SCORE if strict else SOUND_MIN_SCORE, None))
    return out


_MAX_OTHER_RENDERINGS = 5


def _compound(prop: _Proposal, index: _SoundIndex, vocab: Mapping[str, Any]) -> _Proposal | None:
    """A name's 'abd' written together with the next word, as lists romanise the compound (عبد الله
    'abd allh' -> ABDALLAH, عبد الرحمن -> ABDULRAHMAN): the joined word or its best sound-alike list word."""
    tokens = prop[0]
    for i in range(len(tokens) - 1):
        if tokens[i] == "abd" and tokens[i + 1] not in ("al", "el", "ul"):
            joined = "abd" + tokens[i + 1]
            if joined.endswith("h") and joined[-2] not in _VOWELS:
                joined = joined[:-1] + "ah"  # 'allh': the unwritten vowel of Allah
            word = joined if joined in vocab else next(iter(index.candidates(joined)), None)
            if word is not None:
                return ([*tokens[:i], word, *tokens[i + 2:]], prop[1], prop[2] + f", 'abd {tokens[i + 1]}' ~ '{word}'",
                        prop[3], prop[4])
    return None


_PERSON_WORD = LazyPattern(r"[a-z]{2,}")
_ROMAN_NUMERAL = LazyPattern(r"[ivxlc]+")


@lru_cache(maxsize=1)
def _org_words() -> frozenset[str]:
    """Words that mark a name as an organisation's (the matcher's business words and the group words)."""
    from ecscreen.parties.matching import _ORG_HINTS

    return _ORG_HINTS | group_words()


class _NearIndex:
    """A list's alphabetic words by first letter and by last letter, each by length, for the words at most two
    letters off a name part that keep its first or its last letter ('sechev' ~ 'sechin', 'shi' ~ 'xi'): one
    rapidfuzz cdist over the words of the lengths in reach (a scan of the whole list cost ~13 ms a word)."""

    def __init__(self, vocab: Mapping[str, Any]) -> None:
        self.vocab = vocab
        buckets: dict[tuple[str, str, int], list[str]] = {}
        for w in vocab:
            if _PERSON_WORD.fullmatch(w):
                buckets.setdefault(("first", w[0], len(w)), []).append(w)
                buckets.setdefault(("last", w[-1], len(w)), []).append(w)
        self.buckets = {k: sorted(ws) for k, ws in buckets.items()}
        self._reach: dict[tuple[str, str, int, int], list[str]] = {}  # the words of the lengths in reach, memoised
        self._memo: dict[tuple[str, int], list[tuple[int, str]]] = {}

    def _in_reach(self, side: str, letter: str, size: int, edits: int) -> list[str]:
        key = (side, letter, size, edits)
        got = self._reach.get(key)
        if got is None:
            got = self._reach[key] = [w for n in range(max(2, size - edits), size + edits + 1)
                                      for w in self.buckets.get((side, letter, n), ())]
        return got

    def near(self, tok: str, edits: int) -> list[tuple[int, str]]:
        """(letters changed, list word) of the list words 1..``edits`` letters off ``tok`` with its first or last
        letter, nearest first (memoised: surnames recur in a batch)."""
        got = self._memo.get((tok, edits))
        if got is None:
            if len(self._memo) >= 100_000:
                self._memo.clear()
            got = self._memo[(tok, edits)] = self._near(tok, edits)
        return got

    def _near(self, tok: str, edits: int) -> list[tuple[int, str]]:
        found: dict[str, int] = {}
        for side, letter in (("first", tok[0]), ("last", tok[-1])):
            words = self._in_reach(side, letter, len(tok), edits)
            if not words:
                continue
            dist = cdist([tok], words, scorer=Levenshtein.distance, score_cutoff=edits)[0]
            for k in np.flatnonzero((dist <= edits) & (dist > 0)).tolist():
                found[words[k]] = int(dist[k])
        return sorted((d, w) for w, d in found.items())


_NEAR_INDEXES: dict[int, _NearIndex] = {}


def _near_index(vocab: Mapping[str, Any]) -> _NearIndex:
    idx: _NearIndex = _vocab_index(_NEAR_INDEXES, vocab, _NearIndex)
    return idx


def warm_indexes(vocab: Mapping[str, Any]) -> None:
    """Build ``vocab``'s sound-alike and near-word indexes now if they are not built yet (each is built on first use:
    ~0.3 s and ~0.03 s for the CSL's). A matcher calls this before it forks workers (issue 11), so the workers share
    the parent's indexes copy-on-write instead of each building its own."""
    _sound_index(vocab)
    _near_index(vocab)


def _near_part_readings(nn: NormalizedName, vocab: Mapping[str, Any], aliases: Aliases | None) -> list[_Proposal]:
    """A person's name of two to four words, all list words but one: that word read as a list word which some
    list name writes together with every other word of the name, a word at most :data:`_NEAR_PART_EDITS` letters
    off ('igor sechev' -> 'igor sechin' of IGOR SECHIN; :data:`NEAR_PART_PENALTY` points a letter). (Sound-alike
    list words, 'husayn' ~ 'hussein', were tried too: on the name pairs they found one more and brought two false
    matches, 'Raul Castillo' ~ 'Raul Castro', 'Ferdinand Marquez' ~ 'Ferdinand Marcos'.) Not for a name with a legal form or a
    business word, a name transliterated from another script (the sound readings above cover it), a numeral, or
    a word the matcher already relates to that list word. Cheap when it does not apply: the other words must
    stand together in some list name first."""
    if aliases is None or sum(1 for t in nn.tokens if t not in vocab) != 1:  # cheap test first (the usual case)
        return []
    tokens = _person_name_tokens(nn, 2, 4)
    if tokens is None:
        return []
    unknown = [t for t in tokens if t not in vocab]
    if len(unknown) != 1 or _ROMAN_NUMERAL.fullmatch(unknown[0]):  # 'Trust XV' / 'Trust XX': numbered siblings
        return []
    tok = unknown[0]
    together = _together([t for t in tokens if t != tok], aliases)
    if not together:
        return []
    from ecscreen.parties.matching import token_sim

    def fits(word: str) -> bool:  # a list word standing with the others, not related to tok by the matcher already
        return word not in tokens and not aliases(word).isdisjoint(together) and not token_sim(tok, word) > 0

    found: list[tuple[str, float, str]] = []
    for edits, word in _near_words(tok, together, vocab, aliases):
        if edits < max(len(tok), len(word)) and fits(word):
            letters = "letter" if edits == 1 else "letters"
            found.append((word, NEAR_PART_PENALTY * edits, f"'{tok}' ~ '{word}', {edits} {letters} off"))
            if len(found) >= _NEAR_PART_READINGS:
                break
    return [([word if t == tok else t for t in tokens], penalty, f"{NEAR_PART_REASON}: {why}", NEAR_PART_MIN_SCORE,
             None) for word, penalty, why in found[:_NEAR_PART_READINGS]]


_NEAR_FROM_NAMES = 64  # at most this many list names hold the other words: their own words are the candidates


def _near_words(tok: str, together: frozenset[int], vocab: Mapping[str, Any], aliases: Aliases) -> list[tuple[int, str]]:
    """(letters changed, list word) of the words 1..:data:`_NEAR_PART_EDITS` letters off ``tok``, nearest first:
    taken from the few list names holding the name's other words when the hook is a matcher's (its normalised
    list names, ``alias_norm``), else from the whole list's words with the same first or last letter
    (:class:`_NearIndex`, ~1.5 ms a word on the CSL)."""
    norms = getattr(getattr(aliases, "__self__", None), "alias_norm", None)
    if norms is None or len(together) > _NEAR_FROM_NAMES:
        return _near_index(vocab).near(tok, _NEAR_PART_EDITS)
    found: dict[str, int] = {}
    for a in sorted(together):
        for w in norms[a].tokens:
            if w not in found and _PERSON_WORD.fullmatch(w):
                found[w] = Levenshtein.distance(tok, w, score_cutoff=_NEAR_PART_EDITS)
    return sorted((d, w) for w, d in found.items() if 0 < d <= _NEAR_PART_EDITS)


def _person_name_tokens(nn: NormalizedName, lo: int, hi: int) -> list[str] | None:
    """The words of a name that may be a person's (``lo``..``hi`` words, letters only, no repeats, no legal form,
    no business word, not transliterated from another script); None otherwise."""
    tokens = list(nn.tokens)
    if nn.legal or nn.transliterated or not lo <= len(tokens) <= hi or len(set(tokens)) < len(tokens):
        return None
    if not all(_PERSON_WORD.fullmatch(t) for t in tokens) or any(t in _org_words() for t in tokens):
        return None
    return tokens


def _together(words: Sequence[str], aliases: Aliases) -> frozenset[int]:
    """The list names (ids) holding every one of ``words``."""
    out = aliases(words[0])
    for w in words[1:]:
        if not out:
            break
        out = out & aliases(w)
    return out
