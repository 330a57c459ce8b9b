"""The Plivo XML documents the bridge answers with (carriers.md §6.1).

Pure functions from values to XML text; ElementTree does the escaping (a `&` in a URL or a
route's greeting must not break Plivo's parse). A stream is bidirectional with
`keepCallAlive`, so what follows `</Stream>` runs when the bridge closes the socket: that is
`<Hangup/>`, so a closed stream ends the call instead of leaving a silent line (§9.11).
"""

from __future__ import annotations

from xml.etree import ElementTree

from bridge.carriers.interface import Speech

STREAM_TIMEOUT_S = 86400  # Plivo's own default and maximum: the bridge ends calls, not Plivo
MENU_TIMEOUT_S = 5
DEFAULT_LANGUAGE = "en-US"


def _speak(parent: ElementTree.Element, speech: Speech) -> None:
    element = ElementTree.SubElement(parent, "Speak")
    element.set("language", speech.language or DEFAULT_LANGUAGE)
    if speech.voice:
        element.set("voice", speech.voice)
    element.text = speech.text


def _xml(root: ElementTree.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(root, "unicode")


def stream_xml(url: str, headers: str, content_type: str, greeting: Speech | None) -> str:
    """Optional greeting, then the bidirectional stream to `url` carrying `headers` (the
    `extraHeaders` value), then `<Hangup/>`."""
    root = ElementTree.Element("Response")
    if greeting is not None:
        _speak(root, greeting)
    stream = ElementTree.SubElement(root, "Stream")
    stream.set("bidirectional", "true")
    stream.set("keepCallAlive", "true")
    stream.set("audioTrack", "inbound")
    stream.set("contentType", content_type)
    stream.set("streamTimeout", str(STREAM_TIMEOUT_S))
    if headers:
        stream.set("extraHeaders", headers)
    stream.text = url
    ElementTree.SubElement(root, "Hangup")
    return _xml(root)


def menu_xml(prompt: Speech, action_url: str) -> str:
    """A one-key menu: Plivo POSTs the key as `Digits` to `action_url`. Without a key Plivo
    goes on to the next element: a redirect to the same URL, which then has no `Digits`."""
    root = ElementTree.Element("Response")
    digits = ElementTree.SubElement(root, "GetDigits")
    for name, value in (
        ("action", action_url),
        ("method", "POST"),
        ("numDigits", "1"),
        ("timeout", str(MENU_TIMEOUT_S)),
        ("retries", "1"),
    ):
        digits.set(name, value)
    _speak(digits, prompt)
    redirect = ElementTree.SubElement(root, "Redirect")
    redirect.set("method", "POST")
    redirect.text = action_url
    return _xml(root)


def say_hangup_xml(speech: tuple[Speech, ...]) -> str:
    root = ElementTree.Element("Response")
    for part in speech:
        _speak(root, part)
    ElementTree.SubElement(root, "Hangup")
    return _xml(root)


def transfer_xml(number: str) -> str:
    root = ElementTree.Element("Response")
    dial = ElementTree.SubElement(root, "Dial")
    ElementTree.SubElement(dial, "Number").text = number
    return _xml(root)


def hangup_xml() -> str:
    root = ElementTree.Element("Response")
    ElementTree.SubElement(root, "Hangup")
    return _xml(root)
