"""Request bodies -> shipments, with the CLI's messages (file ``<request>``, line, field) plus a JSON pointer.

A body is read exactly like a shipment file given to ``ecscreen check``: one shipment, a list, or
``{"shipments": [...]}``; duplicate keys are refused; each shipment is validated on its own and an
invalid one is named by line and field. Valid bodies take a fast path (``json.loads``); any problem is
re-read with the line-tracking loader so the message is the one the CLI prints for the same text.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from ecscreen.errors import InputFileError
from ecscreen.inputs.files import parse_shipments
from ecscreen.packs import yamlio

REQUEST_FILE = "<request>"

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Duplicate
    return out


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"not UTF-8 text (byte {exc.start})", file=REQUEST_FILE) from None


def load_document(raw: bytes, *, lines: bool = False) -> Any:
    """The parsed body (``InputFileError`` for a body that is not one JSON/YAML document).
    ``lines=True``: with line numbers (yamlio's LDict/LList), as the CLI reads files."""
    text = decode(raw)
    if not text.strip():
        raise InputFileError("request body is empty: send one shipment, a list, or {\"shipments\": [...]}",
                             file=REQUEST_FILE)
    if not lines:
        with contextlib.suppress(ValueError, RecursionError):
            # fast path for plain JSON; anything else (YAML, a duplicate key, a syntax error) goes to the
            # CLI's loader below, which parses it or says what is wrong, with the line
            return json.loads(text, object_pairs_hook=_no_duplicates)
    return yamlio.loads(text, file=REQUEST_FILE)


def parse_body(raw: bytes) -> tuple[list[tuple[str, Any]], Any]:
    """(label, Shipment | InputError) per shipment and the document they came from (with line numbers
    when some shipment is invalid)."""
    doc = load_document(raw)
    parsed = parse_shipments(doc, REQUEST_FILE)
    if any(not hasattr(sh, "items") for _, sh in parsed) and not _has_lines(doc):
        doc = load_document(raw, lines=True)
        parsed = parse_shipments(doc, REQUEST_FILE)
    return parsed, doc


def _has_lines(doc: Any) -> bool:
    return hasattr(doc, "line")


def shipment_docs(doc: Any, n: int) -> list[Any]:
    docs = doc["shipments"] if isinstance(doc, dict) and isinstance(doc.get("shipments"), list) else doc
    docs = docs if isinstance(docs, list) else [docs]
    return list(docs[:n])


def pointer(field: str | None, *, index: int | None, in_list: bool, wrapped: bool) -> str:
    """RFC 6901 JSON pointer into the request body for a CLI field path (``items[0].eccn``)."""
    parts: list[str] = []
    if wrapped:
        parts.append("shipments")
    f = field or ""
    if in_list:
        m = re.match(r"\[(\d+)\]\.?", f)
        if m:  # the CLI's field names the list position itself ("[2].items[0]...")
            f = f[m.end():]
        if index is not None:
            parts.append(str(index))
    for name, idx in _PART.findall(f):
        parts.append(idx if idx else name)
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def error_doc(e: Any, *, shipment: str | None, index: int | None, in_list: bool, wrapped: bool) -> dict[str, Any]:
    """One input error: where (file, line, field, pointer), what, and the CLI's one-line message."""
    loc = ":".join(str(x) for x in (e.file or REQUEST_FILE, e.line) if x)
    return {
        "shipment": shipment, "index": index, "file": e.file or REQUEST_FILE, "line": e.line, "field": e.field,
        "pointer": pointer(e.field, index=index, in_list=in_list, wrapped=wrapped), "message": e.message,
        "text": f"{loc}: {e.field + ': ' if e.field else ''}{e.message}",
    }
