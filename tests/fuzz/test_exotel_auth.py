"""Exotel's Basic credentials and our sealed CustomField: whatever arrives gives a reason or a
pass, never an exception, and only the exact credentials (or our own seal) pass.

`basic_refusal` guards every Exotel webhook and media upgrade, reading a header anyone can send
(aiohttp hands undecodable bytes over as lone surrogates); `unseal` reads the CustomField of a
voice webhook, which is as untrusted as the rest of the query.
"""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from bridge.carriers.exotel.auth import basic_header, basic_refusal, seal, unseal
from bridge.carriers.interface import StreamTarget
from tests.fuzz.conftest import FUZZ, ROUNDTRIP
from tests.fuzz.dictionary import HOSTILE_STRINGS
from tests.fuzz.genome import Genome, damage
from tests.fuzz.strategies import ANY_CHAR, genomes

USER, PASSWORD = "exotel", "0123456789abcdef0123"
GENUINE = basic_header(USER, PASSWORD)
TARGET = StreamTarget("wss://bridge.example.com/exotel/media/call_1", {"ticket": "abc.def"})
SEALED = seal(TARGET, PASSWORD)


def header(g: Genome) -> str | None:
    how = g.below(7)
    if how == 0:
        return GENUINE
    if how == 1:
        return damage(g, GENUINE)
    if how == 2:
        user, password = g.text(20), g.text(20)
        return basic_header(user, password)
    if how == 3:
        return "Basic " + g.base64()
    if how == 4:
        return g.pick(
            [None, *HOSTILE_STRINGS, "Basic", "Basic ", "Basic ==", "basic " + GENUINE[6:]]
        )  # type: ignore[no-any-return]
    if how == 5:
        return g.pick(["Basic ", "BASIC ", "Bearer ", ""]) + g.text(60)  # type: ignore[no-any-return]
    return g.text(100)


@FUZZ
@given(genomes)
def test_any_authorization_gives_a_reason_and_only_the_credentials_pass(genome: bytes) -> None:
    presented = header(Genome(genome))
    try:
        refusal = basic_refusal(presented, USER, PASSWORD)
    except Exception as exc:
        raise AssertionError(repr(presented)) from exc
    if refusal is not None:
        assert type(refusal) is str
        assert 0 < len(refusal) <= 60
        assert PASSWORD not in refusal
        return
    assert presented is not None
    scheme, _, token = presented.strip().partition(" ")
    assert scheme.lower() == "basic"
    assert base64.b64decode(token.strip(), validate=True) == f"{USER}:{PASSWORD}".encode()


@FUZZ
@given(genomes)
def test_any_custom_field_is_ours_exactly_or_nothing(genome: bytes) -> None:
    g = Genome(genome)
    how = g.below(4)
    if how == 0:
        field = damage(g, SEALED)
    elif how == 1:
        field = g.pick([SEALED, *HOSTILE_STRINGS, "~", SEALED + "~", "~" + SEALED])
    elif how == 2:
        field = seal(StreamTarget(g.text(40), {g.text(5): g.text(20)}), g.text(20))
    else:
        field = g.text(200)
    try:
        target = unseal(field, PASSWORD)
    except Exception as exc:
        raise AssertionError(repr(field)) from exc
    if target is not None:
        assert field == SEALED
        assert target == TARGET


@ROUNDTRIP
@given(
    url=st.text(ANY_CHAR, max_size=200),
    params=st.dictionaries(
        st.text(ANY_CHAR, max_size=10), st.text(ANY_CHAR, max_size=200), max_size=3
    ),
    key=st.text(ANY_CHAR, min_size=16, max_size=40),
)
def test_every_seal_opens_to_the_same_target_under_its_key_only(
    url: str, params: dict[str, str], key: str
) -> None:
    target = StreamTarget(url, params)
    field = seal(target, key)
    assert unseal(field, key) == target
    assert unseal(field, key + "x") is None
