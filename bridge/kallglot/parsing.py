"""Server stream messages to events, tolerant of the shapes the docs leave open (api §4.3, §8).

The contract for this function is total: any input, however hostile, yields exactly one event and
never an exception. Unknown but well-formed messages become `Unknown`; anything unreadable becomes
`Malformed` with a reason. Wrong types in fields we use are malformed (guessing would hand the
bridge garbage audio); fields we do not use are never inspected.

`audio.output` in its documented shape (ten a second per leg) is read directly first; anything
else about it, however slight, goes the tolerant way, so both give the same event (tests hold them
to that).
"""

from __future__ import annotations

import binascii
import json
import math
from collections.abc import Mapping
from typing import Any

from bridge.audio import MULAW_8K, AudioFormat, Encoding
from bridge.audio.formats import SUPPORTED_RATES
from bridge.kallglot import messages as m
from bridge.kallglot.events import (
    AudioOutput,
    Ended,
    Malformed,
    Pong,
    Ready,
    ServerEvent,
    SessionError,
    Transcript,
    Unknown,
)

Msg = Mapping[str, Any]
PAYLOAD_KEYS = ("payload", "data")
ENCODING_KEYS = ("encoding", "codec", "format")
RATE_KEYS = ("sample_rate_hz", "sample_rate", "sampleRate", "rate")
TARGET_KEYS = ("target", "listener", "to", "target_speaker")


class _Bad(Exception):
    """Internal: a field had the wrong shape. Becomes `Malformed`, never escapes this module."""


def parse_server_message(raw: str | bytes) -> ServerEvent:
    try:
        msg = json.loads(raw)
    except (ValueError, TypeError, RecursionError) as exc:
        return Malformed(f"not JSON ({type(exc).__name__})")
    if not isinstance(msg, dict):
        return Malformed(f"a JSON {type(msg).__name__}, not an object")
    mtype = msg.get("type")
    if not isinstance(mtype, str):
        return Malformed("no string `type` field")
    try:
        if mtype == m.AUDIO_OUTPUT and (event := _plain_audio_output(msg)) is not None:
            return event
        return _dispatch(mtype, msg)
    except _Bad as bad:
        return Malformed(str(bad), mtype)
    except Exception as exc:  # the last line of defence: a parser bug must not kill a call
        return Malformed(f"unreadable message ({type(exc).__name__})", mtype)


def _plain_audio_output(msg: Msg) -> AudioOutput | None:
    """`{"speaker", "target", "sequence", "audio": {"encoding": "mulaw", "sample_rate_hz":
    8000, "payload"}}`, or None for anything that needs the tolerant reading."""
    audio, speaker, target = msg.get("audio"), msg.get("speaker"), msg.get("target")
    sequence = msg.get("sequence")
    if (
        type(audio) is not dict
        or type(speaker) is not str
        or type(target) is not str
        or not speaker
        or not target
        or not (sequence is None or type(sequence) is int)
        or msg.get("channels") is not None
    ):
        return None
    payload, rate = audio.get("payload"), audio.get("sample_rate_hz")
    if (
        type(payload) is not str
        or audio.get("encoding") != "mulaw"
        or type(rate) is not int
        or rate != MULAW_8K.sample_rate
        or audio.get("channels") is not None
    ):
        return None
    try:
        data = _decode(payload)
    except ValueError:
        return None
    return AudioOutput(speaker, target, MULAW_8K, data, sequence)


def _decode(payload: str) -> bytes:
    """Strict base64 (what `b64decode(validate=True)` does, without its extra steps)."""
    return binascii.a2b_base64(payload, strict_mode=True)


def _dispatch(mtype: str, msg: Msg) -> ServerEvent:
    if mtype == m.SESSION_READY:
        return Ready(_opt_str(msg, "session_id"))
    if mtype == m.PONG:
        return Pong(_opt_str(msg, "session_id"))
    if mtype == m.SESSION_ENDED:
        return Ended(_opt_str(msg, "reason"), _opt_str(msg, "session_id"))
    if mtype == m.SESSION_ERROR:
        return _session_error(msg)
    if mtype in (m.TRANSCRIPT_PARTIAL, m.TRANSCRIPT_FINAL):
        return _transcript(msg, mtype == m.TRANSCRIPT_FINAL)
    if mtype == m.LEGACY_TRANSCRIPT:
        # OLD always sends is_final; a transcript that does not say is taken as complete.
        final = _opt_bool(msg, "is_final")
        return _transcript(msg, final if final is not None else True)
    if mtype in m.AUDIO_OUTPUT_TYPES:
        event = _audio(msg)
        if event is None:
            raise _Bad("audio message without a payload")
        return event
    if "audio" in mtype.lower() and mtype != m.AUDIO_INPUT:
        return _audio(msg) or Unknown(mtype, msg)
    return Unknown(mtype, msg)


