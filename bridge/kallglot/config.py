"""Kallglot settings, read once from the environment and validated at start-up.

Every knob that shapes failure behaviour (retry budget, reconnect budget, buffering) is a setting,
because the right values differ between a benchmark on loopback and a call over the internet, and
because tests need millisecond budgets where production wants seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from bridge.settings import (
    ConfigError,
    env_choice,
    env_float,
    env_int,
    env_optional,
    env_url,
)

DEFAULT_API_URL = "https://api.kallglot.com/v1"


class ProtocolVersion(StrEnum):
    """Which generation of the stream protocol to speak (see kallglot-api.md §4)."""

    CURRENT = "current"
    LEGACY = "legacy"


@dataclass(frozen=True, slots=True)
class KallglotSettings:
    api_url: str = DEFAULT_API_URL
    # None means "no real Kallglot configured": the bridge then starts the simulator.
    api_key: str | None = None
    stream_protocol: ProtocolVersion = ProtocolVersion.CURRENT
    # Kallglot recommends 100-200 ms chunks; 20 ms carrier frames would be 50 messages/s per leg.
    chunk_ms: int = 100
    # REST: per-attempt timeout, and the bound on all attempts of one logical request.
    http_timeout_s: float = 10.0
    retry_total_s: float = 30.0
    retry_max_attempts: int = 8
    retry_base_delay_s: float = 0.25
    retry_max_delay_s: float = 8.0
    # Stream.
    connect_timeout_s: float = 10.0
    ping_interval_s: float = 15.0
    # No message at all within this long after a ping means the server is stalled.
    pong_timeout_s: float = 10.0
    end_timeout_s: float = 2.0
    reconnect_first_delay_s: float = 0.1
    reconnect_max_delay_s: float = 2.0
    reconnect_max_attempts: int = 10
    reconnect_total_s: float = 30.0
    # Input audio held per speaker while reconnecting; older audio is dropped (and counted).
    reconnect_buffer_s: float = 10.0
    # Webhooks.
    webhook_secret: str | None = None
    webhook_tolerance_s: float = 300.0

    def __post_init__(self) -> None:
        if not 20 <= self.chunk_ms <= 1000 or self.chunk_ms % 20:
            raise ConfigError(
                f"KALLGLOT_CHUNK_MS={self.chunk_ms} is invalid; use a multiple of 20 in 20..1000 "
                "(carrier frames are 20 ms)"
            )

    def __repr__(self) -> str:
        # The key and the webhook secret must never reach a log line, even via repr().
        shown = "set" if self.api_key else "unset"
        return (
            f"KallglotSettings(api_url={self.api_url!r}, api_key=<{shown}>, "
            f"stream_protocol={self.stream_protocol.value!r}, chunk_ms={self.chunk_ms})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KallglotSettings:
        return cls(
            api_url=env_url(env, "KALLGLOT_API_URL", DEFAULT_API_URL, ("https", "http")),
            api_key=env_optional(env, "KALLGLOT_API_KEY"),
            stream_protocol=ProtocolVersion(
                env_choice(
                    env,
                    "KALLGLOT_STREAM_PROTOCOL",
                    "current",
                    tuple(v.value for v in ProtocolVersion),
                )
            ),
            chunk_ms=env_int(env, "KALLGLOT_CHUNK_MS", 100, low=20, high=1000),
            http_timeout_s=env_float(env, "KALLGLOT_HTTP_TIMEOUT_S", 10.0, low=0.1, high=120),
            retry_total_s=env_float(env, "KALLGLOT_RETRY_TOTAL_S", 30.0, low=0, high=600),
            retry_max_attempts=env_int(env, "KALLGLOT_RETRY_MAX_ATTEMPTS", 8, low=1, high=50),
            connect_timeout_s=env_float(env, "KALLGLOT_CONNECT_TIMEOUT_S", 10.0, low=0.1, high=120),
            ping_interval_s=env_float(env, "KALLGLOT_PING_INTERVAL_S", 15.0, low=0.05, high=300),
            pong_timeout_s=env_float(env, "KALLGLOT_PONG_TIMEOUT_S", 10.0, low=0.05, high=300),
            end_timeout_s=env_float(env, "KALLGLOT_END_TIMEOUT_S", 2.0, low=0, high=60),
            reconnect_max_attempts=env_int(
                env, "KALLGLOT_RECONNECT_MAX_ATTEMPTS", 10, low=0, high=1000
            ),
            reconnect_total_s=env_float(env, "KALLGLOT_RECONNECT_TOTAL_S", 30.0, low=0, high=3600),
            reconnect_buffer_s=env_float(env, "KALLGLOT_RECONNECT_BUFFER_S", 10.0, low=0, high=300),
            webhook_secret=env_optional(env, "KALLGLOT_WEBHOOK_SECRET"),
            webhook_tolerance_s=env_float(
                env, "KALLGLOT_WEBHOOK_TOLERANCE_S", 300.0, low=1, high=86400
            ),
        )
