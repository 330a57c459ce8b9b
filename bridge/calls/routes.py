"""Per-number routing for inbound calls, from a TOML file (`BRIDGE_ROUTES`).

    [defaults]
    mode = "bidirectional_translation"
    apology = "Sorry, nobody can take your call right now. Please call again later."

    [routes."+15550100001"]           # the number customers dial
    agent = "+15550100002"            # E.164, a SIP URI, or "browser:<agent id>" (the agent's
                                      # console rings; README, "Agent console"); omit for a
                                      # one-leg call
    customer_language = "de"          # Kallglot source_language; omit to auto-detect
    agent_language = "en"             # Kallglot target_language
    greeting = "Willkommen. Einen Moment bitte."
    say_language = "de-DE"            # the carrier's voice for greeting, menu and apology
    agent_carrier = "telnyx"          # dial the agent on this carrier (default: the caller's)
    barge_in = "clear"                # a listener talking over the translation: "off" (the
                                      # default: it plays on), "clear" (dropped), "duck" (quieter)
    original_under_translation_db = -18   # each listener also hears the other party's own voice,
                                      # at this level under the translation (off by default)
    duck_hold_ms = 300                # the original stays down this long after a translation
    duck_release_ms = 400             # ... then comes back up over this long

    [routes."+15550100001".menu]      # optional keypad language menu
    prompt = "Für Deutsch drücken Sie 1. Pour le français, appuyez sur 2."
    1 = "de"
    2 = "fr"

The file is read and validated once at start-up; a mistake stops the bridge with a message
naming the route and the key, rather than surfacing as a dead line on the first call.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.audio.mixer import Ducking
from bridge.calls.barge_in import BargeIn
from bridge.calls.model import Mode
from bridge.settings import ConfigError

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
SIP_URI = re.compile(r"^sips?:[^@\s]+@[^@\s]+$")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
SAY_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
CARRIER_NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")  # a console's agent (and its links)
BROWSER = "browser"  # the console's leg (bridge/carriers/browser), which every bridge has
DEFAULT_APOLOGY = "Sorry, nobody can take your call right now. Please call again later."


@dataclass(frozen=True, slots=True)
class LanguageMenu:
    prompt: str
    choices: Mapping[str, str]  # keypad digit -> customer language


@dataclass(frozen=True, slots=True)
class Route:
    number: str
    agent: str | None = None
    customer_language: str | None = None
    agent_language: str | None = None
    mode: Mode = Mode.BIDIRECTIONAL
    greeting: str | None = None
    say_language: str | None = None
    apology: str = DEFAULT_APOLOGY
    menu: LanguageMenu | None = None
    agent_carrier: str | None = None  # None: the carrier the customer called in on
    barge_in: BargeIn = BargeIn.OFF
    original_under_translation_db: float | None = None  # None: the translation replaces it
    duck_hold_ms: int = 300
    duck_release_ms: int = 400

    @property
    def ducking(self) -> Ducking | None:
        """How the other party's own voice sits under the translation (None: it does not)."""
        if self.original_under_translation_db is None:
            return None
        return Ducking(self.original_under_translation_db, self.duck_hold_ms, self.duck_release_ms)


@dataclass(frozen=True, slots=True)
class Routes:
    by_number: Mapping[str, Route] = field(default_factory=dict)

    def lookup(self, number: str) -> Route | None:
        return self.by_number.get(number.strip())

    def carriers(self) -> set[str]:
        """The phone carriers routes name for their agents (the console needs no account)."""
        named = {r.agent_carrier for r in self.by_number.values() if r.agent_carrier is not None}
        return named - {BROWSER}

    @classmethod
    def from_toml(cls, text: str, source: str = "BRIDGE_ROUTES") -> Routes:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
        except RecursionError:  # tomllib recurses per level of nested arrays and inline tables
            raise ConfigError(f"{source}: not valid TOML: values nested too deeply") from None
        unknown = set(data) - {"defaults", "routes"}
        if unknown:
            raise ConfigError(
                f'{source}: unknown sections {sorted(unknown)}; use [defaults] and [routes."+E164"]'
            )
        defaults = _table(data.get("defaults", {}), f"{source} [defaults]")
        routes = {}
        for number, table in _table(data.get("routes", {}), f"{source} [routes]").items():
            where = f'{source} [routes."{number}"]'
            routes[number] = _route(number, {**defaults, **_table(table, where)}, where)
        return cls(routes)


_ROUTE_KEYS = {f for f in Route.__dataclass_fields__ if f != "number"}


def console_agent(agent: str) -> str | None:
    """The console agent id in `browser:<id>`, or None for a number or SIP URI."""
    prefix, _, agent_id = agent.partition(":")
    return agent_id if prefix == BROWSER and AGENT_ID.match(agent_id) else None


