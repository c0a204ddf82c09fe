"""Safe YAML/JSON loading with line numbers, size caps and alias caps.

* Only the safe YAML tag set is accepted (no ``!!python/...``).
* Files larger than ``max_bytes`` are refused before parsing.
* Documents with more than ``max_aliases`` alias references are refused (billion-laughs guard).
* Duplicate mapping keys are an error (PyYAML silently keeps the last one).
* Every mapping and sequence remembers the line it starts on and the line of each key,
  so validation errors can name ``file:line``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .errors import EcscreenError, InputFileError

try:  # the C loader is ~10x faster; fall back to pure Python
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _BaseLoader = yaml.SafeLoader

MAX_BYTES = 64 * 1024 * 1024
MAX_ALIASES = 100


class LDict(dict[Any, Any]):
    """dict that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class LList(list[Any]):
    line: int = 0
    item_lines: list[int]


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    pass


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> LDict:
    loader.flatten_mapping(node)
    out = LDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, "unhashable mapping key", key_node.start_mark
            ) from exc
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: Any, node: yaml.SequenceNode) -> LList:
    out = LList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _count_aliases(text: str, limit: int, file: str) -> None:
    n = 0
    for event in yaml.parse(text, Loader=_BaseLoader):
        if isinstance(event, yaml.AliasEvent):
            n += 1
            if n > limit:
                raise InputFileError(
                    f"too many YAML aliases (> {limit}); refusing to expand", file=file,
                    line=event.start_mark.line + 1 if event.start_mark else None,
                )


def loads(
    text: str,
    *,
    file: str = "<string>",
    error: type[EcscreenError] = InputFileError,
    max_aliases: int = MAX_ALIASES,
) -> Any:
    """Parse YAML (JSON is a subset) safely, returning LDict/LList with line info."""
    try:
        if "*" in text or "<<" in text:
            _count_aliases(text, max_aliases, file)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except EcscreenError as exc:
        raise error(exc.message, file=file, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(x for x in (exc.context, exc.problem) if x) or "invalid YAML"
        raise error(f"invalid YAML: {msg}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise error(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise error("YAML nesting too deep", file=file) from None


def read_text(path: Path, *, max_bytes: int = MAX_BYTES, error: type[EcscreenError] = InputFileError) -> str:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise error("file not found", file=str(path)) from None
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror}", file=str(path)) from None
    if size > max_bytes:
        raise error(f"file is {size} bytes, over the {max_bytes}-byte limit", file=str(path))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror}", file=str(path)) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text (byte {exc.start})", file=str(path)) from None


def load_file(
    path: Path, *, max_bytes: int = MAX_BYTES, error: type[EcscreenError] = InputFileError
) -> Any:
    text = read_text(path, max_bytes=max_bytes, error=error)
    if path.suffix.lower() == ".json" and len(text) > 1_000_000:
        # large generated data files: the JSON parser is much faster; no line info needed
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise error(f"invalid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    return loads(text, file=str(path), error=error)


def line_of(data: Any, loc: Iterable[Any]) -> int | None:
    """Best line number for a pydantic error location inside ``data``."""
    line: int | None = getattr(data, "line", None)
    node = data
    for part in loc:
        if isinstance(node, LDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            # pydantic may insert tags (union member names); skip them
            continue
        node_line = getattr(node, "line", None)
        if node_line and not isinstance(node, LDict | LList):
            line = node_line
    return line


def format_loc(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def pydantic_errors(exc: Any, data: Any, file: str, *, prefix: str = "") -> list[tuple[int | None, str, str]]:
    """Turn a pydantic ValidationError into (line, field, message) triples."""
    out = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
        field = format_loc(loc)
        if prefix:
            field = f"{prefix}{'.' if field and not field.startswith('[') else ''}{field}"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        out.append((line_of(data, loc), field, msg))
    return out
