"""Speech in, recordings out: the file edges of the simulator's command-line tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bridge.audio.converter import Converter
from bridge.audio.formats import PCM16_8K
from bridge.audio.wav import parse_wav
from bridge.sim.carrier_call import SimCall


def load_speech(path: Path) -> bytes:
    """A mono 16-bit WAV as 8 kHz PCM16 (resampled if needed), what a simulated party says."""
    fmt, pcm = parse_wav(path.read_bytes())
    if fmt == PCM16_8K:
        return pcm
    converter = Converter(fmt, PCM16_8K)
    return converter.convert(pcm) + converter.flush()


def call_summary(call: SimCall) -> dict[str, Any]:
    """What one party experienced, as JSON-ready values (no audio, no secrets)."""
    first_media = call.start_to_first_media_s
    return {
        "call_sid": call.sid,
        "direction": call.direction,
        "from": call.from_,
        "to": call.to,
        "statuses": list(call.statuses),
        "duration_s": call.duration_s,
        "said": [{"text": s.text, "language": s.language} for s in call.said],
        "digits_sent": list(call.digits_sent),
        "stream_sids": list(call.stream_sids),
        "stream_parameters": sorted(call.stream_parameters),  # names only: values are tickets
        "heard_s": round(len(call.heard) / 8000, 3),
        "heard_bridge_audio_s": round(call.heard_media_bytes / 8000, 3),
        "media_frames_received": len(call.media_received),
        "start_to_first_media_ms": None if first_media is None else round(first_media * 1000, 1),
        "marks_received": len(call.marks_received),
        "marks_echoed": len(call.marks_echoed),
        "clears": len(call.clears),
        "closed_by": call.closed_by,
        "close_code": call.close_code,
        "close_reason": call.close_reason,
        "status_callbacks": [
            {"status": r.params.get("CallStatus"), "http_status": r.http_status}
            for r in call.status_callbacks
        ],
        "warnings": [{"code": w.code, "message": w.message} for w in call.warnings],
    }


def write_report(parties: list[tuple[str, SimCall]], out: Path) -> Path:
    """`<label>-heard.wav` per party and one `summary.json`; returns the summary's path."""
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    for label, call in parties:
        wav = out / f"{label}-heard.wav"
        wav.write_bytes(call.heard_wav())
        summary[label] = call_summary(call) | {"heard_wav": wav.name}
    path = out / "summary.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