def is_agent(agent: str) -> bool:
    """Whether `agent` can be dialled: E.164, a SIP URI or a console (`browser:<agent id>`)."""
    return bool(E164.match(agent) or SIP_URI.match(agent)) or console_agent(agent) is not None


def _route(number: str, values: dict[str, Any], where: str) -> Route:
    if not E164.match(number):
        raise ConfigError(f"{where}: {number!r} is not an E.164 number like +15550100001")
    unknown = set(values) - _ROUTE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_ROUTE_KEYS)}")
    agent = _text(values, "agent", where)
    if agent is not None and not is_agent(agent):
        raise ConfigError(
            f"{where}: agent {agent!r} is neither E.164 (+15550100002), a SIP URI nor "
            '"browser:<agent id>"'
        )
    try:
        mode = Mode(values.get("mode", Mode.BIDIRECTIONAL))
    except ValueError:
        raise ConfigError(f"{where}: mode must be one of {[m.value for m in Mode]}") from None
    if mode is Mode.ASSISTIVE and agent is None:
        raise ConfigError(f"{where}: assistive translation needs an agent to hear the customer")
    agent_carrier = _text(values, "agent_carrier", where)
    if agent_carrier is not None and not CARRIER_NAME.match(agent_carrier):
        raise ConfigError(f"{where}: agent_carrier {agent_carrier!r} is not a carrier name")
    if agent is not None and console_agent(agent) is not None:
        if agent_carrier not in (None, BROWSER):
            raise ConfigError(f"{where}: a browser agent is not dialled on {agent_carrier!r}")
        agent_carrier = BROWSER
    try:
        barge_in = BargeIn(values.get("barge_in", BargeIn.OFF))
    except ValueError:
        raise ConfigError(
            f"{where}: barge_in must be one of {[b.value for b in BargeIn]}"
        ) from None
    ducking = _ducking(values, where)
    return Route(
        number=number,
        agent=agent,
        customer_language=_language(values, "customer_language", where, LANGUAGE),
        agent_language=_language(values, "agent_language", where, LANGUAGE),
        mode=mode,
        greeting=_text(values, "greeting", where),
        say_language=_language(values, "say_language", where, SAY_LANGUAGE),
        apology=_text(values, "apology", where) or DEFAULT_APOLOGY,
        menu=_menu(values.get("menu"), f"{where}.menu"),
        agent_carrier=agent_carrier,
        barge_in=barge_in,
        original_under_translation_db=ducking.db if ducking else None,
        duck_hold_ms=ducking.hold_ms if ducking else 300,
        duck_release_ms=ducking.release_ms if ducking else 400,
    )


def _ducking(values: Mapping[str, Any], where: str) -> Ducking | None:
    db = values.get("original_under_translation_db")
    hold = values.get("duck_hold_ms", 300)
    release = values.get("duck_release_ms", 400)
    for key, value in (("duck_hold_ms", hold), ("duck_release_ms", release)):
        if type(value) is not int:
            raise ConfigError(f"{where}: {key} must be a whole number of milliseconds")
    if db is None:
        return None
    if type(db) not in (int, float):
        raise ConfigError(f"{where}: original_under_translation_db must be a number of dB like -18")
    try:
        return Ducking(float(db), hold, release)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _menu(raw: object, where: str) -> LanguageMenu | None:
    if raw is None:
        return None
    table = dict(_table(raw, where))
    prompt = _text(table, "prompt", where)
    if not prompt:
        raise ConfigError(f"{where}: a menu needs a 'prompt' to read to the caller")
    table.pop("prompt")
    choices = {}
    for digit, language in table.items():
        if digit not in "0123456789*#" or len(digit) != 1:
            raise ConfigError(f"{where}: {digit!r} is not a keypad key (0-9, * or #)")
        if not isinstance(language, str) or not LANGUAGE.match(language):
            raise ConfigError(f"{where}: key {digit} must map to a language code like 'de'")
        choices[digit] = language
    if not choices:
        raise ConfigError(f"{where}: a menu needs at least one digit = language entry")
    return LanguageMenu(prompt=prompt, choices=choices)


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table")
    return value


def _text(values: Mapping[str, Any], key: str, where: str) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _language(
    values: Mapping[str, Any], key: str, where: str, pattern: re.Pattern[str]
) -> str | None:
    value = _text(values, key, where)
    if value is not None and not pattern.match(value):
        raise ConfigError(
            f"{where}: {key}={value!r} is not a language code like 'de' (or 'de-DE' for say_language)"
        )
    return value
