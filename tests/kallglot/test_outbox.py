"""Re-batching per speaker, arrival order across speakers, and the bounded reconnect buffer."""

from __future__ import annotations

from bridge.audio import MULAW_8K, PCM16_16K
from bridge.kallglot.outbox import Outbox


def drain(outbox: Outbox) -> list[tuple[str, bytes]]:
    out = []
    while (chunk := outbox.pop()) is not None:
        out.append((chunk.speaker, chunk.data))
    return out


def test_carrier_frames_become_chunks_of_the_configured_length() -> None:
    outbox = Outbox(MULAW_8K, chunk_ms=100, max_buffer_s=10)
    audio = bytes(range(256)) * 10  # 2560 bytes = 320 ms

    ready = [outbox.push("customer", audio[i : i + 160]) for i in range(0, len(audio), 160)]

    assert ready.count(True) == 3
    chunks = drain(outbox)
    assert [len(data) for _, data in chunks] == [800, 800, 800]
    assert outbox.flush() is True
    tail = drain(outbox)
    assert b"".join(data for _, data in chunks + tail) == audio
    assert outbox.accepted_bytes == {"customer": len(audio)}


def test_chunks_leave_in_arrival_order_across_speakers() -> None:
    outbox = Outbox(MULAW_8K, chunk_ms=20, max_buffer_s=10)

    outbox.push("customer", b"a" * 160)
    outbox.push("agent", b"b" * 160)
    outbox.push("customer", b"c" * 160)

    assert [speaker for speaker, _ in drain(outbox)] == ["customer", "agent", "customer"]


def test_overflow_drops_the_oldest_audio_of_that_speaker_only() -> None:
    outbox = Outbox(MULAW_8K, chunk_ms=100, max_buffer_s=0.2)  # room for two chunks each

    for n in range(5):
        outbox.push("customer", bytes([n]) * 800)
    outbox.push("agent", b"z" * 800)

    assert drain(outbox) == [
        ("customer", b"\x03" * 800),
        ("customer", b"\x04" * 800),
        ("agent", b"z" * 800),
    ]
    assert outbox.dropped_bytes == {"customer": 2400, "agent": 0}


def test_a_zero_buffer_still_holds_the_chunk_in_flight() -> None:
    outbox = Outbox(MULAW_8K, chunk_ms=20, max_buffer_s=0)

    outbox.push("customer", b"x" * 160)

    assert outbox.pending == 1


def test_pcm16_tail_is_whole_samples() -> None:
    outbox = Outbox(PCM16_16K, chunk_ms=20, max_buffer_s=10)

    outbox.push("customer", b"\x01" * 101)
    outbox.flush()

    assert drain(outbox) == [("customer", b"\x01" * 100)]
