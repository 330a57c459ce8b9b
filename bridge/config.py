"""All settings, from the environment, validated together at start-up.

Each section (bridge, Kallglot, Twilio, records) reports its first mistake, all sections at
once, each naming its setting: a broken deployment is fixed in few rounds, not one per setting.
Kallglot and Twilio may be left unconfigured for local use: `serve` then starts the simulators
beside the bridge and says so loudly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bridge.calls.settings import BridgeSettings
from bridge.carriers import registry as carriers
from bridge.kallglot.config import KallglotSettings
from bridge.settings import ConfigError, Env, env_bool, env_choice
from bridge.store.config import StoreSettings

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Config:
    bridge: BridgeSettings
    kallglot: KallglotSettings
    # Each carrier with an account configured, by name (bridge/carriers/registry.py); empty
    # only for local use, where `serve` adds a simulated one.
    carriers: Mapping[str, Any] = field(default_factory=dict)
    log_level: str = "info"
    log_json: bool | None = None
    store: StoreSettings = field(default_factory=StoreSettings)  # call records

    @classmethod
    def from_env(cls, env: Env) -> Config:
        errors: list[str] = []

        def read(reader: Callable[[Env], T]) -> T | None:
            try:
                return reader(env)
            except ConfigError as exc:
                errors.append(str(exc))
                return None

        bridge = read(BridgeSettings.from_env)
        store = read(StoreSettings.from_env)
        kallglot = read(KallglotSettings.from_env)
        configured = carriers.settings_from_env(env, errors)
        if bridge is not None and configured:
            for name in sorted(bridge.routes.carriers() - set(configured)):
                errors.append(
                    f"BRIDGE_ROUTES: agent_carrier {name!r} is not configured (configured: "
                    f"{', '.join(sorted(configured))})"
                )
        level = read(
            lambda e: env_choice(
                e, "BRIDGE_LOG_LEVEL", "info", ("debug", "info", "warning", "error")
            )
        )
        json_logs = (
            read(lambda e: env_bool(e, "BRIDGE_LOG_JSON", True))
            if env.get("BRIDGE_LOG_JSON")
            else None
        )
        if errors or bridge is None or kallglot is None or level is None or store is None:
            raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(errors))
        return cls(
            bridge=bridge,
            kallglot=kallglot,
            carriers=configured,
            log_level=level,
            log_json=json_logs,
            store=store,
        )
