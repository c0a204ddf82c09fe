"""ECCN hierarchy: one copy of "does this ECCN fall under that one" for every step (rule conditions, the
chart's paragraph scopes, licences naming ECCNs)."""

from __future__ import annotations

__all__ = ["eccn_matches"]


def eccn_matches(item_eccn: str, pattern: str) -> bool | None:
    """Hierarchical ECCN match of normalised ECCNs: True when ``item_eccn`` is ``pattern`` or below it
    (3A090.a.1 under 3A090.a); None when the item is less specific (3A090 given, 3A090.a needed: the
    paragraph is unknown); False otherwise."""
    if item_eccn == pattern or item_eccn.startswith(pattern + "."):
        return True
    if pattern.startswith(item_eccn + "."):
        return None
    return False
