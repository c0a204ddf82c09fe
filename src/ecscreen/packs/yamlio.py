"""Safe YAML/JSON loading with line numbers, size caps and alias caps.

* Only the safe YAML tag set is accepted (no ``!!python/...``).
* Files larger than ``max_bytes`` are refused before parsing.
* Documents whose aliases would expand to more than ``max_nodes`` nodes are refused (billion laughs).
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

from ecscreen.errors import EcscreenError, InputFileError

try:  # the C loader is ~10x faster; fall back to pure Python
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _BaseLoader = yaml.SafeLoader

MAX_BYTES = 64 * 1024 * 1024
MAX_EXPANDED_NODES = 200_000


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


def _construct_timestamp(loader: Any, node: yaml.ScalarNode) -> Any:
    """Dates like 2023-13-01 stay strings, so validation names the field and line."""
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _expanded_size(node: yaml.Node, limit: int, file: str) -> None:
    """Refuse documents whose alias expansion would exceed ``limit`` nodes (billion laughs)."""
    memo: dict[int, int] = {}

    def size(n: yaml.Node, depth: int) -> int:
        key = id(n)
        if key in memo:
            return memo[key]
        if depth > 200:
            raise InputFileError("YAML nesting too deep", file=file, line=n.start_mark.line + 1)
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(c, depth + 1) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in n.value)
        memo[key] = total
        return total

    if size(node, 0) > limit:
        raise InputFileError(f"YAML aliases expand to more than {limit} nodes; refusing to expand", file=file,
                             line=node.start_mark.line + 1)


def loads(
    text: str,
    *,
    file: str = "<string>",
    error: type[EcscreenError] = InputFileError,
    max_nodes: int = MAX_EXPANDED_NODES,
) -> Any:
    """Parse YAML (JSON is a subset) safely, returning LDict/LList with line info."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "*" in text:
            _expanded_size(node, max_nodes, file)
        return loader.construct_document(node)
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
    finally:
        loader.dispose()


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


def parse(text: str, *, file: str, json_hint: bool = False, error: type[EcscreenError] = InputFileError) -> Any:
    """Parse a document: large ``.json`` files with the (much faster) JSON parser, no line info;
    everything else with the safe, line-tracking YAML loader."""
    if json_hint and len(text) > 1_000_000:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise error(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno) from None
    return loads(text, file=file, error=error)


def load_file(
    path: Path, *, max_bytes: int = MAX_BYTES, error: type[EcscreenError] = InputFileError
) -> Any:
    text = read_text(path, max_bytes=max_bytes, error=error)
    return parse(text, file=str(path), json_hint=path.suffix.lower() == ".json", error=error)


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
        elif isinstance(node, dict) and part in node or isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
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
