"""Options and helpers shared by the commands (typer only; the one layer that reads the environment).

``--rules PATH`` adds packs to the shipped ones (a pack with a shipped pack's id replaces that pack);
``--rules-only PATH`` uses only the given packs. Both are repeatable; a ``kind: party_list`` pack given
either way is screened like the other lists. Packs are served from the compiled snapshot cache
(:mod:`ecscreen.engine.snapshot`) in the cache directory (``$ECSCREEN_CACHE_DIR``, ``$XDG_CACHE_HOME/ecscreen``
or ``~/.cache/ecscreen``; ``ECSCREEN_NO_CACHE=1`` turns it off).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ecscreen.errors import UsageError
from ecscreen.settings import Settings, today

if TYPE_CHECKING:  # pragma: no cover
    from ecscreen.engine.context import ScreeningContext
    from ecscreen.packs.registry import Registry
    from ecscreen.records import RecordStore


@dataclass
class CliState:
    """Global CLI options (set by the top-level callback): ``-q`` and ``--no-color``."""

    quiet: bool = False
    color: bool | None = None


STATE = CliState()

DEFAULT_WAIVERS = ".ecscreen-waivers.yaml"  # gate: waivers file used when present and none is given

RulesOpt = Annotated[list[Path] | None, typer.Option(
    "--rules", metavar="PATH",
    help="Rule pack file or directory ADDED to the shipped packs (same pack id replaces that pack). Repeatable.")]
RulesOnlyOpt = Annotated[list[Path] | None, typer.Option(
    "--rules-only", metavar="PATH",
    help="Use ONLY these rule packs instead of the shipped ones (shipped Country Groups are kept). Repeatable.")]


def registry_for(rules: list[Path] | None, rules_only: list[Path] | None = None, *, quiet: bool = False) -> Registry:
    """The packs of a run; the notes (replaced or unused shipped packs) are also printed to stderr."""
    if rules and rules_only:
        raise UsageError("give --rules (added to the shipped packs) or --rules-only (instead of them), not both")
    from ecscreen.engine.snapshot import load_registry_snapshot

    paths = list(rules or rules_only or []) or None
    reg = load_registry_snapshot(paths, extend=bool(rules), cache_dir=settings().cache_dir)
    if not (quiet or STATE.quiet):
        for note in reg.notes:
            sys.stderr.write(f"note: {note}\n")
    return reg

PolicyOpt = Annotated[str, typer.Option(
    "--policy", metavar="enforced|cfr-text",
    help="Where the CFR text and BIS enforcement differ (the January 2025 AI Diffusion rule, not enforced since "
         "2025-05-13): 'enforced' (default) decides by the scope BIS enforces, 'cfr-text' by the codified text. "
         "Both readings are stated either way.")]


def check_policy(policy: str) -> str:
    from ecscreen.domain.policy import POLICIES

    if policy not in POLICIES:
        raise UsageError(f"--policy must be {' or '.join(POLICIES)}, not {policy!r}")
    return policy


def settings() -> Settings:
    """The environment (:class:`ecscreen.settings.Settings`), read when a command runs."""
    return Settings.from_env()


def clearances_for(path: Path | None) -> Any:
    """The allow-list of ``--clearances FILE``, else of ``$ECSCREEN_CLEARANCES`` (None: no clearances)."""
    from ecscreen.parties.screening import load_allowlists

    if path is not None:
        if not path.exists():
            raise UsageError("clearances file not found", file=str(path))
        return load_allowlists([path])
    return load_allowlists(list(settings().clearances))


def context_for(reg: Registry, *, use_lists: bool = True, clearances: Path | None = None, policy: str = "enforced",
                as_of: dt.date | None = None, load_index: bool = True, allowlist: Any = None) -> ScreeningContext:
    """The run's ScreeningContext: settings (list store, cache, staleness limit, clearances) and today's
    date read here, in the CLI layer, and passed in."""
    from ecscreen.engine.context import ScreeningContext, lists_for

    st = settings()
    allow = (allowlist if allowlist is not None else clearances_for(clearances)) if use_lists else None
    lists = lists_for(reg, home=st.home, cache_dir=st.cache_dir) if use_lists else None
    return ScreeningContext.build(reg, today=today(), as_of=as_of, use_lists=use_lists, lists=lists,
                                  clearances=allow, policy=policy, max_age_days=st.max_age_days,
                                  cache_dir=st.cache_dir, load_index=load_index)


NoRecordOpt = Annotated[bool, typer.Option(
    "--no-record", help="Do not record this screening (default: recorded in $ECSCREEN_HOME/records.db, or the "
    "database $ECSCREEN_DATABASE_URL names; see `ecscreen history`).")]


def ecscreen_home() -> Path:
    """$ECSCREEN_HOME, else ~/.local/share/ecscreen (the list store and the record store live there)."""
    home = os.environ.get("ECSCREEN_HOME")
    return Path(home) if home else Path.home() / ".local" / "share" / "ecscreen"


def record_store() -> RecordStore:
    """The record store ($ECSCREEN_DATABASE_URL, else SQLite in $ECSCREEN_HOME), opened (and migrated) for a
    command that works on records; a store that cannot be opened is a usage error."""
    from ecscreen.records import RecordStore

    url = os.environ.get("ECSCREEN_DATABASE_URL") or None
    try:
        return RecordStore.open(url=url, home=ecscreen_home())
    except OSError as exc:
        raise UsageError(f"cannot open the record store in {ecscreen_home()}: {exc.strerror or exc}") from None


def open_record_store(no_record: bool = False, *, fast: bool = False) -> RecordStore | None:
    """The record store of a screening command, or None with --no-record. A store that cannot be opened is
    a usage error before anything is screened. ``fast`` (``check``): an existing SQLite store at the head
    revision is opened with the stdlib driver (:class:`~ecscreen.records.rawsqlite.SqliteRecordWriter`:
    the same rows, locks and chain, without importing SQLAlchemy); anything else as usual."""
    if no_record:
        return None
    if fast and not os.environ.get("ECSCREEN_DATABASE_URL"):
        from ecscreen.records.rawsqlite import DB_NAME, SqliteRecordWriter

        writer = SqliteRecordWriter.open(ecscreen_home() / DB_NAME)
        if writer is not None:
            return writer  # type: ignore[return-value]  # the subset of RecordStore a screening uses
    try:
        return record_store()
    except UsageError as exc:
        exc.message += " (use --no-record to screen without recording)"
        raise


def date_option(text: str | None, option: str) -> dt.date | None:
    """A YYYY-MM-DD option value (None when not given); anything else is a usage error naming the option."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} must be a date YYYY-MM-DD, not {text!r}") from None


def now() -> dt.datetime:
    """The time records are stamped with (UTC)."""
    return dt.datetime.now(dt.UTC)


def recording_failed(store: RecordStore, exc: Exception) -> UsageError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return UsageError(f"could not record the screening in {store.shown}: {first}; the results were not recorded "
                      f"(use --no-record to screen without recording)")


def note_recorded(ids: list[int], store: RecordStore) -> None:
    """One stderr note naming the record ids (not with -q)."""
    if STATE.quiet or not ids:
        return
    span = str(ids[0]) if len(ids) == 1 else f"{ids[0]}-{ids[-1]}"
    sys.stderr.write(f"note: recorded as record {span} (ecscreen show {ids[0]})\n")
