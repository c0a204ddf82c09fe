"""Terminal-safe text (no imports beyond ``re``: used by the CLI's error paths and by every renderer)."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["clean"]

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BREAKS = re.compile("[\t\n\r\u2028\u2029\x85]")


def clean(value: Any) -> str:
    """Text safe for a terminal: no control or bidi characters; line breaks and tabs become spaces."""
    text = value if isinstance(value, str) else str(value)
    if _CONTROL.search(text):
        text = _CONTROL.sub("", _BREAKS.sub(" ", text))
    elif _BREAKS.search(text):
        text = _BREAKS.sub(" ", text)
    return text
