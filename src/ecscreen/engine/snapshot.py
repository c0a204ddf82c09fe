"""Compiled snapshot of the rule packs, cached on disk by content hash.

Parsing and validating every YAML/JSON pack takes most of a one-shipment ``check`` (~0.8 s); the
validated :class:`~ecscreen.packs.registry.Registry` is the same for the same pack files and the same code, so it
is cached as one file keyed by the SHA-256 of

* the state of the ecscreen sources (path, size, inode, modification and change times of each file) and the
  versions of the libraries that shape the models (pydantic, pyyaml), and
* every pack file that ``load_registry`` may read (its path as shown in reports and the SHA-256 of its bytes).

A file's SHA-256 is read from a small memo in the cache directory (``pack-hashes.json``, plain JSON: never
unpickled) when the file's path, size, inode, modification and change times are those it was hashed with and
it had not changed for ``settings.RACY_SECONDS`` before it was hashed (a file rewritten within the file system's
timestamp granularity could otherwise keep its times: git's "racy" rule, :func:`ecscreen.settings.settled`); any other file is read and hashed.

The cache file is written atomically (temporary file + rename) and read only when it is a regular file
owned by the current user and not writable by group or others, its header names exactly this digest and
its payload checksum matches (the same guarantees as the party-index cache, whose reader it shares). Any
failure means "not cached": the packs are loaded from source, so results never depend on the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

from ecscreen import __version__
from ecscreen.domain.countries import TABLE_FILES, seed_tables, tables_state
from ecscreen.packs.registry import Registry, default_rules_dir, load_registry, pack_files
from ecscreen.settings import dist_version, file_stamps, package_stamp, settled

SNAPSHOT_FORMAT = 6  # 2: the packs' large keyed tables stored per key (lazy_tables); 3: with a lookup table;
# 4: the simplified forms of the packs' Han runs (``simplified``); 5: the parsed country tables (``countries``);
# 6: the large tables stored out of band (read in place)
LAZY_TABLE_MIN = 256  # a pack's dict field of at least this many entries is read per key
HASH_MEMO = "pack-hashes.json"  # in the cache directory: pack file stat -> SHA-256 of its bytes
HASH_MEMO_FORMAT = 1
HASH_MEMO_MAX = 4096  # files remembered (the memo is started afresh when full; only speed depends on it)

__all__ = ["registry_digest", "load_registry_snapshot"]


@lru_cache(maxsize=1)
def _code_fingerprint() -> bytes:
    """The versions of the libraries that shape the models, and the state of every ecscreen source file
    (path, size, inode, modification and change times: :func:`~ecscreen.settings.file_stamps`). Any edit,
    replacement or reinstall of a source changes its change time, so a snapshot pickled from other class
    definitions is never read; stat'ing ~110 files instead of reading and hashing ~1 MB of sources (and no
    ``importlib.metadata`` import for the versions) saves ~8 ms CPU of every check."""
    h = hashlib.sha256(f"registry-{SNAPSHOT_FORMAT}|{__version__}|{sys.version_info[:2]}".encode())
    for dist in ("pydantic", "pydantic-core", "PyYAML", "pycountry", "OpenCC"):
        h.update(f"|{dist} {dist_version(dist)}".encode())
    h.update(b"\x00sources\x00" + package_stamp())
    # the data files whose parsed tables the snapshot holds too (countries.tables_state; pycountry's JSON is
    # covered by its version above): their state, as the sources' (a missing file is named as missing)
    pkg = Path(__file__).resolve().parents[1]
    h.update(b"\x00tables\x00" + file_stamps([pkg / rel for rel in TABLE_FILES], pkg))
    return h.digest()


def registry_digest(paths: list[Path] | None, extend: bool, cache_dir: Path | None = None) -> str | None:
    """Digest of everything ``load_registry(paths, extend=extend)`` depends on; None when a file cannot be read.
    With ``cache_dir``, the pack files' hashes are served from (and saved to) its memo (:func:`_pack_hash`)."""
    h = hashlib.sha256(_code_fingerprint())
    h.update(f"|extend={extend}|".encode())
    roots = [default_rules_dir(), *(paths or [])]
    memo = _read_hash_memo(cache_dir) if cache_dir is not None else None
    seen: dict[str, list[Any]] = {}
    try:
        for r in roots:
            h.update(b"\x01root\x00" + str(Path(r).resolve()).encode("utf-8", "surrogatepass"))
            for f in pack_files(Path(r)):
                h.update(b"\x02" + str(f).encode("utf-8", "surrogatepass") + b"\x00" + _pack_hash(f, memo, seen))
    except OSError:
        return None
    except Exception:  # an invalid path: load_registry reports it properly
        return None
    if cache_dir is not None and seen and (memo is None or any(memo.get(k) != v for k, v in seen.items())):
        _write_hash_memo(Path(cache_dir), {**(memo if memo and len(memo) < HASH_MEMO_MAX else {}), **seen})
    return h.hexdigest()


