"""The simulator's talkspurt mode and output re-chunking: the Translator directly (tones and real
speech), then once over a real socket to see utterance ends timed as they are sent."""

from __future__ import annotations

import argparse
import audioop
import base64
import time
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp.plugin import AiohttpClient

from bridge.audio import MULAW_8K, Encoding
from bridge.audio.codecs import decode, encode
from bridge.sim import kallglot_cli
from bridge.sim.kallglot import KallglotSimulator
from bridge.sim.kallglot_translate import FLAT, NESTED, Segmentation, Translator
from tests.sim.test_kallglot_stream import KEY, audio_input, new_session, next_of
from tests.sim.test_kallglot_translate import record, tone

CHUNK = MULAW_8K.bytes_for_ms(100)
SEG = Segmentation()
Messages = list[dict[str, Any]]


def payload(message: dict[str, Any]) -> bytes:
    fields = message.get("audio", message)
    return base64.b64decode(fields["payload" if "payload" in fields else "data"])


def chunks(audio: bytes, size: int = CHUNK) -> list[bytes]:
    return [audio[i : i + size] for i in range(0, len(audio), size)]


def feed(translator: Translator, audio: bytes) -> list[tuple[bytes, Messages, Messages]]:
    """Each 100 ms chunk the customer said, with the audio and transcripts it produced."""
    steps = []
    for chunk in chunks(audio):
        out, transcripts = translator.audio("customer", MULAW_8K, chunk)
        steps.append((chunk, out, transcripts))
    return steps


def finals(transcripts: Messages) -> int:
    return sum(t["type"] == "transcript.final" or t.get("is_final") is True for t in transcripts)


# Two utterances: 600 ms and 400 ms of voice, each then 800 ms of quiet (hangover is 300 ms).
TWO_UTTERANCES = tone(600, 3000) + tone(800, 0) + tone(400, 3000) + tone(800, 0)
SPURTS = [TWO_UTTERANCES[: 9 * CHUNK], TWO_UTTERANCES[14 * CHUNK : 21 * CHUNK]]
SILENT = 0xFF  # mu-law zero


def said(spurt: bytes, size: int = 760) -> bytes:
    """What of an utterance comes back cut into `size`-byte messages: all of it, but for the
    digital silence its last, shorter message would end with (it ends where its sound does)."""
    sent = (len(spurt) - CHUNK) // size * size  # in whole messages before its last chunk came
    rest = spurt[sent:].rstrip(bytes([SILENT]))
    return spurt[:sent] + (rest or spurt[sent : sent + 1])


def test_talkspurts_carry_each_utterance_with_its_hangover_and_nothing_between() -> None:
    translator = Translator(record(), legacy=False, shape=NESTED, seg=SEG, talkspurts=True)

    steps = feed(translator, TWO_UTTERANCES)

    spoken = [i for i, (_, out, _) in enumerate(steps) if out]
    assert spoken == [*range(0, 9), *range(14, 21)]
    assert all([payload(m) for m in out] == [chunk] for chunk, out, _ in steps if out)
    assert [i for i, (_, _, t) in enumerate(steps) if finals(t)] == [8, 20]  # the spurts' ends
    assert {(m["speaker"], m["target"]) for _, out, _ in steps for m in out} == {
        ("customer", "agent")
    }
    assert translator.finish() == []  # nothing was held back


def test_output_is_cut_into_exact_chunks_and_an_utterance_ends_with_its_rest() -> None:
    rec = record()
    translator = Translator(
        rec, legacy=False, shape=NESTED, seg=SEG, talkspurts=True, output_chunk_bytes=760
    )

    steps = feed(translator, TWO_UTTERANCES)
    sent = [m for _, out, _ in steps for m in out]
    for n, message in enumerate(sent):  # as the stream connection reports them
        translator.sent(message, at=float(n))

    sizes = [len(payload(m)) for m in sent]
    assert b"".join(map(payload, sent)) == b"".join(map(said, SPURTS))  # in order, none lost
    assert sum(size != 760 for size in sizes) == 2  # each utterance's last, shorter message
    # Each utterance's rest goes out with the chunk that ends it, so nothing waits for the next.
    ends = [i for i, (_, out, t) in enumerate(steps) if finals(t)]
    assert all(len(steps[i][1]) in (1, 2) for i in ends)  # the rest (after a whole chunk)
    lasts = [i for i, size in enumerate(sizes) if size != 760]  # each utterance's last message
    assert rec.utterance_ends == {"agent": [float(i) for i in lasts]}  # when it was sent
    assert [m["sequence"] for m in sent] == list(range(1, len(sent) + 1))


def test_without_talkspurts_chunks_run_on_and_the_rest_waits_for_finish() -> None:
    rec = record()
    translator = Translator(rec, legacy=False, shape=NESTED, seg=SEG, output_chunk_bytes=760)

    steps = feed(translator, TWO_UTTERANCES)
    sent = [m for _, out, _ in steps for m in out]
    rest = translator.finish()

    assert {len(payload(m)) for m in sent} == {760}
    assert [len(payload(m)) for m in rest if m["type"] == "audio.output"] == [
        len(TWO_UTTERANCES) % 760
    ]
    assert b"".join(map(payload, sent + rest[:1])) == TWO_UTTERANCES
    for message in sent + rest:
        translator.sent(message, at=1.0)
    assert rec.utterance_ends == {}  # only talkspurts time utterance ends


