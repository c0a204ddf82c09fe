"""The store's review decisions as clearances (:func:`decision_allowlist`), for ``check``, ``batch``, ``gate``
and ``rescreen``: apart from :mod:`ecscreen.cli.review` (its commands, CSV export and tables), which a
``check`` never needs (issue 10: its import cost ~0.7 ms CPU of every check)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rich.console import Console

from ecscreen.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from ecscreen.records import RecordStore

_err = Console(stderr=True, highlight=False, soft_wrap=True)


def existing_store() -> RecordStore | None:
    """The record store when one exists ($ECSCREEN_DATABASE_URL, or records.db in $ECSCREEN_HOME); never
    creates one (a ``--no-record`` run still uses the decisions recorded before)."""
    from ecscreen.cli.options import ecscreen_home

    url = os.environ.get("ECSCREEN_DATABASE_URL") or None
    if not url and not (ecscreen_home() / "records.db").is_file():
        return None  # (before the import: the store's module imports SQLAlchemy, ~0.2 CPU-s of a batch's start-up)
    from ecscreen.records import RecordStore

    return RecordStore.open(url=url, home=ecscreen_home())


def _decisions_store() -> Any:
    """The existing store to read the decisions from: an SQLite store at the head revision with the stdlib
    driver (``--no-record`` runs: importing SQLAlchemy and building an engine cost ~0.3 CPU-s of a batch's
    start-up), anything else as :func:`existing_store` opens it."""
    from ecscreen.cli.options import ecscreen_home

    if not os.environ.get("ECSCREEN_DATABASE_URL"):
        from ecscreen.records.rawsqlite import DB_NAME, SqliteRecordWriter

        fast = SqliteRecordWriter.open(ecscreen_home() / DB_NAME)
        if fast is not None:
            return fast
    return existing_store()


def decision_allowlist(base: Any, store: RecordStore | None = None) -> Any:
    """``base`` (the --clearances allow-list, or None for $ECSCREEN_CLEARANCES) plus the clearances of
    the store's ``cleared`` decisions; ``base`` itself when the store holds no decision."""
    own = store is None
    if own:
        try:
            st = _decisions_store()
        except (UsageError, OSError) as exc:  # --no-record with a store that cannot be read
            from ecscreen.cli.options import STATE

            msg = exc.message if isinstance(exc, UsageError) else str(exc)
            if not STATE.quiet:
                _err.print(f"warning: review decisions not applied (no clearances from them): {msg}",
                           markup=False)
            return base
    else:
        st = store
    if st is None:
        return base
    try:
        decisions = st.decisions()
    finally:
        if own:
            st.close()
    if not decisions:  # the common case: nothing to import (runners.review and rescreen: ~10 ms of a check)
        return base
    from ecscreen.parties.matching import AllowList
    from ecscreen.parties.screening import default_allowlist
    from ecscreen.runners.review import clearances_from

    decided = clearances_from(decisions)
    if not decided:
        return base
    start = base if base is not None else default_allowlist()
    return AllowList([*(start.clearances if start is not None else []), *decided])
