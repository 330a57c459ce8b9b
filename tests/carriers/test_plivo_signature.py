"""Plivo's V3 webhook signature: the base string by the spec's rules, checked against strings
written out by hand here and HMACs computed independently of the package."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from bridge.carriers.plivo.signature import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    PlivoSignatures,
    PlivoSigner,
    base_string,
)

TOKEN = "MzY2YjJkYjk5ZDE5NWJiNDk1OGM3ZWY1MGE0ZWZh"
NONCE = "05429567804466091622"
FORM = {"To": "15550100001", "From": "15550100003", "CallUUID": "a1b2", "Direction": "inbound"}


def hand_signed(text: str, token: str = TOKEN) -> str:
    return base64.b64encode(
        hmac.new(token.encode(), text.encode(), hashlib.sha256).digest()
    ).decode()


@pytest.mark.parametrize(
    ("method", "url", "params", "expected"),
    [
        # POST with a body and no query: a bare "?", no ".", fields as namevalue by name.
        (
            "POST",
            "https://bridge.example.com/plivo/voice",
            FORM,
            "https://bridge.example.com/plivo/voice?CallUUIDa1b2DirectioninboundFrom15550100003"
            "To15550100001." + NONCE,
        ),
        # POST with a body and a query: the sorted query, ".", then the fields.
        (
            "POST",
            "https://bridge.example.com/plivo/voice?z=9&dial=tok.en",
            {"Digits": "2", "CallUUID": "a1b2"},
            "https://bridge.example.com/plivo/voice?dial=tok.en&z=9.CallUUIDa1b2Digits2." + NONCE,
        ),
        # GET: the query sorted as k=v&k=v.
        (
            "GET",
            "https://bridge.example.com:8443/plivo/voice?To=1555&CallUUID=a1b2",
            {},
            "https://bridge.example.com:8443/plivo/voice?CallUUID=a1b2&To=1555." + NONCE,
        ),
        # GET without a query, and a POST without a body: no "?" at all.
        ("GET", "https://h.example/p", {}, "https://h.example/p." + NONCE),
        ("POST", "https://h.example/p?b=2&a=1", {}, "https://h.example/p?a=1&b=2." + NONCE),
        # Percent-encoded query values are signed decoded; repeated names give sorted values.
        (
            "POST",
            "https://h.example/p?x=a%20b",
            [("n", "2"), ("n", "1")],
            "https://h.example/p?x=a b.n1n2." + NONCE,
        ),
    ],
)
def test_the_base_string_follows_the_v3_rules(
    method: str, url: str, params: object, expected: str
) -> None:
    assert base_string(method, url, params, NONCE) == expected  # type: ignore[arg-type]
    signed = PlivoSigner(TOKEN).headers(method, url, params, NONCE)  # type: ignore[arg-type]
    assert signed == {SIGNATURE_HEADER: hand_signed(expected), NONCE_HEADER: NONCE}
    assert (
        PlivoSignatures(TOKEN).refusal(method, url, params, signed[SIGNATURE_HEADER], NONCE) is None
    )  # type: ignore[arg-type]


def test_any_of_several_comma_separated_signatures_passes() -> None:
    url = "https://bridge.example.com/plivo/voice"
    genuine = hand_signed(base_string("POST", url, FORM, NONCE))
    rotated = f"{hand_signed('something else')}, {genuine}"
    assert PlivoSignatures(TOKEN).refusal("POST", url, FORM, rotated, NONCE) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"signature": None}, "no X-Plivo-Signature-V3 header"),
        ({"nonce": ""}, "no X-Plivo-Signature-V3-Nonce header"),
        ({"nonce": "1"}, "signature does not match"),
        ({"url": "https://bridge.example.com/plivo/voice/menu"}, "signature does not match"),
        ({"url": "http://bridge.example.com/plivo/voice"}, "signature does not match"),
        ({"method": "GET"}, "signature does not match"),
        ({"params": FORM | {"To": "15550100002"}}, "signature does not match"),
        ({"token": "another-token"}, "signature does not match"),
        ({"signature": "\ud800"}, "signature does not match"),
        ({"signature": "A" * 2000}, "signature or nonce header is too long"),
    ],
)
def test_what_plivo_did_not_sign_is_refused_with_a_reason(
    change: dict[str, object], reason: str
) -> None:
    url = "https://bridge.example.com/plivo/voice"
    signed = PlivoSigner(TOKEN).headers("POST", url, FORM, NONCE)
    args: dict[str, object] = {
        "method": "POST",
        "url": url,
        "params": FORM,
        "signature": signed[SIGNATURE_HEADER],
        "nonce": NONCE,
        "token": TOKEN,
    } | change
    refusal = PlivoSignatures(str(args.pop("token"))).refusal(**args)  # type: ignore[arg-type]
    assert refusal == reason


def test_the_token_never_shows_in_a_repr() -> None:
    assert TOKEN not in repr(PlivoSignatures(TOKEN))
    assert TOKEN not in repr(PlivoSigner(TOKEN))
