"""Vonage's signed webhooks and media handshakes (HS256 JWTs), and the application JWT (RS256).

Vectors: the token Vonage's own Python SDK tests `verify_signature` with (a genuine HS256 JWT
under a known secret), and a token in the signed-webhook format built here with the standard
library alone (base64url and HMAC-SHA256, no PyJWT), so the check is proven against the JWT
format itself rather than against the library that implements it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest

from bridge.carriers.vonage.appjwt import (
    ApplicationTokens,
    application_token,
    generate_private_key,
    public_key_of,
)
from bridge.carriers.vonage.signature import (
    VonageSignatures,
    VonageSigner,
    bearer,
    payload_hash,
)

APP = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
SECRET = "qwertyuiopasdfghjklzxcvbnm123456"  # the secret of the SDK's vector
SDK_TOKEN = (  # vonage-python-sdk jwt/tests: HS256 under SECRET, issued by "Online JWT Builder"
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJPbmxpbmUgSldUIEJ1aWxkZXIiLCJpYXQiOjE2OTc2"
    "MzQ2ODAsImV4cCI6MzMyNTQ1NDA4MjgsImF1ZCI6IiIsInN1YiI6IiJ9.88vJc3I2HhuqEDixHXVhc9R30tA6U_HQH"
    "ZTC29y6CGM"
)
BODY = b'{"uuid":"63f61863-4a51-4f6b-86e1-46edebcf9356","status":"answered"}'
NOW = 1_800_000_000.0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(claims: dict[str, object], secret: str = SECRET, alg: str = "HS256") -> str:
    """A JWT as Vonage sends one, built with the standard library only."""
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


def vonage_claims(**changes: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "iat": int(NOW),
        "jti": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5",
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(BODY).hexdigest(),
        "api_key": "a1b2c3d4",
        "application_id": APP,
    }
    return claims | changes


CHECK = VonageSignatures(SECRET, APP, tolerance_s=300)


def refusal(token: str | None, body: bytes | None = BODY, now: float = NOW) -> str | None:
    return CHECK.refusal(None if token is None else f"Bearer {token}", body, now)


def test_the_sdk_vector_passes_the_signature_and_fails_on_what_vonage_always_sends() -> None:
    assert "signature does not match" not in (refusal(SDK_TOKEN) or "")
    assert "MissingRequiredClaimError" in (refusal(SDK_TOKEN) or "")  # no jti, not Vonage's
    wrong = VonageSignatures("asdfasdfasdfasdfasdfasdfasdfasdf", APP)
    assert wrong.refusal(f"Bearer {SDK_TOKEN}", None, NOW) == "token signature does not match"


def test_a_handmade_token_in_vonages_format_is_accepted() -> None:
    assert refusal(handmade(vonage_claims())) is None
    assert refusal(handmade(vonage_claims(iat=NOW - 299.5))) is None


@pytest.mark.parametrize(
    ("token", "body", "reason"),
    [
        (
            handmade(vonage_claims(), secret="another-secret-of-thirty-two-chars"),
            BODY,
            "does not match",
        ),
        (handmade(vonage_claims(iss="Someone")), BODY, "issuer is not Vonage"),
        (handmade(vonage_claims(application_id="x")), BODY, "another application"),
        (handmade(vonage_claims(iat=int(NOW) - 301)), BODY, "301 s ago"),
        (handmade(vonage_claims(iat=int(NOW) + 301)), BODY, "in the future"),
        (handmade(vonage_claims(iat="soon")), BODY, "'iat'"),
        (handmade(vonage_claims()), BODY + b" ", "payload_hash does not match"),
        (handmade(vonage_claims(payload_hash=None)), BODY, "no payload_hash"),
        (handmade(vonage_claims(), alg="HS512"), BODY, "not a valid HS256 JWT"),
        ("e30.e30.", BODY, "not a valid HS256 JWT"),
        ("x" * 5000, BODY, "too long"),
    ],
)
def test_forgeries_and_stale_tokens_are_refused_saying_why(
    token: str, body: bytes, reason: str
) -> None:
    why = refusal(token, body)
    assert why is not None
    assert reason in why, why


def test_the_none_algorithm_is_refused() -> None:
    unsigned = jwt.encode(vonage_claims(), None, algorithm="none")
    assert "not a valid HS256 JWT" in (refusal(unsigned) or "")


def test_no_header_or_another_scheme_is_refused() -> None:
    assert CHECK.refusal(None, BODY, NOW) == "no 'Authorization: Bearer' token"
    assert CHECK.refusal(f"Basic {handmade(vonage_claims())}", BODY, NOW) is not None
    assert bearer("bearer  abc ") == "abc"
    assert bearer("Bearer") is None


def test_a_request_without_a_body_needs_no_hash_but_a_wrong_one_fails() -> None:
    no_hash = handmade(vonage_claims(payload_hash=None))
    assert refusal(no_hash, None) is None
    assert refusal(handmade(vonage_claims()), None) is not None  # a hash of another body
    assert refusal(handmade(vonage_claims(payload_hash=payload_hash(b""))), None) is None


def test_the_simulators_signer_passes_and_hides_its_secret() -> None:
    signer = VonageSigner(SECRET, APP)
    assert CHECK.refusal(signer.headers(BODY, NOW)["Authorization"], BODY, NOW) is None
    assert CHECK.refusal(signer.headers(None, NOW)["Authorization"], None, NOW) is None
    assert SECRET not in repr(signer)
    assert SECRET not in repr(CHECK)


def test_nan_clocks_and_bad_tolerances_fail_closed() -> None:
    assert refusal(handmade(vonage_claims()), now=float("nan")) is not None
    with pytest.raises(ValueError, match="tolerance_s"):
        VonageSignatures(SECRET, APP, tolerance_s=float("inf"))
    with pytest.raises(ValueError, match="empty"):
        VonageSignatures("", APP)


def test_application_tokens_verify_with_the_public_key_only() -> None:
    private = generate_private_key()
    tokens = ApplicationTokens(public_key_of(private), APP)
    now = time.time()
    token = application_token(private, APP, now)
    assert tokens.refusal(token, now) is None
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert "expired" in (tokens.refusal(token, now + 301) or "")
    assert "another application" in (
        ApplicationTokens(public_key_of(private), "y").refusal(token, now) or ""
    )
    other = application_token(generate_private_key(), APP, now)
    assert "signature" in (tokens.refusal(other, now) or "")
    assert tokens.refusal(None, now) == "no application JWT"
