"""TwiML builders: parsed back with xml.etree and with the simulator's own TwiML parser."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bridge.carriers.twilio.twiml import (
    Speech,
    connect_stream_twiml,
    language_menu_twiml,
    say_hangup_twiml,
)
from bridge.sim.twiml_parse import Connect, Gather, Hangup, Redirect, Say, Stream, parse_twiml


def test_connect_stream_with_greeting_and_parameters() -> None:
    twiml = connect_stream_twiml(
        "wss://bridge.example.com/twilio/media/c1",
        {"ticket": "a&b<c>\"d'", "role": "customer"},
        greeting=Speech("Willkommen & hallo", "de-DE", "Polly.Vicki"),
        status_callback="https://bridge.example.com/twilio/stream-status",
    )
    root = ET.fromstring(twiml)
    assert [child.tag for child in root] == ["Say", "Connect", "Hangup"]
    say = root[0]
    assert (say.text, say.get("language"), say.get("voice")) == (
        "Willkommen & hallo",
        "de-DE",
        "Polly.Vicki",
    )
    stream = root.find("Connect/Stream")
    assert stream is not None
    assert stream.get("url") == "wss://bridge.example.com/twilio/media/c1"
    assert stream.get("statusCallback") == "https://bridge.example.com/twilio/stream-status"
    assert [(p.get("name"), p.get("value")) for p in stream] == [
        ("ticket", "a&b<c>\"d'"),
        ("role", "customer"),
    ]
    assert parse_twiml(twiml) == (
        Say("Willkommen & hallo", "de-DE", "Polly.Vicki"),
        Connect(
            Stream(
                "wss://bridge.example.com/twilio/media/c1",
                (("ticket", "a&b<c>\"d'"), ("role", "customer")),
                None,
                "https://bridge.example.com/twilio/stream-status",
            )
        ),
        Hangup(),
    )


def test_connect_stream_without_greeting() -> None:
    verbs = parse_twiml(connect_stream_twiml("wss://b.example/m"))
    assert verbs == (Connect(Stream("wss://b.example/m")), Hangup())


def test_say_then_hang_up() -> None:
    twiml = say_hangup_twiml(
        Speech("Es tut uns leid.", "de-DE"), Speech("Please call again.", "en-US")
    )
    assert parse_twiml(twiml) == (
        Say("Es tut uns leid.", "de-DE"),
        Say("Please call again.", "en-US"),
        Hangup(),
    )


def test_language_menu_with_fallback_speech() -> None:
    twiml = language_menu_twiml(
        [Speech("Für Deutsch, drücken Sie 1.", "de-DE"), Speech("For English, press 2.", "en-US")],
        "https://b.example/twilio/menu?call=c1&x=2",
        timeout_s=4,
        no_input=[Speech("Goodbye.", "en-US")],
    )
    gather = ET.fromstring(twiml).find("Gather")
    assert gather is not None
    assert gather.attrib == {
        "action": "https://b.example/twilio/menu?call=c1&x=2",
        "method": "POST",
        "numDigits": "1",
        "timeout": "4",
    }
    assert parse_twiml(twiml) == (
        Gather(
            action="https://b.example/twilio/menu?call=c1&x=2",
            method="POST",
            num_digits=1,
            timeout_s=4.0,
            prompts=(
                Say("Für Deutsch, drücken Sie 1.", "de-DE"),
                Say("For English, press 2.", "en-US"),
            ),
        ),
        Say("Goodbye.", "en-US"),
        Hangup(),
    )


def test_language_menu_with_fallback_redirect() -> None:
    verbs = parse_twiml(
        language_menu_twiml(
            [Speech("Press 1")], "https://b.example/menu", no_input_url="https://b.example/menu"
        )
    )
    assert verbs[1:] == (Redirect("https://b.example/menu", "POST"),)
