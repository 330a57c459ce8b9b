"""Twilio account settings from the environment, checked once at start-up."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bridge.settings import ConfigError, Env, env_str, env_url

DEFAULT_API_URL = "https://api.twilio.com"
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


@dataclass(frozen=True, slots=True)
class TwilioSettings:
    account_sid: str
    auth_token: str = field(repr=False)  # signs every webhook: never in a log line or repr
    caller_id: str
    api_url: str = DEFAULT_API_URL

    @classmethod
    def from_env(cls, env: Env) -> TwilioSettings:
        account_sid = env_str(env, "TWILIO_ACCOUNT_SID")
        if not _ACCOUNT_SID.fullmatch(account_sid):
            raise ConfigError(
                f"TWILIO_ACCOUNT_SID={account_sid!r} is not an account SID ('AC' + 32 hex digits)"
            )
        caller_id = env_str(env, "TWILIO_CALLER_ID")
        if not _E164.fullmatch(caller_id):
            raise ConfigError(
                f"TWILIO_CALLER_ID={caller_id!r} is not an E.164 number like +15550100001"
            )
        return cls(
            account_sid=account_sid,
            auth_token=env_str(env, "TWILIO_AUTH_TOKEN"),
            caller_id=caller_id,
            api_url=env_url(env, "TWILIO_API_URL", DEFAULT_API_URL, ("https", "http")),
        )
