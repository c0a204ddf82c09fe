"""Package data files parsed once per cache directory, not once per process.

A one-shipment ``ecscreen check`` parses two data files for the matcher that every run parses the same way:
the background token frequencies (``data/token_df.json.gz``: gunzip + JSON, ~11 ms CPU) and the English
word list (``data/english_words.txt``, ~4 ms). :func:`cached` keeps the parsed value in the cache directory
as a pickle under the same rules as the party index (``ecscreen.parties.matching``: owner and mode checked,
header with the expected digest, payload checksum, atomic writes; anything else is ignored and the file is
parsed again), keyed by the sha256 of the source bytes, the parser's code, the ecscreen and Python versions,
so a changed file or parser never reads an old value. Loading the pickle costs ~4 ms and ~1.5 ms.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any, TypeVar

T = TypeVar("T")

DERIVED_FORMAT = 2  # 2: packed tables stored out of band


def _digest(kind: str, source: bytes, build: Callable[[bytes], object]) -> str:
    from ecscreen import __version__

    h = hashlib.sha256(f"derived|{DERIVED_FORMAT}|{kind}|{__version__}|{sys.version_info[:2]}\x00".encode())
    _hash_code(h, build.__code__)
    h.update(source)
    return h.hexdigest()


def _hash_code(h: Any, code: CodeType) -> None:
    """The parser's bytecode and constants, nested code objects (a generator expression, a lambda) by their
    own bytecode and constants: the ``repr`` of a code object names its address, which differs from process
    to process (the key changed every run, so the cache was never read and a new file was written each time)."""
    h.update(code.co_code + b"\x00")
    for const in code.co_consts:
        if isinstance(const, CodeType):
            h.update(b"\x01code\x00")
            _hash_code(h, const)
        else:
            h.update(_const_repr(const).encode("utf-8", "surrogatepass") + b"\x00")
    h.update(b"\x02end\x00")


def _const_repr(const: object) -> str:
    """``repr`` of a constant, a frozenset's members sorted (their order follows the per-process string hash)."""
    if isinstance(const, frozenset):
        return "frozenset(" + repr(sorted(_const_repr(c) for c in const)) + ")"
    if isinstance(const, tuple):
        return "(" + ", ".join(_const_repr(c) for c in const) + ",)"
    return repr(const)


def cached(kind: str, source: bytes, build: Callable[[bytes], T], valid: Callable[[object], bool],
           cache_dir: Path | None) -> T:
    """``build(source)``, read from ``cache_dir`` when an earlier process saved it (and saved there
    otherwise). ``valid`` checks the loaded value's shape (a file failing it is ignored and rewritten);
    ``cache_dir=None``: no cache."""
    if cache_dir is None:
        return build(source)
    from ecscreen.parties.matching import read_cache_file, write_cache_file

    digest = _digest(kind, source, build)
    path = Path(cache_dir) / f"derived-{digest}.bin"
    state = read_cache_file(path, digest)
    if state is not None and valid(state.get("value")):
        return state["value"]  # type: ignore[no-any-return]
    value = build(source)
    from ecscreen.parties.indexcache import out_of_band_packed

    # a packed table's parts (the background frequencies' ~2.6 MB) are read in place from the mapped file
    write_cache_file(path, digest, {"digest": digest, "value": out_of_band_packed(value)})
    return value
