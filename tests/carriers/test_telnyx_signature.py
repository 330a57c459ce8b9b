"""Telnyx webhook signatures (Ed25519 over "<timestamp>|" + body) and media stream auth tokens."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bridge.carriers.telnyx.signature import (
    SIGNATURE_HEADER,
    STREAM_TOKEN_HEADER,
    TIMESTAMP_HEADER,
    TelnyxSignatures,
    TelnyxSigner,
    stream_token,
    stream_token_refusal,
)
from bridge.settings import ConfigError

# RFC 8032 §7.1, TEST 1: a known key pair, so key plumbing is checked against the standard.
RFC_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
SIGNER = TelnyxSigner(Ed25519PrivateKey.from_private_bytes(RFC_SECRET))
OTHER = TelnyxSigner.generate()
BODY = b'{"data":{"event_type":"call.initiated","payload":{"call_control_id":"v3:abc"}}}'
T = 1_700_000_000


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def check(
    body: bytes = BODY,
    signature: str | None = None,
    timestamp: str | None = str(T),
    now: float = T,
    signatures: TelnyxSignatures | None = None,
) -> str | None:
    if signature is None:  # what Telnyx sent for BODY at T, whatever `body` arrived
        signature = SIGNER.headers(BODY, T)[SIGNATURE_HEADER]
    return (signatures or TelnyxSignatures(SIGNER.public_key)).refusal(
        body, signature, timestamp, now
    )


def test_header_names() -> None:
    assert SIGNATURE_HEADER == "telnyx-signature-ed25519"
    assert TIMESTAMP_HEADER == "telnyx-timestamp"
    assert STREAM_TOKEN_HEADER == "x-telnyx-streaming-auth-token"


def test_signer_public_key_is_the_portals_raw_base64() -> None:
    assert SIGNER.public_key == b64(RFC_PUBLIC)
    assert len(SIGNER.public_key) == 44


def test_signer_sends_both_headers_over_timestamp_bar_body() -> None:
    headers = SIGNER.headers(BODY, T)
    assert headers.keys() == {SIGNATURE_HEADER, TIMESTAMP_HEADER}
    assert headers[TIMESTAMP_HEADER] == str(T)
    signature = base64.b64decode(headers[SIGNATURE_HEADER], validate=True)
    expected = Ed25519PrivateKey.from_private_bytes(RFC_SECRET).sign(f"{T}|".encode() + BODY)
    assert signature == expected  # Ed25519 is deterministic: one signature per message


@pytest.mark.parametrize("body", [BODY, b"", b"|", b"\x00\xff" * 1000])
@pytest.mark.parametrize("offset", [0, 1, -1, 299.9, -300, 300])
def test_genuine_webhooks_are_accepted(body: bytes, offset: float) -> None:
    signature = SIGNER.headers(body, T)[SIGNATURE_HEADER]
    assert check(body, signature, now=T + offset) is None


def test_generated_signers_are_distinct_and_work() -> None:
    signer = TelnyxSigner.generate()
    assert signer.public_key != OTHER.public_key
    headers = signer.headers(BODY, T)
    signatures = TelnyxSignatures(signer.public_key)
    assert signatures.refusal(BODY, headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER], T) is None


@pytest.mark.parametrize(
    ("body", "signature", "timestamp"),
    [
        pytest.param(BODY + b" ", None, str(T), id="body with a byte added"),
        pytest.param(BODY.replace(b"abc", b"abd"), None, str(T), id="body with a byte changed"),
        pytest.param(BODY[:-1], None, str(T), id="body cut short"),
        pytest.param(BODY, OTHER.headers(BODY, T)[SIGNATURE_HEADER], str(T), id="another key"),
        pytest.param(BODY, None, str(T + 1), id="signed for another timestamp"),
        pytest.param(BODY, None, f"0{T}", id="timestamp spelled another way"),
        pytest.param(BODY, b64(bytes(64)), str(T), id="zeros"),
    ],
)
def test_forgeries_do_not_match(body: bytes, signature: str | None, timestamp: str) -> None:
    assert check(body, signature, timestamp) == "signature does not match"


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (T + 301, "timestamp 301 s old (tolerance 300 s)"),
        (T + 86_400, "timestamp 86400 s old (tolerance 300 s)"),
        (T - 301, "timestamp in the future"),
        (T - 86_400, "timestamp in the future"),
        (float("inf"), "timestamp inf s old (tolerance 300 s)"),
        (float("-inf"), "timestamp in the future"),
        (float("nan"), "timestamp cannot be compared with the clock"),
    ],
)
def test_stale_timestamps_are_refused(now: float, reason: str) -> None:
    assert check(now=now) == reason


def test_tolerance_is_configurable() -> None:
    strict = TelnyxSignatures(SIGNER.public_key, tolerance_s=60)
    assert check(now=T + 60, signatures=strict) is None
    assert check(now=T + 61, signatures=strict) == "timestamp 61 s old (tolerance 60 s)"
    assert check(now=T - 61, signatures=strict) == "timestamp in the future"


@pytest.mark.parametrize("tolerance", [-1.0, float("nan"), float("inf")])
def test_nonsense_tolerance_is_refused(tolerance: float) -> None:
    with pytest.raises(ValueError, match="tolerance_s"):
        TelnyxSignatures(SIGNER.public_key, tolerance)


@pytest.mark.parametrize(
    ("signature", "timestamp", "reason"),
    [
        (None, str(T), "no signature header"),
        ("", str(T), "no signature header"),
        (None, None, "no signature header"),
        ("sig", None, "no timestamp header"),
        ("sig", "", "no timestamp header"),
    ],
)
def test_missing_headers_are_refused(
    signature: str | None, timestamp: str | None, reason: str
) -> None:
    signatures = TelnyxSignatures(SIGNER.public_key)
    assert signatures.refusal(BODY, signature, timestamp, T) == reason


@pytest.mark.parametrize(
    "timestamp",
    [
        "abc",
        "1.7e9",
        f"{T}.0",
        f"-{T}",
        f"+{T}",
        f" {T}",
        f"{T}\n",
        "1_700_000_000",
        "\u0661\u0667\u0660\u0660",  # Arabic-Indic digits: str.isdigit() but not unix seconds
        "²",
        "\ud800",
        "9" * 13,
        "9" * 5000,  # past int()'s digit limit, which raises
    ],
)
def test_timestamps_that_are_not_unix_seconds_are_refused(timestamp: str) -> None:
    assert check(timestamp=timestamp) == "timestamp is not unix seconds"


@pytest.mark.parametrize(
    "signature",
    [
        "not base64!",
        "é" * 88,
        "\ud800" * 88,
        b64(bytes(64)).rstrip("="),  # padding dropped
        b64(bytes(64))[:-3],  # cut mid-quantum
        b64(bytes(64)).replace("A", "-", 1),  # URL-safe alphabet
        b64(bytes(30)) + " " + b64(bytes(30)),
        b64(bytes(64)) + "\n",
    ],
)
def test_signatures_that_are_not_base64_are_refused(signature: str) -> None:
    assert check(signature=signature) == "signature is not base64"


@pytest.mark.parametrize("length", [1, 32, 63, 65, 128])
def test_signatures_of_the_wrong_length_are_refused(length: int) -> None:
    assert check(signature=b64(bytes(length))) == f"signature is {length} bytes, not 64"


def test_huge_signatures_are_refused_without_decoding() -> None:
    assert check(signature="A" * 100_000) == "signature is too long"


# ---- keys -------------------------------------------------------------------------------------


def pem(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(b64(RFC_PUBLIC), id="raw base64"),
        pytest.param(f"  {b64(RFC_PUBLIC)}\n", id="raw base64 with whitespace"),
        pytest.param(pem(Ed25519PrivateKey.from_private_bytes(RFC_SECRET)), id="PEM"),
        pytest.param(
            pem(Ed25519PrivateKey.from_private_bytes(RFC_SECRET)).replace("\n", "\r\n"),
            id="PEM with CRLF",
        ),
        pytest.param(
            "".join(pem(Ed25519PrivateKey.from_private_bytes(RFC_SECRET)).splitlines()[1:-1]),
            id="PEM body without armour",
        ),
    ],
)
def test_the_key_loads_in_every_form(form: str) -> None:
    signatures = TelnyxSignatures(form)
    assert check(signatures=signatures) is None
    assert check(signature=OTHER.headers(BODY, T)[SIGNATURE_HEADER], signatures=signatures)


PRIVATE_PEM = (
    Ed25519PrivateKey.from_private_bytes(RFC_SECRET)
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode()
)


@pytest.mark.parametrize(
    ("key", "detail"),
    [
        ("", "decodes to 0 bytes"),
        ("not a key", "not base64"),
        (RFC_PUBLIC.hex(), "decodes to 48 bytes"),  # hex is base64 too
        ("key: " + b64(RFC_PUBLIC), "not base64"),
        (b64(RFC_PUBLIC[:31]), "decodes to 31 bytes"),
        (b64(RFC_PUBLIC + b"\x00"), "decodes to 33 bytes"),
        (b64(RFC_SECRET + RFC_PUBLIC), "decodes to 64 bytes"),  # NaCl's 64-byte secret key
        (base64.urlsafe_b64encode(b"\xff" * 32).decode(), "not base64"),
        ("-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----", "does not parse"),
        (PRIVATE_PEM, "does not parse"),
        (pem(ec.generate_private_key(ec.SECP256R1())), "PEM block is not an Ed25519 key"),
        (
            "".join(pem(ec.generate_private_key(ec.SECP256R1())).splitlines()[1:-1]),
            "DER key is not an Ed25519",
        ),
    ],
)
def test_a_bad_key_is_a_config_error_naming_the_setting(key: str, detail: str) -> None:
    with pytest.raises(ConfigError, match="TELNYX_PUBLIC_KEY") as caught:
        TelnyxSignatures(key)
    message = str(caught.value)
    assert "base64 of the 32 raw key bytes" in message
    assert "PEM" in message
    assert detail in message
    assert b64(RFC_SECRET) not in message
    assert "PRIVATE" not in message


# Every encoding of the eight small-order points of edwards25519 (libsodium's blocklist, with
# and without the sign bit, and y = p, p + 1): each verifies some forged signature.
SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
]


@pytest.mark.parametrize("encoding", SMALL_ORDER)
def test_small_order_keys_that_accept_forgeries_are_refused(encoding: str) -> None:
    with pytest.raises(ConfigError, match=r"TELNYX_PUBLIC_KEY.*small-order"):
        TelnyxSignatures(b64(bytes.fromhex(encoding)))


def test_the_all_zero_placeholder_really_is_forgeable() -> None:
    """Why the small-order check exists: with an all-zero key, "identity point, S = 0" passes
    for a quarter of all messages (here found by trying a few bodies)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    zero = Ed25519PublicKey.from_public_bytes(bytes(32))
    forged = (1).to_bytes(32, "little") + bytes(32)
    passed = 0
    for n in range(40):
        try:
            zero.verify(forged, f"{T}|".encode() + b"%d" % n)
            passed += 1
        except Exception:
            pass
    assert passed > 0


