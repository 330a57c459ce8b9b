"""Webhook signatures: what is accepted and every way a forgery or replay is refused."""

from __future__ import annotations

import pytest

from bridge.kallglot.webhooks import compute, sign, verify_signature

BODY = b'{"id":"evt_1","type":"session.ended","data":{"id":"sess_1"}}'
SECRET = "whsec_test"
NOW = 1_800_000_000


def test_a_fresh_signature_is_accepted() -> None:
    assert verify_signature(BODY, sign(BODY, SECRET, NOW), SECRET, now=NOW + 10)


def test_sign_uses_the_documented_construction() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET, NOW) == f"t={NOW},v1={expected}"


@pytest.mark.parametrize(
    ("body", "header", "secret", "now"),
    [
        (BODY, sign(BODY, "whsec_other", NOW), SECRET, NOW),  # wrong secret
        (BODY, sign(BODY, SECRET, NOW - 301), SECRET, NOW),  # stale
        (BODY, sign(BODY, SECRET, NOW + 301), SECRET, NOW),  # from the future
        (BODY.replace(b"ended", b"begun"), sign(BODY, SECRET, NOW), SECRET, NOW),  # tampered
        (BODY + b" ", sign(BODY, SECRET, NOW), SECRET, NOW),  # re-serialised
        (BODY, None, SECRET, NOW),
        (BODY, "", SECRET, NOW),
        (BODY, f"v1={compute(BODY, SECRET, NOW)}", SECRET, NOW),  # no t
        (BODY, f"t={NOW}", SECRET, NOW),  # no v1
        (BODY, f"t=abc,v1={compute(BODY, SECRET, NOW)}", SECRET, NOW),
        (BODY, f"t={NOW},t={NOW},v1={compute(BODY, SECRET, NOW)}", SECRET, NOW),
        (BODY, f"t={'9' * 400},v1=00", SECRET, NOW),  # absurd timestamp
        (BODY, f"t={NOW},v1=ünïcödé", SECRET, NOW),
        (BODY, sign(BODY, SECRET, NOW), "", NOW),  # no secret configured
        (BODY, "t=1," + "v1=0," * 2000, SECRET, NOW),  # oversized header
    ],
)
def test_forgeries_and_replays_are_refused(
    body: bytes, header: str | None, secret: str, now: int
) -> None:
    assert not verify_signature(body, header, secret, now=now)


def test_any_of_several_v1_values_may_match() -> None:
    good = compute(BODY, SECRET, NOW)
    header = f"t={NOW},v1={'0' * 64},v1={good.upper()},v0=legacy"

    assert verify_signature(BODY, header, SECRET, now=NOW)
    assert not verify_signature(BODY, f"t={NOW},v1={'0' * 64},v1={'1' * 64}", SECRET, now=NOW)


def test_tolerance_is_configurable() -> None:
    header = sign(BODY, SECRET, NOW)

    assert verify_signature(BODY, header, SECRET, tolerance_s=60, now=NOW + 60)
    assert not verify_signature(BODY, header, SECRET, tolerance_s=60, now=NOW + 61)


def test_whitespace_around_parts_is_tolerated() -> None:
    header = f" t={NOW} , v1={compute(BODY, SECRET, NOW)} "

    assert verify_signature(BODY, header, SECRET, now=NOW)
