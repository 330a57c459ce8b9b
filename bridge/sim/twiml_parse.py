"""TwiML documents as values the simulator executes, parsed with `xml.etree`.

Only the verbs the bridge uses are modelled; anything else becomes `Unsupported`, which the
executor records as a warning and skips, so a new verb in the bridge shows up in test output
instead of being silently "executed".
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass


class TwimlError(ValueError):
    """Not a TwiML document Twilio would run (Twilio's error 12100, document parse failure)."""


@dataclass(frozen=True, slots=True)
class Say:
    text: str
    language: str | None = None
    voice: str | None = None


@dataclass(frozen=True, slots=True)
class Pause:
    length_s: float = 1.0


@dataclass(frozen=True, slots=True)
class Gather:
    action: str | None
    method: str = "POST"
    num_digits: int | None = None
    timeout_s: float = 5.0
    finish_on_key: str = "#"
    prompts: tuple[Say | Pause, ...] = ()


@dataclass(frozen=True, slots=True)
class Stream:
    url: str
    parameters: tuple[tuple[str, str], ...] = ()
    name: str | None = None
    status_callback: str | None = None


@dataclass(frozen=True, slots=True)
class Connect:
    stream: Stream


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class Unsupported:
    tag: str


Verb = Say | Pause | Gather | Connect | Hangup | Redirect | Unsupported


def parse_twiml(document: str) -> tuple[Verb, ...]:
    try:
        root = ET.fromstring(document)
    except ET.ParseError as error:
        raise TwimlError(f"TwiML is not well-formed XML: {error}") from None
    if root.tag != "Response":
        raise TwimlError(f"TwiML root is <{root.tag}>, not <Response>")
    return tuple(_verb(element) for element in root)


def _number(element: ET.Element, name: str, default: float) -> float:
    raw = element.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise TwimlError(f"<{element.tag} {name}={raw!r}> is not a number") from None
    if value < 0:
        raise TwimlError(f"<{element.tag} {name}={raw!r}> is negative")
    return value


def _method(element: ET.Element) -> str:
    method = (element.get("method") or "POST").upper()
    if method not in ("GET", "POST"):
        raise TwimlError(f"<{element.tag} method={method!r}> must be GET or POST")
    return method


def _say(element: ET.Element) -> Say:
    return Say((element.text or "").strip(), element.get("language"), element.get("voice"))


def _verb(element: ET.Element) -> Verb:
    tag = element.tag
    if tag == "Say":
        return _say(element)
    if tag == "Pause":
        return Pause(_number(element, "length", 1.0))
    if tag == "Hangup":
        return Hangup()
    if tag == "Redirect":
        url = (element.text or "").strip()
        if not url:
            raise TwimlError("<Redirect> has no URL")
        return Redirect(url, _method(element))
    if tag == "Gather":
        return _gather(element)
    if tag == "Connect":
        return _connect(element)
    return Unsupported(tag)


def _gather(element: ET.Element) -> Gather:
    prompts: list[Say | Pause] = []
    for child in element:
        if child.tag == "Say":
            prompts.append(_say(child))
        elif child.tag == "Pause":
            prompts.append(Pause(_number(child, "length", 1.0)))
        else:
            raise TwimlError(f"<{child.tag}> is not allowed inside <Gather>")
    num_digits = element.get("numDigits")
    if num_digits is not None and not (num_digits.isdigit() and int(num_digits) > 0):
        raise TwimlError(f"<Gather numDigits={num_digits!r}> is not a positive integer")
    return Gather(
        action=element.get("action"),
        method=_method(element),
        num_digits=int(num_digits) if num_digits else None,
        timeout_s=_number(element, "timeout", 5.0),
        finish_on_key=element.get("finishOnKey", "#"),
        prompts=tuple(prompts),
    )


def _connect(element: ET.Element) -> Connect:
    streams = [child for child in element if child.tag == "Stream"]
    if len(streams) != 1 or len(element) != 1:
        raise TwimlError("<Connect> must hold exactly one <Stream> (the only noun we simulate)")
    stream = streams[0]
    url = stream.get("url")
    if not url:
        raise TwimlError("<Stream> has no url")
    parameters = []
    for child in stream:
        if child.tag != "Parameter" or child.get("name") is None:
            raise TwimlError(f"<{child.tag}> inside <Stream> is not a named <Parameter>")
        parameters.append((child.get("name", ""), child.get("value", "")))
    return Connect(Stream(url, tuple(parameters), stream.get("name"), stream.get("statusCallback")))
