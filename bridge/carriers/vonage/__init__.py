"""Vonage: Voice API WebSockets (binary L16 audio), NCCO answers, signed-webhook JWTs and call
control over REST with an application JWT (../shared/carriers.md §5). `PACKAGE` is its
carrier-interface entry (bridge/carriers/registry.py)."""

from typing import Any

from bridge.carriers.vonage.carrier import NAME, VonageCarrier
from bridge.carriers.vonage.config import VonageSettings

SETTINGS = (
    "VONAGE_APPLICATION_ID",
    "VONAGE_PRIVATE_KEY",
    "VONAGE_SIGNATURE_SECRET",
    "VONAGE_CALLER_ID",
)


class VonagePackage:
    name = NAME

    def settings_from_env(self, env: Any) -> VonageSettings | None:
        if not any(env.get(name) for name in SETTINGS):
            return None
        return VonageSettings.from_env(env)

    def build(self, settings: Any) -> VonageCarrier:
        return VonageCarrier(settings)


PACKAGE = VonagePackage()

__all__ = ["NAME", "PACKAGE", "VonageCarrier", "VonageSettings"]
