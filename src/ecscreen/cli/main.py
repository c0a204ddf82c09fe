"""Command-line interface: a thin layer over :func:`ecscreen.engine.screen`.

Exit codes: 0 all clear · 1 something flagged · 2 usage error · 3 invalid input ·
4 invalid rule pack · 70 internal error · 130/143 interrupted (SIGINT/SIGTERM) · 141 output pipe closed. Errors go to stderr
as one message naming file, line and field; an unexpected exception is one line too (the traceback
with ``--debug`` or ``ECSCREEN_DEBUG=1``) and never exits 0 or 1.
"""

# No ``from __future__ import annotations`` here (issue 10): typer reads each command's parameters with
# ``inspect.signature(eval_str=True)`` and ``get_type_hints``, which compile and evaluate every string annotation
# (twice); written as expressions they are read as they are (~3 ms CPU of every check: check's 11 parameters and
# the global options).

import contextlib
import copy
import errno
import gc
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ecscreen import __version__
from ecscreen.cli.options import (
    NoRecordOpt,
    PolicyOpt,
    RulesOnlyOpt,
    RulesOpt,
    check_policy,
    clearances_for,
    context_for,
    registry_for,
)
from ecscreen.errors import (
    EXIT_INTERNAL,
    EXIT_PIPE,
    EXIT_SIGINT,
    EXIT_USAGE,
    EcscreenError,
    InputFileError,
    Interrupted,
    UsageError,
)

# Screening modules are imported inside the commands: `ecscreen --help` and `-V` import typer only.

EXIT_HELP = """
Exit codes: 0 all clear; 1 something flagged (review, license_required, prohibited);
2 usage error; 3 invalid input (some shipment/row could not be screened); 4 invalid rule pack;
70 internal error (a bug: nothing was decided); 130/143 interrupted by SIGINT/SIGTERM;
141 output pipe closed by its reader (output incomplete).
"""

_app = typer.Typer(
    name="ecscreen",
    help="Offline export-control screening with explained findings.\n" + EXIT_HELP,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
rules_app = typer.Typer(help="Inspect and validate rule packs.", no_args_is_help=True)
_app.add_typer(rules_app, name="rules")

out = Console(soft_wrap=False, highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)




def load_clearances(path: Path | None) -> Any:
    """The allow-list of ``--clearances FILE``, else of ``$ECSCREEN_CLEARANCES`` (None: no clearances)."""
    return clearances_for(path)


def _version(value: bool) -> None:
    if value:
        out.print(f"ecscreen {__version__}")
        raise typer.Exit(0)


@_app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print results and errors only: no notes, "
                                        "warnings or summary lines on stderr.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours (also when NO_COLOR is set).")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="On an internal error print the traceback "
                                        "(also ECSCREEN_DEBUG=1).")] = False,
) -> None:
    """Offline export-control screening."""
    from ecscreen.cli import options as cliopts

    cliopts.STATE.quiet = quiet
    if no_color or os.environ.get("NO_COLOR"):
        cliopts.STATE.color = False
        os.environ["NO_COLOR"] = "1"  # consoles created from now on
        for console in (out, err):
            console.no_color = True


@_app.command(epilog="Examples: ecscreen check shipment.yaml --explain; "
             "cat shipment.json | ecscreen check - --format json; "
             "ecscreen check orders/*.yaml --as-of 2026-10-01 --rules my-packs/\n" + EXIT_HELP)
