"""``ecscreen batch``: the command-line layer over :mod:`ecscreen.runners.batch` (options, files, signals, exit code).

Only typer and the standard library are imported here; the screening modules are imported when the
command runs, so ``ecscreen --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from ecscreen.cli.options import NoRecordOpt, PolicyOpt, RulesOnlyOpt, RulesOpt, check_policy
from ecscreen.errors import UsageError

__all__ = ["batch_command"]


def batch_command(
    orders: Annotated[Path, typer.Argument(help="Order CSV exported from an ERP ('-' for stdin).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write rows here (default stdout).")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="csv, jsonl or json")] = "csv",
    columns: Annotated[Path | None, typer.Option("--columns", help="YAML map 'field: Their Header'.")] = None,
    delimiter: Annotated[str | None, typer.Option("--delimiter", help="Field delimiter (default: detected).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Evaluate rules at this date (overrides row dates).")] = None,
    rules: RulesOpt = None,
    rules_only: RulesOnlyOpt = None,
    no_lists: Annotated[bool, typer.Option("--no-lists", help="Do not screen parties against restricted-party lists.")] = False,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Progress bar (default: when stderr is a terminal).")] = None,
    jobs: Annotated[str, typer.Option("--jobs", "-j", metavar="N|auto", help=(
        "Screening processes: N (1 = this process only; 0 = one per CPU), or auto (default: one per 256 KiB of "
        "input, at most one per CPU and 4; one for stdin). Output is the same, byte for byte, and in order."))
    ] = "auto",
    encoding: Annotated[str, typer.Option("--encoding", help="Text encoding of the file (default utf-8; e.g. "
                                          "cp1252, latin-1). Bytes it cannot decode make their row an error.")] = "utf-8",
    meta: Annotated[Path | None, typer.Option(
        "--meta", metavar="FILE", help="Write the report envelope (tool, packs, lists with SHA-256, options, "
        "warnings, counts) here. Default with --out and csv/jsonl: OUT.meta.json; json output carries it inline.")
    ] = None,
    policy: PolicyOpt = "enforced",
    no_record: NoRecordOpt = False,
) -> None:
    """Screen order lines from a CSV: every row out once, in order, with decision, rule ids, reasons and list hits."""
    from rich.console import Console

    from ecscreen.cli.options import STATE, context_for, registry_for
    from ecscreen.errors import Interrupted
    from ecscreen.inputs.files import parse_date_option
    from ecscreen.runners.batch import (
        FORMATS,
        AtomicOutput,
        BatchOptions,
        BatchSummary,
        _signals,
        load_column_map,
        run_batch,
    )

    if format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
    delimiter = _delimiter(delimiter)
    on = parse_date_option(as_of)
    colmap = load_column_map(columns) if columns is not None else None
    stdin = str(orders) == "-"
    if not stdin and not orders.is_file():
        raise UsageError("file not found", file=str(orders))
    n_jobs = _jobs(jobs, None if stdin else orders.stat().st_size)
    from ecscreen.cli.options import open_record_store

    store = open_record_store(no_record, fast=True)
    from ecscreen.cli.decisions import decision_allowlist
    from ecscreen.cli.options import clearances_for

    ctx = context_for(registry_for(rules, rules_only), use_lists=not no_lists, policy=check_policy(policy), as_of=on,
                      allowlist=decision_allowlist(clearances_for(None), store) if not no_lists else None)
    engine = ctx.engine
    err = Console(stderr=True, highlight=False)
    show = err.is_terminal if progress is None else progress
    size = None if stdin else orders.stat().st_size
    stream: IO[bytes] = sys.stdin.buffer if stdin else orders.open("rb")
    atomic = AtomicOutput(out) if out is not None else None
    sink: IO[str] = atomic.fh if atomic is not None else sys.stdout
    meta_path = _sidecar(atomic, meta, format, err, quiet=STATE.quiet)
    summary = BatchSummary()
    opts = BatchOptions(as_of=on, today=ctx.today, jobs=n_jobs)
    from ecscreen.outputs.envelope import envelope_head

    envelope = envelope_head(engine, command="batch", as_of=on or ctx.today, options={
        "file": str(orders), "format": format, "as_of": on, "rules": [str(r) for r in rules or []],
        "rules_only": [str(r) for r in rules_only or []], "no_lists": no_lists, "encoding": encoding,
        "columns": str(columns) if columns else None, "policy": policy})
    recorder = _batch_recorder(store, engine, envelope, columns, orders) if store is not None else None
    done = False
    try:
        with _signals():
            kw: dict[str, Any] = dict(fmt=format, file=str(orders), columns=colmap, delimiter=delimiter, options=opts,
                                      size=size, encoding=encoding, summary=summary, envelope=envelope,
                                      recorder=recorder)
            if show:
                _with_progress(err, size, lambda tick: run_batch(stream, sink, engine, progress=tick, **kw))
            else:
                run_batch(stream, sink, engine, **kw)
            if atomic is not None:
                atomic.commit()
            else:
                sink.flush()
            done = True
            if meta_path is not None and summary.envelope is not None:
                meta_out = AtomicOutput(meta_path)
                meta_out.fh.write(json.dumps(summary.envelope, ensure_ascii=False, indent=2, default=str) + "\n")
                meta_out.commit()
    except Interrupted as exc:
        exc.message = _interrupted(exc.signum, summary.rows, atomic, sink)
        raise
    finally:
        if not stdin:
            stream.close()
        if atomic is not None and not done:
            atomic.discard()
        if recorder is not None:
            recorder.close()  # its writer thread, if the run stopped early
        if store is not None:
            store.close()
    from ecscreen.domain.textsafe import clean

    _no_exit_collection()
    _note_recorded(err, recorder, quiet=STATE.quiet)
    if not STATE.quiet:
        for w in summary.warnings:
            err.print(clean(f"warning: {w}"), markup=False, soft_wrap=True)
        err.print(summary.line(), markup=False, soft_wrap=True)
    raise typer.Exit(summary.exit_code)


_EXIT_FREEZE: list[bool] = []  # _no_exit_collection registered (once per process)


def _no_exit_collection() -> None:
    """At interpreter exit, freeze the heap before Python's final garbage collection: after a batch run the
    heap holds the engine, the lists' index and the run's memos (millions of objects), and that last full
    collection scanned them all only to free the process's memory, which exit frees anyway (~1.0 CPU-s after
    a 100k-row ERP run, 0.1 s with it, under load; a --jobs run's serial tail). Files are closed and
    committed by the command itself; the standard streams are flushed by Python after the atexit handlers."""
    if not _EXIT_FREEZE:
        import atexit
        import gc

        atexit.register(gc.freeze)
        _EXIT_FREEZE.append(True)


def _with_progress(err: Any, size: int | None, run: Any) -> None:
    """``run(tick)`` under a progress bar on stderr (percent and ETA when the input size is known)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    cols_ = [TextColumn("screening"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
             TextColumn("{task.fields[rows]:,} rows"), TextColumn("{task.fields[rate]:,.0f} rows/s"),
             TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    if size is None:
        cols_ = [TextColumn("screening"), TextColumn("{task.fields[rows]:,} rows"),
                 TextColumn("{task.fields[rate]:,.0f} rows/s"), TimeElapsedColumn(), MofNCompleteColumn()]
    t0 = time.perf_counter()
    with Progress(*cols_, console=err, transient=True) as bar:
        task = bar.add_task("screening", total=size, rows=0, rate=0.0)
        last = [0.0]

        def tick(rows: int, pos: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= 0.2:
                last[0] = now
                bar.update(task, completed=pos, rows=rows, rate=rows / max(now - t0, 1e-9))

        run(tick)


def _batch_recorder(store: Any, engine: Any, envelope: dict[str, Any], columns: Path | None, orders: Path) -> Any:
    """The recorder of this run's orders (its manifest written now); a store that fails is a usage error."""
    from ecscreen.cli.options import now, recording_failed
    from ecscreen.records.recorder import BatchRecorder, run_manifest

    at = now()
    try:
        manifest = run_manifest(store, engine, command="batch", options=envelope["options"], at=at,
                                files=[("columns", columns)] if columns else [])
    except Exception as exc:
        store.close()
        raise recording_failed(store, exc) from exc
    # the writer in a child process on a SQLite store (the screening thread keeps the interpreter lock to itself)
    return BatchRecorder(store, manifest=manifest, file=str(orders), at=at, process=True)


def _note_recorded(err: Any, recorder: Any, *, quiet: bool) -> None:
    if recorder is None or recorder.first_id is None or quiet:
        return
    err.print(f"note: recorded {recorder.recorded:,} order(s) as records {recorder.first_id}-{recorder.last_id} "
              f"(ecscreen history --since {recorder.at.date().isoformat()})", markup=False, soft_wrap=True)


def _sidecar(atomic: Any, meta: Path | None, fmt: str, err: Any, *, quiet: bool) -> Path | None:
    """Where the report envelope goes: ``--meta``, else OUT.meta.json beside a csv/jsonl ``--out`` file; none
    beside a device or FIFO written in place (``-o /dev/null``), which a note says."""
    if meta is not None or atomic is None or fmt == "json":
        return meta
    if atomic.in_place:
        if not quiet:
            err.print(f"note: {atomic.path} is not a regular file: no sidecar {atomic.path}.meta.json is written "
                      "(give --meta FILE for the report envelope)", markup=False, soft_wrap=True)
        return None
    out: Path = atomic.path
    return out.with_name(out.name + ".meta.json")


def _interrupted(signum: int, rows: int, atomic: Any, sink: IO[str]) -> str:
    """The one line an interrupted run ends with (the partial ``--out`` file already removed)."""
    name = "SIGTERM" if signum == signal.SIGTERM else "SIGINT"
    if atomic is not None and not atomic.in_place:
        atomic.discard()
        return (f"interrupted by {name}: {rows:,} row(s) had been written to {atomic.tmp}; "
                f"that partial file was removed and {atomic.path} was not written")
    where = "standard output" if atomic is None else str(atomic.path)
    with contextlib.suppress(Exception):
        sink.flush()
    return f"interrupted by {name}: {rows:,} row(s) written to {where}; the output is INCOMPLETE"


def _jobs(jobs: str, size: int | None) -> int:
    """--jobs: ``auto`` (by the input's size, see :func:`ecscreen.runners.batch.auto_jobs`), N >= 1 processes, or
    0 (one per CPU)."""
    from ecscreen.runners.batch import auto_jobs, cpus_available

    text = jobs.strip().lower()
    if text == "auto":
        return auto_jobs(size)
    try:
        n = int(text)
    except ValueError:
        raise UsageError(f"--jobs must be a number of processes or auto, not {jobs!r}") from None
    if n < 0:
        raise UsageError(f"--jobs must be 0 (one per CPU), 1 or more, or auto, not {n}")
    return n or cpus_available()


def _delimiter(delimiter: str | None) -> str | None:
    """--delimiter: one character (``\\t``, ``tab`` for a tab)."""
    if delimiter is None:
        return None
    delimiter = {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(delimiter, delimiter)
    if len(delimiter) != 1:
        raise UsageError(f"--delimiter must be one character, not {delimiter!r}")
    return delimiter
