"""The simulator's identity translation and energy-based transcripts, without sockets."""

from __future__ import annotations

import base64

from bridge.audio import MULAW_8K, PCM16_16K, Encoding
from bridge.audio.codecs import encode
from bridge.sim.kallglot_state import SessionRecord
from bridge.sim.kallglot_translate import FLAT, NESTED, Segmentation, Translator

CHUNK_MS = 100


def record(mode: str = "bidirectional_translation") -> SessionRecord:
    return SessionRecord(
        id="sess_t", mode=mode, source_language="de", target_language="en", metadata={},
        created_at=0.0, idempotency_key=None, stream_base="ws://x",
    )  # fmt: skip


def tone(ms: int, amplitude: int) -> bytes:
    """Mu-law audio at a constant level: loud enough (or not) for the energy detector."""
    samples = 8 * ms
    pcm = b"".join(
        ((amplitude if n % 2 else -amplitude) & 0xFFFF).to_bytes(2, "little")
        for n in range(samples)
    )
    return encode(Encoding.MULAW, pcm)


def feed(translator: Translator, speaker: str, audio: bytes) -> tuple[list[dict], list[dict]]:
    out: tuple[list[dict], list[dict]] = ([], [])
    step = MULAW_8K.bytes_for_ms(CHUNK_MS)
    for i in range(0, len(audio), step):
        audio_msgs, transcripts = translator.audio(speaker, MULAW_8K, audio[i : i + step])
        out[0].extend(audio_msgs)
        out[1].extend(transcripts)
    return out


def test_speech_becomes_partials_then_a_final_with_a_translation() -> None:
    rec = record()
    translator = Translator(rec, legacy=False, shape=NESTED, seg=Segmentation(), now=lambda: 0.0)

    _, transcripts = feed(translator, "customer", tone(1200, 3000) + tone(400, 0) + tone(400, 3000))
    transcripts += translator.finish()

    assert [t["type"] for t in transcripts] == [
        "transcript.partial", "transcript.partial", "transcript.final", "transcript.final",
    ]  # fmt: skip
    first = transcripts[2]
    assert first["text"] == "customer utterance 1 (1.2 s)"
    assert first["language"] == "de"
    assert first["translation"] == {"language": "en", "text": "[en] customer utterance 1 (1.2 s)"}
    assert transcripts[3]["text"] == "customer utterance 2 (0.4 s)"
    assert [t["sequence"] for t in rec.turns] == [1, 2]
    assert rec.turns[0]["timestamp"] == "1970-01-01T00:00:00.000Z"


def test_the_agents_language_is_the_target_language() -> None:
    translator = Translator(record(), legacy=False, shape=NESTED, seg=Segmentation())

    feed(translator, "agent", tone(300, 3000))
    final = translator.finish()[-1]

    assert (final["language"], final["translation"]["language"]) == ("en", "de")


def test_silence_produces_no_transcript() -> None:
    translator = Translator(record(), legacy=False, shape=NESTED, seg=Segmentation())

    _, transcripts = feed(translator, "customer", tone(2000, 50))

    assert transcripts == []
    assert translator.finish() == []


def test_legacy_transcripts_have_is_final_and_a_string_translation() -> None:
    translator = Translator(record(), legacy=True, shape=FLAT, seg=Segmentation())

    _, transcripts = feed(translator, "customer", tone(600, 3000) + tone(400, 0))

    assert [t["is_final"] for t in transcripts] == [False, True]
    assert transcripts[-1]["type"] == "transcript"
    assert transcripts[-1]["translation"] == "[en] customer utterance 1 (0.6 s)"
    assert transcripts[-1]["id"] == "seg_sess_t_customer_1"


def test_identity_audio_in_both_shapes() -> None:
    audio = tone(100, 1000)
    nested = Translator(record(), legacy=False, shape=NESTED, seg=Segmentation())
    flat = Translator(record(), legacy=False, shape=FLAT, seg=Segmentation())

    [n], _ = nested.audio("customer", MULAW_8K, audio)
    [f], _ = flat.audio("agent", MULAW_8K, audio)

    assert n["type"] == "audio.output"
    assert (n["speaker"], n["target"]) == ("customer", "agent")
    assert base64.b64decode(n["audio"]["payload"]) == audio
    assert f["type"] == "audio"
    assert (f["speaker"], f["target"], f["encoding"], f["sample_rate"]) == (
        "agent",
        "customer",
        "mulaw",
        8000,
    )
    assert base64.b64decode(f["data"]) == audio


def test_legacy_output_is_pcm16_16k_resampled_from_mulaw() -> None:
    translator = Translator(record(), legacy=True, shape=FLAT, seg=Segmentation())

    messages, _ = feed(translator, "customer", tone(1000, 1000))
    tail = translator.finish()

    out = b"".join(base64.b64decode(m["data"]) for m in messages + tail if m["type"] == "audio")
    assert translator.output_format == PCM16_16K
    assert abs(len(out) - PCM16_16K.bytes_for_ms(1000)) <= 4


def test_modes_decide_who_is_heard() -> None:
    def heard(mode: str) -> set[str]:
        translator = Translator(record(mode), legacy=False, shape=NESTED, seg=Segmentation())
        return {s for s in ("customer", "agent") if translator.audio(s, MULAW_8K, b"\xff" * 800)[0]}

    assert heard("bidirectional_translation") == {"customer", "agent"}
    assert heard("assistive_translation") == {"agent"}
    assert heard("ai_agent") == set()