def check(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Shipment files (YAML or JSON; one "
                                                "shipment or a list); '-' reads standard input.")],
    format: Annotated[str, typer.Option("--format", "-f", metavar="table|json|sarif|junit",
                                        help="Output format.")] = "table",
    as_of: Annotated[str | None, typer.Option("--as-of", metavar="YYYY-MM-DD",
                                              help="Evaluate rules at this date (overrides shipment dates).")] = None,
    rules: RulesOpt = None,
    rules_only: RulesOnlyOpt = None,
    explain: Annotated[bool, typer.Option("--explain", help="Show every step of procedure chains.")] = False,
    no_lists: Annotated[bool, typer.Option("--no-lists", help="Do not screen parties against restricted-party lists.")] = False,
    clearances: Annotated[Path | None, typer.Option(
        "--clearances", help="Allow-list of cleared (party, list entry) pairs (default: $ECSCREEN_CLEARANCES).")] = None,
    policy: PolicyOpt = "enforced",
    no_record: NoRecordOpt = False,
) -> None:
    """Screen shipment files and explain every finding."""
    # start-up (packs, lists, index, the record store's imports) makes ~10^6 long-lived objects: cyclic GC
    # passes over them free nothing and cost ~50 ms of a one-shipment check; collection resumes after it
    # (also when main() paused it for the argument parsing: _run_app), or, for a few shipments, once they are
    # screened, recorded and printed (_screen_and_print)
    gc_on = gc.isenabled() or _GC_PAUSED[0]
    gc.disable()
    few = False
    try:
        from ecscreen.inputs.files import load_shipments, parse_date_option
        from ecscreen.model import InputError, Shipment
        from ecscreen.outputs import render as _render  # noqa: F401 - imported with the start-up (collector paused)

        if format not in ("table", "json", "sarif", "junit"):
            raise UsageError(f"--format must be table, json, sarif or junit, not {format!r}")
        on = parse_date_option(as_of)
        reg = registry_for(rules, rules_only)
        pol = check_policy(policy)
        shipments: list[tuple[str, Shipment | InputError]] = []
        for f in files:
            if str(f) != "-" and not f.exists():
                raise UsageError("file not found", file=str(f))
        if sum(1 for f in files if str(f) == "-") > 1:
            raise UsageError("'-' (standard input) can be given once")
        from ecscreen.cli.options import open_record_store

        store = open_record_store(no_record, fast=True)
        from ecscreen.cli.decisions import decision_allowlist

        # cleared review decisions of the store become clearances, with the --clearances file's
        allow = decision_allowlist(load_clearances(clearances), store) if not no_lists else None
        sources: list[tuple[str, Any] | None] = []  # (file, raw document) per shipment, in order
        for f in files:
            try:
                found: list[tuple[str, Any]] = []
                loaded = load_shipments(f, found)
                shipments += loaded
                sources += found + [None] * (len(loaded) - len(found))
            except InputFileError as exc:
                shipments.append((str(f), InputError(file=exc.file, line=exc.line, field=exc.field, message=exc.message)))
                sources.append(None)
        ctx = context_for(reg, use_lists=not no_lists, allowlist=allow, policy=pol, as_of=on,
                          load_index=any(isinstance(sh, Shipment) and sh.parties for _, sh in shipments))
        few = len(shipments) <= GC_PAUSED_SHIPMENTS
    finally:
        gc.freeze()
        _GC_PAUSED[0] = False
        if gc_on and not few:
            gc.enable()
    try:
        _screen_and_print(shipments, sources, ctx, store, files=files, format=format, explain=explain, on=on,
                          rules=rules, rules_only=rules_only, no_lists=no_lists, clearances=clearances, policy=policy)
    finally:
        if gc_on and not gc.isenabled():
            # what the screening made lives until the process ends: moved out of the collector's generations
            # (as the start-up's objects were), so resuming collection does not start with a pass over it all
            gc.freeze()
            gc.enable()


def _screen_and_print(shipments: list[tuple[str, Any]], sources: list[tuple[str, Any] | None], ctx: Any,
                      store: Any, *, files: list[Path], format: str, explain: bool, on: Any, rules: list[Path] | None,
                      rules_only: list[Path] | None, no_lists: bool, clearances: Path | None, policy: str) -> None:
    """``check`` after its start-up: screen, report the errors, record, print; raises typer.Exit with the code."""
    from ecscreen.engine.context import screen_report
    from ecscreen.inputs.files import locate
    from ecscreen.outputs.render import clean, print_table

    report = screen_report(shipments, ctx)
    report.options = {"files": [str(f) for f in files], "as_of": on.isoformat() if on else None,
                      "rules": [str(r) for r in rules or []], "rules_only": [str(r) for r in rules_only or []],
                      "no_lists": no_lists, "clearances": str(clearances) if clearances else None,
                      "policy": policy}
    for r, src in zip(report.results, sources, strict=True):
        if src is not None:
            r.errors = [locate(e, *src) for e in r.errors]
            r.source = f"{src[0]}:{getattr(src[1], 'line', None) or 1}"  # file:line, whatever the id
        for e in r.errors:
            loc = ":".join(str(x) for x in (e.file or r.source, e.line) if x)
            err.print(clean(f"error: {loc}: {e.field + ': ' if e.field else ''}{e.message}"), markup=False)
    recording = None
    if store is not None:
        recording = _CheckRecording(store, ctx.engine, report, shipments, sources, clearances)
        recording.start(background=_renders_apart(format))
    try:
        text = _rendered(report, format, explain)
        if recording is not None:
            recording.committed()  # the output is written only once every shipment is recorded
        if text is None:
            print_table(report, out, explain=explain)
        else:
            _write_out(text, format)
    finally:
        if recording is not None:
            recording.join()
    raise typer.Exit(report.exit_code)


