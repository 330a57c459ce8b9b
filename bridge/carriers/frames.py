"""Reading carriers' JSON media frames strictly: one object per text frame, typed fields.

Shared by the carriers whose media streams are JSON text (Twilio, Telnyx). Each check raises a
ProtocolViolation saying what was wrong, with the carrier's own error code where it has one,
and nothing else: the parsers built on these are fuzzed on exactly that promise.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from typing import Any

from bridge.carriers.base import Dtmf, ProtocolViolation

MAX_COUNTER = 10**15  # counters are decimal strings of at most 15 digits
DTMF_DIGITS = frozenset("0123456789*#ABCD")


def load(
    message: str | bytes, limit: int, code: int | None, *, carrier: str, binary_code: int | None
) -> dict[str, Any]:
    """One JSON object from a text frame, or a ProtocolViolation saying why not."""
    if not isinstance(message, str):
        raise ProtocolViolation(f"binary frame; {carrier} media streams are JSON text", binary_code)
    if len(message) > limit:
        raise ProtocolViolation(f"frame of {len(message)} characters exceeds {limit}", code)
    try:
        msg = json.loads(message)
    except (ValueError, RecursionError):
        raise ProtocolViolation("frame is not JSON", code) from None
    if type(msg) is not dict:
        raise ProtocolViolation("frame is not a JSON object", code)
    return msg


def field_object(msg: Mapping[str, Any], key: str, code: int | None = None) -> dict[str, Any]:
    value = msg.get(key)
    if type(value) is not dict:
        raise ProtocolViolation(f"'{key}' is missing or not an object", code)
    return value


def field_string(msg: Mapping[str, Any], key: str, code: int | None = None) -> str:
    value = msg.get(key)
    if type(value) is not str:
        raise ProtocolViolation(f"'{key}' is missing or not a string", code)
    return value


def audio(payload: str, limit: int, code: int | None = None) -> bytes:
    """Strict base64 of at most `limit` characters."""
    if len(payload) > limit:
        raise ProtocolViolation(
            f"payload of {len(payload)} base64 characters exceeds {limit}", code
        )
    try:
        return binascii.a2b_base64(payload, strict_mode=True)
    except ValueError:  # binascii.Error, and non-ASCII text
        raise ProtocolViolation("payload is not base64", code) from None


def counter(value: object, key: str) -> int | None:
    """A counter as carriers send them, decimal strings; ints tolerated, anything else not."""
    if value is None:
        return None
    if type(value) is str and 0 < len(value) <= 15 and value.isascii() and value.isdigit():
        return int(value)
    if type(value) is int and 0 <= value < MAX_COUNTER:
        return value
    raise ProtocolViolation(f"'{key}' is not a decimal counter")


def dtmf(msg: Mapping[str, Any]) -> Dtmf:
    """The key in a `{"dtmf": {"digit": ...}}` frame (Twilio, Telnyx, Plivo, Exotel)."""
    digit = field_string(field_object(msg, "dtmf"), "digit")
    if digit not in DTMF_DIGITS:
        raise ProtocolViolation("dtmf digit is not one of 0-9 * # A-D")
    return Dtmf(digit)
