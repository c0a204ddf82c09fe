"""The command line (typer): the one layer that reads the environment, prints and picks exit codes.

The entry point is :func:`ecscreen.cli.main.main` (``ecscreen = "ecscreen.cli.main:main"``);
``python -m ecscreen.cli`` runs it too.
"""

import os as _os

# ecscreen does no linear algebra. numpy's OpenBLAS starts one thread per core when numpy is imported, and
# that start-up costs ~60 ms CPU per run on this 2-core machine (benchmarks/bench_latency.py) for nothing.
# One thread for the command line; a value the user has set is kept. The Python API leaves the caller's
# process as it is.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
