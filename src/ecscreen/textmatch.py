"""Negation-aware, word-bounded, case-insensitive phrase matching.

"not for military use" is not a military hit; "non-military" is not either; "military and
not civil" is. Phrases are compiled once into one alternation per list.

A match is *negated* when a negator (``not``, ``no``, ``never``, ``without``, ``non``,
``excluding``, ``except``, ``other than``, ``neither``, ``nor``, Chinese 不/非/无/未) stands in the
same clause within a few words before it. Clauses end at ``. ; : ! ?`` and at ``but``/``however``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_NEGATORS = (
    r"not|no|never|without|non|excluding|exclude|excludes|except|neither|nor|"
    r"other\s+than|rather\s+than|instead\s+of|isn't|aren't|won't|cannot|can't|n't"
)
_NEG_RE = re.compile(rf"(?:^|[^\w])(?:{_NEGATORS})(?:[^\w]|$)", re.IGNORECASE)
_CJK_NEG = re.compile(r"[不非无未没]")
_CLAUSE_END = re.compile(r"[.;:!?。；：！？]|\bbut\b|\bhowever\b|\bwhereas\b", re.IGNORECASE)
_WINDOW_WORDS = 5
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class PhraseHit:
    phrase: str
    text: str
    start: int
    negated: bool


def _phrase_pattern(phrase: str) -> str:
    words = phrase.strip().split()
    # words may be separated by spaces, hyphens or slashes in the text ("dual-use", "dual use")
    body = r"[\s\-/]+".join(re.escape(w) for w in words)
    if _CJK.search(phrase):
        return f"(?:{body})"
    return rf"(?<![\w]){body}(?![\w])"


class PhraseMatcher:
    """Matches a fixed set of phrases in text. Build once, reuse."""

    def __init__(self, phrases: list[str]) -> None:
        self.phrases = sorted({p.strip() for p in phrases if p.strip()}, key=len, reverse=True)
        self._canon = {p.lower(): p for p in self.phrases}
        self._memo: dict[str, list[PhraseHit]] = {}
        if self.phrases:
            self._re: re.Pattern[str] | None = re.compile(
                "|".join(_phrase_pattern(p) for p in self.phrases), re.IGNORECASE
            )
        else:
            self._re = None

    def find(self, text: str | None) -> list[PhraseHit]:
        if not text or self._re is None:
            return []
        out = []
        for m in self._re.finditer(text):
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
    before = text[max(0, start - 80) : start]
    # only the current clause
    ends = list(_CLAUSE_END.finditer(before))
    if ends:
        before = before[ends[-1].end() :]
    if _CJK_NEG.search(before[-3:]):
        return True
    # "non-military", "non military"
    if re.search(r"(?:^|[^\w])non[\s\-]?$", before, re.IGNORECASE):
        return True
    words = re.findall(r"[\w']+", before)
    window = " " + " ".join(words[-_WINDOW_WORDS:]) + " "
    return bool(_NEG_RE.search(window))


@lru_cache(maxsize=1024)
def matcher(phrases: tuple[str, ...]) -> PhraseMatcher:
    return PhraseMatcher(list(phrases))
