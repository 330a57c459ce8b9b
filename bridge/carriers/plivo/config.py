"""Plivo account settings from the environment, checked once at start-up."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bridge.audio.formats import MULAW_8K, PCM16_8K, PCM16_16K, AudioFormat
from bridge.settings import ConfigError, Env, env_str, env_url

DEFAULT_API_URL = "https://api.plivo.com/v1"
DEFAULT_CONTENT_TYPE = "audio/x-mulaw;rate=8000"
# What a bidirectional <Stream> may carry (carriers.md §6.1), as the bridge's audio formats.
# Plivo's L16 is little-endian PCM like Vonage's and Exotel's (pipecat passes it through).
CONTENT_TYPES: dict[str, AudioFormat] = {
    "audio/x-mulaw;rate=8000": MULAW_8K,
    "audio/x-l16;rate=8000": PCM16_8K,
    "audio/x-l16;rate=16000": PCM16_16K,
}
# Plivo's auth ids: "MA" (main account) or "SA" (subaccount) and 18 upper-case alphanumerics.
_AUTH_ID = re.compile(r"[MS]A[A-Z0-9]{18}")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
SETTINGS = (
    "PLIVO_AUTH_ID",
    "PLIVO_AUTH_TOKEN",
    "PLIVO_CALLER_ID",
    "PLIVO_API_URL",
    "PLIVO_CONTENT_TYPE",
)


@dataclass(frozen=True, slots=True)
class PlivoSettings:
    auth_id: str
    auth_token: str = field(repr=False)  # REST password and the key of every V3 signature
    caller_id: str
    api_url: str = DEFAULT_API_URL
    content_type: str = DEFAULT_CONTENT_TYPE

    @property
    def audio_format(self) -> AudioFormat:
        return CONTENT_TYPES[self.content_type]

    @classmethod
    def from_env(cls, env: Env) -> PlivoSettings:
        auth_id = env_str(env, "PLIVO_AUTH_ID")
        if not _AUTH_ID.fullmatch(auth_id):
            raise ConfigError(
                f"PLIVO_AUTH_ID={auth_id!r} is not a Plivo auth id ('MA' or 'SA' and 18 "
                "capital letters or digits): copy it from the Plivo console's overview page"
            )
        caller_id = env_str(env, "PLIVO_CALLER_ID")
        if not _E164.fullmatch(caller_id):
            raise ConfigError(
                f"PLIVO_CALLER_ID={caller_id!r} is not an E.164 number like +15550100001"
            )
        content_type = env.get("PLIVO_CONTENT_TYPE", "").strip().lower().replace(" ", "")
        content_type = content_type or DEFAULT_CONTENT_TYPE
        if content_type not in CONTENT_TYPES:
            raise ConfigError(
                f"PLIVO_CONTENT_TYPE={content_type!r} is not one Plivo streams in both "
                f"directions; use one of {', '.join(CONTENT_TYPES)}"
            )
        return cls(
            auth_id=auth_id,
            auth_token=env_str(env, "PLIVO_AUTH_TOKEN"),
            caller_id=caller_id,
            api_url=env_url(env, "PLIVO_API_URL", DEFAULT_API_URL, ("https", "http")),
            content_type=content_type,
        )