def _renders_apart(format: str) -> bool:
    """Whether the output can be rendered to text while the recording runs (then written after it): always
    for json, sarif and junit; for the table when rich renders it as text (not on a legacy Windows console)."""
    return format != "table" or not (out.legacy_windows or out.is_jupyter)


def _rendered(report: Any, format: str, explain: bool) -> str | None:
    """The output of ``check`` as text, rendered, not written (None: print the table directly)."""
    if format == "json":
        from ecscreen.outputs.render import to_json

        return to_json(report) + "\n"
    if format == "sarif":
        from ecscreen.outputs.check_formats import check_to_sarif

        return json.dumps(check_to_sarif(report), indent=2, ensure_ascii=False) + "\n"
    if format == "junit":
        from ecscreen.outputs.check_formats import check_to_junit

        return check_to_junit(report)
    if not _renders_apart(format):
        return None
    from ecscreen.outputs.render import print_table

    with out.capture() as captured:  # the very text out.print writes (same width, colours and options)
        print_table(report, out, explain=explain)
    return captured.get()


def _write_out(text: str, format: str) -> None:
    if format == "table":
        out.file.write(text)
        out.file.flush()
    else:
        sys.stdout.write(text)


class _CheckRecording:
    """Records every screened shipment of a ``check`` run, and the output is written only after that.

    With the stdlib SQLite writer (the check path's store, :mod:`ecscreen.records.rawsqlite`) the recording
    runs in a thread while the output is rendered: its commit, and the checkpoint on closing the connection,
    wait ~25-40 ms on the disk (fdatasync; the GIL is released meanwhile), which the rendering fills. The
    records are committed before :meth:`committed` returns, so nothing is printed for a shipment that was not
    recorded, and a failure is the same usage error as before. Any other store records in the caller's
    thread, as before (:meth:`start` with ``background=False`` does the whole recording at once)."""

    def __init__(self, store: Any, engine: Any, report: Any, shipments: list[Any], sources: list[Any],
                 clearances: Path | None) -> None:
        self.store = store
        self._args = (engine, report, shipments, sources, clearances)
        self._ids: list[int] = []
        self._failure: BaseException | None = None
        self._done_writing: Any = None
        self._thread: Any = None

    def start(self, *, background: bool) -> None:
        from ecscreen.records.rawsqlite import SqliteRecordWriter

        if not (background and isinstance(self.store, SqliteRecordWriter)):
            try:
                self._record()
            except BaseException as exc:  # noqa: BLE001 - raised by _finish (a recording failure: exit 2)
                self._failure = exc
            finally:
                self.store.close()
            self._finish()
            return
        import threading

        self._done_writing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ecscreen-check-recorder", daemon=False)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._record()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread (committed())
            self._failure = exc
        finally:
            self._done_writing.set()
            with contextlib.suppress(Exception):
                self.store.close()

    def _record(self) -> None:
        from ecscreen.cli.options import now
        from ecscreen.records.recorder import record_report, run_manifest

        engine, report, shipments, sources, clearances = self._args
        at = now()
        manifest = run_manifest(self.store, engine, command="check", options=report.options, at=at,
                                files=[("clearances", clearances)] if clearances else [])
        self._ids = record_report(self.store, report, [s for _, s in shipments], command="check",
                                  manifest=manifest, at=at, raws=[src[1] if src is not None else None for src in sources])

    def _finish(self) -> None:
        """In the caller's thread: a failure raised, else the note naming the records printed."""
        from ecscreen.cli.options import note_recorded, recording_failed

        exc = self._failure
        if isinstance(exc, Exception):
            raise recording_failed(self.store, exc) from exc
        if exc is not None:
            raise exc
        note_recorded(self._ids, self.store)

    def committed(self) -> None:
        """Wait until the records are committed (the connection may still be closing); raise a failure."""
        if self._thread is None:
            return
        while not self._done_writing.wait(0.05):  # a timed wait: Ctrl-C still interrupts it
            pass
        self._finish()

    def join(self) -> None:
        """Wait for the connection to close (before the command returns)."""
        if self._thread is not None:
            self._thread.join()


