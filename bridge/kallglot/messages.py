"""Stream message names and audio encoding names: the one definition both the client and the
simulator use, so the two cannot drift apart silently.
"""

from __future__ import annotations

from bridge.audio import AudioFormat, Encoding

# Client -> server (NEW).
AUDIO_INPUT = "audio.input"
PING = "ping"
SESSION_END = "session.end"
# Client -> server (OLD).
LEGACY_AUDIO = "audio"
LEGACY_END = "end"

# Server -> client.
SESSION_READY = "session.ready"
SESSION_ERROR = "session.error"
SESSION_ENDED = "session.ended"
PONG = "pong"
TRANSCRIPT_PARTIAL = "transcript.partial"
TRANSCRIPT_FINAL = "transcript.final"
LEGACY_TRANSCRIPT = "transcript"
AUDIO_OUTPUT = "audio.output"

# The translated-audio message is undocumented (kallglot-api.md §8.1): every name we have seen or
# can reasonably expect. Types outside this set that still mention "audio" and carry a payload are
# accepted too (see protocol.parse).
AUDIO_OUTPUT_TYPES = frozenset(
    {
        AUDIO_OUTPUT,
        "audio",
        "audio.response",
        "audio_output",
        "audio.out",
        "audio.delta",
        "audio.chunk",
        "audio.translated",
        "output_audio",
        "response.audio",
        "translated_audio",
        "translation.audio",
        "tts.audio",
    }
)

# Wire names to bridge encodings. L16 is big-endian by definition (RFC 3551); "pcm_16" and friends
# are the little-endian samples every other Kallglot example uses.
ENCODINGS: dict[str, Encoding] = {
    "mulaw": Encoding.MULAW,
    "ulaw": Encoding.MULAW,
    "mu-law": Encoding.MULAW,
    "mu_law": Encoding.MULAW,
    "pcmu": Encoding.MULAW,
    "g711_ulaw": Encoding.MULAW,
    "audio/x-mulaw": Encoding.MULAW,
    "alaw": Encoding.ALAW,
    "a-law": Encoding.ALAW,
    "pcma": Encoding.ALAW,
    "g711_alaw": Encoding.ALAW,
    "audio/x-alaw": Encoding.ALAW,
    "pcm_16": Encoding.PCM16LE,
    "pcm16": Encoding.PCM16LE,
    "pcm_s16le": Encoding.PCM16LE,
    "pcm16le": Encoding.PCM16LE,
    "s16le": Encoding.PCM16LE,
    "linear16": Encoding.PCM16LE,
    "pcm": Encoding.PCM16LE,
    "pcm16be": Encoding.PCM16BE,
    "l16": Encoding.PCM16BE,
}

WIRE_NAMES: dict[Encoding, str] = {
    Encoding.MULAW: "mulaw",
    Encoding.ALAW: "alaw",
    Encoding.PCM16LE: "pcm_16",
    Encoding.PCM16BE: "l16",
}

# When a message names an encoding but no rate: G.711 is 8 kHz by definition, and the OLD docs'
# PCM is 16 kHz. When it names neither, the NEW session default (mu-law 8 kHz) applies.
DEFAULT_RATES: dict[Encoding, int] = {
    Encoding.MULAW: 8000,
    Encoding.ALAW: 8000,
    Encoding.PCM16LE: 16000,
    Encoding.PCM16BE: 16000,
}


def encoding_from_name(name: str) -> Encoding | None:
    return ENCODINGS.get(name.strip().lower())


def wire_name(fmt: AudioFormat) -> str:
    return WIRE_NAMES[fmt.encoding]
