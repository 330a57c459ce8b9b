"""Telnyx webhook signatures and stream tokens: any headers and body give a reason or a pass, and
only what the key signed passes.

`TelnyxSignatures.refusal` guards every Telnyx webhook and `stream_token_refusal` every Telnyx
media upgrade; both read headers anyone can send (aiohttp hands over undecodable bytes as lone
surrogates). Whatever arrives, the answer is None or a reason, never an exception, and None
only for a fresh timestamp and the key's own signature over exactly that timestamp and body.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from bridge.carriers.telnyx.signature import (
    SIGNATURE_HEADER,
    TelnyxSignatures,
    TelnyxSigner,
    stream_token,
    stream_token_refusal,
)
from tests.fuzz.conftest import FUZZ, ROUNDTRIP
from tests.fuzz.dictionary import HOSTILE_STRINGS
from tests.fuzz.genome import Genome, damage
from tests.fuzz.strategies import genomes

PRIVATE = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SIGNER = TelnyxSigner(PRIVATE)
OTHER = TelnyxSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))))
SIGNATURES = TelnyxSignatures(SIGNER.public_key)
TOLERANCE = 300
T = 1_700_000_000
BODIES = [
    b'{"data":{"event_type":"call.initiated","payload":{"call_control_id":"v3:abc"}}}',
    b"",
    b"|",
    b"\x00" * 64,
]
STAMPS = [str(T), f"0{T}", f"{T}.0", f" {T}", f"-{T}", "0", "9" * 12, "9" * 13, "\u0661" * 10]
SECRET = "stream-secret-" + "0" * 20
PATHS = ["/telnyx/media/call_abc", "/telnyx/media/", "/", "", "/telnyx/media/call_abc/"]


def offset(g: Genome) -> int:
    """Seconds from T, either side of the tolerance's edges; zero bytes (past the genome's end
    too) mean T itself, so a short genome still makes a fresh timestamp."""
    n = g.below(2 * TOLERANCE + 41)
    return n if n <= TOLERANCE + 20 else TOLERANCE + 20 - n


def body(g: Genome) -> bytes:
    how = g.below(4)
    if how == 0:
        return g.pick(BODIES)  # type: ignore[no-any-return]
    if how == 1:
        return g.blob(60)
    if how == 2:
        return g.text(40).encode("utf-8", "surrogatepass")
    return damage(g, g.pick(BODIES).decode("latin-1")).encode("latin-1", "replace")


def timestamp(g: Genome) -> str | None:
    how = g.below(6)
    if how < 2:
        return str(T + offset(g))
    if how == 2:
        return g.pick([None, *STAMPS, *HOSTILE_STRINGS])  # type: ignore[no-any-return]
    if how == 3:
        return str(g.integer())
    if how == 4:
        return damage(g, str(T))
    return g.text(14)


def signature(g: Genome, kind: int, signed: bytes, stamp: str | None) -> str | None:
    genuine = base64.b64encode(PRIVATE.sign(signed)).decode() if stamp is not None else None
    if kind == 0 and genuine:
        return genuine
    if kind == 1 and genuine:
        return damage(g, genuine)
    if kind == 2:
        return OTHER.headers(signed, T)[SIGNATURE_HEADER]
    if kind == 3:  # the key's signature, but over other bytes
        return SIGNER.headers(g.pick(BODIES), T + g.below(3))[SIGNATURE_HEADER]
    if kind == 4:
        return g.base64()
    if kind == 5:
        return g.pick([None, "", " ", "=", "A" * 88, "A" * 86 + "==", "\ud800", "é" * 88])  # type: ignore[no-any-return]
    return g.text(100)


@FUZZ
@given(genomes)
def test_any_webhook_gives_a_reason_and_only_the_keys_signature_passes(genome: bytes) -> None:
    g = Genome(genome)
    raw, stamp = body(g), timestamp(g)
    kind = g.below(7)
    signed = (stamp or "").encode("utf-8", "surrogatepass") + b"|" + raw
    sig = signature(g, kind, signed, stamp)
    now = g.integer() / 7 if g.below(8) == 7 else T + offset(g)
    try:
        refusal = SIGNATURES.refusal(raw, sig, stamp, now)
    except Exception as exc:
        raise AssertionError(f"{raw!r} {sig!r} {stamp!r} {now!r}") from exc
    if refusal is not None:
        assert type(refusal) is str
        assert refusal
        return
    # Passed: so a fresh, plain unix-seconds timestamp, and the key's own signature over exactly
    # that timestamp and body (kinds 0, 1 and 3 can produce it; nothing else can).
    assert sig is not None
    assert stamp is not None
    assert stamp.isascii()
    assert stamp.isdigit()
    assert abs(now - int(stamp)) <= TOLERANCE
    assert base64.b64decode(sig) == PRIVATE.sign(stamp.encode() + b"|" + raw)


@ROUNDTRIP
@given(raw=st.binary(min_size=1, max_size=2000), stamp=st.integers(0, 10**11), data=st.data())
def test_a_genuine_signature_passes_and_fails_once_any_body_byte_changes(
    raw: bytes, stamp: int, data: st.DataObject
) -> None:
    headers = SIGNER.headers(raw, stamp)
    sig, ts = headers[SIGNATURE_HEADER], headers["telnyx-timestamp"]
    assert SIGNATURES.refusal(raw, sig, ts, stamp) is None
    other = OTHER.headers(raw, stamp)[SIGNATURE_HEADER]
    assert SIGNATURES.refusal(raw, other, ts, stamp) == "signature does not match"

    at = data.draw(st.integers(0, len(raw) - 1), label="body position")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[at]), label="byte")
    changed = raw[:at] + bytes([byte]) + raw[at + 1 :]
    assert SIGNATURES.refusal(changed, sig, ts, stamp) == "signature does not match"


@FUZZ
@given(genomes)
def test_any_stream_token_is_refused_unless_it_is_the_paths_token(genome: bytes) -> None:
    g = Genome(genome)
    path = g.pick(PATHS) if g.below(4) else g.text(30)
    genuine = stream_token(SECRET, path)
    how = g.below(6)
    if how == 0:
        presented: str | None = genuine
    elif how == 1:
        presented = damage(g, genuine)
    elif how == 2:
        presented = stream_token(g.pick([SECRET, SECRET + "x", "other"]), g.pick(PATHS))
    elif how == 3:
        presented = g.pick([None, *HOSTILE_STRINGS])
    elif how == 4:
        presented = g.base64()
    else:
        presented = g.text(50)
    try:
        refusal = stream_token_refusal(SECRET, path, presented)
    except Exception as exc:
        raise AssertionError(f"{path!r} {presented!r}") from exc
    assert (refusal is None) == (presented == genuine), (path, presented, refusal)
    if refusal is not None:
        assert refusal in ("no stream auth token", "stream auth token does not match")
