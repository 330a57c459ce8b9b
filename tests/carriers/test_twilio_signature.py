"""X-Twilio-Signature: checked with the twilio package's own validator, and the URLs it covers."""

from __future__ import annotations

import pytest
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from bridge.carriers.twilio import TwilioSignatures, public_http_url, public_ws_url

# Twilio's worked example (carriers.md §2.3).
TOKEN = "12345"
URL = "https://example.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675310",
    "Digits": "1234",
    "From": "+14158675310",
    "To": "+18005551212",
}
EXPECTED = "L/OH5YylLD5NRKLltdqwSvS0BnU="


def test_documented_vector() -> None:
    signatures = TwilioSignatures(TOKEN)
    assert signatures.sign(URL, PARAMS) == EXPECTED
    assert RequestValidator(TOKEN).compute_signature(URL, PARAMS) == EXPECTED
    assert signatures.validate_webhook(URL, PARAMS, EXPECTED)


def test_webhook_accepts_a_multidict_form() -> None:
    form = MultiDict(PARAMS)
    assert TwilioSignatures(TOKEN).validate_webhook(URL, form, EXPECTED)


@pytest.mark.parametrize(
    ("token", "url", "params", "signature"),
    [
        (TOKEN, URL, PARAMS | {"Digits": "1235"}, EXPECTED),  # tampered parameter
        (TOKEN, URL, PARAMS | {"Extra": "1"}, EXPECTED),  # added parameter
        ("54321", URL, PARAMS, EXPECTED),  # wrong token
        (TOKEN, "https://example.com/myapp.php?foo=1&bar=3", PARAMS, EXPECTED),  # wrong URL
        (TOKEN, "http://example.com/myapp.php?foo=1&bar=2", PARAMS, EXPECTED),  # wrong scheme
        (TOKEN, URL, PARAMS, ""),
        (TOKEN, URL, PARAMS, None),
        (TOKEN, URL, PARAMS, EXPECTED[:-1]),
    ],
)
def test_webhook_rejections(
    token: str, url: str, params: dict[str, str], signature: str | None
) -> None:
    assert not TwilioSignatures(token).validate_webhook(url, params, signature)


def test_webhook_fails_closed_on_validator_errors() -> None:
    signatures = TwilioSignatures(TOKEN)
    # A str body without bodySHA256 makes RequestValidator raise TypeError (carriers.md §2.4).
    assert not signatures.validate_webhook(URL, "raw body", EXPECTED)  # type: ignore[arg-type]
    assert not signatures.validate_webhook("::not a url::", PARAMS, EXPECTED)


def test_https_port_is_ignored_like_twilio_does() -> None:
    signatures = TwilioSignatures(TOKEN)
    with_port = "https://example.com:443/myapp.php?foo=1&bar=2"
    assert signatures.validate_webhook(with_port, PARAMS, EXPECTED)


def test_upgrade_accepts_exact_url_and_trailing_slash() -> None:
    signatures = TwilioSignatures(TOKEN)
    url = "wss://bridge.example.com/twilio/media/c1"
    assert signatures.validate_upgrade(url, signatures.sign(url))
    assert signatures.validate_upgrade(url, signatures.sign(url + "/"))
    loopback = "ws://127.0.0.1:8080/twilio/media/c1"
    assert signatures.validate_upgrade(loopback, signatures.sign(loopback))


def test_upgrade_rejects_forgeries() -> None:
    signatures = TwilioSignatures(TOKEN)
    url = "wss://bridge.example.com/twilio/media/c1"
    https = "https://bridge.example.com/twilio/media/c1"
    assert not signatures.validate_upgrade(url, signatures.sign(https))  # https is not wss
    assert not signatures.validate_upgrade(url, TwilioSignatures("other").sign(url))
    assert not signatures.validate_upgrade(url, signatures.sign(url + "/c2"))
    assert not signatures.validate_upgrade(url, None)
    assert not signatures.validate_upgrade(url, "")


def test_repr_hides_the_token() -> None:
    assert TOKEN not in repr(TwilioSignatures(TOKEN))


@pytest.mark.parametrize(
    ("base", "path", "http", "ws"),
    [
        (
            "https://bridge.example.com",
            "/twilio/media/c1",
            "https://bridge.example.com/twilio/media/c1",
            "wss://bridge.example.com/twilio/media/c1",
        ),
        (
            "https://bridge.example.com/",
            "/twilio/voice",
            "https://bridge.example.com/twilio/voice",
            "wss://bridge.example.com/twilio/voice",
        ),
        (
            "http://127.0.0.1:8080",
            "/twilio/media/c1",
            "http://127.0.0.1:8080/twilio/media/c1",
            "ws://127.0.0.1:8080/twilio/media/c1",
        ),
        (
            "https://example.com/prefix",
            "/twilio/voice",
            "https://example.com/prefix/twilio/voice",
            "wss://example.com/prefix/twilio/voice",
        ),
    ],
)
def test_public_urls(base: str, path: str, http: str, ws: str) -> None:
    assert public_http_url(base, path) == http
    assert public_ws_url(base, path) == ws


def test_public_url_keeps_the_query_for_http() -> None:
    assert public_http_url("https://b.example", "/s?x=1&y=2") == "https://b.example/s?x=1&y=2"


def test_public_url_errors() -> None:
    with pytest.raises(ValueError, match="must start with"):
        public_http_url("https://b.example", "twilio")
    with pytest.raises(ValueError, match="http"):
        public_ws_url("ftp://b.example", "/twilio")
