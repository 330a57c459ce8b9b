"""Plivo (../shared/carriers.md). `PACKAGE` is its carrier-interface entry
(bridge/carriers/registry.py). Skeleton: configures no account until the package is built."""

from typing import Any

NAME = "plivo"


class PlivoPackage:
    name = NAME

    def settings_from_env(self, env: Any) -> None:
        return None

    def build(self, settings: Any) -> Any:
        raise NotImplementedError("Plivo is not built yet")


PACKAGE = PlivoPackage()

__all__ = ["PACKAGE"]
