"""Telnyx: media streaming in bidirectional `rtp` mode, Call Control v2 over REST, webhooks
signed with Ed25519 (../shared/carriers.md §4). `PACKAGE` is its carrier-interface entry
(bridge/carriers/registry.py)."""

from typing import Any

from bridge.carriers.telnyx.carrier import NAME, TelnyxCarrier
from bridge.carriers.telnyx.config import TelnyxSettings

SETTINGS = ("TELNYX_API_KEY", "TELNYX_PUBLIC_KEY", "TELNYX_CONNECTION_ID", "TELNYX_CALLER_ID")


class TelnyxPackage:
    name = NAME

    def settings_from_env(self, env: Any) -> TelnyxSettings | None:
        if not any(env.get(name) for name in SETTINGS):
            return None
        return TelnyxSettings.from_env(env)

    def build(self, settings: Any) -> TelnyxCarrier:
        return TelnyxCarrier(settings)


PACKAGE = TelnyxPackage()

__all__ = ["PACKAGE", "TelnyxCarrier", "TelnyxSettings"]
