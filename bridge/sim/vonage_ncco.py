"""NCCOs as the simulated Vonage reads them: checked strictly, turned into typed actions.

Vonage refuses an NCCO it cannot run (the call then fails), so this parse refuses what the
bridge might get wrong, saying what (carriers.md §5.1): a websocket endpoint whose `uri` is not
ws(s), whose `content-type` is not audio/l16 at 8, 16 or 24 kHz, whose `headers` are not
strings or exceed 512 bytes; a `connect` without one endpoint; an `input` without an event URL;
an action Vonage does not know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bridge.carriers.vonage.ncco import MAX_HEADERS_BYTES
from bridge.carriers.vonage.protocol import CONTENT_TYPE_PREFIX, RATES

INVALID_NCCO = 4  # not a Vonage code: the simulator's warning for an NCCO Vonage refuses


class NccoError(ValueError):
    """An NCCO Vonage would refuse; the message says why."""


@dataclass(frozen=True, slots=True)
class Talk:
    text: str
    language: str | None = None
    barge_in: bool = False


@dataclass(frozen=True, slots=True)
class Input:
    event_url: str
    max_digits: int = 4
    timeout_s: float = 3.0


@dataclass(frozen=True, slots=True)
class ConnectSocket:
    uri: str
    rate: int
    headers: dict[str, str] = field(default_factory=dict)
    authorization: dict[str, Any] | None = None
    event_url: str | None = None
    synchronous: bool = False


@dataclass(frozen=True, slots=True)
class ConnectPhone:
    number: str


Action = Talk | Input | ConnectSocket | ConnectPhone


def parse_ncco(raw: Any) -> list[Action]:
    if not isinstance(raw, list) or not raw:
        raise NccoError("the NCCO is not a non-empty JSON array of actions")
    return [_action(item, i) for i, item in enumerate(raw)]


def parse_ncco_text(text: str) -> list[Action]:
    try:
        raw = json.loads(text)
    except ValueError:
        raise NccoError("the answer is not JSON") from None
    return parse_ncco(raw)


def _action(item: Any, index: int) -> Action:
    where = f"action {index}"
    if not isinstance(item, dict) or not isinstance(item.get("action"), str):
        raise NccoError(f"{where} is not an object with an 'action'")
    kind = item["action"]
    if kind == "talk":
        text = item.get("text")
        if not isinstance(text, str) or not text:
            raise NccoError(f"{where}: talk needs a non-empty 'text'")
        language = item.get("language")
        return Talk(
            text, language if isinstance(language, str) else None, item.get("bargeIn") is True
        )
    if kind == "input":
        if "dtmf" not in (item.get("type") or []):
            raise NccoError(f"{where}: input without type dtmf")
        dtmf = item.get("dtmf") or {}
        url = _event_url(item, where) or _missing(f"{where}: input needs an eventUrl")
        try:
            return Input(url, int(dtmf.get("maxDigits", 4)), float(dtmf.get("timeOut", 3)))
        except (AttributeError, TypeError, ValueError):
            raise NccoError(f"{where}: dtmf maxDigits/timeOut are not numbers") from None
    if kind == "connect":
        endpoints = item.get("endpoint")
        if (
            not isinstance(endpoints, list)
            or len(endpoints) != 1
            or not isinstance(endpoints[0], dict)
        ):
            raise NccoError(f"{where}: connect needs exactly one endpoint")
        endpoint = endpoints[0]
        if endpoint.get("type") == "phone" and isinstance(endpoint.get("number"), str):
            number = endpoint["number"]
            if number.startswith("+") or not number.isdigit():
                raise NccoError(f"{where}: phone number {number!r} is not digits without '+'")
            return ConnectPhone(number)
        if endpoint.get("type") == "websocket":
            return _socket(item, endpoint, where)
        raise NccoError(f"{where}: endpoint type {endpoint.get('type')!r} is not simulated")
    raise NccoError(f"{where}: unknown action {kind!r}")


def _socket(item: dict[str, Any], endpoint: dict[str, Any], where: str) -> ConnectSocket:
    uri = endpoint.get("uri")
    if not isinstance(uri, str) or uri.split(":", 1)[0].lower() not in ("ws", "wss"):
        raise NccoError(f"{where}: websocket uri must be ws:// or wss://")
    spelled = str(endpoint.get("content-type", "")).replace(" ", "").lower()
    rate = spelled.removeprefix(CONTENT_TYPE_PREFIX)
    if rate == spelled or not rate.isdigit() or int(rate) not in RATES:
        raise NccoError(f"{where}: content-type {spelled!r} is not audio/l16;rate=8000|16000|24000")
    headers = endpoint.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise NccoError(f"{where}: headers must be an object of strings")
    size = len(json.dumps(headers, separators=(",", ":")).encode())
    if size > MAX_HEADERS_BYTES:
        raise NccoError(f"{where}: headers are {size} bytes, over Vonage's {MAX_HEADERS_BYTES}")
    authorization = endpoint.get("authorization")
    return ConnectSocket(
        uri,
        int(rate),
        dict(headers),
        authorization if isinstance(authorization, dict) else None,
        _event_url(item, where),
        item.get("eventType") == "synchronous",
    )


def _event_url(item: dict[str, Any], where: str) -> str | None:
    urls = item.get("eventUrl")
    if urls is None:
        return None
    if not isinstance(urls, list) or len(urls) != 1 or not isinstance(urls[0], str):
        raise NccoError(f"{where}: eventUrl must be an array of one URL")
    return urls[0]


def _missing(message: str) -> str:
    raise NccoError(message)
