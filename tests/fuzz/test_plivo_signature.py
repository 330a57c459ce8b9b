"""Plivo's V3 signature check, the stream token and the document tokens: whatever arrives, a
reason or a pass, never an exception, and a pass only for exactly what was signed.

`PlivoSignatures.refusal` guards every Plivo webhook: its URL, form, headers and nonce are
anyone's to choose (aiohttp hands undecodable bytes over as lone surrogates).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bridge.carriers.plivo.signature import (
    SIGNATURE_HEADER,
    PlivoSignatures,
    PlivoSigner,
    base_string,
)
from bridge.carriers.plivo.tokens import (
    open_document,
    sign_document,
    stream_token,
    stream_token_refusal,
)
from tests.fuzz.conftest import FUZZ, ROUNDTRIP
from tests.fuzz.dictionary import HOSTILE_STRINGS
from tests.fuzz.genome import Genome, damage
from tests.fuzz.strategies import ENCODABLE, genomes

TOKEN = "fuzz-plivo-token-" + "0" * 16
SIGNER = PlivoSigner(TOKEN)
SIGNATURES = PlivoSignatures(TOKEN)
URLS = [
    "https://bridge.example.com/plivo/voice",
    "https://bridge.example.com/plivo/voice?dial=a.b",
    "https://bridge.example.com:8443/plivo/voice/menu?b=2&a=1",
    "http://127.0.0.1:8080/plivo/status/call_1/agent",
]
FORMS = [
    {"CallUUID": "a1", "To": "15550100001", "From": "15550100003"},
    {},
    {"Digits": "2"},
]
field = st.text(ENCODABLE, max_size=12)
form = st.dictionaries(field, field, max_size=4)


def request(g: Genome) -> tuple[str, str, dict[str, str]]:
    method = g.pick(["POST", "GET", "post", "PUT"])
    url = g.pick(URLS) if g.below(3) else damage(g, g.pick(URLS))
    params = (
        dict(g.pick(FORMS)) if g.below(3) else {g.text(6): g.text(6) for _ in range(g.below(3))}
    )
    return method, url, params


def signed(signer: PlivoSigner, method: str, url: str, params: dict[str, str], nonce: str) -> str:
    try:
        return signer.headers(method, url, params, nonce)[SIGNATURE_HEADER]
    except ValueError:  # not encodable, or not a URL: no signature can be made for it
        return "x"


@FUZZ
@given(genomes)
def test_any_webhook_gives_a_reason_and_only_the_signed_request_passes(genome: bytes) -> None:
    g = Genome(genome)
    method, url, params = request(g)
    nonce = g.pick(["1234", "", None, *HOSTILE_STRINGS]) if g.below(4) == 0 else str(g.integer())
    signed_method, signed_url, signed_params = (method, url, params)
    how = g.below(6)
    if how == 1:  # signed for another request
        signed_method, signed_url, signed_params = request(g)
    genuine = signed(SIGNER, signed_method, signed_url, signed_params, nonce or "0")
    if how == 2:
        signature: str | None = damage(g, genuine)
    elif how == 3:
        signature = g.pick([None, "", ",", " , ", *HOSTILE_STRINGS])
    elif how == 4:
        signature = g.text(60) + "," + genuine
    elif how == 5:
        signature = signed(PlivoSigner("other"), method, url, params, nonce or "0")
    else:
        signature = genuine
    try:
        refusal = SIGNATURES.refusal(method, url, params, signature, nonce)
    except Exception as exc:
        raise AssertionError(f"{method!r} {url!r} {params!r} {signature!r} {nonce!r}") from exc
    if refusal is not None:
        assert type(refusal) is str
        assert refusal
        return
    # Passed: one of the comma-separated values is the token's signature over exactly this.
    assert nonce
    assert signature is not None
    expected = SIGNER.headers(method, url, params, nonce)[SIGNATURE_HEADER]
    assert expected in [part.strip() for part in signature.split(",")]


@ROUNDTRIP
@given(
    url=st.sampled_from(URLS),
    params=form.filter(bool),
    nonce=st.text(ENCODABLE, min_size=1, max_size=20),
    data=st.data(),
)
def test_a_signed_post_fails_once_any_field_or_the_url_changes(
    url: str, params: dict[str, str], nonce: str, data: st.DataObject
) -> None:
    headers = SIGNER.headers("POST", url, params, nonce)
    assert SIGNATURES.refusal("POST", url, params, headers[SIGNATURE_HEADER], nonce) is None
    key = data.draw(st.sampled_from(sorted(params)), label="field")
    value = data.draw(field.filter(lambda v: v != params[key]), label="new value")
    changed = params | {key: value}
    if base_string("POST", url, changed, nonce) != base_string("POST", url, params, nonce):
        assert SIGNATURES.refusal("POST", url, changed, headers[SIGNATURE_HEADER], nonce)
    other_url = data.draw(st.sampled_from([u for u in URLS if u != url]), label="url")
    assert SIGNATURES.refusal("POST", other_url, params, headers[SIGNATURE_HEADER], nonce)


@FUZZ
@given(genomes)
def test_stream_and_document_tokens_pass_only_as_made(genome: bytes) -> None:
    g = Genome(genome)
    call_id = g.pick(["call_abc", "", "call_abc/"]) if g.below(3) else g.text(30)
    genuine = stream_token(TOKEN, call_id)
    presented = g.pick(
        [genuine, damage(g, genuine), stream_token("other", call_id), None, *HOSTILE_STRINGS]
    )
    refusal = stream_token_refusal(TOKEN, call_id, presented)
    assert (refusal is None) == (presented == genuine)
    made = sign_document(TOKEN, {"k": "dial", "u": g.text(10)})
    token = g.pick([made, damage(g, made), sign_document("other", {"k": "dial"}), g.text(40), ""])
    opened = open_document(TOKEN, token)
    if token != made:
        assert opened is None or sign_document(TOKEN, opened) == token
    else:
        assert opened is not None
        assert opened["k"] == "dial"
