"""The call ticket in Plivo's `extraHeaders`, which take letters and digits only, 512 bytes.

A ticket is base64url "body.mac" (bridge/calls/tickets.py), up to ~450 characters: neither its
`.` nor base64url's `-` and `_` may pass. So both parts go back to bytes and travel as one
base62 number (a length byte pair for the body, the body, the MAC, behind a 0x01 lead byte that
keeps leading zeros), about 1.34 characters a byte: a 450-character ticket is ~456. The dialled
leg's Plivo request id rides beside it (`requestid`, 16 bytes in base62), so the stream says
which dial it answers. Decoding gives back the exact ticket text, so the ticket's own check
(spelling included) is unchanged.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import uuid

from bridge.carriers.base import ProtocolViolation

TICKET = "ticket"
REQUEST_ID = "requestid"
MAX_BYTES = 512  # Plivo's limit on the whole `extraHeaders` value
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_LEAD = b"\x01"
MAX_ENCODED_CHARS = 2048  # far beyond what fits in 512 bytes: no int() of a huge number


class TicketTooLong(ValueError):
    """The ticket cannot ride in `extraHeaders`; the message says by how much."""


def base62(data: bytes) -> str:
    number = int.from_bytes(_LEAD + data, "big")
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def unbase62(text: str) -> bytes:
    """Raises ValueError for text that `base62` did not make."""
    if not text or len(text) > MAX_ENCODED_CHARS:
        raise ValueError("empty or oversized base62")
    number = 0
    for char in text:
        value = _VALUE.get(char)
        if value is None:
            raise ValueError("not base62")
        number = number * 62 + value
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    if not raw.startswith(_LEAD):
        raise ValueError("no lead byte")
    return raw[1:]


def _unb64(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != text:
        raise ValueError("not canonical base64url")  # would not come back the same
    return raw


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encode_ticket(ticket: str) -> str:
    """The ticket as letters and digits; ValueError for one that is not "body.mac" base64url."""
    body, dot, mac = ticket.partition(".")
    try:
        raw_body, raw_mac = _unb64(body), _unb64(mac)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not a call ticket: {exc}") from None
    if not dot or len(raw_body) > 0xFFFF:
        raise ValueError("not a call ticket: no '.' or an oversized body")
    return base62(len(raw_body).to_bytes(2, "big") + raw_body + raw_mac)


def decode_ticket(text: str) -> str:
    """The ticket text back; ValueError for anything `encode_ticket` did not make."""
    raw = unbase62(text)
    if len(raw) < 2:
        raise ValueError("too short")
    size = int.from_bytes(raw[:2], "big")
    if size > len(raw) - 2:
        raise ValueError("body length exceeds the data")
    return _b64(raw[2 : 2 + size]) + "." + _b64(raw[2 + size :])


def render(parameters: dict[str, str], request_id: str | None = None) -> str:
    """The `extraHeaders` value for a stream's parameters (the ticket encoded, the others as
    they are: they must be letters and digits already); TicketTooLong past 512 bytes."""
    pairs = []
    for key, value in parameters.items():
        shown = encode_ticket(value) if key == TICKET else value
        if not (key.isascii() and key.isalnum() and shown.isascii() and shown.isalnum()):
            raise ValueError(f"stream parameter {key!r} is not letters and digits")
        pairs.append(f"{key}={shown}")
    if request_id is not None:
        # Not Plivo's shape (ValueError): the stream then names the call by its CallUUID only.
        with contextlib.suppress(ValueError):
            pairs.append(f"{REQUEST_ID}={base62(uuid.UUID(request_id).bytes)}")
    value = ",".join(pairs)
    if len(value) > MAX_BYTES:
        raise TicketTooLong(
            f"the stream's parameters take {len(value)} bytes in Plivo's extraHeaders, which "
            f"hold {MAX_BYTES}: shorten the route's languages and numbers, or the call id"
        )
    return value


def parse(headers: dict[str, str]) -> dict[str, str]:
    """The stream parameters from `start.extra_headers` (already JSON-decoded): the ticket
    decoded (kept as sent when it does not decode: the ticket check then says it is forged),
    the request id as a UUID, everything else as it came."""
    params = dict(headers)
    if TICKET in params:
        with contextlib.suppress(ValueError):
            params[TICKET] = decode_ticket(params[TICKET])
    if REQUEST_ID in params:
        try:
            params[REQUEST_ID] = str(uuid.UUID(bytes=unbase62(params[REQUEST_ID])))
        except ValueError:
            del params[REQUEST_ID]
    return params


def from_start(raw: object) -> dict[str, str]:
    """`extra_headers` as Plivo sends it (a JSON string of an object; an object tolerated)."""
    if raw is None or raw == "":
        return {}
    if type(raw) is str:
        if len(raw) > 4 * MAX_BYTES:
            raise ProtocolViolation("'extra_headers' is longer than Plivo allows")
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            raise ProtocolViolation("'extra_headers' is not a JSON object") from None
    if type(raw) is not dict:
        raise ProtocolViolation("'extra_headers' is not a JSON object")
    return parse({k: v for k, v in raw.items() if type(v) is str})
