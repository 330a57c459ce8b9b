"""Telnyx account settings from the environment, checked once at start-up."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bridge.settings import ConfigError, Env, env_choice, env_float, env_str, env_url

DEFAULT_API_URL = "https://api.telnyx.com/v2"
CODECS = ("PCMU", "PCMA")  # G.711 mu-law / A-law: what the bridge asks Telnyx to stream
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


@dataclass(frozen=True, slots=True)
class TelnyxSettings:
    api_key: str = field(repr=False)  # authorises REST calls and keys the streams' auth tokens
    public_key: str  # the account's Ed25519 key that signs webhooks (public, but long)
    connection_id: str  # the Call Control application: its webhook URL is /telnyx/voice
    caller_id: str
    api_url: str = DEFAULT_API_URL
    codec: str = "PCMU"
    webhook_tolerance_s: float = 300.0

    @classmethod
    def from_env(cls, env: Env) -> TelnyxSettings:
        caller_id = env_str(env, "TELNYX_CALLER_ID")
        if not _E164.fullmatch(caller_id):
            raise ConfigError(
                f"TELNYX_CALLER_ID={caller_id!r} is not an E.164 number like +15550100001"
            )
        return cls(
            api_key=env_str(env, "TELNYX_API_KEY"),
            public_key=env_str(env, "TELNYX_PUBLIC_KEY"),
            connection_id=env_str(env, "TELNYX_CONNECTION_ID"),
            caller_id=caller_id,
            api_url=env_url(env, "TELNYX_API_URL", DEFAULT_API_URL, ("https", "http")),
            codec=env_choice(env, "TELNYX_CODEC", "PCMU", CODECS),
            webhook_tolerance_s=env_float(
                env, "TELNYX_WEBHOOK_TOLERANCE_S", 300.0, low=1, high=3600
            ),
        )
