"""Regular expressions compiled on first use (issue 10: start-up of a one-shipment ``check``).

A module-level ``re.compile`` runs at import, for every run, whether or not the run needs the pattern: the
party-name variants alone compile ~30 patterns for scripts and spellings (Hangul, kana, Cyrillic, Arabic,
Wade-Giles, letter-spaced names) that most names never reach, ~1.5 ms CPU of every check.
"""

from __future__ import annotations

import re
from typing import Any

_DELEGATED = ("search", "match", "fullmatch", "sub", "subn", "split", "findall", "finditer", "pattern", "flags",
              "groups", "groupindex")


class LazyPattern:
    """``re.compile(pattern, flags)``, made when first used. Used like the compiled pattern through its methods
    and attributes (``search``, ``sub``, ``findall``, ``fullmatch``, ``pattern`` ...); from the first use on they
    are read from the instance (as fast as from the pattern itself). It is not an ``re.Pattern``: where one is
    required (``re.sub(p, ...)``, ``isinstance``), compile the pattern eagerly instead. A bad pattern raises
    ``re.error`` at first use, not at import (the tests use every pattern)."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._source = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_source":  # not a pattern attribute (copy, pickle, repr probes)
            raise AttributeError(name)
        compiled = re.compile(*self._source)
        for attr in _DELEGATED:
            self.__dict__[attr] = getattr(compiled, attr)
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"LazyPattern({self._source[0]!r}, {self._source[1]!r})"