def _pack_hash(f: Path, memo: dict[str, list[Any]] | None, seen: dict[str, list[Any]]) -> bytes:
    """SHA-256 of the bytes of pack file ``f``: from ``memo`` when its entry names exactly the file's current
    size, inode, modification and change times (ns); else read and hashed, and put in ``seen`` (then saved in
    the memo) when the file had settled (:func:`~ecscreen.settings.settled`; a later rewrite then changes its change
    time)."""
    key = os.path.abspath(f)
    st = os.stat(f)
    stamp = [st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]
    got = memo.get(key) if memo is not None else None
    if got is not None and got[:4] == stamp:
        seen[key] = got
        return bytes.fromhex(got[4])
    now_ns = time.time_ns()
    digest = hashlib.sha256(f.read_bytes()).digest()
    if settled(st.st_mtime_ns, st.st_ctime_ns, now_ns) and os.stat(f).st_ctime_ns == st.st_ctime_ns:
        seen[key] = [*stamp, digest.hex()]
    return digest


def _read_hash_memo(cache_dir: Path) -> dict[str, list[Any]] | None:
    """The memo of pack hashes, or None when it is missing, not a regular file of this user that others cannot
    write, or not of the expected shape (then every pack is hashed, as without a memo)."""
    from ecscreen.parties.matching import _open_cache_file, _trusted

    try:
        with _open_cache_file(Path(cache_dir) / HASH_MEMO) as fh:
            if not _trusted(os.fstat(fh.fileno())):
                return None
            data = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != HASH_MEMO_FORMAT or not isinstance(data.get("files"), dict):
        return None
    out: dict[str, list[Any]] = {}
    for k, v in data["files"].items():
        if (type(k) is str and type(v) is list and len(v) == 5 and all(type(x) is int for x in v[:4])
                and type(v[4]) is str and len(v[4]) == 64):
            try:
                bytes.fromhex(v[4])
            except ValueError:
                continue
            out[k] = v
    return out


def _write_hash_memo(cache_dir: Path, files: dict[str, list[Any]]) -> None:
    """Save the memo atomically (temporary file + rename, mode 0600); nothing when the directory is not writable."""
    tmp: str | None = None
    try:
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".pack-hashes-", suffix=".tmp", dir=cache_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"format": HASH_MEMO_FORMAT, "files": files}, fh, sort_keys=True)
        os.replace(tmp, cache_dir / HASH_MEMO)
        tmp = None
    except (OSError, ValueError, TypeError):
        return
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def load_registry_snapshot(paths: list[Path] | None = None, *, extend: bool = False,
                           cache_dir: Path | None = None) -> Registry:
    """``load_registry(paths, extend=extend)``, served from the compiled snapshot in ``cache_dir`` when one
    exists for exactly these packs and this code; written there after a load. ``cache_dir=None``: no cache."""
    if cache_dir is None:
        return load_registry(paths, extend=extend)
    from ecscreen.parties.matching import read_cache_file

    digest = registry_digest(paths, extend, cache_dir=cache_dir)
    if digest is None:
        return load_registry(paths, extend=extend)
    target = Path(cache_dir) / f"registry-{digest}.bin"
    state = read_cache_file(target, digest)
    if state is not None:
        loaded = _from_state(state)
        if loaded is not None:
            return loaded
    reg = load_registry(paths, extend=extend)
    _write_snapshot(target, digest, reg)
    return reg


