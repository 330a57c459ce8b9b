"""Exotel: the Voicebot applet's two-way media stream (16-bit PCM), Basic auth on everything
Exotel sends us, and `Calls/connect` over REST (../shared/carriers.md §6.2). `PACKAGE` is its
carrier-interface entry (bridge/carriers/registry.py)."""

from typing import Any

from bridge.carriers.exotel.carrier import NAME, ExotelCarrier
from bridge.carriers.exotel.config import ExotelSettings

SETTINGS = (
    "EXOTEL_ACCOUNT_SID",
    "EXOTEL_API_KEY",
    "EXOTEL_API_TOKEN",
    "EXOTEL_API_URL",
    "EXOTEL_CALLER_ID",
    "EXOTEL_APP_ID",
    "EXOTEL_WEBHOOK_USER",
    "EXOTEL_WEBHOOK_PASSWORD",
    "EXOTEL_SAMPLE_RATE",
)


class ExotelPackage:
    name = NAME

    def settings_from_env(self, env: Any) -> ExotelSettings | None:
        if not any(env.get(name, "").strip() for name in SETTINGS):
            return None
        return ExotelSettings.from_env(env)

    def build(self, settings: Any) -> ExotelCarrier:
        return ExotelCarrier(settings)


PACKAGE = ExotelPackage()

__all__ = ["NAME", "PACKAGE", "ExotelCarrier", "ExotelSettings"]
