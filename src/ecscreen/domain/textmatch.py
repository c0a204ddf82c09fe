"""Negation-aware, word-bounded, case-insensitive phrase matching.

"not for military use" is not a military hit; "non-military" is not either; "military and
not civil" is. Phrases are compiled once into one alternation per list.

A match is *negated* when a negator (``not``, ``no``, ``never``, ``without``, ``excluding``,
``except``, ``other than``, ``neither``, ``nor``, Chinese 不/非/无/未) stands in the same clause
before it and only function words ("for", "any", "the", "be used by"...) stand between the two:
negation is scoped to the words it negates. "non-civil PLA unit" negates "civil", not "PLA";
"no doubt for the PLA" is an affirmation (idioms such as "no doubt", "without doubt", "not only"
are not negators); "no civil or military use" negates both. ``non`` negates only the word it is
attached to ("non-military"). Clauses end at ``. ; : ! ?`` and at ``but``/``however``.

Before matching, the text is read as a reader sees it: NFKC-normalised, zero-width and other
invisible characters dropped ("mili\u200btary" is "military"), dotted abbreviations closed
("P.L.A." is "PLA") and traditional Chinese folded to simplified (解放軍 is 解放军), so a phrase
list written once covers these spellings.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from ecscreen.domain.charclass import CharClass

_NEGATORS = (
    r"not|no|never|without|excluding|exclude|excludes|except|neither|nor|"
    r"other\s+than|rather\s+than|instead\s+of|isn't|aren't|won't|cannot|can't|n't"
)
_NEG_RE = re.compile(rf"(?:^|[^\w])(?:{_NEGATORS})(?:[^\w]|$)", re.IGNORECASE)
_NEG_PAIR = re.compile(r"(?:other|rather)\s+than|instead\s+of")
# idioms that contain a negator but affirm: "no doubt for the PLA", "not only civil but military"
_AFFIRM_IDIOMS = re.compile(
    r"\b(?:no|without|beyond)\s+(?:a\s+|any\s+)?(?:doubt|question)\b|\bnot\s+only\b|\bno\s+less\s+than\b|"
    r"\bnothing\s+(?:but|other\s+than|except)\b|\bnot\s+least\b|\bno\s+longer\s+civil(?:ian)?\b|"
    r"\bnot\s+(?:just|merely|solely|exclusively)\b",
    re.IGNORECASE,
)
# words that may stand between a negator and the phrase it negates ("not intended for any military use")
_FUNCTION_TEXT = (
    "for to by of the a an any in on at as with be been being is are was were will would shall should may "
    "might can could do does did used use using intended destined meant designed sold supplied delivered "
    "shipped exported going go end final ultimately directly indirectly either or and nor other "
    "such kind type user users uses purpose purposes application applications customer customers "
    "entity entities party parties organisation organization"
)
_FUNCTION_WORDS = frozenset(_FUNCTION_TEXT.split(" "))
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u034f\u200e\u200f\u061c"
                                   "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_DOTTED = re.compile(r"(?<![\w.])[A-Za-z](?:\.\s?[A-Za-z])+\.?(?![\w])")
_CJK_RUN = CharClass((("\u3400", "\u9fff"), ("\uf900", "\ufaff")), runs=True)
_CJK_NEG = re.compile(r"[不非无未没]")
_CLAUSE_END = re.compile(r"[.;:!?。；：！？]|\bbut\b|\bhowever\b|\bwhereas\b", re.IGNORECASE)
_WINDOW_TOKENS = 16
_MEMBER_WORDS = 2
_TOKEN = re.compile(r"[\w']+|[,/&]")
_CONJUNCTIONS = frozenset({",", "/", "&", "or", "and", "nor", "and/or"})
# [\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff] and runs of [\u3400-\u9fff\uf900-\ufaff]+ (_CJK_RUN), read without a
# regex (ecscreen.domain.charclass: compiling them was ~3 ms of every start-up)
_CJK = CharClass((("\u3040", "\u30ff"), ("\u3400", "\u9fff"), ("\uf900", "\ufaff")))


@dataclass(frozen=True)
class PhraseHit:
    """A phrase found in a text: where, and whether a negation governs it."""

    phrase: str
    text: str
    start: int
    negated: bool


def _close_dots(m: re.Match[str]) -> str:
    return m.group(0).replace(".", "").replace(" ", "") + " "


def prepare(text: str) -> str:
    """The text as a reader sees it (see the module docstring). Deterministic; lengths may change."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
        if _CJK_RUN.search(text):
            text = _CJK_RUN.sub(lambda m: _simplified(m.group(0)), text)
    if "." in text:
        text = _DOTTED.sub(_close_dots, text)
    return text


