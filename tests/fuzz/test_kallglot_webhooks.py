"""Kallglot webhook signatures: any header and body give a bool, and only a genuine one is True.

`verify_signature` runs on every delivery before anything in it is believed, so it sees whatever
an attacker sends: headers of any length and alphabet, bodies of any bytes.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bridge.kallglot.webhooks import DEFAULT_TOLERANCE_S, compute, sign, verify_signature
from tests.fuzz.conftest import FUZZ, ROUNDTRIP
from tests.fuzz.dictionary import HOSTILE_STRINGS
from tests.fuzz.genome import Genome, damage
from tests.fuzz.strategies import ENCODABLE, genomes

SECRET = "whsec_" + "k" * 32
NOW = 1_800_000_000
BODY = b'{"id":"evt_1","type":"session.ended","data":{"object":"session","id":"sess_1"}}'


def _timestamp(g: Genome) -> str:
    return g.pick(
        [
            str(NOW),
            str(NOW - 299),
            str(NOW + 301),
            "0",
            "-1",
            "9" * 13,
            "9" * 400,
            f" {NOW} ",
            f"{NOW}.5",
            "\u0661\u0662",
            "",
            "1e9",
            str(g.integer()),
        ]
    )


def _part(g: Genome, body: bytes) -> str:
    t = _timestamp(g)
    good = compute(body, SECRET, NOW)
    return g.pick(
        [
            f"t={t}",
            f"v1={good}",
            f"v1={good.upper()}",
            f"v1={good[:-1]}",
            f"v1={compute(body, SECRET, NOW + 1)}",
            f"v1={compute(body, 'whsec_other', NOW)}",
            f"v0={good}",
            f" v1 = {good} ",
            "v1=",
            "t",
            "=",
            "==",
            f"V1={good}",
            f"v1={good}\u0301",
            g.text(),
            g.pick(HOSTILE_STRINGS),
        ]
    )


def header_and_body(g: Genome) -> tuple[str | None, bytes, str]:
    body = BODY if g.byte() % 2 else g.blob(64)
    # The secret is configuration, not input: readable text, or none. (A lone surrogate, which
    # os.environ makes of undecodable bytes, cannot be encoded: a start-up check's job.)
    secret = g.pick([SECRET, SECRET, SECRET, "", "ß" * 3, "🎧", "k"])
    kind = g.below(6)
    if kind <= 1:
        header: str | None = damage(g, sign(body, SECRET, NOW + g.below(601) - 300))
    elif kind == 2:  # genuine parts among others, in any order (secret rotation, new schemes)
        t = NOW + g.below(601) - 300
        parts = [f"t={t}", f"v1={compute(body, SECRET, t)}"]
        for _ in range(g.below(4)):
            parts.insert(g.below(len(parts) + 1), _part(g, body))
        header = g.pick([",", ", ", ",,"]).join(parts)
    elif kind == 3:
        header = g.pick([",", ", ", ";", ",,"]).join(_part(g, body) for _ in range(g.below(6)))
    elif kind == 4:
        header = g.text(60)
    else:
        header = g.pick([None, "", sign(body, SECRET, NOW) + "," + "x" * 5000, "t=" * 3000])
    return header, body, secret


@FUZZ
@given(genomes)
def test_any_header_and_body_give_a_bool_and_true_only_when_genuine(genome: bytes) -> None:
    header, body, secret = header_and_body(Genome(genome))
    try:
        verified = verify_signature(body, header, secret, now=NOW)
    except Exception as exc:
        raise AssertionError(f"header {header!r}, body {body!r}, secret {secret!r}") from exc
    assert type(verified) is bool
    if verified:  # then a fresh t and its MAC under this secret are in the header
        assert header is not None
        assert secret
        # Whitespace (any Unicode kind: str.strip) around keys and values is tolerated.
        compact = "".join(c for c in header if not c.isspace()).lower()
        assert any(
            f"t={t}" in compact and f"v1={compute(body, secret, t)}" in compact
            for t in range(NOW - int(DEFAULT_TOLERANCE_S), NOW + int(DEFAULT_TOLERANCE_S) + 1)
        ), header


@ROUNDTRIP
@given(
    body=st.binary(max_size=512),
    secret=st.text(ENCODABLE, min_size=1, max_size=40),
    skew=st.integers(min_value=-300, max_value=300),
    data=st.data(),
)
def test_a_signature_verifies_and_any_single_change_breaks_it(
    body: bytes, secret: str, skew: int, data: st.DataObject
) -> None:
    header = sign(body, secret, NOW + skew)
    assert verify_signature(body, header, secret, now=NOW)

    if body:
        at = data.draw(st.integers(0, len(body) - 1), label="body byte")
        new = data.draw(st.integers(0, 255).filter(lambda b: b != body[at]), label="new byte")
        assert not verify_signature(
            body[:at] + bytes([new]) + body[at + 1 :], header, secret, now=NOW
        )

    at = data.draw(st.integers(0, len(header) - 1), label="header character")
    new_char = data.draw(st.characters().filter(lambda c: c != header[at]), label="new character")
    changed = header[:at] + new_char + header[at + 1 :]
    # The one change that keeps the meaning: a hex digit of v1 in the other case.
    same_mac = at > header.index("v1=") + 2 and new_char.lower() == header[at]
    assert verify_signature(body, changed, secret, now=NOW) is same_mac, changed
