"""What a running service needs to know, read by the CLI layer and handed to :func:`create_app`.

Nothing here reads the environment by itself except :meth:`ServiceConfig.from_env`, which worker
processes (``--workers N``) use to receive the configuration their parent serialised.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from dataclasses import dataclass, field

from ecscreen.errors import UsageError

CONFIG_ENV = "ECSCREEN_SERVE_CONFIG"  # the serialised config, for worker processes (internal)
TOKEN_ENV = "ECSCREEN_API_TOKEN"
DATABASE_ENV = "ECSCREEN_DATABASE_URL"
MIN_TOKEN_CHARS = 16
DEFAULT_MAX_BODY = 1024 * 1024  # 1 MiB
DEFAULT_TIMEOUT = 30.0  # seconds per request
DEFAULT_GROUP_WAIT = 0.0006  # seconds (--group-wait-ms 0.6)
MAX_GROUP_WAIT = 0.05  # seconds: a wait adds to the latency of every request of the group


@dataclass
class ServiceConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = field(default=None, repr=False)
    max_body: int = DEFAULT_MAX_BODY
    timeout: float = DEFAULT_TIMEOUT
    rules: list[str] = field(default_factory=list)
    rules_only: list[str] = field(default_factory=list)
    no_lists: bool = False
    clearances: str | None = None
    policy: str = "enforced"
    reload_interval: float = 2.0  # seconds between checks of the list store (0: never reload)
    workers: int = 1  # processes
    record: bool = True  # record every screening in the record store
    database_url: str | None = field(default=None, repr=False)  # None: SQLite in ``home``
    home: str | None = None  # $ECSCREEN_HOME (records.db lives there)
    balance_file: str | None = None  # --workers N: the workers' shared connection counts (service.balance)
    # seconds a group of one-shipment requests may wait for keep-alive connections expected back at once
    # (service.app._LoopGroup; 0: never waits)
    group_wait: float = DEFAULT_GROUP_WAIT

    def check(self) -> None:
        """Refuse a configuration that would be unsafe or cannot work (a usage error, exit 2)."""
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port must be 0-65535, not {self.port}", field="--port")
        if self.max_body < 1024:
            raise UsageError("--max-body must be at least 1024 bytes", field="--max-body")
        if self.timeout <= 0:
            raise UsageError("--timeout must be positive (seconds)", field="--timeout")
        if not 0 <= self.group_wait <= MAX_GROUP_WAIT:
            raise UsageError(f"--group-wait-ms must be 0-{MAX_GROUP_WAIT * 1000:g} (milliseconds)",
                             field="--group-wait-ms")
        if self.workers < 1:
            raise UsageError("--workers must be at least 1", field="--workers")
        if self.rules and self.rules_only:
            raise UsageError("give --rules (added to the shipped packs) or --rules-only, not both")
        if self.token is not None and len(self.token) < MIN_TOKEN_CHARS:
            raise UsageError(f"{TOKEN_ENV} is too short: use at least {MIN_TOKEN_CHARS} random characters "
                             "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        if not is_loopback(self.host) and not self.token:
            raise UsageError(f"binding {self.host!r} exposes the service beyond this machine: set "
                             f"{TOKEN_ENV} (every request then needs 'Authorization: Bearer <token>'), "
                             "or bind 127.0.0.1", field="--host")

    def to_env(self) -> str:
        """The config as JSON for worker processes (the token and the database URL, which may hold a password,
        travel in their own variables)."""
        return json.dumps({k: v for k, v in dataclasses.asdict(self).items() if k not in ("token", "database_url")})

    @classmethod
    def from_env(cls) -> ServiceConfig:
        raw = os.environ.get(CONFIG_ENV)
        if not raw:
            raise UsageError(f"{CONFIG_ENV} is not set (worker processes are started by 'ecscreen serve')")
        cfg = cls(**json.loads(raw))
        cfg.token = os.environ.get(TOKEN_ENV) or None
        cfg.database_url = os.environ.get(DATABASE_ENV) or None
        return cfg


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, 'localhost')."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
