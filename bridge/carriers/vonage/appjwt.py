"""The application JWT every Vonage REST call carries (RS256, the application's private key).

Vonage's Voice API authenticates a request by a short-lived JWT signed with the application's
private key: claims `application_id`, `iat`, `exp` and a fresh `jti` (carriers.md §5.3). A token
is made per request (a few microseconds' work next to a network round trip), so none is ever
cached past its life. `ApplicationTokens` is Vonage's check, for the simulator: it holds only
the public key.
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM = "RS256"
TOKEN_TTL_S = 300
MAX_TOKEN_CHARS = 8192


def application_token(private_key_pem: str, application_id: str, now: float) -> str:
    claims = {
        "application_id": application_id,
        "iat": int(now),
        "exp": int(now) + TOKEN_TTL_S,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, private_key_pem, algorithm=ALGORITHM)


def generate_private_key() -> str:
    """A fresh RSA key pair's private half as PEM (what Vonage's dashboard hands out)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_key_of(private_key_pem: str) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


class ApplicationTokens:
    """Vonage's check of an application JWT, against the application's public key."""

    def __init__(self, public_key_pem: str, application_id: str) -> None:
        self._key = public_key_pem
        self._application_id = application_id

    def refusal(self, token: str | None, now: float) -> str | None:
        if not token:
            return "no application JWT"
        if len(token) > MAX_TOKEN_CHARS:
            return "JWT is too long"
        try:
            claims: Any = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options={
                    "require": ["application_id", "iat", "exp", "jti"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError:
            return "JWT signature does not match the application's public key"
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            return f"not a valid RS256 JWT ({type(error).__name__})"
        if claims.get("application_id") != self._application_id:
            return "JWT is for another application"
        exp = claims.get("exp")
        if type(exp) is not int or exp < now:
            return "JWT has expired"
        return None
