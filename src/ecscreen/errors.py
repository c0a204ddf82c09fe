"""Errors and the one place that maps them to exit codes.

Exit codes (documented in the README and ``ecscreen --help``):

* 0 — every shipment screened and clear
* 1 — something flagged (review, license_required or prohibited)
* 2 — usage error (bad option, missing file)
* 3 — invalid input (a shipment, order row or catalog entry could not be screened)
* 4 — invalid rule pack (a pack failed to load; the run stops)
* 70 — internal error: an unexpected exception (a bug); nothing was decided. One line on stderr,
  the traceback with ``--debug``. Never 0 or 1, so a crash cannot read as "clear" or "flagged".
* 141 — the output pipe was closed by its reader (e.g. ``| head``): the output is incomplete.
* 130 — interrupted by SIGINT (Ctrl-C); 143 — terminated by SIGTERM. ``batch --out`` removes its
  partial file and says how many rows had been written.
"""

from __future__ import annotations

EXIT_CLEAR = 0
EXIT_FLAGGED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_PACK = 4
EXIT_INTERNAL = 70  # EX_SOFTWARE (sysexits.h)
EXIT_SIGINT = 130  # 128 + SIGINT
EXIT_SIGTERM = 143  # 128 + SIGTERM
EXIT_PIPE = 141  # 128 + SIGPIPE: the reader of our output went away (e.g. `| head`); the output is incomplete
EXIT_CODES = (EXIT_CLEAR, EXIT_FLAGGED, EXIT_USAGE, EXIT_INPUT, EXIT_PACK, EXIT_INTERNAL, EXIT_SIGINT, EXIT_SIGTERM,
              EXIT_PIPE)


class EcscreenError(Exception):
    """A user-facing error: one clear message naming file, line and field."""

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        exit_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        if exit_code is not None:
            self.exit_code = exit_code

    def render(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line:
                where += f":{self.line}"
            where += ": "
        fld = f"{self.field}: " if self.field else ""
        return f"{where}{fld}{self.message}"

    def __str__(self) -> str:
        return self.render()


class UsageError(EcscreenError):
    exit_code = EXIT_USAGE


class InputFileError(EcscreenError):
    """Input (shipment, orders, catalog) that cannot be screened."""

    exit_code = EXIT_INPUT


class PackError(EcscreenError):
    """A rule pack that fails to load: the run stops."""

    exit_code = EXIT_PACK


class Interrupted(BaseException):
    """Raised by a signal handler (SIGINT/SIGTERM) so that outputs are cleaned up on the way out.

    A ``BaseException`` so that ``except Exception`` blocks do not swallow it."""

    def __init__(self, signum: int, message: str = "interrupted") -> None:
        super().__init__(message)
        import signal

        self.signum = signum
        self.message = message
        self.exit_code = EXIT_SIGTERM if signum == signal.SIGTERM else EXIT_SIGINT
