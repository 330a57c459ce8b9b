"""Telnyx webhook signatures (Ed25519) and the media stream's auth token (carriers.md §4.4).

Telnyx signs `"<timestamp>|" + raw body` with its account key and sends the base64 signature
and the timestamp as headers; we hold only the public key, so a leaked configuration cannot
forge webhooks. Verification runs on the exact bytes received, before any JSON parsing, and the
timestamp window stops replays of captured deliveries. Ed25519 comes from `cryptography`: a
signature check is no place for code of our own.

The media WebSocket is not signed at all. Telnyx echoes a `stream_auth_token` we choose (as a
header and in the `connected` frame), so we make it an HMAC of the stream's URL path under a
shared secret: any bridge instance can check it without state, and a token for one call's
stream is worthless for another's.

Every check fails closed: a malformed header is a reason to refuse, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bridge.settings import ConfigError

__all__ = [
    "SIGNATURE_HEADER",
    "STREAM_TOKEN_HEADER",
    "TIMESTAMP_HEADER",
    "TelnyxSignatures",
    "TelnyxSigner",
    "stream_token",
    "stream_token_refusal",
]

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
STREAM_TOKEN_HEADER = "x-telnyx-streaming-auth-token"

_SIGNATURE_BYTES = 64
_KEY_BYTES = 32
# A genuine signature header is 88 characters; anything far longer is not worth decoding.
_MAX_SIGNATURE_CHARS = 256
# Unix seconds have 10 digits until the year 2286; the cap also keeps int() away from its
# 4300-digit limit (which raises) and from timestamps no clock comparison can make sense of.
_MAX_TIMESTAMP_DIGITS = 12
# Domain separation: the stream secret may key other MACs too (call tickets use BRIDGE_SECRET),
# and a token must never double as one of those.
_STREAM_TOKEN_LABEL = b"kallglot-bridge/telnyx-stream-auth-token\x00"
# A small-order public key (the all-zero placeholder of many .env files is one) verifies the
# signature "identity point, S = 0" for a share of all messages: anyone could forge webhooks.
# Such a key is refused at start-up by trying that signature on fixed probes; 64 of them catch
# every one of the 14 encodings of the 8 small-order points (tests list them).
_FORGERY = (1).to_bytes(32, "little") + bytes(32)
_PROBES = tuple(b"probe %d" % i for i in range(64))
_KEY_FORMS = (
    "TELNYX_PUBLIC_KEY must be the Ed25519 public key from the Telnyx portal (Keys & "
    "Credentials > Public Key): base64 of the 32 raw key bytes, 44 characters ending in '=', "
    "or a PEM '-----BEGIN PUBLIC KEY-----' block"
)


class TelnyxSignatures:
    """Checks Telnyx webhook signatures against one account's public key."""

    def __init__(self, public_key: str, tolerance_s: float = 300.0) -> None:
        if not (math.isfinite(tolerance_s) and tolerance_s >= 0):
            raise ValueError(f"tolerance_s must be a non-negative number, not {tolerance_s!r}")
        self._key = _load_public_key(public_key)
        self._tolerance_s = tolerance_s

    def __repr__(self) -> str:
        return f"TelnyxSignatures(public_key={_raw_b64(self._key)!r}, tolerance_s={self._tolerance_s:g})"

    def refusal(
        self, body: bytes, signature: str | None, timestamp: str | None, now: float
    ) -> str | None:
        """None if Telnyx signed `body` at `timestamp` and that is within tolerance of `now`;
        otherwise why not, short enough for a log line or a 403 body."""
        if not signature:
            return "no signature header"
        if not timestamp:
            return "no timestamp header"
        if not (
            len(timestamp) <= _MAX_TIMESTAMP_DIGITS and timestamp.isascii() and timestamp.isdigit()
        ):
            return "timestamp is not unix seconds"
        age = now - int(timestamp)
        if age > self._tolerance_s:
            return f"timestamp {age:.0f} s old (tolerance {self._tolerance_s:g} s)"
        if age < -self._tolerance_s:
            return "timestamp in the future"
        if not abs(age) <= self._tolerance_s:  # `now` is NaN: no freshness can be shown
            return "timestamp cannot be compared with the clock"
        if len(signature) > _MAX_SIGNATURE_CHARS:
            return "signature is too long"
        try:
            raw = base64.b64decode(signature, validate=True)
        except ValueError:  # binascii.Error, or a non-ASCII str
            return "signature is not base64"
        if len(raw) != _SIGNATURE_BYTES:
            return f"signature is {len(raw)} bytes, not {_SIGNATURE_BYTES}"
        try:
            self._key.verify(raw, timestamp.encode("ascii") + b"|" + body)
        except InvalidSignature:
            return "signature does not match"
        return None


