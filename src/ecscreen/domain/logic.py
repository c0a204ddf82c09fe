"""Three-valued logic (Kleene): True, False, or None = unknown (a fact is missing).

One copy for every step that decides on facts that may be missing (jurisdiction, the chart, the rule
conditions): an unknown never becomes False, so a missing fact makes the answer unknown (review), never
a silent ``clear``.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Tri", "tri_and", "tri_or", "tri_not", "tri_any"]

Tri = bool | None  # True / False / None = unknown (a fact is missing)


def tri_and(a: Tri, b: Tri) -> Tri:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def tri_or(a: Tri, b: Tri) -> Tri:
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def tri_not(a: Tri) -> Tri:
    return None if a is None else not a


def tri_any(vals: Iterable[Tri]) -> Tri:
    """True if any value is True; else None if any is unknown; else False."""
    out: Tri = False
    for v in vals:
        out = tri_or(out, v)
        if out is True:
            return True
    return out