def _large_tables(reg: Registry) -> list[tuple[int, str, dict[str, Any]]]:
    """(pack index, field, dict) of the packs' large keyed tables (the CCL's ~1,200 entries): stored with
    each value pickled on its own and unpickled on first lookup, since one shipment reads a few of them
    (unpickling the CCL pack whole was 25 of the snapshot's 38 ms)."""
    out = []
    for i, lp in enumerate(reg.packs):
        model = lp.model
        for name in getattr(type(model), "model_fields", {}):
            value = model.__dict__.get(name)
            if type(value) is dict and len(value) >= LAZY_TABLE_MIN and all(type(k) is str for k in value):
                out.append((i, name, value))
    return out


def _write_snapshot(target: Path, digest: str, reg: Registry) -> None:
    from ecscreen.parties.indexcache import out_of_band_packed, pack_pickled
    from ecscreen.parties.matching import write_cache_file

    tables = _large_tables(reg)
    # the tables' ~1.4 MB are read in place from the mapped file, not copied out of it on every load
    lazy = [(i, name, out_of_band_packed(pack_pickled(value))) for i, name, value in tables]
    simplified = _han_runs_simplified(reg)
    try:  # the registry is pickled without them (and restored: this run goes on using it)
        for i, name, _ in tables:
            reg.packs[i].model.__dict__[name] = {}
        write_cache_file(target, digest, {"digest": digest, "registry": reg, "lazy_tables": lazy,
                                          "simplified": simplified, "countries": _countries_state()})
    finally:
        for i, name, value in tables:
            reg.packs[i].model.__dict__[name] = value


def _pack_texts(value: Any, out: list[str], depth: int = 0) -> None:
    """Every non-ASCII string inside a pack model (fields, lists, dicts, nested models)."""
    if type(value) is str:
        if not value.isascii():
            out.append(value)
    elif depth > 40:
        return
    elif isinstance(value, dict):
        for k, v in value.items():
            _pack_texts(k, out, depth + 1)
            _pack_texts(v, out, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            _pack_texts(v, out, depth + 1)
    elif hasattr(value, "__dict__") and hasattr(type(value), "model_fields"):
        for v in value.__dict__.values():
            _pack_texts(v, out, depth + 1)


def _han_runs_simplified(reg: Registry) -> dict[str, str]:
    """The simplified form of every Han run of the packs' texts as the phrase matcher prepares them
    (ecscreen.domain.textmatch.prepare): stored with the snapshot, so a check whose own texts hold no Han
    script never starts OpenCC. Empty when OpenCC is not installed (the runs stay as written, as before)."""
    from ecscreen.domain import normalize
    from ecscreen.domain.textmatch import _CJK_RUN, _INVISIBLE

    texts: list[str] = []
    for lp in reg.packs:
        _pack_texts(lp.model, texts)
    out: dict[str, str] = {}
    try:
        for text in texts:
            prepared = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
            for m in _CJK_RUN.finditer(prepared):
                run = m.group(0)
                if run not in out:
                    out[run] = normalize._simplified(run)
    except Exception:  # noqa: BLE001 - OpenCC missing or failing: nothing is seeded, texts are read as before
        return {}
    return out


def _from_state(state: dict[str, Any]) -> Registry | None:
    """The registry of a snapshot state with its large tables put back (read per key), or None when the
    state does not have that shape (then the packs are loaded from source)."""
    from ecscreen.parties.indexcache import unpack_pickled

    reg = state.get("registry")
    lazy = state.get("lazy_tables")
    if not isinstance(reg, Registry) or not isinstance(lazy, list):
        return None
    try:
        for i, name, packed in lazy:
            model = reg.packs[i].model
            if name not in getattr(type(model), "model_fields", {}) or model.__dict__.get(name) != {}:
                return None
            model.__dict__[name] = unpack_pickled(packed)
    except (ValueError, TypeError, IndexError):
        return None
    simplified = state.get("simplified")
    if isinstance(simplified, dict) and all(type(k) is str and type(v) is str for k, v in simplified.items()):
        from ecscreen.domain.normalize import seed_simplified

        seed_simplified(simplified)
    seed_tables(state.get("countries"))
    return reg


def _countries_state() -> dict[str, Any] | None:
    """The parsed country tables for the snapshot (None when they cannot be read: the check reads them itself)."""
    try:
        return tables_state()
    except Exception:  # noqa: BLE001 - a table that cannot be read fails where it is used, as without a snapshot
        return None
