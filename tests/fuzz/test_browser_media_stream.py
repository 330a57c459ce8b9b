"""The console's media socket (untrusted: anyone with a browser): whatever arrives, only a
ProtocolViolation escapes, and audio is accepted only as exact 20 ms frames after `start`."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from bridge.carriers.base import Media, ProtocolViolation
from bridge.carriers.browser import BrowserMediaStream
from tests.fuzz.conftest import FUZZ

START = json.dumps({"event": "start", "ticket": "BR1.body.sig", "sampleRate": 48000})
messages = st.one_of(
    st.binary(max_size=4000),
    st.text(max_size=300),
    st.sampled_from([START, '{"event": "mark", "name": "1"}', '{"event": "stop"}']),
    st.fixed_dictionaries(
        {"event": st.sampled_from(["start", "mark", "stop"])},
        optional={
            "ticket": st.one_of(st.text(max_size=40), st.integers(), st.none()),
            "sampleRate": st.one_of(st.integers(), st.floats(), st.text(max_size=8)),
            "name": st.one_of(st.text(max_size=20), st.integers()),
        },
    ).map(json.dumps),
)


@FUZZ
@given(st.lists(messages, max_size=12), st.booleans())
def test_only_protocol_violations_escape_and_audio_is_whole_frames(
    sequence: list[str | bytes], desk_allows: bool
) -> None:
    protocol = BrowserMediaStream(lambda _leg, _call: None if desk_allows else "no", "call_1")
    for message in sequence:
        try:
            event = protocol.parse(message)
        except ProtocolViolation:
            continue
        if isinstance(event, Media):
            assert protocol.started
            assert len(event.payload) == protocol.media_format.bytes_for_ms(20)
