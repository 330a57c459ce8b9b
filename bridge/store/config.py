"""Where call records live (BRIDGE_DATABASE_URL) and how this instance signs them.

SQLite is the single-node default and needs nothing installed; every instance of a multi-node
deployment must point at the same PostgreSQL instead, or each would see only its own calls.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bridge.settings import ConfigError, Env, env_float, env_str

DEFAULT_DATABASE_URL = "sqlite:///./kallglot-bridge.db"
POSTGRES_SCHEMES = ("postgresql", "postgres")


def default_instance_id() -> str:
    """The host name (a pod's name on Kubernetes) and, off PID 1, the process id."""
    pid = os.getpid()
    return socket.gethostname() if pid == 1 else f"{socket.gethostname()}-{pid}"


def without_password(url: str) -> str:
    """`url` as the operator wrote it (so they recognise it in the logs), with `***` for a
    password in its user part or in a `password=` query parameter (libpq accepts both)."""
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    name, colon, _ = user.partition(":")
    netloc = f"{name}:***@{host}" if at and colon else parts.netloc
    params = parts.query.split("&") if parts.query else []
    query = "&".join("password=***" if p.startswith("password=") else p for p in params)
    if netloc == parts.netloc and query == parts.query:
        return url  # untouched: urlunsplit would turn sqlite:///./x.db into sqlite:/./x.db
    shown = f"{parts.scheme}://{netloc}{parts.path}"
    return shown + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")


@dataclass(frozen=True, slots=True)
class StoreSettings:
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)  # may hold a password
    instance_id: str = field(default_factory=default_instance_id)
    # An instance silent (no heartbeat) this long is gone; its calls' records are ended.
    orphan_after_s: float = 120.0

    @property
    def is_postgres(self) -> bool:
        return urlsplit(self.database_url).scheme in POSTGRES_SCHEMES

    @property
    def sqlite_path(self) -> str:
        """The file behind a `sqlite:///` URL (`sqlite:////abs/path`, `sqlite:///:memory:`)."""
        return self.database_url.removeprefix("sqlite:///")

    def __repr__(self) -> str:
        shown = without_password(self.database_url)
        return f"StoreSettings(database_url={shown!r}, instance_id={self.instance_id!r})"

    @classmethod
    def from_env(cls, env: Env) -> StoreSettings:
        url = env_str(env, "BRIDGE_DATABASE_URL", DEFAULT_DATABASE_URL)
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            if not url.startswith("sqlite:///") or url == "sqlite:///":
                raise ConfigError(
                    f"BRIDGE_DATABASE_URL={url!r}: a SQLite URL names a file, like "
                    "sqlite:///./kallglot-bridge.db or sqlite:////var/lib/bridge/calls.db"
                )
        elif parts.scheme in POSTGRES_SCHEMES:
            if not parts.hostname and "host=" not in parts.query:
                raise ConfigError(
                    "BRIDGE_DATABASE_URL: a PostgreSQL URL needs a host, like "
                    "postgresql://bridge:secret@db:5432/bridge"
                )
        else:
            raise ConfigError(
                f"BRIDGE_DATABASE_URL must start with sqlite:/// or postgresql:// "
                f"(got scheme {parts.scheme!r})"
            )
        return cls(
            database_url=url,
            instance_id=env_str(env, "BRIDGE_INSTANCE_ID", default_instance_id()),
            orphan_after_s=env_float(env, "BRIDGE_ORPHAN_AFTER_S", 120.0, low=0.2, high=86_400.0),
        )
