"""Exotel account settings from the environment, checked once at start-up.

Two sets of credentials, for two directions: the API key and token authorise our REST calls to
Exotel (Basic auth), and the webhook user and password are what the operator writes into the
Voicebot applet's URL and what we put in every URL we hand Exotel (stream, status callback), so
that Exotel proves itself with them (Basic auth again: Exotel signs nothing, carriers.md §6.2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bridge.settings import ConfigError, Env, env_choice, env_str, env_url

DEFAULT_API_URL = "https://api.exotel.com"
SAMPLE_RATES = ("8000", "16000", "24000")  # what the Voicebot applet streams (carriers.md §6.2)
MIN_PASSWORD_CHARS = 16  # Basic auth is the only proof a webhook or stream comes from Exotel
# An ExoPhone as Exotel writes it (national "08047112345") or in E.164.
_NUMBER = re.compile(r"\+?[0-9]{6,15}")
_SID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Userinfo that survives being pasted into a URL by the operator and sent back by Exotel: no
# ':' (it separates user from password), '@', '/' or whitespace; anything else is
# percent-encoded where the bridge builds URLs.
_USERINFO = re.compile(r"[^:@/\s]+")


@dataclass(frozen=True, slots=True)
class ExotelSettings:
    account_sid: str  # the account (subdomain) SID: in every REST path
    api_key: str
    api_token: str = field(repr=False)  # REST Basic auth password
    caller_id: str  # the ExoPhone outbound calls come from
    app_id: str  # the flow (Voicebot, then Hangup) a dialled party is connected to
    webhook_user: str
    webhook_password: str = field(repr=False)  # proves Exotel on webhooks and media upgrades
    api_url: str = DEFAULT_API_URL
    sample_rate: int = 8000

    @classmethod
    def from_env(cls, env: Env) -> ExotelSettings:
        account_sid = env_str(env, "EXOTEL_ACCOUNT_SID")
        if not _SID.fullmatch(account_sid):
            raise ConfigError(
                f"EXOTEL_ACCOUNT_SID={account_sid!r} is not an account SID (letters, digits, "
                "'-' and '_', as the Exotel dashboard's API settings show it)"
            )
        caller_id = env_str(env, "EXOTEL_CALLER_ID")
        if not _NUMBER.fullmatch(caller_id):
            raise ConfigError(
                f"EXOTEL_CALLER_ID={caller_id!r} is not a phone number; set it to one of the "
                "account's ExoPhones, e.g. 08047112345 or +918047112345"
            )
        app_id = env_str(env, "EXOTEL_APP_ID")
        if not app_id.isdigit():
            raise ConfigError(
                f"EXOTEL_APP_ID={app_id!r} is not a flow id; it is the number at the end of "
                "the flow's URL in the App Bazaar (the flow with the Voicebot applet)"
            )
        user = env_str(env, "EXOTEL_WEBHOOK_USER")
        if not _USERINFO.fullmatch(user):
            raise ConfigError(
                "EXOTEL_WEBHOOK_USER must not contain ':', '@', '/' or spaces (it goes into "
                "URLs as https://<user>:<password>@host/...)"
            )
        password = env_str(env, "EXOTEL_WEBHOOK_PASSWORD")
        if len(password) < MIN_PASSWORD_CHARS or not _USERINFO.fullmatch(password):
            raise ConfigError(
                f"EXOTEL_WEBHOOK_PASSWORD must be at least {MIN_PASSWORD_CHARS} characters "
                "without ':', '@', '/' or spaces (it alone proves a webhook or media stream "
                "comes from Exotel); e.g. `openssl rand -hex 16`"
            )
        return cls(
            account_sid=account_sid,
            api_key=env_str(env, "EXOTEL_API_KEY"),
            api_token=env_str(env, "EXOTEL_API_TOKEN"),
            caller_id=caller_id,
            app_id=app_id,
            webhook_user=user,
            webhook_password=password,
            api_url=env_url(env, "EXOTEL_API_URL", DEFAULT_API_URL, ("https", "http")),
            sample_rate=int(env_choice(env, "EXOTEL_SAMPLE_RATE", "8000", SAMPLE_RATES)),
        )
