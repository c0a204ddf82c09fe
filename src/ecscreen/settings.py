"""Settings from the environment: the one place (with the CLI's colour/debug switches) that reads
``os.environ``, the home directory and the clock.

The CLI and the Python API build a :class:`Settings` (``Settings.from_env()``) and pass its values
explicitly into what they build (the registry snapshot, the lists, the party matcher, the
:class:`~ecscreen.engine.context.ScreeningContext`); ``screen(shipment, ctx)`` reads none of it. The
list-store helpers (``parties.store.store_dir``, ``parties.matching.index_cache_dir``,
``parties.update.sources``) fall back to ``Settings.from_env()`` when a caller gives no value. This module
imports nothing from ecscreen, so it sits at the bottom of the layers.

=============================== ======================================================================
``ECSCREEN_HOME``               list store: ``$ECSCREEN_HOME/lists`` (default ``~/.local/share/ecscreen``)
``ECSCREEN_CACHE_DIR``          compiled snapshots, decoded lists, party indexes (default
                                ``$XDG_CACHE_HOME/ecscreen``, else ``~/.cache/ecscreen``)
``ECSCREEN_NO_CACHE``           ``1``/``true``/``yes``: no disk cache at all
``ECSCREEN_LIST_MAX_AGE_DAYS``  lists older than this many days get a staleness warning (default: the
                                ``party_lists`` pack's ``max_age_days``)
``ECSCREEN_CLEARANCES``         clearance files (``os.pathsep``-separated) used when ``--clearances`` is
                                not given
``ECSCREEN_LIST_SOURCES``       a ``kind: list_sources`` file replacing the shipped download locations
=============================== ======================================================================
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from importlib.resources.abc import Traversable

__all__ = ["Settings", "today", "utc_now", "dist_version", "file_stamps", "package_file", "package_stamp"]


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


def _home() -> Path | None:
    try:
        return Path.home()
    except RuntimeError:  # no home directory
        return None


@dataclass(frozen=True)
class Settings:
    """What the environment says, read once."""

    home: Path | None = None  # the directory holding ``lists/`` (the list store); None: no store
    cache_dir: Path | None = None  # None: no disk cache
    max_age_days: int | None = None  # None: the party_lists pack's own limit
    clearances: tuple[Path, ...] = ()
    list_sources: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        user_home = _home()
        home_env = env.get("ECSCREEN_HOME", "")
        home = Path(home_env) if home_env else (user_home / ".local" / "share" / "ecscreen" if user_home else None)
        cache: Path | None
        if _flag(env.get("ECSCREEN_NO_CACHE")):
            cache = None
        elif env.get("ECSCREEN_CACHE_DIR", "").strip():
            cache = Path(env["ECSCREEN_CACHE_DIR"].strip()).expanduser()
        elif env.get("XDG_CACHE_HOME", "").strip() and os.path.isabs(env["XDG_CACHE_HOME"].strip()):
            cache = Path(env["XDG_CACHE_HOME"].strip()) / "ecscreen"
        else:
            cache = user_home / ".cache" / "ecscreen" if user_home else None
        age = env.get("ECSCREEN_LIST_MAX_AGE_DAYS", "").strip()
        clear = env.get("ECSCREEN_CLEARANCES", "").strip()
        sources = env.get("ECSCREEN_LIST_SOURCES", "").strip()
        return cls(
            home=home,
            cache_dir=cache,
            max_age_days=int(age) if age.isdigit() else None,
            clearances=tuple(Path(p) for p in clear.split(os.pathsep) if p.strip()) if clear else (),
            list_sources=Path(sources) if sources else None,
        )


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))  # the ecscreen package's directory (this module's)


def package_file(*parts: str) -> Traversable:
    """The ecscreen package's data file (or folder) ``parts``, e.g. ``package_file("data", "branch_words.txt")``:
    a :class:`~pathlib.Path` in the package directory when the package is one on disk (an install from a wheel,
    a checkout), else (a zip import) ``importlib.resources.files("ecscreen")``'s. Both read and join alike;
    importlib.resources' first use imports its readers and zipfile: ~3.4 ms CPU of a one-shipment check."""
    if _package_on_disk():
        return Path(_PACKAGE_DIR, *parts)
    from importlib import resources

    return resources.files("ecscreen").joinpath(*parts)


@lru_cache(maxsize=1)
def _package_on_disk() -> bool:
    """Whether the ecscreen package is a directory on disk (not inside a zip archive)."""
    return os.path.isdir(_PACKAGE_DIR)


