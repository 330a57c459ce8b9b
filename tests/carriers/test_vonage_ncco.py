"""The NCCOs the bridge answers with, and Vonage's webhooks read as the bridge's words; the
simulator's NCCO parser, which refuses what Vonage refuses, reads every one of them."""

from __future__ import annotations

import pytest

from bridge.carriers.interface import (
    AskForDigit,
    CallStatus,
    ConnectStream,
    Ignored,
    IncomingCall,
    SayAndHangUp,
    Speech,
    StatusChanged,
    StreamTarget,
    Transfer,
)
from bridge.carriers.vonage import events
from bridge.carriers.vonage.ncco import HeadersTooLarge, answer_ncco, e164, stream_headers
from bridge.sim.vonage_ncco import ConnectPhone, ConnectSocket, Input, NccoError, Talk, parse_ncco

UUID = "63f61863-4a51-4f6b-86e1-46edebcf9356"
TARGET = StreamTarget("wss://bridge.example/vonage/media/call_1", {"ticket": "t" * 300})
EVENTS = "https://bridge.example/vonage/voice"


def ncco(answer: object) -> list[dict[str, object]]:
    return answer_ncco(
        answer,  # type: ignore[arg-type]
        rate=16000,
        event_url=EVENTS,
        caller_id="+15550100000",
        call_uuid=UUID,
    )


def test_a_stream_is_a_greeting_then_a_signed_websocket_carrying_ticket_and_uuid() -> None:
    built = ncco(ConnectStream(TARGET, Speech("Willkommen", "de-DE")))
    greeting, connect = parse_ncco(built)
    assert greeting == Talk("Willkommen", "de-DE")
    assert isinstance(connect, ConnectSocket)
    assert connect.uri == TARGET.url
    assert connect.rate == 16000
    assert connect.headers == {"ticket": "t" * 300, "call_uuid": UUID}
    assert connect.authorization == {"type": "vonage"}
    assert connect.event_url == EVENTS
    assert connect.synchronous
    assert len(ncco(ConnectStream(TARGET))) == 1  # no greeting, no talk


def test_headers_over_vonages_512_bytes_are_refused_with_the_reason() -> None:
    big = StreamTarget(TARGET.url, {"ticket": "t" * 480})
    with pytest.raises(HeadersTooLarge, match="512"):
        stream_headers(big, UUID)
    assert stream_headers(big, None) == {"ticket": "t" * 480}


def test_the_menu_is_a_talk_to_interrupt_and_a_one_key_input() -> None:
    built = ncco(AskForDigit(Speech("Deutsch 1"), "https://bridge.example/vonage/voice/menu"))
    talk, ask = parse_ncco(built)
    assert talk == Talk("Deutsch 1", "en-US", barge_in=True)
    assert ask == Input("https://bridge.example/vonage/voice/menu", 1, 5.0)


def test_an_apology_is_talk_alone_and_a_transfer_a_phone() -> None:
    said = parse_ncco(ncco(SayAndHangUp((Speech("Sorry"), Speech("Bye", "en-GB")))))
    assert said == [Talk("Sorry", "en-US"), Talk("Bye", "en-GB")]
    assert parse_ncco(ncco(Transfer("+15550100099"))) == [ConnectPhone("15550100099")]


@pytest.mark.parametrize(
    "bad",
    [
        [],
        [{"action": "stream"}],
        [{"action": "talk"}],
        [{"action": "connect", "endpoint": [{"type": "websocket", "uri": "https://x"}]}],
        [{"action": "connect", "endpoint": [{"type": "phone", "number": "+1555"}]}],
        [
            {
                "action": "connect",
                "endpoint": [
                    {"type": "websocket", "uri": "wss://x", "content-type": "audio/l16;rate=44100"}
                ],
            }
        ],
        [{"action": "input", "type": ["dtmf"]}],
    ],
)
def test_the_simulator_refuses_nccos_vonage_cannot_run(bad: object) -> None:
    with pytest.raises(NccoError):
        parse_ncco(bad)


def test_numbers_come_back_as_e164() -> None:
    assert e164("15550100001") == "+15550100001"
    assert e164("sip:agent@example.com") == "sip:agent@example.com"
    call = events.incoming({"to": "15550100001", "from": "15550100003", "uuid": UUID}, {})
    assert call == IncomingCall("+15550100001", UUID, "+15550100003")


def test_the_input_result_is_the_key_or_nothing() -> None:
    pressed = events.menu_result({"uuid": UUID, "to": "1555", "dtmf": {"digits": "2"}}, {})
    assert pressed.digits == "2"
    assert pressed.context["answered"] is True
    assert events.menu_result({"uuid": UUID, "dtmf": {"timed_out": True}}, {}).digits == ""
    assert events.menu_result({"uuid": UUID, "dtmf": "7"}, {}).digits == "7"  # older shape


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("started", CallStatus.INITIATED),
        ("ringing", CallStatus.RINGING),
        ("answered", CallStatus.ANSWERED),
        ("completed", CallStatus.COMPLETED),
        ("busy", CallStatus.BUSY),
        ("timeout", CallStatus.NO_ANSWER),
        ("unanswered", CallStatus.NO_ANSWER),
        ("rejected", CallStatus.FAILED),
        ("failed", CallStatus.FAILED),
        ("cancelled", CallStatus.CANCELED),
    ],
)
def test_status_words_map_onto_the_bridges(word: str, status: CallStatus) -> None:
    change = events.call_event({"uuid": UUID, "status": word}, "call_1", "agent")
    assert change == StatusChanged(UUID, status, word, "call_1", "agent")


def test_socket_and_other_events_are_ignored() -> None:
    for word in ("disconnected", "human", "record", ""):
        assert isinstance(events.call_event({"uuid": UUID, "status": word}, None, None), Ignored)
    assert isinstance(events.call_event({"status": "completed"}, None, None), Ignored)
