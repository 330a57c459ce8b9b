"""Exotel's proof of origin (Basic auth from the URL's userinfo), the stream URL we hand it, and
the sealed CustomField a dialled leg's flow brings back."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from aiohttp import web

from bridge.carriers.exotel.auth import (
    basic_header,
    basic_refusal,
    seal,
    stream_url,
    unseal,
    with_userinfo,
)
from bridge.carriers.interface import StreamTarget

USER, PASSWORD = "exotel", "0123456789abcdef0123"
TARGET = StreamTarget("wss://bridge.example.com/exotel/media/call_1", {"ticket": "a" * 700})


def test_the_header_matches_rfc_7617s_own_example() -> None:
    # RFC 7617 §2: user "Aladdin", password "open sesame".
    assert basic_header("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    assert basic_refusal("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin", "open sesame") is None
    assert basic_refusal("basic  QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin", "open sesame") is None


def test_anything_but_the_exact_credentials_is_refused_with_a_reason() -> None:
    good = basic_header(USER, PASSWORD)
    cases = {
        None: "no Authorization header",
        "": "no Authorization header",
        "Bearer " + good[6:]: "not Basic",
        "Basic !!!": "not base64",
        basic_header(USER, PASSWORD + "x"): "do not match",
        basic_header(USER.upper(), PASSWORD): "do not match",
        basic_header(USER, PASSWORD[:-1]): "do not match",
        "Basic " + base64.b64encode(f"{USER}{PASSWORD}".encode()).decode(): "do not match",
        "Basic " + "A" * 2000: "too long",
        "Basic \udcff": "not base64",
    }
    for header, reason in cases.items():
        refusal = basic_refusal(header, USER, PASSWORD)
        assert refusal is not None
        assert reason in refusal, (header, refusal)
        assert PASSWORD not in refusal


async def test_a_url_with_userinfo_makes_the_header_a_real_http_client_sends(
    aiohttp_server: Any,
) -> None:
    """What Exotel does with `https://user:pass@host/...`, done by aiohttp's client: the header
    it sends is the one we expect, percent-encoded credentials included."""
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.Response()

    app = web.Application()
    app.router.add_get("/exotel/voice", handler)
    server = await aiohttp_server(app)
    password = "p%ss+w0rd-with;odd=chars"
    url = with_userinfo(str(server.make_url("/exotel/voice")), USER, password)
    assert "%25" in url  # encoded in the URL ...
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
    assert seen == [basic_header(USER, password)]  # ... and decoded by the client
    assert basic_refusal(seen[0], USER, password) is None


def test_the_stream_url_carries_credentials_rate_and_the_ticket_in_three_parts() -> None:
    url = stream_url(TARGET, USER, PASSWORD, 16000)
    parts = urlsplit(url)
    assert (parts.scheme, parts.username, parts.password) == ("wss", USER, PASSWORD)
    assert (parts.hostname, parts.path) == ("bridge.example.com", "/exotel/media/call_1")
    query = dict(parse_qsl(parts.query))
    assert query.pop("sample-rate") == "16000"
    assert list(query) == ["t1", "t2", "t3"]
    assert all(len(value) <= 256 for value in query.values())
    assert "".join(query.values()) == TARGET.parameters["ticket"]


def test_a_sealed_target_comes_back_only_unchanged_and_under_the_same_key() -> None:
    field = seal(TARGET, PASSWORD)
    assert unseal(field, PASSWORD) == TARGET
    assert unseal(field, PASSWORD + "x") is None
    body, _, mac = field.rpartition("~")
    forged = seal(StreamTarget("wss://evil.example/x", {"ticket": "t"}), "another key")
    for tampered in (
        body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "~" + mac,
        body + "~" + mac[:-1],
        forged,
        "",
        "not-ours",
        "x" * 5000,
        "caf\u00e9~mac",
    ):
        assert unseal(tampered, PASSWORD) is None, tampered
