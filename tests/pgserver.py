"""A throwaway PostgreSQL server for the tests (the record store's PostgreSQL back end).

``start()`` finds ``initdb``/``pg_ctl`` (on PATH or under /usr/lib/postgresql/*/bin), creates a cluster in a
temporary directory, starts it on a free loopback port (as the ``postgres`` user when running as root,
since PostgreSQL refuses to run as root) and returns a :class:`PgServer`; ``None`` with the reason when
the binaries are missing or the server cannot start. ``.ci/run`` installs Debian's ``postgresql`` package
when ``initdb`` is missing, so in CI these tests run.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PgServer:
    base: Path
    port: int
    user: str | None  # the OS user the server runs as (None: the current user)
    ctl: str

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            _run(self.user, [self.ctl, "-D", str(self.base / "data"), "-m", "immediate", "-w", "stop"], timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for cand in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return cand
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(user: str | None, cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    if user is not None:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def start() -> tuple[PgServer | None, str]:
    initdb, ctl = _bin("initdb"), _bin("pg_ctl")
    if not initdb or not ctl:
        return None, "PostgreSQL server binaries (initdb, pg_ctl) not found; .ci/run installs them"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "the psycopg driver is not installed"
    user: str | None = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None, "running as root and there is no 'postgres' user to run the server as"
        if not shutil.which("runuser"):
            return None, "running as root and runuser is missing"
        user = "postgres"
    base = Path(tempfile.mkdtemp(prefix="ecscreen-pg-"))
    base.chmod(0o755)
    if user is not None:
        pw = pwd.getpwnam(user)
        os.chown(base, pw.pw_uid, pw.pw_gid)
    data = base / "data"
    r = _run(user, [initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8",
                    "--locale=C"])
    if r.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        return None, f"initdb failed: {(r.stderr or r.stdout).strip()[-300:]}"
    for _ in range(3):
        port = _free_port()
        opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -F -c max_connections=50"
        r = _run(user, [ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "-t", "60", "start"])
        if r.returncode == 0:
            return PgServer(base=base, port=port, user=user, ctl=ctl), ""
    log = (base / "log").read_text(errors="replace")[-300:] if (base / "log").exists() else ""
    shutil.rmtree(base, ignore_errors=True)
    return None, f"the PostgreSQL server did not start: {(r.stderr or r.stdout).strip()[-200:]} {log}"