def test_an_utterance_open_at_finish_ends_there() -> None:
    rec = record()
    translator = Translator(
        rec, legacy=False, shape=NESTED, seg=SEG, talkspurts=True, output_chunk_bytes=760
    )
    audio = tone(500, 3000)

    sent = [m for _, out, _ in feed(translator, audio) for m in out]
    rest = translator.finish()

    assert [m["type"] for m in rest] == ["audio.output", "transcript.final"]
    assert b"".join(map(payload, sent + rest[:1])) == audio
    translator.sent(rest[0], at=5.0)
    assert rec.utterance_ends == {"agent": [5.0]}


def test_real_speech_comes_back_in_talkspurts_exactly_as_spoken(customer_speech: bytes) -> None:
    speech = encode(Encoding.MULAW, customer_speech)
    seg = Segmentation(hangover_ms=200)  # the recording's pauses are short
    translator = Translator(
        record(), legacy=False, shape=NESTED, seg=seg, talkspurts=True, output_chunk_bytes=760
    )

    steps = feed(translator, speech)
    steps.append((b"", [], []))  # the end of the stream, below
    rest = translator.finish()
    steps[-1] = (b"", [m for m in rest if "audio" in m], [m for m in rest if "audio" not in m])

    # Rebuild the talkspurts from the transcripts alone: each runs from a loud chunk after
    # quiet to the chunk with its final; the output must be exactly those chunks' audio.
    expected, spurt, spurts = b"", b"", 0
    loud = [
        bool(c) and audioop.rms(decode(Encoding.MULAW, c), 2) >= seg.threshold_rms
        for c, _, _ in steps
    ]
    talking = False
    for (chunk, out, transcripts), is_loud in zip(steps, loud, strict=True):
        talking = talking or is_loud
        if talking:
            spurt += chunk
        if finals(transcripts):
            expected, spurt, talking, spurts = expected + said(spurt), b"", False, spurts + 1
            assert len(spurt) == 0
            assert out, "an utterance ends with audio, never held back"
        elif not talking:
            assert out == []  # nothing between utterances
    assert spurts >= 2  # the recording really has pauses
    sent = [m for _, out, _ in steps for m in out]
    assert b"".join(map(payload, sent)) == expected
    assert len(expected) < len(speech)  # and the pauses were left out
    assert sum(len(payload(m)) != 760 for m in sent) <= spurts  # only each spurt's last


def test_legacy_talkspurts_are_pcm16_16k_in_whole_sample_chunks() -> None:
    translator = Translator(
        record(), legacy=True, shape=FLAT, seg=SEG, talkspurts=True, output_chunk_bytes=1520
    )

    steps = feed(translator, TWO_UTTERANCES)
    per_spurt: list[list[int]] = [[]]
    for _, out, transcripts in steps:
        per_spurt[-1] += [len(payload(m)) for m in out]
        if finals(transcripts):
            per_spurt.append([])

    assert per_spurt[-1] == []
    assert len(per_spurt) == 3
    for sizes, spoken in zip(per_spurt, SPURTS, strict=False):
        assert set(sizes[:-1]) == {1520}
        assert 0 < sizes[-1] <= 1520
        assert sizes[-1] % 2 == 0
        # The resampler is flushed as each utterance ends: all of it is out, none waits.
        assert 4 * len(spoken.rstrip(bytes([SILENT]))) - 8 <= sum(sizes) <= 4 * len(spoken) + 8
    assert translator.finish() == []


def test_chunk_sizes_must_be_whole_samples() -> None:
    with pytest.raises(ValueError, match="whole 2-byte samples"):
        Translator(record(), legacy=True, shape=FLAT, seg=SEG, output_chunk_bytes=761)
    with pytest.raises(ValueError, match="positive"):
        Translator(record(), legacy=False, shape=NESTED, seg=SEG, output_chunk_bytes=0)
    Translator(record(), legacy=False, shape=NESTED, seg=SEG, output_chunk_bytes=761)  # mu-law
    with pytest.raises(ValueError, match="whole 2-byte samples"):  # either protocol may connect
        KallglotSimulator(output_chunk_bytes=761)


def test_talkspurt_flags_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    kallglot_cli.add_arguments(parser)

    args = parser.parse_args(["--talkspurts", "--output-chunk-bytes", "760"])
    assert (args.talkspurts, args.output_chunk_bytes) == (True, 760)
    defaults = parser.parse_args([])
    assert (defaults.talkspurts, defaults.output_chunk_bytes) == (False, None)
    with pytest.raises(SystemExit):
        parser.parse_args(["--output-chunk-bytes", "761"])
    assert "whole 2-byte samples" in capsys.readouterr().err


async def test_utterance_ends_are_timed_when_the_tail_is_sent(
    aiohttp_client: AiohttpClient,
) -> None:
    sim = KallglotSimulator(
        api_key=KEY, translation_delay_s=0.05, talkspurts=True, output_chunk_bytes=760
    )
    http = await aiohttp_client(sim.app())
    session = await new_session(http)
    url = f"/v1/sessions/{session['id']}/connect?token={session['stream']['token']}"
    ws = await http.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_receive=5))
    await next_of(ws, "session.ready")
    rec = sim.sessions[session["id"]]

    for n, chunk in enumerate(chunks(tone(300, 3000) + tone(500, 0)), 1):
        await ws.send_json(audio_input("customer", chunk, n))
    await next_of(ws, "transcript.final")
    received, spoken = b"", said((tone(300, 3000) + tone(500, 0))[: 6 * CHUNK])
    while len(received) < len(spoken):  # 300 ms of voice (its 300 ms hangover is silence)
        received += payload(await next_of(ws, "audio.output"))
    got_tail = time.perf_counter()
    await ws.close()

    assert received == spoken
    [end] = rec.utterance_ends["agent"]
    assert end <= got_tail
