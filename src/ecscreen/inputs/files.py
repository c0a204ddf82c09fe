"""Reading shipment files (YAML or JSON; one shipment or a list of them).

Each shipment is validated on its own: an invalid one becomes an :class:`InputError` naming
file, line and field, and the others are still screened.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ecscreen.errors import InputFileError, UsageError
from ecscreen.model import InputError, Shipment
from ecscreen.packs import yamlio

MAX_SHIPMENT_FILE = 16 * 1024 * 1024


def parse_date_option(value: str | None, what: str = "--as-of") -> dt.date | None:
    """A command-line date option (YYYY-MM-DD); a bad value is a usage error."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{what}: not a date (YYYY-MM-DD): {value!r}") from None


def parse_shipments(data: Any, file: str) -> list[tuple[str, Shipment | InputError]]:
    if isinstance(data, dict) and "shipments" in data and isinstance(data["shipments"], list):
        data = data["shipments"]
    docs = data if isinstance(data, list) else [data]
    if not docs:
        raise InputFileError("no shipments in file", file=file, line=1)
    out: list[tuple[str, Shipment | InputError]] = []
    for n, doc in enumerate(docs):
        line = doc.line if isinstance(doc, yamlio.LDict | yamlio.LList) else None
        if line is None and isinstance(docs, yamlio.LList):
            line = docs.item_lines[n]
        label = f"{file}:{line}" if line else f"{file}#{n + 1}"
        prefix = f"[{n}]" if isinstance(data, list) else ""
        if not isinstance(doc, dict):
            out.append((label, InputError(file=file, line=line, field=prefix or None,
                                          message="a shipment must be a mapping with destination and items")))
            continue
        try:
            sh = Shipment.model_validate(doc)
        except ValidationError as exc:
            errs = yamlio.pydantic_errors(exc, doc, file, prefix=prefix)
            ln, fld, msg = errs[0]
            more = f" (and {len(errs) - 1} more error(s))" if len(errs) > 1 else ""
            sid = doc.get("id")
            out.append((str(sid) if sid else label, InputError(file=file, line=ln or line, field=fld, message=msg + more)))
            continue
        out.append((sh.id or label, sh))
    return out


def load_shipments(path: Path, sources: list[tuple[str, Any]] | None = None
                   ) -> list[tuple[str, Shipment | InputError]]:
    """Load a shipment file. Whole-file problems (unreadable, bad YAML) raise InputFileError.

    ``sources`` (optional) receives, for each shipment returned and in the same order, (file, raw
    document), so that errors found later by the engine can be located with :func:`locate` — by
    position, never by shipment id (two files, or two shipments, may share an id).
    """
    if str(path) == "-":  # standard input
        import sys

        raw = sys.stdin.buffer.read(MAX_SHIPMENT_FILE + 1)
        if len(raw) > MAX_SHIPMENT_FILE:
            raise InputFileError(f"input larger than {MAX_SHIPMENT_FILE} bytes", file="<stdin>")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputFileError(f"not UTF-8 text (byte {exc.start})", file="<stdin>") from None
        data = yamlio.parse(text, file="<stdin>")
        path = Path("<stdin>")
    else:
        data = yamlio.load_file(path, max_bytes=MAX_SHIPMENT_FILE)
    if data is None:
        raise InputFileError("file is empty", file=str(path))
    out = parse_shipments(data, str(path))
    if sources is not None:
        docs = data["shipments"] if isinstance(data, dict) and isinstance(data.get("shipments"), list) else data
        docs = docs if isinstance(docs, list) else [docs]
        sources.extend((str(path), doc) for doc in docs[: len(out)])
    return out


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def locate(err: InputError, file: str, doc: Any) -> InputError:
    """Fill in file and line of an engine-found error from the raw document."""
    if err.file and err.line:
        return err
    loc: list[Any] = []
    for name, idx in _PART.findall(err.field or ""):
        loc.append(int(idx) if idx else name)
    line = yamlio.line_of(doc, loc) if loc else getattr(doc, "line", None)
    return err.model_copy(update={"file": err.file or file, "line": err.line or line})
