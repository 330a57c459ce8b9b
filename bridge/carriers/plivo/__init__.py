"""Plivo: bidirectional audio streams, Plivo XML, V3-signed webhooks and the Voice API over
REST (../shared/carriers.md §6.1). `PACKAGE` is its carrier-interface entry
(bridge/carriers/registry.py)."""

from typing import Any

from bridge.carriers.plivo.carrier import PlivoCarrier
from bridge.carriers.plivo.config import SETTINGS, PlivoSettings
from bridge.carriers.plivo.control import NAME


class PlivoPackage:
    name = NAME

    def settings_from_env(self, env: Any) -> PlivoSettings | None:
        if not any(env.get(name) for name in SETTINGS):
            return None
        return PlivoSettings.from_env(env)

    def build(self, settings: Any) -> PlivoCarrier:
        return PlivoCarrier(settings)


PACKAGE = PlivoPackage()

__all__ = ["NAME", "PACKAGE", "PlivoCarrier", "PlivoSettings"]