class TelnyxSigner:
    """Signs webhooks the way Telnyx does: for the carrier simulator and tests only (the bridge
    itself never holds a Telnyx private key)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key

    @classmethod
    def generate(cls) -> TelnyxSigner:
        """A fresh key pair: configure the bridge with its `public_key`."""
        return cls(Ed25519PrivateKey.generate())

    def __repr__(self) -> str:
        return f"TelnyxSigner(public_key={self.public_key!r}, private_key=<hidden>)"

    @property
    def public_key(self) -> str:
        """The public key as Telnyx's portal shows it (base64 of the raw 32 bytes)."""
        return _raw_b64(self._private_key.public_key())

    def headers(self, body: bytes, timestamp: int) -> dict[str, str]:
        """The two headers Telnyx sends with a webhook carrying `body` at `timestamp`."""
        stamp = str(timestamp)
        signature = self._private_key.sign(stamp.encode("ascii") + b"|" + body)
        return {
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
            TIMESTAMP_HEADER: stamp,
        }


def stream_token(secret: str | bytes, path: str) -> str:
    """The `stream_auth_token` for the media stream at URL `path` (e.g. "/telnyx/media/c1"):
    urlsafe base64, unpadded, of HMAC-SHA256 under `secret` (a label, then the path)."""
    key = _secret_bytes(secret)
    if not key:
        raise ValueError("the stream auth secret is empty: anyone could mint tokens")
    mac = hmac.new(key, _STREAM_TOKEN_LABEL + _text_bytes(path), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def stream_token_refusal(secret: str | bytes, path: str, presented: str | None) -> str | None:
    """None if `presented` is the token for `path` under `secret`; otherwise why not."""
    if not _secret_bytes(secret):
        return "no stream auth secret configured"
    if not presented:
        return "no stream auth token"
    expected = stream_token(secret, path).encode("ascii")
    # Bytes, because compare_digest refuses non-ASCII str and a header may carry anything.
    if not hmac.compare_digest(expected, _text_bytes(presented)):
        return "stream auth token does not match"
    return None


def _load_public_key(text: str) -> Ed25519PublicKey:
    key = _parse_public_key(text)
    for probe in _PROBES:
        try:
            key.verify(_FORGERY, probe)
        except InvalidSignature:
            continue
        raise ConfigError(
            f"{_KEY_FORMS}; this is a small-order key that accepts forged signatures "
            "(a placeholder?)"
        )
    return key


def _parse_public_key(text: str) -> Ed25519PublicKey:
    """The key from TELNYX_PUBLIC_KEY: base64 of the raw bytes (the portal's form), a PEM
    block, or (a PEM pasted without its armour lines) base64 of the DER SubjectPublicKeyInfo."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key: object = serialization.load_pem_public_key(text.encode("utf-8"))
        except (ValueError, TypeError, UnsupportedAlgorithm, UnicodeEncodeError):
            raise ConfigError(f"{_KEY_FORMS}; this PEM block does not parse") from None
        return _ed25519(key, "this PEM block")
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{_KEY_FORMS}; this value is not base64") from None
    if len(raw) == _KEY_BYTES:
        return Ed25519PublicKey.from_public_bytes(raw)
    try:
        key = serialization.load_der_public_key(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(f"{_KEY_FORMS}; this value decodes to {len(raw)} bytes") from None
    return _ed25519(key, "this DER key")


def _ed25519(key: object, what: str) -> Ed25519PublicKey:
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{_KEY_FORMS}; {what} is not an Ed25519 key ({type(key).__name__})")
    return key


def _raw_b64(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret if isinstance(secret, bytes) else _text_bytes(secret)


def _text_bytes(text: str) -> bytes:
    """UTF-8, with lone surrogates passed through: every str has one encoding (distinct strs
    stay distinct), so hostile input is simply a token that does not match, never an error."""
    return text.encode("utf-8", "surrogatepass")
