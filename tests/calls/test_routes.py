from __future__ import annotations

import pytest

from bridge.calls.barge_in import BargeIn
from bridge.calls.model import Mode
from bridge.calls.routes import DEFAULT_APOLOGY, Routes
from bridge.settings import ConfigError

EXAMPLE = """
[defaults]
mode = "bidirectional_translation"
say_language = "en-US"

[routes."+15550100001"]
agent = "+15550100002"
customer_language = "de"
agent_language = "en"
greeting = "Willkommen."
say_language = "de-DE"
apology = "Leider ist niemand erreichbar."

[routes."+15550100001".menu]
prompt = "Deutsch 1, Francais 2."
1 = "de"
2 = "fr"

[routes."+15550100009"]
customer_language = "es"
"""


def test_the_documented_example_parses_with_defaults_applied() -> None:
    routes = Routes.from_toml(EXAMPLE)
    full = routes.lookup("+15550100001")
    assert full is not None
    assert full.agent == "+15550100002"
    assert full.mode is Mode.BIDIRECTIONAL
    assert full.say_language == "de-DE"
    assert full.menu is not None
    assert dict(full.menu.choices) == {"1": "de", "2": "fr"}
    single = routes.lookup("+15550100009")
    assert single is not None
    assert single.agent is None
    assert single.say_language == "en-US"
    assert single.apology == DEFAULT_APOLOGY
    assert routes.lookup("+15550199999") is None
    assert full.barge_in is BargeIn.OFF  # interpreters finish the sentence unless told
    ducking = Routes.from_toml('[defaults]\nbarge_in = "duck"\n[routes."+15550100001"]')
    assert ducking.by_number["+15550100001"].barge_in is BargeIn.DUCK
    assert full.ducking is None  # the translation replaces the voice unless a route says
    under = Routes.from_toml(
        '[defaults]\noriginal_under_translation_db = -18\nduck_hold_ms = 200\n[routes."+15550100001"]'
    ).by_number["+15550100001"]
    assert under.ducking is not None
    assert (under.ducking.db, under.ducking.hold_ms, under.ducking.release_ms) == (-18, 200, 400)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[routes."5550100001"]', "not an E.164 number"),
        ('[routes."+15550100001"]\nagent = "bob"', "neither E.164"),
        ('[routes."+15550100001"]\nmode = "telepathy"', "mode must be one of"),
        ('[routes."+15550100001"]\nmode = "assistive_translation"', "needs an agent"),
        ('[routes."+15550100001"]\ncustomer_language = "German"', "not a language code"),
        ('[routes."+15550100001"]\ncolour = "blue"', "unknown keys"),
        ('[routes."+15550100001"]\nbarge_in = "shout"', "barge_in must be one of"),
        ('[routes."+15550100001"]\noriginal_under_translation_db = 6', "-60 to 0 dB"),
        ('[routes."+15550100001"]\noriginal_under_translation_db = "-18"', "a number of dB"),
        ('[routes."+15550100001"]\nduck_hold_ms = 0.5', "duck_hold_ms must be a whole"),
        (
            '[routes."+15550100001"]\noriginal_under_translation_db = -18\nduck_release_ms = -1',
            "release_ms is 0 to 10000",
        ),
        ('[routes."+15550100001".menu]\n1 = "de"', "needs a 'prompt'"),
        ('[routes."+15550100001".menu]\nprompt = "x"\n12 = "de"', "not a keypad key"),
        ("[route]", "unknown sections"),
        ("not toml = = =", "not valid TOML"),
    ],
)
def test_mistakes_name_the_route_and_the_key(toml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Routes.from_toml(toml, source="routes.toml")
