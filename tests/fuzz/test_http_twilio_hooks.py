"""Twilio's webhooks over real HTTP: any request gets 403 (bad signature) or a 2xx, never a 5xx.

The voice webhook, its language menu and the status callbacks are fuzzed end to end through a
real bridge app on loopback (aiohttp test client): form fields added, dropped, repeated and
filled with hostile values; bodies urlencoded, multipart, in other charsets, undecodable or too
big; signatures genuine, forged or missing. Each case is one real request, so this module runs
hundreds of cases rather than the 10 000 that every parser behind it (the signature check, the
routing lookup, TwiML building) gets in its own pure-function fuzzer.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import pytest
from hypothesis import given
from multidict import MultiDict
from yarl import URL

from bridge.carriers.twilio.signature import SIGNATURE_HEADER, TwilioSignatures
from tests.fuzz.conftest import AUTH_TOKEN, CENTRE, HTTP_FUZZ, MENU, SOLO, Bridge
from tests.fuzz.dictionary import HOSTILE_STRINGS
from tests.fuzz.genome import Genome
from tests.fuzz.strategies import genomes

SIGNER = TwilioSignatures(AUTH_TOKEN)
FORGER = TwilioSignatures("not-the-auth-token")
VOICE_FORM = [
    ("CallSid", "CA" + "a" * 32),
    ("AccountSid", "AC" + "f" * 32),
    ("From", "+15550100003"),
    ("To", CENTRE),
    ("CallStatus", "ringing"),
    ("Direction", "inbound"),
]
VALUES = [
    CENTRE,
    MENU,
    SOLO,
    "+15550199999",
    " " + CENTRE,
    "1",
    "2",
    "9",
    "#",
    "",
    "completed",
    "busy",
    "no-answer",
    "failed",
    "canceled",
    "in-progress",
    *(s for s in HOSTILE_STRINGS if "\ud800" not in s and "\udfff" not in s),
]
NAMES = ["To", "From", "CallSid", "CallStatus", "Digits", "", "to", "To ", "X" * 300, "é"]


@dataclass
class Request:
    path: str  # as sent: percent-encoded
    body: bytes
    content_type: str | None
    params: MultiDict[str] | None  # what the bridge will parse, when the body is readable
    content_encoding: str | None = None


def encodable(g: Genome, limit: int = 12) -> str:
    return g.text(limit).encode("utf-8", "replace").decode("utf-8").replace("\ufffd", "?")


def _path(g: Genome) -> str:
    kind = g.below(4)
    if kind == 0:
        path = "/twilio/voice"
    elif kind == 1:
        path = "/twilio/voice/menu"
    else:
        call_id = g.pick(["call_1", "", "..", "a/b", "é", "x" * 300, encodable(g)])
        role = g.pick(["agent", "customer", "agent", "boss", "AGENT", "", encodable(g, 6)])
        path = "/twilio/status/{}/{}".format(
            *(urllib.parse.quote(p, safe="") for p in (call_id, role))
        )
    if g.below(4) == 0:
        path += "?" + g.pick(["a=1", "a=1&a=2", "x=%FF", "bodySHA256=abc", "=", "&&", "%C3%A9=%20"])
    return path


def _pairs(g: Genome) -> list[tuple[str, str]]:
    pairs = list(VOICE_FORM)
    for _ in range(g.below(5)):
        op = g.below(4)
        if op == 0 and pairs:
            pairs.pop(g.below(len(pairs)))
        elif op == 1 and pairs:
            at = g.below(len(pairs))
            pairs[at] = (pairs[at][0], g.pick([*VALUES, encodable(g, 20)]))
        else:
            pairs.append((g.pick([*NAMES, encodable(g, 8)]), g.pick([*VALUES, encodable(g, 20)])))
    return pairs


PART_HEADERS = [
    "",
    "Content-Type: text/plain; charset=utf-8\r\n",
    "Content-Type: text/plain; charset=x-unknown\r\n",
    "Content-Type: application/octet-stream\r\n",
    "Content-Transfer-Encoding: base64\r\n",
    "Content-Transfer-Encoding: quoted-printable\r\n",
    "Content-Transfer-Encoding: x-unknown\r\n",
    "Content-Encoding: gzip\r\n",
    "Content-Encoding: deflate\r\n",
    "Content-Type: multipart/mixed; boundary=inner\r\n",
]


def _multipart(g: Genome, pairs: list[tuple[str, str]], boundary: str) -> tuple[bytes, bool]:
    """The body, and whether it is plain (every part an ordinary UTF-8 text field)."""
    parts, plain = [], True
    for name, value in pairs:
        quoted = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        extra = g.pick(PART_HEADERS) if g.below(4) == 0 else ""
        filename = '; filename="f.txt"' if g.below(16) == 0 else ""
        plain = plain and extra in PART_HEADERS[:2] and not filename
        parts.append(
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="{quoted}"{filename}\r\n{extra}\r\n{value}\r\n'
        )
    return ("".join(parts) + f"--{boundary}--\r\n").encode(), plain


def build(g: Genome) -> Request:
    path, pairs = _path(g), _pairs(g)
    params = MultiDict(pairs)
    kind = g.below(12)
    if kind <= 4:
        body = urllib.parse.urlencode(pairs).encode()
        return Request(path, body, "application/x-www-form-urlencoded", params)
    if kind == 6:
        boundary = "fuzzboundary" + str(g.below(1000))
        body, plain = _multipart(g, pairs, boundary)
        multipart: MultiDict[str] | None = MultiDict((n.replace('"', "%22"), v) for n, v in pairs)
        if not plain or any(c in n for n, _ in pairs for c in "\r\n\x00"):
            multipart = None  # not what the bridge will read: no genuine signature to make
        return Request(path, body, f"multipart/form-data; boundary={boundary}", multipart)
    if kind == 7:
        charset = g.pick(["latin-1", "utf-16", "x-unknown", "utf-8; q=1", "", "UTF-8"])
        body = urllib.parse.urlencode(pairs).encode()
        return Request(path, body, f"application/x-www-form-urlencoded; charset={charset}", None)
    if kind == 8:
        raw = g.pick([b"To=%FF%FE", b"\xff\xfe=\x00", b"a=%", b"&&==&", b"%E2%82", g.blob(64)])
        return Request(path, raw, "application/x-www-form-urlencoded", None)
    if kind == 9:
        ctype = g.pick(
            [
                None,
                "application/json",
                "text/plain",
                "multipart/form-data",
                "multipart/form-data; boundary=",
                "multipart/form-data; boundary=x",
                "application/x-www-form-urlencoded; charset",
                "/",
            ]
        )
        raw = g.pick([b"", b"{}", b'{"To":"+15550100001"}', b"--x\r\n\r\n", g.blob(64)])
        return Request(
            path, raw, ctype, MultiDict() if ctype in ("application/json", "text/plain") else None
        )
    if kind == 10:  # a compressed body that is not
        body = g.pick([urllib.parse.urlencode(pairs).encode(), b"\x1f\x8b\x08\x00", g.blob(32)])
        encoding = g.pick(["gzip", "deflate", "br", "x-unknown", "gzip, gzip"])
        return Request(path, body, "application/x-www-form-urlencoded", None, encoding)
    body = b"To=" + b"A" * (64 * 1024)  # over the app's body limit
    return Request(path, body, "application/x-www-form-urlencoded", None)


def signature(g: Genome, bridge: Bridge, request: Request) -> tuple[str | None, bool]:
    """The header to send, and whether it is Twilio's genuine signature for this request."""
    url = bridge.public_url + target(bridge, request).raw_path_qs
    kind = g.below(4)
    if kind <= 1 and request.params is not None:
        return SIGNER.sign(url, request.params), True
    if kind == 2:
        return FORGER.sign(url, request.params or {}), False
    return g.pick([None, "", "AAAA", "é"]), False


