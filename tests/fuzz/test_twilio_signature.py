"""X-Twilio-Signature checks: any URL, form and header give a bool; only Twilio's signature passes.

`validate_webhook` and `validate_upgrade` guard every Twilio webhook and media upgrade. They wrap
Twilio's own validator, which parses the URL (ports, IPv6 brackets, a `bodySHA256` query) and
raises for some inputs; whatever it does, the answer must be a bool and fail closed.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from multidict import MultiDict

from bridge.carriers.twilio.signature import TwilioSignatures
from tests.fuzz.conftest import FUZZ, ROUNDTRIP
from tests.fuzz.dictionary import HOSTILE_STRINGS
from tests.fuzz.genome import Genome, damage
from tests.fuzz.strategies import ENCODABLE, genomes

TOKEN = "twilio-auth-token-" + "0" * 14
SIGNER = TwilioSignatures(TOKEN)
OTHER = TwilioSignatures("another-auth-token")
SCHEMES = ["https", "http", "wss", "ws", "HTTPS", "ftp", "", "https:"]
HOSTS = ["bridge.example.com", "127.0.0.1", "[::1]", "[", "]", "exa mple.com", "é.example", ""]
PORTS = ["", ":443", ":80", ":8080", ":0", ":65536", ":99999", ":-1", ":abc", ":"]
PATHS = ["/twilio/voice", "/twilio/media/call_1", "/", "", "/a?b=1", "/?bodySHA256=abc", "/%zz"]
FORM = {"CallSid": "CA" + "a" * 32, "To": "+15550100001", "From": "+15550100003"}


def url(g: Genome) -> str:
    if g.below(8) == 7:
        return g.pick([g.text(30), *HOSTILE_STRINGS])
    built = f"{g.pick(SCHEMES)}://{g.pick(HOSTS)}{g.pick(PORTS)}{g.pick(PATHS)}"
    return damage(g, built) if g.below(4) == 3 else built


def params(g: Genome) -> MultiDict[str]:
    form: MultiDict[str] = MultiDict(FORM if g.byte() % 2 else {})
    for _ in range(g.below(4)):
        name = g.pick([*FORM, "Digits", "", g.text(6)])
        form.add(name, g.pick(["", "1", g.text(10), *HOSTILE_STRINGS]))
    return form


@FUZZ
@given(genomes)
def test_any_request_gives_a_bool_and_only_a_genuine_signature_passes(genome: bytes) -> None:
    g = Genome(genome)
    target, form = url(g), params(g)
    kind = g.below(6)
    try:
        genuine: str | None = SIGNER.sign(target, form)
    except UnicodeEncodeError:  # a lone surrogate cannot be signed, so nobody can sign it
        genuine = None
    if kind == 0 and genuine:
        signature: str | None = genuine
    elif kind == 1 and genuine:
        signature = damage(g, genuine)
    elif kind == 2:
        signature = OTHER.sign("https://bridge.example.com/twilio/voice", FORM)
    elif kind == 3:
        signature = g.pick([None, "", " ", "=", "A" * 28, "\ud800", "é" * 28])
    else:
        signature = g.text(30)
    try:
        webhook = SIGNER.validate_webhook(target, form, signature)
        upgrade = SIGNER.validate_upgrade(target, signature)
    except Exception as exc:
        raise AssertionError(f"{target!r} {form!r} {signature!r}") from exc
    assert type(webhook) is bool
    assert type(upgrade) is bool
    if webhook or upgrade:  # only what was signed with the token passes
        assert signature is not None
        assert kind in (0, 1), (target, form, signature)


# No ';': Twilio's validator parses with urlparse, which drops an empty ";params" part, so a
# URL ending in ';' never validates (Twilio's quirk; our paths never contain one).
PATH_CHARS = "abcxyzABZ0189-._~%/!$&'()*+,=:@"
urls = st.builds(
    "{}://{}{}{}".format,
    st.sampled_from(["https", "http", "wss", "ws"]),
    st.sampled_from(["bridge.example.com", "127.0.0.1", "[::1]"]),
    st.sampled_from(["", ":443", ":80", ":8443"]),
    # What a request line can carry (urlsplit drops raw tabs and line breaks, and so would HTTP).
    st.text(st.sampled_from(PATH_CHARS), max_size=20).map("/{}".format),
)
forms = st.dictionaries(
    st.text(ENCODABLE, min_size=1, max_size=10), st.text(ENCODABLE, max_size=20), max_size=5
)


@ROUNDTRIP
@given(target=urls, form=forms, data=st.data())
def test_twilios_signature_passes_and_any_changed_value_or_signature_fails(
    target: str, form: dict[str, str], data: st.DataObject
) -> None:
    signature = SIGNER.sign(target, form)
    assert SIGNER.validate_webhook(target, form, signature)
    assert SIGNER.validate_upgrade(target, SIGNER.sign(target))
    assert not OTHER.validate_webhook(target, form, signature)

    at = data.draw(st.integers(0, len(signature) - 1), label="signature position")
    char = data.draw(st.characters().filter(lambda c: c != signature[at]), label="character")
    assert not SIGNER.validate_webhook(target, form, signature[:at] + char + signature[at + 1 :])

    if form:
        name = data.draw(st.sampled_from(sorted(form)), label="field")
        value = data.draw(st.text(ENCODABLE, max_size=20).filter(lambda v: v != form[name]))
        assert not SIGNER.validate_webhook(target, {**form, name: value}, signature)
