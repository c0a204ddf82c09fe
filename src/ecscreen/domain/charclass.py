"""Classes of CJK characters read without a regular expression (issue 10).

``re`` compiles a character class above U+00FF by filling a 64K-entry map one code point at a time, in pure
Python: the five CJK classes the phrase matcher and the name normaliser use (tens of thousands of code points
each) cost ~7 ms CPU at every start-up, and every check meets a Han text (the packs' Chinese phrases, the
lists' names), so compiling them lazily would not avoid it. :class:`CharClass` answers the same questions
(``search``, ``match``, ``fullmatch``, ``findall``, ``finditer``, ``sub``) with comparisons of code points,
for single characters or, with ``runs=True``, for maximal runs of them (the class followed by ``+``); text in
ASCII is answered at once. Tests compare every answer with the regular expression it replaces.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator

__all__ = ["CharClass", "Run"]


class Run:
    """A match: ``group(0)``, ``start()``, ``end()``, ``span()`` as :class:`re.Match` gives them."""

    __slots__ = ("string", "_start", "_end")

    def __init__(self, string: str, start: int, end: int) -> None:
        self.string = string
        self._start = start
        self._end = end

    def group(self, n: int = 0) -> str:
        if n != 0:
            raise IndexError("no such group")
        return self.string[self._start:self._end]

    def __getitem__(self, n: int) -> str:
        return self.group(n)

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def span(self) -> tuple[int, int]:
        return self._start, self._end

    def __repr__(self) -> str:
        return f"<Run span={self.span()!r} match={self.group(0)!r}>"


class CharClass:
    """The characters of the given code point ranges (inclusive, each above U+007F), one by one or, with
    ``runs``, as maximal runs: ``[ranges]`` or ``(?:[ranges])+`` in a regular expression."""

    __slots__ = ("ranges", "runs", "_has")

    def __init__(self, ranges: tuple[tuple[str, str], ...], *, runs: bool = False) -> None:
        if not ranges or any(len(lo) != 1 or len(hi) != 1 or not "\x7f" < lo <= hi for lo, hi in ranges):
            raise ValueError("ranges of single characters above U+007F, low <= high")
        self.ranges = ranges
        self.runs = runs
        self._has = _predicate(ranges)

    def __contains__(self, ch: str) -> bool:
        return self._has(ch)

    def _spans(self, text: str, pos: int = 0) -> Iterator[tuple[int, int]]:
        has = self._has
        n = len(text)
        i = pos
        while i < n:
            if has(text[i]):
                j = i + 1
                if self.runs:
                    while j < n and has(text[j]):
                        j += 1
                yield i, j
                i = j
            else:
                i += 1

    def search(self, text: str) -> Run | None:
        if text.isascii():
            return None
        for s, e in self._spans(text):
            return Run(text, s, e)
        return None

    def match(self, text: str) -> Run | None:
        if not text or not self._has(text[0]):
            return None
        return next(Run(text, s, e) for s, e in self._spans(text))

    def fullmatch(self, text: str) -> Run | None:
        m = self.match(text)
        return m if m is not None and m.end() == len(text) else None

    def findall(self, text: str) -> list[str]:
        if text.isascii():
            return []
        return [text[s:e] for s, e in self._spans(text)]

    def finditer(self, text: str) -> Iterator[Run]:
        if text.isascii():
            return iter(())
        return (Run(text, s, e) for s, e in self._spans(text))

    def sub(self, repl: str | Callable[[Run], str], text: str) -> str:
        """Every match replaced by ``repl`` (a string without group references, or a function of the match)."""
        if text.isascii():
            return text
        out: list[str] = []
        last = 0
        for s, e in self._spans(text):
            out.append(text[last:s])
            out.append(repl if isinstance(repl, str) else repl(Run(text, s, e)))
            last = e
        if not out:
            return text
        out.append(text[last:])
        return "".join(out)


def _predicate(ranges: tuple[tuple[str, str], ...]) -> Callable[[str], bool]:
    """Membership of one character: chained comparisons for one or two ranges, else a bisection of the
    sorted bounds (inside when the character falls after an odd number of them)."""
    if len(ranges) == 1:
        (a, b), = ranges
        return lambda c: a <= c <= b
    if len(ranges) == 2:
        (a, b), (c2, d) = ranges
        return lambda c: a <= c <= b or c2 <= c <= d
    bounds: list[str] = []
    for lo, hi in sorted(ranges):
        if bounds and lo <= bounds[-1]:  # overlapping or adjacent: one range
            bounds[-1] = max(bounds[-1], chr(ord(hi) + 1))
        else:
            bounds += [lo, chr(ord(hi) + 1)]
    return lambda c: bisect_right(bounds, c) & 1 == 1
