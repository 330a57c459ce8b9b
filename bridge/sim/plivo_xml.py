"""Plivo XML documents as values the simulator runs, with Plivo's checks on them.

Only the elements the bridge uses are modelled; anything else becomes `Unsupported`, which the
runner records as a warning and skips. A `<Stream>` Plivo would refuse (bidirectional on a
track other than `inbound`, a contentType it cannot stream, `extraHeaders` that are not
letters and digits or longer than 512 bytes) is parsed as `Refused`, so the call shows what
Plivo's debug log would.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

CONTENT_TYPES = ("audio/x-l16;rate=8000", "audio/x-l16;rate=16000", "audio/x-mulaw;rate=8000")
MAX_EXTRA_HEADERS = 512


class PlivoXmlError(ValueError):
    """Not a document Plivo would run."""


@dataclass(frozen=True, slots=True)
class Speak:
    text: str
    language: str | None = None
    voice: str | None = None


@dataclass(frozen=True, slots=True)
class Wait:
    length_s: float = 1.0


@dataclass(frozen=True, slots=True)
class GetDigits:
    action: str | None
    method: str = "POST"
    num_digits: int = 99
    timeout_s: float = 5.0
    finish_on_key: str = "#"
    prompts: tuple[Speak, ...] = ()


@dataclass(frozen=True, slots=True)
class Stream:
    url: str
    bidirectional: bool
    keep_call_alive: bool
    content_type: str
    extra_headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class Dial:
    numbers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unsupported:
    tag: str


Element = Speak | Wait | GetDigits | Stream | Refused | Hangup | Redirect | Dial | Unsupported


def _true(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() == "true"


def _speak(node: ET.Element) -> Speak:
    return Speak((node.text or "").strip(), node.get("language"), node.get("voice"))


def _stream(node: ET.Element) -> Stream | Refused:
    url = (node.text or "").strip()
    bidirectional = _true(node.get("bidirectional"), False)
    track = node.get("audioTrack", "inbound")
    content_type = node.get("contentType", "audio/x-l16;rate=8000").replace(" ", "")
    if not url.startswith(("ws://", "wss://")):
        return Refused(f"<Stream> URL {url[:80]!r} is not ws:// or wss://")
    if bidirectional and track != "inbound":
        return Refused(f"a bidirectional <Stream> must have audioTrack inbound, not {track!r}")
    if content_type not in CONTENT_TYPES:
        return Refused(f"<Stream> contentType {content_type!r} is not one Plivo streams")
    raw = node.get("extraHeaders", "")
    if len(raw.encode()) > MAX_EXTRA_HEADERS:
        return Refused(f"extraHeaders of {len(raw.encode())} bytes exceed {MAX_EXTRA_HEADERS}")
    headers = []
    for pair in filter(None, raw.split(",")):
        key, eq, value = pair.partition("=")
        if not (eq and key.isascii() and key.isalnum() and value.isascii() and value.isalnum()):
            return Refused(f"extraHeaders pair {pair[:40]!r} is not alphanumeric key=value")
        headers.append((key, value))
    keep = _true(node.get("keepCallAlive"), False)
    return Stream(url, bidirectional, keep, content_type, tuple(headers))


def _element(node: ET.Element) -> Element:
    tag = node.tag
    if tag == "Speak":
        return _speak(node)
    if tag == "Wait":
        return Wait(float(node.get("length", "1")))
    if tag == "GetDigits":
        prompts = tuple(_speak(child) for child in node if child.tag == "Speak")
        return GetDigits(
            node.get("action"),
            node.get("method", "POST").upper(),
            int(node.get("numDigits", "99")),
            float(node.get("timeout", "5")),
            node.get("finishOnKey", "#"),
            prompts,
        )
    if tag == "Stream":
        return _stream(node)
    if tag == "Hangup":
        return Hangup()
    if tag == "Redirect":
        return Redirect((node.text or "").strip(), node.get("method", "POST").upper())
    if tag == "Dial":
        numbers = tuple((n.text or "").strip() for n in node if n.tag == "Number")
        return Dial(numbers)
    return Unsupported(tag)


def parse_plivo_xml(text: str) -> tuple[Element, ...]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise PlivoXmlError(f"not XML: {error}") from None
    if root.tag != "Response":
        raise PlivoXmlError(f"root element is <{root.tag}>, not <Response>")
    try:
        return tuple(_element(node) for node in root)
    except ValueError as error:
        raise PlivoXmlError(f"bad attribute: {error}") from None
