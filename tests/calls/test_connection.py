"""LegConnection: the one writer per carrier socket (frames, marks, clear, in order)."""

from __future__ import annotations

import asyncio

import pytest

from bridge.audio.formats import MULAW_8K, AudioFormat
from bridge.audio.playout import PlayoutBuffer
from bridge.calls.connection import LegConnection

FRAME = 160  # 20 ms of 8 kHz mu-law


class Messages:
    """A carrier whose messages are easy to read back: ("media", bytes), ("mark", name), ..."""

    def __init__(self, max_frames: int, marks: bool = True, clear: bool = True) -> None:
        self.max_frames = max_frames
        self.supports_marks = marks
        self.supports_clear = clear

    @property
    def media_format(self) -> AudioFormat:
        return MULAW_8K

    @property
    def max_frames_per_message(self) -> int:
        return self.max_frames

    def media(self, audio: bytes) -> str:
        return "media " + audio.hex()

    def mark(self, name: str) -> str:
        return "mark " + name

    def clear(self) -> str:
        return "clear"


class Carrier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | str]] = []
        self.changed = asyncio.Event()

    async def send(self, text: str | bytes) -> None:
        assert isinstance(text, str)
        kind, _, rest = text.partition(" ")
        self.sent.append((kind, bytes.fromhex(rest) if kind == "media" else rest))
        self.changed.set()

    async def close(self, code: int, reason: str) -> None:
        pass

    async def until(self, frames: int) -> None:
        """Until `frames` frames of media have been sent."""
        async with asyncio.timeout(2):
            while sum(len(d) for k, d in self.sent if k == "media") < frames * FRAME:
                self.changed.clear()
                await self.changed.wait()

    def media(self) -> list[bytes]:
        return [data for kind, data in self.sent if kind == "media"]  # type: ignore[misc]


def connection(
    max_frames: int, carrier: Carrier, messages: Messages | None = None, **buffer: int
) -> LegConnection:
    playout = PlayoutBuffer(MULAW_8K, **({"lead_ms": 200, "prebuffer_ms": 0} | buffer))
    conn = LegConnection(
        messages or Messages(max_frames),
        carrier.send,
        carrier.close,
        playout,
        stream_id="MZ1",
        carrier_call_id="CA1",
    )
    conn.start()
    return conn


def audio(frames: int, first: int = 0) -> bytes:
    """Frames whose every byte is the frame's number, so order is visible in the output."""
    return b"".join(bytes([(first + i) % 256]) * FRAME for i in range(frames))


async def test_frames_due_together_go_out_as_one_message() -> None:
    carrier = Carrier()
    conn = connection(25, carrier)
    conn.play(MULAW_8K, audio(5))  # one 100 ms chunk: all five frames are within the lead
    await carrier.until(5)
    await conn.close()
    assert carrier.media() == [audio(5)]


async def test_a_batch_is_cut_at_the_carriers_limit_in_order() -> None:
    carrier = Carrier()
    conn = connection(4, carrier)
    conn.play(MULAW_8K, audio(50))  # one second: 10 frames are due at once (200 ms lead)
    await carrier.until(10)
    await conn.close()
    media = carrier.media()
    assert [len(m) // FRAME for m in media[:3]] == [4, 4, 2]
    assert b"".join(media) == audio(50)[: len(b"".join(media))]


async def test_one_frame_per_message_when_the_carrier_says_so() -> None:
    carrier = Carrier()
    conn = connection(1, carrier)
    conn.play(MULAW_8K, audio(5))
    await carrier.until(5)
    await conn.close()
    assert carrier.media() == [audio(1, i) for i in range(5)]


@pytest.mark.parametrize("max_frames", [1, 4, 25])
async def test_a_mark_follows_the_message_that_completes_its_frames(max_frames: int) -> None:
    carrier = Carrier()
    conn = connection(max_frames, carrier, mark_every_ms=100)
    conn.play(MULAW_8K, audio(8))
    await carrier.until(8)
    await asyncio.sleep(0.01)
    await conn.close()
    sent_frames = 0
    marks = []
    for kind, data in carrier.sent:
        if kind == "media":
            sent_frames += len(data) // FRAME
        else:
            assert kind == "mark"
            marks.append(data)
            assert data == f"0:{sent_frames}"  # covers exactly what went before it
    assert marks == ["0:8"]
    assert b"".join(carrier.media()) == audio(8)


async def test_clear_goes_out_before_later_audio_and_drops_what_was_queued() -> None:
    carrier = Carrier()
    conn = connection(25, carrier)
    conn.play(MULAW_8K, audio(50))  # 10 frames go at once, 40 wait for the playhead
    await carrier.until(10)
    conn.clear()
    conn.play(MULAW_8K, audio(3, first=200))
    await carrier.until(13)
    await conn.close()
    kinds = [kind for kind, _ in carrier.sent]
    assert kinds.count("clear") == 1
    after = carrier.sent[kinds.index("clear") + 1 :]
    assert b"".join(d for k, d in after if k == "media") == audio(3, first=200)  # type: ignore[misc]
    assert b"".join(carrier.media()) == audio(10) + audio(3, first=200)


async def test_a_carrier_without_marks_gets_none_and_what_was_sent_counts_as_heard() -> None:
    carrier = Carrier()
    conn = connection(25, carrier, Messages(25, marks=False), mark_every_ms=100)
    conn.play(MULAW_8K, audio(8))
    await carrier.until(8)
    await conn.close()
    assert [kind for kind, _ in carrier.sent] == ["media"]
    assert conn.buffer.stats.frames_heard == 8


async def test_a_carrier_without_clear_gets_none_and_only_the_queue_here_is_dropped() -> None:
    carrier = Carrier()
    conn = connection(25, carrier, Messages(25, clear=False))
    conn.play(MULAW_8K, audio(50))
    await carrier.until(10)
    conn.clear()
    conn.play(MULAW_8K, audio(3, first=200))
    await carrier.until(13)
    await conn.stop(clear=True)
    await conn.close()
    assert "clear" not in [kind for kind, _ in carrier.sent]
    assert b"".join(carrier.media()) == audio(10) + audio(3, first=200)
