"""The command line (typer): the one layer that reads the environment, prints and picks exit codes.

The program is :func:`ecscreen.cli.main.run` (``ecscreen = "ecscreen.cli.main:run"``; ``python -m ecscreen.cli``
runs it too): :func:`ecscreen.cli.main.main` with the process's arguments, which callers may also call with
their own (it returns the exit code).
"""

import os as _os

# ecscreen does no linear algebra. numpy's OpenBLAS starts one thread per core when numpy is imported, and
# that start-up costs ~60 ms CPU per run on this 2-core machine (benchmarks/bench_latency.py) for nothing.
# One thread for the command line; a value the user has set is kept. The Python API leaves the caller's
# process as it is.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# pydantic looks for plugins (``importlib.metadata`` entry points) when it builds its first validator: the
# import of importlib.metadata (with the email, zipfile and csv modules it pulls in) and the scan of every
# installed distribution cost ~14 ms CPU of a one-shipment check, and ecscreen uses no pydantic plugin. The
# command line runs with them off (pydantic's own switch, PYDANTIC_DISABLE_PLUGINS), and, when that switch is
# ours, pydantic's plugin loader is not imported at all: a stand-in that finds no plugins (what pydantic's
# loader returns when the switch is on). A PYDANTIC_DISABLE_PLUGINS the user has set is kept, loader and all.
if "PYDANTIC_DISABLE_PLUGINS" not in _os.environ:
    import sys as _sys
    import types as _types

    _os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
    if "pydantic.plugin._loader" not in _sys.modules:
        _loader = _types.ModuleType("pydantic.plugin._loader", "ecscreen CLI: pydantic plugins off, no lookup")
        _loader.get_plugins = lambda: ()  # type: ignore[attr-defined]
        _sys.modules["pydantic.plugin._loader"] = _loader

# Importing the command line's dependencies (typer, rich) makes ~10^5 objects that live as long as the process.
# Cyclic GC passes over them while they are being made free nothing, and the first pass after them walks them
# all (~10 ms CPU of every command, ``--help`` included): they are imported with the collector paused and then
# moved out of its generations (gc.freeze, as ``check`` does after its start-up; they are still freed by
# reference counting), and the collector's state is restored.
import gc as _gc

_gc_was_on = _gc.isenabled()
_gc.disable()
try:
    import rich.console  # noqa: F401, E402
    import typer  # noqa: F401, E402
finally:
    _gc.freeze()
    if _gc_was_on:
        _gc.enable()