def today() -> dt.date:
    """Today's date: read by the CLI and the API and passed down (screening never reads the clock)."""
    return dt.date.today()


def utc_now() -> dt.datetime:
    """The time a list is imported or updated (the list store's timestamps)."""
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------------------------------------- cache keys
# What the on-disk caches (compiled packs snapshot, party index, decoded lists) are keyed by besides their
# content: the versions of the libraries that shape them and the state of ecscreen's own code.


def _dist_key(name: str) -> str:
    return name.replace("-", "_").replace(".", "_").lower()


@lru_cache(maxsize=64)
def _dir_entries(path: str) -> tuple[str, ...]:
    try:
        return tuple(os.listdir(path))
    except OSError:
        return ()


@lru_cache(maxsize=32)
def dist_version(name: str) -> str:
    """The installed version of distribution ``name``, as its ``NAME-VERSION.dist-info`` (or ``.egg-info``)
    directory on ``sys.path`` names it, the first found as ``importlib.metadata.version`` finds it; ``"?"``
    when there is none. For cache keys: it reads directory names only, without importing ``importlib.metadata``
    (~11 ms CPU with the email/zipfile/csv modules it pulls in, a tenth of a one-shipment check's own work)."""
    return _dist_versions(tuple(sys.path)).get(_dist_key(name), "?")


@lru_cache(maxsize=4)
def _dist_versions(path: tuple[str, ...]) -> dict[str, str]:
    """Every distribution's version as :func:`dist_version` finds it (the first ``NAME-VERSION.dist-info`` or
    ``.egg-info`` directory on ``path``, in order), by its :func:`_dist_key`: one pass over the directories
    for all the names a check looks up (~8, each a walk of ~400 directory names, ~3 ms CPU in all)."""
    found: dict[str, str] = {}
    for entry in path:
        for f in _dir_entries(entry or "."):
            if not f.endswith((".dist-info", ".egg-info")):
                continue
            dist, sep, version = f.rsplit(".", 1)[0].partition("-")
            if sep and version:
                found.setdefault(_dist_key(dist), version)
    return found


RACY_SECONDS = 2.0  # a file changed less than this before it is looked at is keyed by its bytes, not its state


def settled(mtime_ns: int, ctime_ns: int, now_ns: int | None = None) -> bool:
    """Whether a file last changed at ``mtime_ns`` / ``ctime_ns`` had not changed for :data:`RACY_SECONDS` at
    ``now_ns`` (default: now), so that its state (:func:`file_stamps`) may stand for its bytes in a cache key: a
    file rewritten within the file system's timestamp granularity could keep its times (git's "racy" rule)."""
    now = time.time_ns() if now_ns is None else now_ns
    return now - max(mtime_ns, ctime_ns) >= RACY_SECONDS * 1e9


def file_stamps(paths: Iterable[Path], root: Path | None = None) -> bytes:
    """Path (relative to ``root``), size, inode, modification and change times (ns) of each file, in the
    order given: changes whenever a file is written, replaced, renamed or touched (the change time cannot be
    set back by a user), without reading the files. A file that cannot be stat'ed is named as missing."""
    return b"".join(_stamp((p.relative_to(root) if root is not None else p).as_posix(), p) for p in paths)


def _stamp(shown: str, path: str | Path) -> bytes:
    """One file's part of :func:`file_stamps`."""
    try:
        st = os.stat(path)
    except OSError:
        return f"{shown}\x00missing\x00".encode("utf-8", "surrogatepass")
    return f"{shown}\x00{st.st_size}|{st.st_ino}|{st.st_mtime_ns}|{st.st_ctime_ns}\x00".encode("utf-8", "surrogatepass")


@lru_cache(maxsize=1)
def package_stamp() -> bytes:
    """:func:`file_stamps` of every ecscreen source file (``*.py`` under the package, in path order): the code
    part of the keys of caches that hold pickled ecscreen objects (compiled packs snapshot, validated packs)."""
    # the bytes of file_stamps(sorted .py paths, package dir), made from strings: building, sorting and relativising
    # ~100 Path objects cost ~1.2 ms CPU of every check (issue 10); the path order is Path's (by parts)
    pkg = os.path.dirname(os.path.realpath(__file__))
    rels: list[tuple[str, ...]] = []
    for folder, dirs, files in os.walk(pkg):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel = os.path.relpath(folder, pkg)
        parts = () if rel == os.curdir else tuple(rel.split(os.sep))
        rels += [(*parts, f) for f in files if f.endswith(".py")]
    return b"".join(_stamp("/".join(parts), os.path.join(pkg, *parts)) for parts in sorted(rels))
