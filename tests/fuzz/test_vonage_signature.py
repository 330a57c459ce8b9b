"""Vonage signed-webhook JWTs: any Authorization header and body give a reason or a pass, and
only what the signature secret signed, freshly, for this application and this body, passes.

`VonageSignatures.refusal` guards every Vonage webhook and media upgrade; it reads a header
anyone can send (aiohttp hands over undecodable bytes as lone surrogates).
"""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from bridge.carriers.vonage.signature import VonageSignatures, VonageSigner
from tests.fuzz.conftest import FUZZ, ROUNDTRIP
from tests.fuzz.dictionary import HOSTILE_STRINGS
from tests.fuzz.genome import Genome, damage
from tests.fuzz.strategies import genomes

APP = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
SECRET = "vonage-signature-secret-" + "0" * 16
SIGNER = VonageSigner(SECRET, APP)
OTHER = VonageSigner("another-signature-secret-" + "1" * 16, APP)
CHECK = VonageSignatures(SECRET, APP, tolerance_s=300)
T = 1_700_000_000.0
BODIES = [b'{"uuid":"u","status":"answered"}', b"", b"{}", b"\x00" * 32]


def segment(data: object) -> str:
    raw = json.dumps(data).encode() if not isinstance(data, bytes) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def header(g: Genome, body: bytes | None) -> str:
    how = g.below(8)
    now = T + g.below(700) - 350
    if how == 0:
        return f"Bearer {SIGNER.token(body, now)}"
    if how == 1:
        return f"Bearer {OTHER.token(body, now)}"
    if how == 2:
        return f"Bearer {damage(g, SIGNER.token(body, now))}"
    if how == 3:
        head, claims = (
            g.pick([{"alg": "none"}, {"alg": "HS256"}, {"alg": "RS256"}, []]),
            g.pick(
                [{"iat": "x"}, {"iss": "Vonage", "iat": 1e309}, [], "s", {"iat": T, "exp": None}]
            ),
        )
        return f"Bearer {segment(head)}.{segment(claims)}.{g.text(20)}"
    if how == 4:
        return str(g.pick(HOSTILE_STRINGS))
    if how == 5:
        return "Bearer " + g.text(60)
    if how == 6:
        return SIGNER.token(body, now)  # no scheme
    return f"Bearer {SIGNER.token(body, now, application_id=g.text(8))}"


@FUZZ
@given(genomes)
def test_any_header_and_body_give_a_reason_or_a_pass(genome: bytes) -> None:
    g = Genome(genome)
    signed = g.pick(BODIES) if g.below(2) else g.blob(40)
    sent = signed if g.below(4) else g.blob(40)
    authorization = header(g, signed or None)
    why = CHECK.refusal(authorization, sent or None, T)
    if why is None:  # only a genuine, fresh token for exactly this body passes
        assert authorization.startswith("Bearer ")
        assert SIGNER.token  # the signer's secret made it
        assert OTHER.token(sent, T) != authorization[7:]
    else:
        assert isinstance(why, str)
        assert 0 < len(why) <= 120


@ROUNDTRIP
@given(st.binary(max_size=200), st.integers(-299, 299))
def test_a_fresh_genuine_token_always_passes_and_another_body_never(body: bytes, skew: int) -> None:
    token = f"Bearer {SIGNER.token(body or None, T + skew)}"
    assert CHECK.refusal(token, body or None, T) is None
    assert CHECK.refusal(token, body + b"x", T) is not None
    assert CHECK.refusal(f"Bearer {OTHER.token(body or None, T)}", body or None, T) is not None
