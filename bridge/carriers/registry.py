"""The carriers this bridge knows. A new carrier is one package under bridge/carriers/ and one
line here (README, "Layout", has the checklist)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.carriers import browser, exotel, plivo, telnyx, twilio, vonage
from bridge.carriers.interface import Carrier, CarrierPackage
from bridge.settings import ConfigError, Env

PACKAGES: tuple[CarrierPackage, ...] = (
    twilio.PACKAGE,
    telnyx.PACKAGE,
    vonage.PACKAGE,
    plivo.PACKAGE,
    exotel.PACKAGE,
)
BY_NAME = {package.name: package for package in PACKAGES}


def settings_from_env(env: Env, errors: list[str]) -> dict[str, Any]:
    """Each carrier the environment configures an account for, by name, with its settings;
    each one configured wrongly adds its message to `errors`."""
    found: dict[str, Any] = {}
    for package in PACKAGES:
        try:
            settings = package.settings_from_env(env)
        except ConfigError as exc:
            errors.append(str(exc))
            continue
        if settings is not None:
            found[package.name] = settings
    return found


def build(configured: Mapping[str, Any]) -> dict[str, Carrier]:
    """The carriers for `configured` (name -> settings), in registry order, and the console's
    browser leg, which every bridge has (it needs no account)."""
    carriers: dict[str, Carrier] = {
        name: BY_NAME[name].build(settings) for name, settings in configured.items()
    }
    carriers[browser.NAME] = browser.BrowserCarrier()
    return carriers


def phone_carriers(carriers: Mapping[str, Carrier]) -> list[str]:
    """The names of the carriers that send webhooks (all but the console's browser leg)."""
    return [name for name in carriers if name != browser.NAME]
