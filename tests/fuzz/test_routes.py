"""The routing file: any text is a valid `Routes` or one ConfigError naming what is wrong.

`Routes.from_toml` runs at start-up on an operator's file; a mistake must stop the bridge with a
message, never a traceback. The fuzzer writes TOML from damaged route tables (wrong types,
unknown keys, bad numbers, menus with odd keys), then sometimes damages the text itself.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.calls.model import Mode
from bridge.calls.routes import (
    DEFAULT_APOLOGY,
    E164,
    LANGUAGE,
    SAY_LANGUAGE,
    SIP_URI,
    LanguageMenu,
    Route,
    Routes,
)
from bridge.settings import ConfigError
from tests.fuzz.conftest import FUZZ, ROUNDTRIP
from tests.fuzz.genome import Genome, damage, mutate
from tests.fuzz.strategies import ENCODABLE, genomes, outcome

FILE: dict[str, Any] = {
    "routes": {
        "+15550100001": {
            "menu": {"prompt": "Für Deutsch drücken Sie 1.", "1": "de", "2": "fr"},
            "agent": "+15550100002",
            "customer_language": "de",
            "agent_language": "en",
            "greeting": "Willkommen.",
            "say_language": "de-DE",
            "mode": "assistive_translation",
        },
        "+15550100021": {"customer_language": "de"},
    },
    "defaults": {"mode": "bidirectional_translation", "apology": "Sorry."},
}
VOCABULARY: list[Any] = [
    "+15550100001",
    "+1555",
    "15550100001",
    "+0555010000",
    "sip:agent@pbx",
    "sips:a@b",
    "sip:@pbx",
    "de",
    "DE",
    "deu",
    "de-DE",
    "de_DE",
    "bidirectional_translation",
    "assistive_translation",
    "ai_agent",
    "   ",
    {"prompt": "Press 1", "1": "de"},
    {"prompt": "Press 1"},
    {"1": "de"},
    {"prompt": "p", "10": "de"},
    {"prompt": "p", "": "de"},
]
RAW = [
    "",
    "[routes]",
    "[defaults]\n[defaults]",
    '[routes."+15550100001"]\nagent = "+15550100002"\nagent = "+15550100003"',
    "a = " + "[" * 100_000,
    "a = " + "{b = " * 5_000,
    "[" * 5_000,
    "routes = 1",
    "x = 1979-05-27T07:32:00Z",
    '[routes."+15550100001"]\nmode = 1979-05-27',
    '[routes."+15550100001".menu]\nprompt = "p"\n"*" = "de"\n"#" = "fr"',
    "\x00",
    '"\\ud800" = 1',
]


def _string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's; DEL must be escaped too). A lone
    surrogate stays raw, which TOML forbids: a parse error, as it should be."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        items = (f"{_string(str(k))} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{" + ", ".join(items) + "}"
    return '""'  # None has no TOML spelling; an empty string is the nearest mistake


def toml(document: Any) -> str:
    """Sections for [defaults], [routes."+1..."] and their [...menu]; inline values below."""
    if not isinstance(document, dict):
        return f"value = {_value(document)}"
    lines: list[str] = []
    sections: list[tuple[str, dict[str, Any]]] = []
    for key, value in document.items():
        name = _string(str(key))
        if isinstance(value, dict) and key == "routes":
            for number, route in value.items():
                header = f"{name}.{_string(str(number))}"
                if isinstance(route, dict):
                    sections.append((header, route))
                else:
                    lines.append(f"{name}.{_string(str(number))} = {_value(route)}")
        elif isinstance(value, dict):
            sections.append((name, value))
        elif value is not None:
            lines.append(f"{name} = {_value(value)}")
    for header, table in sections:
        menu = table.get("menu")
        flat = {k: v for k, v in table.items() if not (k == "menu" and isinstance(menu, dict))}
        lines.append(f"[{header}]")
        lines.extend(f"{_string(str(k))} = {_value(v)}" for k, v in flat.items() if v is not None)
        if isinstance(menu, dict):
            lines.append(f"[{header}.menu]")
            lines.extend(
                f"{_string(str(k))} = {_value(v)}" for k, v in menu.items() if v is not None
            )
    return "\n".join(lines) + "\n"


def routes_file(g: Genome) -> str:
    kind = g.below(8)
    if kind == 7:
        return g.pick(RAW)
    text = toml(mutate(g, FILE, VOCABULARY, ["menu", "mode", "agent", "voice", "defaults"]))
    return damage(g, text) if kind == 6 else text


@FUZZ
@given(genomes)
def test_any_routes_file_loads_or_is_one_config_error(genome: bytes) -> None:
    text = routes_file(Genome(genome))
    routes = outcome(ConfigError, Routes.from_toml, text, "routes.toml", sent=text)
    if isinstance(routes, ConfigError):
        assert str(routes).startswith("routes.toml"), routes  # names the file
        return
    for number, route in routes.by_number.items():
        assert route.number == number
        assert E164.match(number)
        assert route.agent is None or E164.match(route.agent) or SIP_URI.match(route.agent)
        for language in (route.customer_language, route.agent_language):
            assert language is None or LANGUAGE.match(language)
        assert route.say_language is None or SAY_LANGUAGE.match(route.say_language)
        assert isinstance(route.mode, Mode)
        assert route.apology.strip()
        if route.menu is not None:
            assert route.menu.prompt.strip()
            assert route.menu.choices
            assert all(len(k) == 1 and k in "0123456789*#" for k in route.menu.choices)


numbers = st.builds("+{}{}".format, st.integers(1, 9), st.integers(10**5, 10**14 - 1))
languages = st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=3)
spoken = st.text(ENCODABLE, min_size=1, max_size=30).map(str.strip).filter(bool)
# Built once: a strategy constructed inside a composite is re-validated on every draw.
agents = st.none() | numbers | st.just("sip:agent-7@pbx.example.com")
modes = st.sampled_from(Mode)
menus = st.none() | st.builds(
    LanguageMenu,
    prompt=spoken,
    choices=st.dictionaries(st.sampled_from("0123456789*#"), languages, min_size=1),
)
maybe_language = st.none() | languages
maybe_spoken = st.none() | spoken
say_languages = st.none() | st.sampled_from(["de", "de-DE", "fr-FR", "en"])
apologies = st.just(DEFAULT_APOLOGY) | spoken
route_numbers = st.lists(numbers, max_size=3, unique=True)


@st.composite
def valid_routes(draw: st.DrawFn) -> tuple[str, dict[str, Route]]:
    expected: dict[str, Route] = {}
    tables: dict[str, Any] = {}
    for number in draw(route_numbers):
        agent = draw(agents)
        route = Route(
            number=number,
            agent=agent,
            customer_language=draw(maybe_language),
            agent_language=draw(maybe_language),
            mode=draw(modes) if agent else Mode.BIDIRECTIONAL,
            greeting=draw(maybe_spoken),
            say_language=draw(say_languages),
            apology=draw(apologies),
            menu=draw(menus),
        )
        expected[number] = route
        table: dict[str, Any] = {
            k: getattr(route, k)
            for k in ("agent", "customer_language", "agent_language", "greeting", "say_language")
        }
        table["mode"] = route.mode.value
        table["apology"] = route.apology
        if route.menu is not None:
            table["menu"] = {"prompt": route.menu.prompt, **route.menu.choices}
        tables[number] = table
    return toml({"routes": tables}), expected


@ROUNDTRIP
@given(valid_routes())
def test_a_valid_routes_file_loads_to_exactly_its_routes(
    case: tuple[str, dict[str, Route]],
) -> None:
    text, expected = case
    assert dict(Routes.from_toml(text).by_number) == expected


def test_regression_deep_nesting_is_a_config_error() -> None:
    """Found by the fuzzer: tomllib recurses per nesting level, so `a = [[[...` raised
    RecursionError out of Routes.from_toml instead of a ConfigError naming the file."""
    for text in ("a = " + "[" * 100_000, "a = " + "{b = " * 5_000):
        with pytest.raises(ConfigError, match=r"routes\.toml: not valid TOML"):
            Routes.from_toml(text, source="routes.toml")