def test_reprs_show_no_private_key() -> None:
    assert repr(TelnyxSignatures(SIGNER.public_key)) == (
        f"TelnyxSignatures(public_key={SIGNER.public_key!r}, tolerance_s=300)"
    )
    shown = repr(SIGNER)
    assert "<hidden>" in shown
    assert SIGNER.public_key in shown
    for secret in (
        b64(RFC_SECRET),
        RFC_SECRET.hex(),
        base64.urlsafe_b64encode(RFC_SECRET).decode(),
    ):
        assert secret not in shown


# ---- stream auth tokens -----------------------------------------------------------------------

SECRET = "stream-secret-" + "0" * 20
PATH = "/telnyx/media/call_abc"


def test_stream_token_round_trips() -> None:
    token = stream_token(SECRET, PATH)
    assert token == stream_token(SECRET, PATH)  # stateless: any instance computes the same
    assert len(token) == 43  # 32 bytes, urlsafe base64, unpadded
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert stream_token_refusal(SECRET, PATH, token) is None


def test_stream_token_secret_may_be_bytes() -> None:
    assert stream_token(SECRET.encode(), PATH) == stream_token(SECRET, PATH)
    assert stream_token_refusal(SECRET.encode(), PATH, stream_token(SECRET, PATH)) is None


