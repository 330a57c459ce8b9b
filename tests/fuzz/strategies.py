"""Hypothesis strategies shared by the fuzzers.

`genomes` feeds the 10 000-case hostile-input tests (decoded by `tests.fuzz.genome`: see there
why one byte string per case); the rest build *valid* values for the round-trip properties,
where hypothesis's own shrinking gives the most readable counterexample.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import strategies as st

from bridge.carriers.base import ClearAudio, Command, MediaStreamProtocol, PlaceMark, PlayAudio

T = TypeVar("T")
E = TypeVar("E", bound=Exception)

genomes = st.binary(min_size=16, max_size=96)

# Anything a JSON string can hold, lone surrogates included (json.dumps escapes them).
ANY_CHAR = st.characters()
# Text that survives `str.encode("utf-8")`: for values that are signed or sent over HTTP.
ENCODABLE = st.characters(exclude_categories=("Cs",))
text = st.text(ANY_CHAR, max_size=16)
encodable_text = st.text(ENCODABLE, max_size=16)
# What the bridge may ask any carrier's stream to send, a few at a time.
bridge_commands = st.lists(
    st.one_of(
        st.binary(max_size=8000).map(PlayAudio),
        st.text(ANY_CHAR, max_size=40).map(PlaceMark),
        st.just(ClearAudio()),
    ),
    min_size=1,
    max_size=4,
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def outcome(allowed: type[E], call: Callable[..., T], *args: Any, sent: object = None) -> T | E:
    """What `call(*args)` returned, or the one exception type its contract allows it to raise.

    Any other exception fails the test, naming the input (`sent`) that caused it.
    """
    try:
        return call(*args)
    except allowed as exc:
        return exc
    except Exception as exc:
        shown = repr(sent)[:400]
        raise AssertionError(
            f"{type(exc).__name__} escaped (only {allowed.__name__} may): {shown}"
        ) from exc


def frame_for(stream: MediaStreamProtocol, command: Command) -> str | bytes:
    """The frame the bridge sends for `command`: the inverse the carrier sides must honour."""
    if isinstance(command, PlayAudio):
        return stream.media(command.payload)
    if isinstance(command, PlaceMark):
        return stream.mark(command.name)
    return stream.clear()


def assert_well_formed(command: Command) -> None:
    """A parsed command carries the types the bridge built it from, whatever frame it came from."""
    if isinstance(command, PlayAudio):
        assert type(command.payload) is bytes
    elif isinstance(command, PlaceMark):
        assert type(command.name) is str
    else:
        assert isinstance(command, ClearAudio)
