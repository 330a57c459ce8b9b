"""The Plivo XML the bridge answers with, read back by the simulator's parser (Plivo's view)."""

from __future__ import annotations

from bridge.carriers.interface import Speech
from bridge.carriers.plivo import documents
from bridge.sim.plivo_xml import (
    Dial,
    GetDigits,
    Hangup,
    Redirect,
    Refused,
    Speak,
    Stream,
    parse_plivo_xml,
)

URL = "wss://bridge.example.com/plivo/media/call_1?auth=tok&x=1"


def test_a_stream_is_bidirectional_kept_alive_and_followed_by_hangup() -> None:
    xml = documents.stream_xml(
        URL,
        "ticket=abc123,requestid=Z9",
        "audio/x-mulaw;rate=8000",
        Speech("Hallo & willkommen", "de-DE"),
    )
    assert parse_plivo_xml(xml) == (
        Speak("Hallo & willkommen", "de-DE"),
        Stream(
            URL, True, True, "audio/x-mulaw;rate=8000", (("ticket", "abc123"), ("requestid", "Z9"))
        ),
        Hangup(),
    )
    assert 'streamTimeout="86400"' in xml
    assert 'audioTrack="inbound"' in xml


def test_plivo_would_refuse_extra_headers_that_are_not_alphanumeric_or_too_long() -> None:
    (bad,) = parse_plivo_xml(
        documents.stream_xml(URL, "ticket=a.b", "audio/x-mulaw;rate=8000", None)
    )[:1]
    assert isinstance(bad, Refused)
    (long,) = parse_plivo_xml(
        documents.stream_xml(URL, "t=" + "a" * 511, "audio/x-mulaw;rate=8000", None)
    )[:1]
    assert isinstance(long, Refused)


def test_the_menu_asks_for_one_key_and_comes_back_without_one() -> None:
    action = "https://bridge.example.com/plivo/voice/menu"
    xml = documents.menu_xml(Speech("Deutsch 1. Francais 2.", "de-DE"), action)
    assert parse_plivo_xml(xml) == (
        GetDigits(action, "POST", 1, 5.0, "#", (Speak("Deutsch 1. Francais 2.", "de-DE"),)),
        Redirect(action, "POST"),
    )


def test_apology_then_hangup_and_a_transfer() -> None:
    speech = (Speech("Sorry.", "en-GB", "WOMAN"), Speech("Bye."))
    assert parse_plivo_xml(documents.say_hangup_xml(speech)) == (
        Speak("Sorry.", "en-GB", "WOMAN"),
        Speak("Bye.", "en-US"),
        Hangup(),
    )
    assert parse_plivo_xml(documents.transfer_xml("+15550100099")) == (Dial(("+15550100099",)),)