def _simplified(run: str) -> str:
    try:
        from ecscreen.domain.normalize import _simplified as simp
    except Exception:  # pragma: no cover - opencc missing: keep the text as written
        return run
    return simp(run)


def _phrase_pattern(phrase: str) -> str:
    words = prepare(phrase.strip()).split()
    # words may be separated by spaces, hyphens or slashes in the text ("dual-use", "dual use")
    body = r"[\s\-/]+".join(re.escape(w) for w in words)
    if _CJK.search(phrase):
        return f"(?:{body})"
    return rf"(?<![\w]){body}(?![\w])"


def _context_pattern(phrase: str) -> str:
    """A ``not_within`` phrase: its words in order, separated by anything that is not a word character
    ("PLA (polylactic acid)", "PLA+ filament")."""
    words = re.findall(r"\w+", prepare(phrase.strip()))
    return r"(?<![\w])" + r"[^\w]+".join(re.escape(w) for w in words) + r"(?![\w])"


class PhraseMatcher:
    """Matches a fixed set of phrases in text. Build once, reuse. A hit inside a match of one of the
    ``not_within`` phrases is not a hit: the list's own word in another sense ("PLA" in "PLA filament",
    polylactic acid, is not the People's Liberation Army)."""

    def __init__(self, phrases: list[str], not_within: list[str] | None = None) -> None:
        self._ctx_phrases = sorted({p.strip() for p in not_within or [] if re.search(r"\w", p)})
        self._ctx_rx: re.Pattern[str] | None = None  # compiled when a phrase hits (most texts hit none)
        # longest first, then by text: a deterministic order whatever the hash seed (phrases that read the same
        # after folding, "coater/developer" and "coater developer", always report the same one)
        self.phrases = sorted({p.strip() for p in phrases if p.strip()}, key=lambda p: (-len(p), p))
        self._memo: dict[str, list[PhraseHit]] = {}
        # the pattern is compiled on first use: most runs never read most rules' phrases (a rule for
        # another destination, no end use stated), and compiling them all costs a good part of start-up
        self._compiled: tuple[re.Pattern[str] | None, dict[str, str]] | None = None
        self._canon_map: dict[str, str] | None = None
        self._words: list[tuple[str, list[str] | None]] | None = None  # each phrase's words (None: not ASCII)
        self._subsets: dict[tuple[str, ...], re.Pattern[str]] = {}  # alternations of the phrases a text may hit

    def _compile(self) -> tuple[re.Pattern[str] | None, dict[str, str]]:
        if self._compiled is None:
            canon = self._canon_map or {re.sub(r"[\s\-/]+", " ", prepare(p).lower().strip()): p for p in self.phrases}
            rx = re.compile("|".join(_phrase_pattern(p) for p in self.phrases), re.IGNORECASE) if self.phrases else None
            self._compiled = (rx, canon)
        return self._compiled

    def _pattern_for(self, text: str) -> re.Pattern[str] | None:
        """The alternation of the phrases that can match ``text`` (prepared): for ASCII text, a phrase of
        ASCII words whose words are not all substrings of the lower-cased text cannot match anywhere in it
        (case-insensitive matching of ASCII against ASCII is lower-casing), so leaving it out of the
        alternation changes no match; the full alternation is compiled only when every phrase may match.
        Compiling a rule's whole phrase list took most of a one-shipment ``check``'s first screening."""
        if not text.isascii():
            return self._compile()[0]
        if self._words is None:  # non-ASCII phrases are always kept (and not prepared: no OpenCC for them here)
            self._words = [(p, [w.lower() for w in prepare(p).split()] if p.isascii() else None)
                           for p in self.phrases]
        low = text.lower()
        cands = tuple(p for p, ws in self._words if ws is None or all(w in low for w in ws))
        if len(cands) == len(self.phrases):
            return self._compile()[0]
        if not cands:
            return None
        rx = self._subsets.get(cands)
        if rx is None:
            if len(self._subsets) >= 256:
                self._subsets.clear()
            rx = self._subsets[cands] = re.compile("|".join(_phrase_pattern(p) for p in cands), re.IGNORECASE)
        return rx

    def _context_spans(self, text: str) -> list[tuple[int, int]]:
        if not self._ctx_phrases:
            return []
        if self._ctx_rx is None:
            self._ctx_rx = re.compile("|".join(_context_pattern(p) for p in self._ctx_phrases), re.IGNORECASE)
        return [(c.start(), c.end()) for c in self._ctx_rx.finditer(text)]

    @property
    def _canon(self) -> dict[str, str]:
        """Each phrase by its folded text (what a hit's text is looked up by); built without the pattern."""
        if self._compiled is not None:
            return self._compiled[1]
        if self._canon_map is None:
            self._canon_map = {re.sub(r"[\s\-/]+", " ", prepare(p).lower().strip()): p for p in self.phrases}
        return self._canon_map

    def find(self, text: str | None) -> list[PhraseHit]:
        if not text or not self.phrases:
            return []
        text = prepare(text)
        rx = self._pattern_for(text)
        if rx is None:
            return []
        out = []
        found_any = list(rx.finditer(text))
        spans = self._context_spans(text) if found_any else []
        for m in found_any:
            if any(a <= m.start() and m.end() <= b for a, b in spans):
                continue
            found = m.group(0)
            key = re.sub(r"[\s\-/]+", " ", found.lower())
            phrase = self._canon.get(key) or self._canon.get(found.lower()) or found
            out.append(PhraseHit(phrase=phrase, text=found, start=m.start(), negated=_negated(text, m.start())))
        return out

    def positive(self, text: str | None) -> list[PhraseHit]:
        """Non-negated hits. Memoised per text: ERP exports repeat the same descriptions."""
        if not text:
            return []
        hit = self._memo.get(text)
        if hit is None:
            hit = [h for h in self.find(text) if not h.negated]
            if len(self._memo) >= 4096:
                self._memo.clear()
            self._memo[text] = hit
        return hit


