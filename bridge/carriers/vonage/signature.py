"""Vonage's signed webhooks and media handshakes: a JWT in `Authorization: Bearer` (HS256).

Vonage signs every webhook (answer, event, input) and, with `"authorization": {"type":
"vonage"}` on the NCCO's websocket endpoint, the media socket's upgrade request, with the
account's signature secret (carriers.md §5.1, §7). The token's claims say who signed (`iss`
"Vonage", our `application_id`), when (`iat`; a captured delivery replayed later is stale) and,
for a request with a body, what: `payload_hash`, the hex SHA-256 of the exact bytes sent, so a
token cannot be lifted onto another body. PyJWT checks the signature with HS256 only (never
the algorithm the token names: "none" and RS/HS confusion are refused); freshness and the hash
are checked here against a clock the caller passes.

Every check fails closed: whatever a hostile header holds is a reason to refuse, never an
exception. `VonageSigner` is Vonage's side, for the simulator and tests.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import uuid
from collections.abc import Mapping
from typing import Any

import jwt

__all__ = ["ISSUER", "VonageSignatures", "VonageSigner", "bearer", "payload_hash"]

ISSUER = "Vonage"
ALGORITHM = "HS256"
MAX_TOKEN_CHARS = 4096  # a genuine one is ~400; decoding more is work for nothing
REQUIRED = ("iat", "jti", "iss", "application_id")


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (None: no such header)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class VonageSignatures:
    """Checks Vonage's signed-webhook JWTs for one application."""

    def __init__(self, secret: str, application_id: str, tolerance_s: float = 300.0) -> None:
        if not secret:
            raise ValueError("the signature secret is empty: anyone could sign webhooks")
        if not (math.isfinite(tolerance_s) and tolerance_s >= 0):
            raise ValueError(f"tolerance_s must be a non-negative number, not {tolerance_s!r}")
        self._key = secret.encode("utf-8", "surrogatepass")
        self._application_id = application_id
        self._tolerance_s = tolerance_s

    def __repr__(self) -> str:
        return (
            f"VonageSignatures(application_id={self._application_id!r}, secret=<hidden>, "
            f"tolerance_s={self._tolerance_s:g})"
        )

    def refusal(self, authorization: str | None, body: bytes | None, now: float) -> str | None:
        """None if Vonage signed this request (`body`: its bytes; None for a request without
        one, the media upgrade or a GET) within tolerance of `now`; otherwise why not."""
        token = bearer(authorization)
        if token is None:
            return "no 'Authorization: Bearer' token"
        if len(token) > MAX_TOKEN_CHARS:
            return "token is too long"
        try:
            claims: Any = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options={
                    "require": list(REQUIRED),
                    "verify_iat": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_aud": False,
                },
            )
        except jwt.InvalidSignatureError:
            return "token signature does not match"
        except (jwt.PyJWTError, ValueError, TypeError, RecursionError, OverflowError) as error:
            return f"token is not a valid HS256 JWT ({type(error).__name__})"
        if not isinstance(claims, dict):
            return "token claims are not an object"
        return self._claims_refusal(claims, body, now)

    def _claims_refusal(
        self, claims: Mapping[str, Any], body: bytes | None, now: float
    ) -> str | None:
        if claims.get("iss") != ISSUER:
            return "token issuer is not Vonage"
        if claims.get("application_id") != self._application_id:
            return "token is for another application"
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or isinstance(iat, bool) or not math.isfinite(iat):
            return "token 'iat' is not a time"
        age = now - iat
        if age > self._tolerance_s:
            return f"token issued {age:.0f} s ago (tolerance {self._tolerance_s:g} s)"
        if age < -self._tolerance_s:
            return "token issued in the future"
        if not abs(age) <= self._tolerance_s:  # `now` is NaN
            return "token time cannot be compared with the clock"
        exp = claims.get("exp")
        if exp is not None and (
            type(exp) not in (int, float) or not exp >= now - self._tolerance_s
        ):
            return "token expired"
        claimed = claims.get("payload_hash")
        if body:
            if type(claimed) is not str:
                return "token has no payload_hash for the body"
            if not hmac.compare_digest(claimed.lower().encode(), payload_hash(body).encode()):
                return "payload_hash does not match the body"
        elif claimed is not None and claimed != payload_hash(b""):
            return "payload_hash does not match the (empty) body"
        return None


class VonageSigner:
    """Signs requests the way Vonage does (the simulator's side, and tests')."""

    def __init__(self, secret: str, application_id: str, api_key: str = "simulated") -> None:
        self._key = secret.encode("utf-8", "surrogatepass")
        self.application_id, self.api_key = application_id, api_key

    def __repr__(self) -> str:
        return f"VonageSigner(application_id={self.application_id!r}, secret=<hidden>)"

    def token(self, body: bytes | None, now: float, **extra: Any) -> str:
        claims: dict[str, Any] = {
            "iat": int(now),
            "jti": str(uuid.uuid4()),
            "iss": ISSUER,
            "api_key": self.api_key,
            "application_id": self.application_id,
        }
        if body:
            claims["payload_hash"] = payload_hash(body)
        return jwt.encode(claims | extra, self._key, algorithm=ALGORITHM)

    def headers(self, body: bytes | None, now: float) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(body, now)}"}
