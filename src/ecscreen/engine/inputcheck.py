"""Shipment facts the engine checks before screening (issue 12: inputs fail closed).

Checks that need the loaded packs (the declared parameter names) or that every input path must
share (YAML/JSON shipments, batch CSV orders, catalog products, the library API) live here, not
in the pydantic models, so each path reports them the same way: an :class:`InputError` naming
the field, and the shipment's decision is ``error``.

* parameters: names matched case-insensitively against the names the packs declare (unknown name:
  error with "did you mean"); values finite numbers >= 0; booleans only for parameters declared
  boolean (stored as 1 / 0);
* names and descriptions must contain a letter or digit after Unicode normalisation (blank,
  whitespace-, NUL-, zero-width- or bidi-only text is refused).
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from ecscreen.model import InputError, Shipment


def has_text(value: str | None) -> bool:
    """True when ``value`` holds a letter or digit after NFKC normalisation (format, control,
    bidi and zero-width characters and whitespace do not count)."""
    if not value:
        return False
    if value.isascii():  # the common case, without a per-character Unicode lookup
        return _ASCII_ALNUM.search(value) is not None
    return any(unicodedata.category(ch)[0] in "LN" for ch in unicodedata.normalize("NFKC", value))


_ASCII_ALNUM = re.compile(r"[A-Za-z0-9]")


def check_texts(sh: Shipment) -> list[InputError]:
    errors: list[InputError] = []
    for i, p in enumerate(sh.parties):
        if not has_text(p.name):
            errors.append(InputError(field=f"parties[{i}].name",
                                     message=f"party name {p.name!r} has no letter or digit: cannot screen it"))
    for i, it in enumerate(sh.items):
        if not has_text(it.description):
            errors.append(InputError(field=f"items[{i}].description",
                                     message=f"description {it.description!r} has no letter or digit: cannot screen it"))
    return errors


def check_parameters(params: Mapping[str, Any], index: int, declared: Mapping[str, Any]
                     ) -> tuple[dict[str, float], list[InputError]]:
    """Canonical parameters of one item (declared lower-case names, float values) and the errors.

    ``declared`` maps each parameter name the packs read to its declaration (``.type`` is
    ``number`` or ``boolean``).
    """
    out: dict[str, float] = {}
    given_as: dict[str, str] = {}
    errors: list[InputError] = []
    for raw_name, value in params.items():
        fld = f"items[{index}].parameters.{raw_name}"
        name = str(raw_name).strip().lower()
        decl = declared.get(name)
        if decl is None:
            close = difflib.get_close_matches(name, list(declared), n=3, cutoff=0.6)
            hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
            known = ", ".join(sorted(declared)) or "none"
            errors.append(InputError(field=fld, message=f"unknown parameter {raw_name!r}{hint}; the loaded packs "
                                                        f"read: {known}"))
            continue
        if name in given_as:
            errors.append(InputError(field=fld, message=f"parameter {raw_name!r} given twice "
                                                        f"(also as {given_as[name]!r}; names ignore case)"))
            continue
        given_as[name] = str(raw_name)
        if decl.type == "boolean":
            if isinstance(value, bool):
                out[name] = 1.0 if value else 0.0
            elif isinstance(value, int | float) and value in (0, 1):
                out[name] = float(value)
            else:
                errors.append(InputError(field=fld, message=f"parameter {name!r} is true/false (or 1/0), "
                                                            f"got {value!r}"))
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(InputError(field=fld, message=f"parameter {name!r} is a number, got {value!r}"))
            continue
        v = float(value)
        if not math.isfinite(v):
            errors.append(InputError(field=fld, message=f"parameter {name!r} must be a finite number, got {value!r}"))
        elif v < 0:
            errors.append(InputError(field=fld, message=f"parameter {name!r} must be >= 0, got {v:g}"))
        else:
            out[name] = v
    return out, errors
