"""The NCCOs (Vonage's call-control JSON) the bridge answers with: pure functions to lists.

One NCCO per `Answer` (carriers.md §5.1): a stream is an optional `talk` then a `connect` to
a websocket endpoint, whose `headers` carry the call ticket (and the call's uuid, which is the
only way it reaches the socket); the keypad menu is a `talk` the caller can interrupt and an
`input` that posts the key to our menu webhook; an apology is `talk` actions alone (the call
ends when its NCCO does); a transfer is a `connect` to a phone. Numbers go out as Vonage writes
them, digits without the "+".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bridge.carriers.interface import (
    Answer,
    AskForDigit,
    CarrierError,
    ConnectStream,
    SayAndHangUp,
    Speech,
    StreamTarget,
    Transfer,
)
from bridge.carriers.vonage.protocol import CALL_UUID_HEADER, content_type

DEFAULT_LANGUAGE = "en-US"
MAX_HEADERS_BYTES = 512  # Vonage's limit on a websocket endpoint's `headers` (carriers.md §5.1)
MENU_TIMEOUT_S = 5

Ncco = list[dict[str, Any]]


class HeadersTooLarge(CarrierError):
    """The stream's headers (the call ticket, mostly) exceed what Vonage carries."""


def vonage_number(number: str) -> str:
    """E.164 as Vonage writes it: "+15550100001" -> "15550100001"."""
    return number.removeprefix("+")


def e164(number: str) -> str:
    """A Vonage number back in E.164 ("15550100001" -> "+15550100001"); anything that is not
    digits (a SIP URI, "Unknown") is left as it is."""
    return "+" + number if number.isascii() and number.isdigit() else number


def endpoint(number: str) -> dict[str, str]:
    """A phone number, or a SIP URI (agents may be either)."""
    if number.startswith("sip:"):
        return {"type": "sip", "uri": number}
    return {"type": "phone", "number": vonage_number(number)}


def talk(speech: Speech, barge_in: bool = False) -> dict[str, Any]:
    action: dict[str, Any] = {
        "action": "talk",
        "text": speech.text,
        "language": speech.language or DEFAULT_LANGUAGE,
    }
    if barge_in:
        action["bargeIn"] = True
    return action


def stream_headers(target: StreamTarget, call_uuid: str | None) -> dict[str, str]:
    """The websocket endpoint's headers: the target's parameters, and the call's uuid where
    known. HeadersTooLarge when over Vonage's 512 bytes (counted as the compact JSON)."""
    headers = dict(target.parameters)
    if call_uuid is not None:
        headers[CALL_UUID_HEADER] = call_uuid
    size = len(json.dumps(headers, separators=(",", ":")).encode())
    if size > MAX_HEADERS_BYTES:
        raise HeadersTooLarge(
            f"the media stream's headers are {size} bytes and Vonage carries at most "
            f"{MAX_HEADERS_BYTES}: the call ticket grew too long (long agent or route values?); "
            "shorten them"
        )
    return headers


def connect_stream(
    target: StreamTarget, rate: int, event_url: str, call_uuid: str | None
) -> dict[str, Any]:
    """The `connect` of a media stream to `target` at `rate`, its events to `event_url`
    (synchronous: a `disconnected` answered with nothing lets the NCCO go on, and end)."""
    return {
        "action": "connect",
        "eventType": "synchronous",
        "eventUrl": [event_url],
        "eventMethod": "POST",
        "endpoint": [
            {
                "type": "websocket",
                "uri": target.url,
                "content-type": content_type(rate),
                "headers": stream_headers(target, call_uuid),
                "authorization": {"type": "vonage"},
            }
        ],
    }


def answer_ncco(
    answer: Answer, *, rate: int, event_url: str, caller_id: str, call_uuid: str | None
) -> Ncco:
    """The NCCO that does `answer` for the call `call_uuid`."""
    if isinstance(answer, ConnectStream):
        ncco = [talk(answer.greeting)] if answer.greeting is not None else []
        return [*ncco, connect_stream(answer.target, rate, event_url, call_uuid)]
    if isinstance(answer, AskForDigit):
        return [
            talk(answer.prompt, barge_in=True),
            {
                "action": "input",
                "type": ["dtmf"],
                "dtmf": {"maxDigits": 1, "timeOut": MENU_TIMEOUT_S},
                "eventUrl": [answer.action_url],
                "eventMethod": "POST",
            },
        ]
    if isinstance(answer, SayAndHangUp):
        return [talk(part) for part in answer.speech] or [talk(Speech(""))]
    assert isinstance(answer, Transfer)
    return [
        {
            "action": "connect",
            "from": vonage_number(caller_id),
            "endpoint": [endpoint(answer.number)],
        }
    ]


def response_body(ncco: Ncco) -> str:
    return json.dumps(ncco, separators=(",", ":"))


def parameters_of(headers: Mapping[str, str]) -> dict[str, str]:
    """The stream parameters in a socket's headers (the call uuid taken out)."""
    return {k: v for k, v in headers.items() if k != CALL_UUID_HEADER}
