"""What a Call Control command asks for, checked the way Telnyx checks it (carriers.md §4.1).

Each command's JSON body becomes a frozen request, or an `ApiError` that the REST layer sends
as Telnyx's error envelope (`{"errors": [{"code", "title", "detail", "source"}]}`, HTTP 422).
A bridge that sends a field Telnyx would refuse finds out here, not in production. Codes are
Telnyx's general API codes (10004 missing parameter, 10015 bad request, 10016 not E.164, ...).

Where the simulator cannot do what a valid request asks (a G722 stream, `both_tracks`), it
refuses with a detail that says so, rather than streaming something else.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MISSING_PARAMETER = "10004"
INVALID_URL = "10003"
BAD_REQUEST = "10015"
NOT_E164 = "10016"
TITLES = {
    MISSING_PARAMETER: "Missing required parameter",
    INVALID_URL: "Invalid URL",
    BAD_REQUEST: "Bad Request",
    NOT_E164: "Phone number must be in +E.164 format",
}
_ADDRESS = re.compile(r"\+[1-9][0-9]{1,14}|sip:\S+")
TRACKS = ("inbound_track", "outbound_track", "both_tracks")
CODECS = ("PCMU", "PCMA", "G722", "OPUS", "AMR-WB", "L16", "default")
SIMULATED_CODECS = {"PCMU": "PCMU", "PCMA": "PCMA", "default": "PCMU"}  # default: the call's
MODES = ("mp3", "rtp")
MAX_SPEAK_CHARS = 3000
MAX_CLIENT_STATE_CHARS = 4096


class ApiError(Exception):
    """A refusal in Telnyx's error envelope."""

    def __init__(
        self, status: int, code: str, detail: str, pointer: str | None = None, title: str = ""
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.pointer = status, code, detail, pointer
        self.title = title or TITLES.get(code, "Unprocessable Entity")

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "title": self.title, "detail": self.detail}
        if self.pointer is not None:
            error["source"] = {"pointer": self.pointer}
        return {"errors": [error]}


def invalid(name: str, detail: str, code: str = BAD_REQUEST) -> ApiError:
    return ApiError(422, code, detail, f"/{name}")


