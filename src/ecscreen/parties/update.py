"""``ecscreen lists update``: fetch official restricted-party lists, verify them, store them with provenance.

The official download locations live in ``data/list-sources.yaml`` (with citations; ``$ECSCREEN_LIST_SOURCES``
points to another file, e.g. an internal mirror). A download is verified before it replaces anything:

1. HTTP 200, body no larger than :data:`MAX_DOWNLOAD_BYTES`, as long as ``Content-Length`` says, and at
   least the source's ``min_bytes`` (an error page or a truncated transfer fails here);
2. the main file parses as the expected format (``csl-csv``, ``ofac-sdn``, ``un-xml``) with at least
   ``min_entries`` entries;
3. the list-health guards of :func:`ecscreen.parties.store.import_list` (shrink, lost or shrunk sub-lists against
   the stored list and, for the CSL, the embedded snapshot) refuse it unless ``--force``.

The stored list records the source URL, the retrieval time (UTC) and the sha256 of the retrieved file(s).
``--from FILE`` runs the same checks on a file fetched by other means (air-gapped sites).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecscreen import __version__
from ecscreen.errors import UsageError
from ecscreen.packs import yamlio
from ecscreen.parties.store import ListError, ScreeningList, import_list, read_list
from ecscreen.settings import Settings, package_file, utc_now

__all__ = ["ListSource", "UpdateError", "sources", "update_list", "MAX_DOWNLOAD_BYTES"]

MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
DEFAULT_TIMEOUT = 120.0


class UpdateError(ListError):
    """A list could not be fetched or failed verification (the stored list is unchanged)."""


@dataclass(frozen=True)
class ListSource:
    key: str
    name: str
    title: str
    url: str
    files: tuple[str, ...]
    format: str
    min_bytes: int
    min_entries: int
    citation: str


def _sources_file() -> tuple[str, str]:
    override = Settings.from_env().list_sources
    if override is not None:
        return yamlio.read_text(override, error=UpdateError), str(override)
    text = package_file("data", "list-sources.yaml").read_text(encoding="utf-8")
    return text, "ecscreen/data/list-sources.yaml"


def sources() -> dict[str, ListSource]:
    """The known sources (``csl``, ``ofac-sdn``, ``ofac-nonsdn``, ``un``) from the sources file."""
    text, shown = _sources_file()
    data = yamlio.parse(text, file=shown, error=UpdateError)
    if not isinstance(data, dict) or data.get("kind") != "list_sources" or not isinstance(data.get("sources"), dict):
        raise UpdateError("not a list_sources file (kind: list_sources, sources: {...})", file=shown)
    out: dict[str, ListSource] = {}
    for key, spec in data["sources"].items():
        try:
            files = tuple(str(f) for f in spec["files"])
            out[str(key)] = ListSource(
                key=str(key),
                name=str(spec["name"]),
                title=str(spec.get("title") or spec["name"]),
                url=str(spec["url"]),
                files=files or (str(spec["url"]).rsplit("/", 1)[-1],),
                format=str(spec["format"]),
                min_bytes=int(spec.get("min_bytes", 1)),
                min_entries=int(spec.get("min_entries", 1)),
                citation=str(spec.get("citation") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UpdateError(f"source {key!r} is incomplete ({exc})", file=shown, field=f"sources.{key}") from None
    return out


def resolve_sources(names: list[str]) -> list[ListSource]:
    """``--source`` values to sources; ``ofac`` means SDN and non-SDN, ``all`` every source."""
    known = sources()
    picked: list[ListSource] = []
    for raw in names or ["csl"]:
        for n in [x.strip().lower() for x in raw.split(",") if x.strip()]:
            keys = list(known) if n == "all" else [k for k in known if k.startswith("ofac")] if n == "ofac" else [n]
            for k in keys:
                if k not in known:
                    raise UsageError(f"unknown list source {n!r} (known: {', '.join([*known, 'ofac', 'all'])})")
                if known[k] not in picked:
                    picked.append(known[k])
    return picked


def _download(url: str, dest: Path, timeout: float) -> None:
    """Fetch ``url`` into ``dest`` (streamed, size-capped, Content-Length checked)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("https", "http"):
        raise UpdateError(f"refusing to fetch {url!r}: only http(s) URLs are allowed")
    req = urllib.request.Request(url, headers={"User-Agent": f"ecscreen/{__version__} (lists update)"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp, dest.open("wb") as fh:
            status = getattr(resp, "status", 200)
            if status != 200:
                raise UpdateError(f"download failed: HTTP {status} from {url}")
            expected = resp.headers.get("Content-Length")
            got = 0
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
                if got > MAX_DOWNLOAD_BYTES:
                    raise UpdateError(f"download from {url} is larger than {MAX_DOWNLOAD_BYTES} bytes: refused")
                fh.write(chunk)
    except urllib.error.HTTPError as exc:
        raise UpdateError(f"download failed: HTTP {exc.code} {exc.reason} from {url}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise UpdateError(f"download failed from {url}: {reason}") from None
    if expected is not None and expected.isdigit() and int(expected) != got:
        raise UpdateError(f"download from {url} is truncated: {got} of {expected} bytes")


def _sha256_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.lower().encode() + b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _verify(src: ListSource, main: Path, shown: str) -> ScreeningList:
    size = main.stat().st_size
    if size < src.min_bytes:
        raise UpdateError(
            f"{src.key}: file is {size} bytes, less than the {src.min_bytes} expected of {src.title} "
            "(truncated download or an error page?)",
            file=shown,
        )
    try:
        sl = read_list(main, src.name)
    except ListError as exc:
        raise UpdateError(f"{src.key}: not a valid {src.format} file: {exc.message}", file=shown) from None
    if sl.format != src.format:
        raise UpdateError(f"{src.key}: expected format {src.format}, got {sl.format}", file=shown)
    if len(sl.entries) < src.min_entries:
        raise UpdateError(
            f"{src.key}: {len(sl.entries)} entries, fewer than the {src.min_entries} expected of {src.title}",
            file=shown,
        )
    return sl


def update_list(
    src: ListSource,
    *,
    from_file: Path | None = None,
    url: str | None = None,
    force: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    now: dt.datetime | None = None,
) -> tuple[ScreeningList, list[str]]:
    """Fetch (or take ``from_file``), verify and store one source; returns the stored list and warnings."""
    now = (now or utc_now()).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="ecscreen-update-") as tmp:
        work = Path(tmp)
        fetched: list[Path] = []
        if from_file is not None:
            if not from_file.is_file():
                raise UpdateError("file not found", file=str(from_file))
            # copy the file (and its companions, for OFAC sets) so that the format is detected by name
            for i, fname in enumerate(src.files):
                cand = from_file if i == 0 else _sibling(from_file.parent, fname)
                if cand is None:
                    continue
                dest = work / fname.lower()
                shutil.copyfile(cand, dest)
                fetched.append(dest)
            source_url = from_file.resolve().as_uri()
        else:
            base = url or src.url
            for i, fname in enumerate(src.files):
                file_url = base if i == 0 else urllib.parse.urljoin(base, fname)
                dest = work / fname.lower()
                _download(file_url, dest, timeout)
                fetched.append(dest)
            source_url = base
        shown = str(from_file) if from_file is not None else source_url
        sl = _verify(src, fetched[0], shown)
        meta: dict[str, Any] = {
            "origin": "update",
            "source": f"{src.title}; official source {src.url} (see {src.citation})",
            "source_url": source_url,
            "retrieved_at": now,
            "file_sha256": _sha256_files(fetched),
        }
        if sl.info.date is None:  # the format carries no date: when it was fetched (a --from file: its mtime)
            meta["date"] = (
                dt.datetime.fromtimestamp(from_file.stat().st_mtime, dt.UTC).date() if from_file else now.date()
            )
        try:
            stored, warnings = import_list(fetched[0], src.name, force=force, meta=meta, loaded=sl)
        except ListError as exc:
            exc.file = shown  # name the URL or the --from file, not the temporary copy
            raise
    return stored, warnings


def _sibling(folder: Path, name: str) -> Path | None:
    try:
        for child in folder.iterdir():
            if child.name.lower() == name.lower() and child.is_file():
                return child
    except OSError:
        return None
    return None