@rules_app.command("list", epilog="Example: ecscreen rules list --format json --rules my-packs/")
def rules_list(
    rules: RulesOpt = None,
    rules_only: RulesOnlyOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """List packs: rule count, date range and source documents."""
    from rich.table import Table

    from ecscreen.outputs.render import safe_text

    reg = registry_for(rules, rules_only)
    rows: list[dict[str, Any]] = []
    for lp in reg.packs:
        m = lp.model
        rl = getattr(m, "rules", None) or []
        starts = [r.effective_from for r in rl]
        ends = [r.effective_to for r in rl]
        seeds = sorted({s for r in rl for s in r.seeds} | set(m.pack.seeds))
        rows.append({
            "id": lp.info.id, "version": lp.info.version, "kind": getattr(m, "kind", "rules"),
            "jurisdiction": lp.info.jurisdiction, "rules": len(rl),
            "from": min(starts).isoformat() if starts else None,
            "to": (max(e for e in ends if e).isoformat() if any(ends) and all(ends) else "open") if rl else None,
            "seeds": seeds, "sha256": lp.info.sha256, "title": lp.info.title,
        })
    if format == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    t = Table(title="rule packs")
    for col in ("pack", "version", "kind", "jurisdiction", "rules", "in force", "seeds"):
        # ids are never cut: long ones wrap inside their cell
        t.add_column(col, overflow="fold", no_wrap=False, min_width=len(col))
    for r in rows:
        span = f"{r['from']} → {r['to']}" if r["from"] else "-"
        t.add_row(*(safe_text(x) for x in (r["id"], r["version"], r["kind"], r["jurisdiction"], r["rules"], span,
                                            ", ".join(map(str, r["seeds"] or [])))))
    out.print(t)


@rules_app.command("validate", epilog="Example: ecscreen rules validate my-packs/ --format json")
def rules_validate(
    path: Annotated[list[Path], typer.Argument(metavar="PATH...", help="Pack file(s) or directory.")],
    format: Annotated[str, typer.Option("--format", "-f", metavar="table|json", help="Output format.")] = "table",
) -> None:
    """Validate rule packs; exit 4 naming file, line and field on the first error."""
    if format not in ("table", "json"):
        raise UsageError(f"--format must be table or json, not {format!r}")
    from ecscreen.packs.registry import load_registry

    reg = load_registry(list(path) if path else None)
    n = sum(p.info.rules for p in reg.packs)
    if format == "json":
        sys.stdout.write(json.dumps({"ok": True, "packs": [p.info.model_dump(mode="json") for p in reg.packs],
                                     "rules": n, "notes": reg.notes}, indent=2) + "\n")
        return
    out.print(f"ok: {len(reg.packs)} pack(s), {n} rule(s)")


SCHEMAS: dict[str, str] = {
    "shipment": "ecscreen.model:Shipment",
    "report": "ecscreen.model:Report",
    "pack": "ecscreen.packs.registry:RulesPack",
    "country-groups": "ecscreen.packs.registry:CountryGroupsPack",
}


def _schema_models() -> dict[str, Any]:
    import importlib

    extra = {
        "catalog": "ecscreen.runners.gate:Catalog",
        "waivers": "ecscreen.runners.gate:WaiverFile",
        "order-row": "ecscreen.runners.batch:OrderRow",
        "party-list": "ecscreen.parties.store:OwnList",
        "party-lists-pack": "ecscreen.parties.screening:PartyListsPack",
        "jurisdiction-pack": "ecscreen.engine.jurisdiction:JurisdictionPack",
    }
    found: dict[str, Any] = {}
    for name, ref in {**SCHEMAS, **extra}.items():
        mod, _, attr = ref.partition(":")
        try:
            found[name] = getattr(importlib.import_module(mod), attr)
        except (ModuleNotFoundError, AttributeError):
            continue
    return found


@_app.command()
def schema(
    name: Annotated[str | None, typer.Argument(help="Which schema (omit to list).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write every schema into this directory.")] = None,
) -> None:
    """Print the JSON Schema of an input/output format, or write them all with --out."""
    models = _schema_models()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for n, m in sorted(models.items()):
            (out_dir / f"{n}.schema.json").write_text(json.dumps(m.model_json_schema(by_alias=True), indent=2) + "\n")
        out.print(f"wrote {len(models)} schemas to {out_dir}")
        return
    if name is None:
        out.print("schemas: " + ", ".join(sorted(models)))
        return
    if name not in models:
        raise UsageError(f"unknown schema {name!r} (known: {', '.join(sorted(models))})")
    sys.stdout.write(json.dumps(models[name].model_json_schema(by_alias=True), indent=2) + "\n")


def _mount_subcommands() -> None:
    """Mount the sub-commands defined in their own modules (typer and the standard library only: the
    screening modules are imported when a command runs)."""

    for mod, attr, kind, name in (
        ("ecscreen.cli.lists", "app", "typer", "lists"),
        ("ecscreen.cli.explain", "explain", "command", "explain"),
        ("ecscreen.cli.batch", "batch_command", "command", "batch"),
        ("ecscreen.cli.gate", "gate_command", "command", "gate"),
        ("ecscreen.cli.records", "history_command", "command", "history"),
        ("ecscreen.cli.records", "show_command", "command", "show"),
        ("ecscreen.cli.records", "app", "typer", "records"),
        ("ecscreen.cli.review", "app", "typer", "review"),
        ("ecscreen.cli.replay", "replay_command", "command", "replay"),
        ("ecscreen.cli.rescreen", "rescreen_command", "command", "rescreen"),
        ("ecscreen.cli.serve", "serve_command", "command", "serve"),
    ):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                continue
            raise
        obj = getattr(m, attr, None)
        if obj is None:
            continue
        if kind == "typer":
            _app.add_typer(obj, name=name)
        else:
            _app.command(name=name, epilog=EXIT_HELP)(obj)


_MOUNTED: list[bool] = []


def full_app() -> typer.Typer:
    """The app with every command (the sub-command modules are mounted on first use)."""
    if not _MOUNTED:
        _MOUNTED.append(True)
        _mount_subcommands()
    return _app


def __getattr__(name: str) -> Any:
    if name == "app":  # ``from ecscreen.cli.main import app``: the whole app
        return full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_LIGHT_COMMANDS = ("check",)


def _app_for(args: list[str]) -> typer.Typer:
    """The app to run ``args`` with: for ``check`` (no help or completion asked for), the app with its
    callback (the global options) and that one command, so the other commands' modules are not imported
    and their parameters not built (~35 ms of a one-shipment check); else the whole app."""
    if any(a in ("-h", "--help") or a.startswith(("--install-completion", "--show-completion")) for a in args):
        return full_app()
    if any(k.startswith("_") and "_COMPLETE" in k for k in os.environ):  # shell completion (_ECSCREEN_COMPLETE)
        return full_app()
    cmd = next((a for a in args if not a.startswith("-")), None)  # the global options are all flags
    if cmd not in _LIGHT_COMMANDS:
        return full_app()
    light = copy.copy(_app)
    light.registered_commands = [c for c in _app.registered_commands
                                 if (c.name or (c.callback.__name__ if c.callback else None)) == cmd]
    light.registered_groups = []
    return light


_GC_PAUSED = [False]  # main() paused the cyclic GC for a light command's argument parsing (check resumes it)
# a check of up to this many shipments screens them with the cyclic GC still paused (resumed when it is done): the
# collector's ~25 passes over what one screening makes freed nothing and cost ~6 ms CPU of a one-shipment check.
# A larger input is screened with collection on, as garbage cycles could add up over many shipments.
GC_PAUSED_SHIPMENTS = 100
_LIGHT_RUN = [False]  # the last main() ran a light command (check): run() may end the process at once


def _run_app(app: typer.Typer, args: list[str]) -> Any:
    """Run ``app``; for a light command (``check``) with the cyclic GC paused until the command's own
    start-up is done: typer's parsing imports pydantic's validation modules (~10^5 long-lived objects), and
    GC passes over them freed nothing and cost ~7 ms CPU. ``check`` resumes collection after its start-up;
    if the command never got there (a usage error), it is resumed here."""
    _LIGHT_RUN[0] = app is not _app
    if app is not _app and gc.isenabled():
        gc.disable()
        _GC_PAUSED[0] = True
    try:
        return app(args=args, standalone_mode=False)
    finally:
        if _GC_PAUSED[0]:
            _GC_PAUSED[0] = False
            gc.enable()


def _debug_wanted(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("ECSCREEN_DEBUG", "") not in ("", "0")


def _internal_error(exc: BaseException, debug: bool) -> int:
    """One line on stderr (the traceback with --debug) and exit 70: an unexpected exception never
    turns into 0 (clear) or 1 (flagged)."""
    if debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    from ecscreen.domain.textsafe import clean

    what = f"{type(exc).__name__}: {exc}".replace("\n", " ").strip()
    if len(what) > 300:
        what = what[:297] + "..."
    err.print(clean(f"internal error (exit {EXIT_INTERNAL}, nothing was decided): {what}")
              + ("" if debug else " (run with --debug for the traceback)"), markup=False, soft_wrap=True)
    return EXIT_INTERNAL


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, mapping every error to one message and a documented exit code.

    0 clear, 1 flagged, 2 usage, 3 invalid input, 4 invalid pack, 70 internal error, 130/143
    interrupted. ``--debug`` may appear anywhere on the command line."""
    try:
        from typer._click.exceptions import ClickException
    except ImportError:  # typer versions that use click itself
        from click.exceptions import ClickException  # type: ignore[no-redef,assignment]
    from typer import Abort, Exit

    from ecscreen.domain.textsafe import clean

    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_wanted(args)
    args = [a for a in args if a != "--debug"]
    try:
        rv = _run_app(_app_for(args), args)
    except EcscreenError as exc:
        err.print(clean(f"error: {exc.render()}"), markup=False, soft_wrap=True)
        return exc.exit_code
    except Interrupted as exc:
        err.print(clean(exc.message), markup=False, soft_wrap=True)
        return exc.exit_code
    except Exit as exc:
        return exc.exit_code
    except ClickException as exc:
        exc.show()
        return exc.exit_code if exc.exit_code not in (0, 1) else EXIT_USAGE
    except Abort as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, KeyboardInterrupt):
            err.print("interrupted", markup=False)
            return EXIT_SIGINT
        return _internal_error(cause if cause is not None else exc, debug)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        return EXIT_SIGINT
    except SystemExit as exc:
        ctx = exc.__context__
        if isinstance(ctx, BrokenPipeError) or (isinstance(ctx, OSError) and ctx.errno == errno.EPIPE):
            return EXIT_PIPE  # typer exits 1 ("flagged") on a closed output pipe
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)
    except BrokenPipeError:
        return EXIT_PIPE
    except Exception as exc:
        return _internal_error(exc, debug)
    return rv if isinstance(rv, int) else 0


def run() -> None:
    """The program (``ecscreen`` and ``python -m ecscreen.cli``): :func:`main` with the process's arguments,
    then exit with its code.

    After a ``check`` the process ends without the interpreter's teardown (``os._exit``): freeing the ~10^6
    objects of the packs, lists and index one by one cost ~22 ms CPU per run and nothing needs it. ``check``
    has by then closed the record store, joined its recorder thread and closed every file it wrote; what a
    normal exit does first still happens: the ``atexit`` callbacks run (logging's flush, a caller's) and stdout
    and stderr are flushed. The normal exit is kept when another thread is still running (it waits for it) or
    a flush fails (a closed pipe: the interpreter reports it as before)."""
    rc = main()
    if _LIGHT_RUN[0]:
        _exit_now(rc)
    sys.exit(rc)


def _exit_now(rc: int) -> None:
    """End the process with ``rc`` without the interpreter's teardown, when nothing needs it (else return)."""
    import atexit
    import threading

    run_callbacks = getattr(atexit, "_run_exitfuncs", None)  # CPython: what the interpreter's exit runs first
    if run_callbacks is None or threading.active_count() != 1:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    run_callbacks()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(rc)


if __name__ == "__main__":
    run()