def required_str(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise invalid(name, f"'{name}' is required", MISSING_PARAMETER)
    if not isinstance(value, str):
        raise invalid(name, f"'{name}' must be a string")
    return value


def optional_str(body: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    value = body.get(name, default)
    if value is not None and not isinstance(value, str):
        raise invalid(name, f"'{name}' must be a string")
    return value


def optional_int(body: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if type(value) is not int or not low <= value <= high:
        raise invalid(name, f"'{name}' must be a whole number from {low} to {high}")
    return value


def address(body: Mapping[str, Any], name: str) -> str:
    value = required_str(body, name)
    if not _ADDRESS.fullmatch(value):
        raise invalid(name, f"'{name}' {value!r} is not +E.164 or a SIP URI", NOT_E164)
    return value


def url(body: Mapping[str, Any], name: str, schemes: tuple[str, ...]) -> str | None:
    value = optional_str(body, name)
    if value is None:
        return None
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in schemes or not rest or len(value) > 2000:
        raise invalid(name, f"'{name}' must be a {'/'.join(schemes)} URL", INVALID_URL)
    return value


def client_state(body: Mapping[str, Any]) -> str | None:
    """`client_state` must be base64 (Telnyx refuses anything else)."""
    value = optional_str(body, "client_state")
    if value is None:
        return None
    if len(value) > MAX_CLIENT_STATE_CHARS:
        raise invalid("client_state", "'client_state' is too long")
    try:
        binascii.a2b_base64(value, strict_mode=True)
    except ValueError:
        raise invalid("client_state", "'client_state' must be base64") from None
    return value


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """The `stream_*` fields of `answer`, `streaming_start` or a dial."""

    url: str
    codec: str = "PCMU"  # of what Telnyx sends: PCMU or PCMA
    bidirectional_mode: str = "mp3"
    bidirectional_codec: str = "PCMU"  # of what the bridge sends back
    auth_token: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)


def stream_request(body: Mapping[str, Any]) -> StreamRequest | None:
    """The stream a command asks for; None when it has no `stream_url`."""
    stream_url = url(body, "stream_url", ("ws", "wss"))
    if stream_url is None:
        return None
    track = optional_str(body, "stream_track", "inbound_track")
    if track not in TRACKS:
        raise invalid("stream_track", f"'stream_track' must be one of {', '.join(TRACKS)}")
    if track != "inbound_track":
        raise invalid("stream_track", f"the simulator streams inbound_track only, not {track}")
    codec = _codec(body, "stream_codec")
    mode = optional_str(body, "stream_bidirectional_mode", "mp3")
    if mode not in MODES:
        raise invalid("stream_bidirectional_mode", "'stream_bidirectional_mode' is mp3 or rtp")
    back = _codec(body, "stream_bidirectional_codec")
    rate = body.get("stream_bidirectional_sampling_rate", 8000)
    if rate not in (8000, 16000, 24000) or type(rate) is not int:
        raise invalid("stream_bidirectional_sampling_rate", "must be 8000, 16000 or 24000")
    if rate != 8000:
        raise invalid("stream_bidirectional_sampling_rate", f"{back} is 8000 Hz, not {rate}")
    token = optional_str(body, "stream_auth_token")
    return StreamRequest(stream_url, codec, str(mode), back, token, _parameters(body))


def _codec(body: Mapping[str, Any], name: str) -> str:
    codec = optional_str(body, name, "default")
    if codec not in CODECS:
        raise invalid(name, f"'{name}' must be one of {', '.join(CODECS)}")
    if codec not in SIMULATED_CODECS:
        raise invalid(name, f"the simulator streams PCMU or PCMA only, not {codec}")
    return SIMULATED_CODECS[codec]


def _parameters(body: Mapping[str, Any]) -> dict[str, str]:
    """`custom_parameters`: a list of `{name, value}` (they reach `start` as one object)."""
    raw = body.get("custom_parameters", [])
    detail = "'custom_parameters' must be a list of {name, value} strings"
    if not isinstance(raw, list):
        raise invalid("custom_parameters", detail)
    params: dict[str, str] = {}
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"name", "value"}:
            raise invalid("custom_parameters", detail)
        name, value = item["name"], item["value"]
        if not isinstance(name, str) or not isinstance(value, str) or not name:
            raise invalid("custom_parameters", detail)
        params[name] = value
    return params


@dataclass(frozen=True, slots=True)
class SpeakRequest:
    text: str
    voice: str
    language: str | None
    client_state: str | None


def speak_request(body: Mapping[str, Any]) -> SpeakRequest:
    text = required_str(body, "payload")
    if len(text) > MAX_SPEAK_CHARS:
        raise invalid("payload", f"'payload' is longer than {MAX_SPEAK_CHARS} characters")
    voice = required_str(body, "voice")
    return SpeakRequest(text, voice, optional_str(body, "language"), client_state(body))


@dataclass(frozen=True, slots=True)
class GatherRequest:
    prompt: SpeakRequest
    minimum_digits: int = 1
    maximum_digits: int = 128
    timeout_s: float = 60.0  # for the first key, from the end of the prompt
    inter_digit_timeout_s: float = 5.0
    terminating_digit: str = "#"
    valid_digits: str = "0123456789#*"


def gather_request(body: Mapping[str, Any]) -> GatherRequest:
    prompt = speak_request(body)
    low = optional_int(body, "minimum_digits", 1, 1, 128)
    high = optional_int(body, "maximum_digits", 128, 1, 128)
    if low > high:
        raise invalid("minimum_digits", "'minimum_digits' is more than 'maximum_digits'")
    timeout_ms = optional_int(body, "timeout_millis", 60000, 1, 120000)
    inter_ms = optional_int(body, "inter_digit_timeout_millis", 5000, 1, 120000)
    valid = optional_str(body, "valid_digits", "0123456789#*") or ""
    end = optional_str(body, "terminating_digit", "#") or ""
    if len(end) > 1:
        raise invalid("terminating_digit", "'terminating_digit' is one key")
    return GatherRequest(prompt, low, high, timeout_ms / 1000, inter_ms / 1000, end, valid)


@dataclass(frozen=True, slots=True)
class DialRequest:
    to: str
    from_: str
    timeout_s: float
    webhook_url: str | None
    stream: StreamRequest | None
    client_state: str | None


def dial_request(body: Mapping[str, Any], connection_id: str) -> DialRequest:
    given = required_str(body, "connection_id")
    if given != connection_id:
        raise invalid(
            "connection_id",
            f"connection_id {given!r} is not a Call Control application of this account "
            f"(the simulator's is {connection_id!r}: set TELNYX_CONNECTION_ID to it)",
        )
    to, from_ = address(body, "to"), address(body, "from")
    timeout = optional_int(body, "timeout_secs", 30, 5, 600)
    webhook_url = url(body, "webhook_url", ("http", "https"))
    method = optional_str(body, "webhook_url_method", "POST")
    if method != "POST":
        raise invalid("webhook_url_method", "the simulator delivers webhooks by POST only")
    return DialRequest(
        to, from_, float(timeout), webhook_url, stream_request(body), client_state(body)
    )