def _negated(text: str, start: int) -> bool:
    before = text[max(0, start - 160) : start]
    # only the current clause
    ends = list(_CLAUSE_END.finditer(before))
    if ends:
        before = before[ends[-1].end() :]
    if _CJK_NEG.search(before[-3:]):
        return True
    # "non-military", "non military": non negates only the word it is attached to
    if re.search(r"(?:^|[^\w])non[\s\-]?$", before, re.IGNORECASE):
        return True
    before = _AFFIRM_IDIOMS.sub(" ", before)
    tokens = [t.lower() for t in _TOKEN.findall(before)][-_WINDOW_TOKENS:]
    # the nearest negator, with only function words, or members of the same enumeration ("not for
    # nuclear, chemical or biological weapons"), between it and the phrase
    member: int | None = None  # content words of the enumeration member being crossed (None: none)
    for k in range(len(tokens) - 1, -1, -1):
        w = tokens[k]
        if w in _CONJUNCTIONS:
            member = 0
            continue
        if _NEG_RE.fullmatch(f" {w} ") or (k > 0 and _NEG_PAIR.fullmatch(f"{tokens[k - 1]} {w}")):
            return True
        if w.endswith("n't"):
            return True
        if w in _FUNCTION_WORDS:
            continue
        if member is not None and member < _MEMBER_WORDS:
            member += 1  # another member of the enumeration the phrase ends ("chemical or biological weapons")
            continue
        if member is None and k > 0 and tokens[k - 1] in _CONJUNCTIONS:
            member = 1  # the phrase's own modifier in an enumeration ("chemical or biological weapons")
            continue
        return False
    return False


@lru_cache(maxsize=1024)
def matcher(phrases: tuple[str, ...], not_within: tuple[str, ...] = ()) -> PhraseMatcher:
    return PhraseMatcher(list(phrases), list(not_within))
