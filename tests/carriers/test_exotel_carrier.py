"""Exotel's answers: a stream as the applet's JSON, and 422 (the flow's failure branch) for
what Exotel cannot render; numbers as Exotel writes them, read as the routes spell them."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from bridge.carriers.exotel.carrier import UNRENDERABLE, ExotelCarrier, e164
from bridge.carriers.exotel.config import ExotelSettings
from bridge.carriers.interface import (
    AskForDigit,
    ConnectStream,
    IncomingCall,
    SayAndHangUp,
    Speech,
    StreamTarget,
    Transfer,
)

SETTINGS = ExotelSettings(
    account_sid="kallglot1",
    api_key="key",
    api_token="token",
    caller_id="08047112345",
    app_id="123456",
    webhook_user="exotel",
    webhook_password="0123456789abcdef",
    sample_rate=16000,
)
CALL = IncomingCall("+918047112345", "a" * 32, "+919800000001")
TARGET = StreamTarget("wss://bridge.example.com/exotel/media/call_1", {"ticket": "t" * 450})


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("08047112345", "+918047112345"),
        ("918047112345", "+918047112345"),
        ("+918047112345", "+918047112345"),
        (" +15550100001 ", "+15550100001"),
        ("8047112345", "8047112345"),  # not a form we can be sure of: left as it came
    ],
)
def test_numbers_as_exotel_writes_them_are_read_as_e164(sent: str, read: str) -> None:
    assert e164(sent) == read


async def test_a_stream_is_answered_with_the_applets_json() -> None:
    carrier = ExotelCarrier(SETTINGS)
    greeting = Speech("Willkommen")  # cannot be said on Exotel: left out, not refused
    response = await carrier.answer(CALL, ConnectStream(TARGET, greeting))
    assert response.status == 200
    assert response.body is not None
    url = urlsplit(json.loads(bytes(response.body))["url"])  # type: ignore[arg-type]
    assert (url.scheme, url.username, url.password) == ("wss", "exotel", "0123456789abcdef")
    query = dict(parse_qsl(url.query))
    assert query["sample-rate"] == "16000"
    assert query["t1"] + query["t2"] == TARGET.parameters["ticket"]
    assert carrier.speaks is False


@pytest.mark.parametrize(
    "answer",
    [
        SayAndHangUp((Speech("Sorry, this number is not in service."),)),
        Transfer("+15550100009"),
        AskForDigit(Speech("Press 1"), "https://bridge.example.com/exotel/voice/menu"),
        ConnectStream(StreamTarget(TARGET.url, {"ticket": "t" * 769})),  # over 3 x 256
    ],
)
async def test_what_exotel_cannot_render_is_a_422_saying_why(answer: object) -> None:
    response = await ExotelCarrier(SETTINGS).answer(CALL, answer)  # type: ignore[arg-type]
    assert response.status == UNRENDERABLE == 422
    assert response.text
    assert "0123456789abcdef" not in response.text