TOKEN = stream_token(SECRET, PATH)
NO_MATCH = "stream auth token does not match"


@pytest.mark.parametrize(
    ("secret", "path", "presented", "reason"),
    [
        (SECRET, PATH, None, "no stream auth token"),
        (SECRET, PATH, "", "no stream auth token"),
        (SECRET, PATH + "x", TOKEN, NO_MATCH),
        (SECRET, "/telnyx/media/call_abd", TOKEN, NO_MATCH),
        ("another-secret-" + "0" * 20, PATH, TOKEN, NO_MATCH),
        (SECRET, PATH, TOKEN[:-1], NO_MATCH),
        (SECRET, PATH, TOKEN + "=", NO_MATCH),
        (SECRET, PATH, TOKEN.upper(), NO_MATCH),
        (SECRET, PATH, "é" * 43, NO_MATCH),
        (SECRET, PATH, "\ud800", NO_MATCH),
        ("", PATH, stream_token("x", PATH), "no stream auth secret configured"),
        (b"", PATH, stream_token("x", PATH), "no stream auth secret configured"),
    ],
)
def test_stream_token_refusals(
    secret: str | bytes, path: str, presented: str | None, reason: str
) -> None:
    assert stream_token_refusal(secret, path, presented) == reason


def test_stream_tokens_exist_for_any_path() -> None:
    """Paths come from requests: a lone surrogate gives a token that matches nothing else."""
    assert stream_token(SECRET, "\ud800") != stream_token(SECRET, "\ufffd")
    assert stream_token_refusal(SECRET, "\ud800", stream_token(SECRET, "\ud800")) is None


def test_an_empty_stream_secret_mints_nothing() -> None:
    with pytest.raises(ValueError, match="empty"):
        stream_token("", PATH)
