"""The bridge's own settings (the Kallglot and carrier layers declare theirs)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from bridge.calls.routes import Routes
from bridge.settings import (
    ConfigError,
    Env,
    env_float,
    env_int,
    env_optional,
    env_str,
    env_url,
)

MIN_API_TOKEN_CHARS = 32
DEFAULT_BUSY_MESSAGE = "We cannot take your call right now. Please call again in a few minutes."


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    public_url: str  # how carriers reach us (scheme://host[:port]); signatures are checked on it
    secret: bytes = field(repr=False)  # signs call tickets; every instance must share it
    secret_is_ephemeral: bool = False
    api_token: str | None = field(default=None, repr=False)  # bearer token for /v1/calls
    routes: Routes = field(default_factory=Routes)
    host: str = "127.0.0.1"
    port: int = 8080
    ticket_ttl_s: int = 120
    ring_timeout_s: int = 30
    start_timeout_s: float = 10.0  # upgrade to `start` on a media socket
    playout_lead_ms: int = 200
    playout_prebuffer_ms: int = 80
    playout_max_queue_ms: int = 20_000
    max_calls: int = 500
    drain_timeout_s: float = 3600.0
    busy_message: str = DEFAULT_BUSY_MESSAGE
    fallback_number: str | None = None
    # Connection hygiene for `serve` when it faces the internet directly (bridge/web/listener.py).
    http_header_timeout_s: float = 10.0  # a new connection's first request head must arrive
    http_keepalive_timeout_s: float = 75.0  # an idle kept-alive connection is closed after this
    http_max_pending_per_ip: int = 256  # connections from one address still without a request
    http_max_pending: int = 2048  # the same, from all addresses together

    @classmethod
    def from_env(cls, env: Env) -> BridgeSettings:
        port = env_int(env, "BRIDGE_PORT", 8080, low=1, high=65535)
        raw_secret = env_optional(env, "BRIDGE_SECRET")
        if raw_secret is not None and len(raw_secret) < 32:
            raise ConfigError(
                "BRIDGE_SECRET must be at least 32 characters (try: openssl rand -hex 32)"
            )
        api_token = env_optional(env, "BRIDGE_API_TOKEN")
        if api_token is not None and len(api_token) < MIN_API_TOKEN_CHARS:
            # A bearer token is the API's only lock (it dials phones on the account's bill):
            # one short enough to guess or brute-force is refused, not merely warned about.
            raise ConfigError(
                f"BRIDGE_API_TOKEN is {len(api_token)} characters; it must be at least "
                f"{MIN_API_TOKEN_CHARS} (try: openssl rand -hex 32), or unset to turn the "
                "calls API off"
            )
        routes_path = env_optional(env, "BRIDGE_ROUTES")
        return cls(
            public_url=env_url(
                env, "BRIDGE_PUBLIC_URL", f"http://127.0.0.1:{port}", ("http", "https")
            ),
            secret=(raw_secret or secrets.token_hex(32)).encode(),
            secret_is_ephemeral=raw_secret is None,
            api_token=api_token,
            routes=_load_routes(routes_path) if routes_path else Routes(),
            host=env_str(env, "BRIDGE_HOST", "127.0.0.1"),
            port=port,
            ticket_ttl_s=env_int(env, "BRIDGE_TICKET_TTL_S", 120, low=10, high=3600),
            ring_timeout_s=env_int(env, "BRIDGE_RING_TIMEOUT_S", 30, low=5, high=600),
            start_timeout_s=env_float(env, "BRIDGE_START_TIMEOUT_S", 10.0, low=0.5, high=120),
            playout_lead_ms=env_int(env, "BRIDGE_PLAYOUT_LEAD_MS", 200, low=0, high=5000),
            playout_prebuffer_ms=env_int(env, "BRIDGE_PLAYOUT_PREBUFFER_MS", 80, low=0, high=2000),
            playout_max_queue_ms=env_int(
                env, "BRIDGE_PLAYOUT_MAX_QUEUE_MS", 20_000, low=1000, high=600_000
            ),
            max_calls=env_int(env, "BRIDGE_MAX_CALLS", 500, low=1, high=100_000),
            drain_timeout_s=env_float(env, "BRIDGE_DRAIN_TIMEOUT", 3600.0, low=0, high=86_400),
            busy_message=env_str(env, "BRIDGE_BUSY_MESSAGE", DEFAULT_BUSY_MESSAGE),
            fallback_number=env_optional(env, "BRIDGE_FALLBACK_NUMBER"),
            http_header_timeout_s=env_float(
                env, "BRIDGE_HTTP_HEADER_TIMEOUT_S", 10.0, low=0.1, high=600
            ),
            http_keepalive_timeout_s=env_float(
                env, "BRIDGE_HTTP_KEEPALIVE_TIMEOUT_S", 75.0, low=0.1, high=3600
            ),
            http_max_pending_per_ip=env_int(
                env, "BRIDGE_HTTP_MAX_PENDING_PER_IP", 256, low=1, high=1_000_000
            ),
            http_max_pending=env_int(env, "BRIDGE_HTTP_MAX_PENDING", 2048, low=1, high=1_000_000),
        )


def _load_routes(path: str) -> Routes:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"BRIDGE_ROUTES={path!r} cannot be read: {exc.strerror}") from None
    return Routes.from_toml(text, source=path)