def _session_error(msg: Msg) -> SessionError:
    source: Msg = msg
    nested = msg.get("error")
    if isinstance(nested, Mapping):
        source = nested
    elif isinstance(nested, str) and "code" not in msg:
        return SessionError(nested or "unknown", _opt_str(msg, "message"))
    return SessionError(_opt_str(source, "code") or "unknown", _opt_str(source, "message"))


def _transcript(msg: Msg, final: bool) -> Transcript:
    text = msg.get("text")
    if not isinstance(text, str):
        raise _Bad("transcript without a string `text`")
    translation = msg.get("translation")
    t_text: str | None = None
    t_lang: str | None = None
    if isinstance(translation, Mapping):
        t_text, t_lang = _opt_str(translation, "text"), _opt_str(translation, "language")
    elif isinstance(translation, str):
        t_text = translation
    elif translation is not None:
        raise _Bad("`translation` is neither an object nor a string")
    return Transcript(
        speaker=_opt_str(msg, "speaker"),
        text=text,
        final=final,
        language=_opt_str(msg, "language"),
        translation_text=t_text,
        translation_language=t_lang,
        id=_opt_str(msg, "id"),
    )


def _audio(msg: Msg) -> AudioOutput | None:
    """Finds the payload (`audio.payload`, `data`, `payload`, ...) and the format next to it."""
    found = _find_payload(msg)
    if found is None:
        return None
    container, payload = found
    try:
        data = _decode(payload)
    except ValueError:  # binascii.Error, and text that is not ASCII
        raise _Bad("audio payload is not valid base64") from None
    fmt = _audio_format(container, msg)
    if fmt.encoding.bytes_per_sample == 2 and len(data) % 2:
        raise _Bad("16-bit PCM audio with an odd number of bytes")
    target = None
    for key in TARGET_KEYS:
        target = _opt_str(msg, key) or _opt_str(container, key)
        if target:
            break
    return AudioOutput(
        speaker=_opt_str(msg, "speaker") or _opt_str(container, "speaker"),
        target=target,
        format=fmt,
        data=data,
        sequence=_opt_int(msg, "sequence"),
    )


def _find_payload(msg: Msg) -> tuple[Msg, str] | None:
    containers: list[Msg] = [v for k in ("audio", "data") if isinstance(v := msg.get(k), Mapping)]
    for container in containers:
        for key in PAYLOAD_KEYS:
            if key in container:
                return container, _need_str(container, key)
    for key in ("payload", "data", "audio"):
        value = msg.get(key)
        if isinstance(value, str):
            return msg, value
        if value is not None and not isinstance(value, Mapping):
            raise _Bad(f"`{key}` is neither a base64 string nor an object")
    return None


def _audio_format(container: Msg, msg: Msg) -> AudioFormat:
    sources = (container, msg) if container is not msg else (msg,)
    name = _first(sources, ENCODING_KEYS)
    rate = _first(sources, RATE_KEYS)
    channels = _first(sources, ("channels",))
    if channels is not None and _as_int(channels, "channels") != 1:
        raise _Bad("only mono audio is supported")
    if name is None and rate is None:
        return MULAW_8K
    encoding = Encoding.MULAW
    if name is not None:
        if not isinstance(name, str):
            raise _Bad("audio encoding is not a string")
        found = m.encoding_from_name(name)
        if found is None:
            raise _Bad(f"unsupported audio encoding {name[:40]!r}")
        encoding = found
    hz = m.DEFAULT_RATES[encoding] if rate is None else _as_int(rate, "sample rate")
    if hz not in SUPPORTED_RATES:  # a reason is a log line: no 4 000-digit numbers in it
        raise _Bad(f"unsupported sample rate {hz} Hz" if abs(hz) < 10**9 else "absurd sample rate")
    return AudioFormat(encoding, hz)


def _first(sources: tuple[Msg, ...], keys: tuple[str, ...]) -> Any:
    for source in sources:
        for key in keys:
            if source.get(key) is not None:
                return source[key]
    return None


def _need_str(msg: Msg, key: str) -> str:
    value = msg.get(key)
    if not isinstance(value, str):
        raise _Bad(f"`{key}` is not a string")
    return value


def _opt_str(msg: Msg, key: str) -> str | None:
    value = msg.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad(f"`{key}` is not a string")
    return value


def _opt_bool(msg: Msg, key: str) -> bool | None:
    value = msg.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _Bad(f"`{key}` is not a boolean")


def _opt_int(msg: Msg, key: str) -> int | None:
    value = msg.get(key)
    return None if value is None else _as_int(value, key)


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise _Bad(f"{what} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise _Bad(f"{what} is not a whole number")