def target(bridge: Bridge, request: Request) -> URL:
    """The URL exactly as sent (the path is already percent-encoded: no second quoting)."""
    return bridge.client.make_url(URL(request.path, encoded=True))


@HTTP_FUZZ
@given(genomes)
async def test_twilio_webhooks_answer_403_or_2xx_never_5xx(bridge: Bridge, genome: bytes) -> None:
    g = Genome(genome)
    request = build(g)
    header, genuine = signature(g, bridge, request)
    headers = {} if header is None else {SIGNATURE_HEADER: header}
    if request.content_type is not None:
        headers["Content-Type"] = request.content_type
    if request.content_encoding is not None:
        headers["Content-Encoding"] = request.content_encoding
    sent = bridge.client.session.post(target(bridge, request), data=request.body, headers=headers)
    async with sent as response:
        text = await response.text(errors="replace")
        status = response.status
    where = f"{status} for POST {request.path} {request.content_type!r} {request.body[:200]!r}"
    assert status < 500, f"{where}: {text[:500]}"
    if request.content_encoding is not None and status == 400:
        return  # aiohttp refused to decompress it before any handler ran: its words, not ours
    if status >= 400:
        assert len(text.strip()) > 12, f"{where}: says nothing ({text!r})"
    if status == 403:
        assert not genuine, where
        assert "X-Twilio-Signature" in text, where
    elif genuine and request.path.startswith("/twilio/voice"):
        assert status == 200, where
        assert "<Response>" in text, where
    elif genuine:
        assert status in (204, 404), where
        assert status == 204 or "role" in text or text == "404: Not Found", where
    else:  # no genuine signature: refused, whatever else was wrong with the request
        assert status in (400, 403, 404, 413), where
    if status == 400:
        assert "not a readable form" in text, where


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b""),  # no boundary: ValueError
        ("application/x-www-form-urlencoded; charset=x-unknown", b"To=1"),  # LookupError
        ("application/x-www-form-urlencoded", b"To=\xff\xfe"),  # UnicodeDecodeError
        (  # a part header aiohttp refuses: its own HttpProcessingError
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="\x00"\r\n\r\nv\r\n--b--\r\n',
        ),
        (  # an unknown transfer encoding: RuntimeError
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="To"\r\n'
            b"Content-Transfer-Encoding: x-unknown\r\n\r\nv\r\n--b--\r\n",
        ),
    ],
    ids=["no-boundary", "unknown-charset", "not-utf8", "bad-part-header", "unknown-cte"],
)
async def test_regression_an_unreadable_form_is_a_400_not_a_500(
    bridge: Bridge, content_type: str, body: bytes
) -> None:
    """Found by the fuzzer: request.post() raised from verified_form, a 500 for each of these."""
    headers = {"Content-Type": content_type, SIGNATURE_HEADER: "AAAA"}
    async with bridge.client.post("/twilio/voice", data=body, headers=headers) as response:
        assert response.status == 400
        assert "not a readable form" in await response.text()
