"""Exotel's end of one Voicebot stream, run by the carrier-neutral `StreamSession`.

Every frame comes from the bridge's own `ExotelCarrierSide` (carriers.md §6.2); this module adds
what makes it Exotel on the wire: the stream URL's rules (a `ws`/`wss` URL, `sample-rate` of
8000, 16000 or 24000, at most three custom query parameters of at most 256 characters, which
arrive in `start.custom_parameters`), Basic auth from the URL's userinfo, the party's voice in
~100 ms chunks of 16-bit PCM at the stream's rate, and a check of every payload we are sent
(a multiple of 320 bytes, or the frame is refused and a warning recorded). What the party
hears is recorded as 8 kHz mu-law, as for every simulated carrier, so tests compare the same
bytes whatever the carrier and rate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import aiohttp

from bridge.audio.converter import Converter
from bridge.audio.formats import MULAW_8K, PCM16_8K, AudioFormat, Encoding
from bridge.carriers.base import Command, PlayAudio
from bridge.carriers.exotel.auth import MAX_PARAMETER_CHARS
from bridge.carriers.exotel.protocol import RATES, ExotelCarrierSide
from bridge.sim.exotel_http import ExotelHttp
from bridge.sim.softphone_record import Recording

TICKS_PER_CHUNK = 5  # Exotel sends ~100 ms per media message: five 20 ms ticks
MAX_CUSTOM_PARAMETERS = 3
# Not Exotel's codes (it shows none): the simulator's warnings for a stream that did not start.
STREAM_URL_REFUSED = 10
STREAM_HANDSHAKE_FAILED = 11


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """A Voicebot stream URL, read as Exotel reads it."""

    url: str  # with its userinfo, without the query parameters Exotel consumes
    sample_rate: int
    custom_parameters: dict[str, str]


def read_stream_url(url: str) -> StreamRequest | str:
    """The stream `url` asks for, or why Exotel would refuse it."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        return f"stream URL {url[:60]!r} is not a ws:// or wss:// URL"
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    rate_text = query.pop("sample-rate", "8000")
    rate = int(rate_text) if rate_text.isdigit() else 0
    if rate not in RATES:
        return f"sample-rate {rate_text[:10]!r} is not 8000, 16000 or 24000"
    if len(query) > MAX_CUSTOM_PARAMETERS:
        return f"{len(query)} custom parameters; Exotel takes {MAX_CUSTOM_PARAMETERS} at most"
    long = [name for name, value in query.items() if len(value) > MAX_PARAMETER_CHARS]
    if long:
        return f"custom parameter {long[0][:20]!r} is over {MAX_PARAMETER_CHARS} characters"
    bare = urlunsplit(parts._replace(query=""))
    return StreamRequest(bare, rate, query)


async def connect(
    http: ExotelHttp, record: Recording, request: StreamRequest
) -> aiohttp.ClientWebSocketResponse | None:
    """The stream's socket, or None (and a warning) when the bridge refuses the handshake."""
    try:
        return await http.ws_connect(request.url)
    except aiohttp.WSServerHandshakeError as error:
        record.warn(STREAM_HANDSHAKE_FAILED, f"stream handshake got HTTP {error.status}")
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        record.warn(STREAM_HANDSHAKE_FAILED, f"stream connection failed: {type(error).__name__}")
    return None


class ExotelMediaSide:
    """A `MediaSide` for `StreamSession`. `speak` gives the party's next 20 ms as 8 kHz PCM16."""

    def __init__(self, side: ExotelCarrierSide, speak: Callable[[], bytes]) -> None:
        self._side, self._speak = side, speak
        rate = AudioFormat(Encoding.PCM16LE, side.sample_rate)
        self._voice = Converter(PCM16_8K, rate)  # a pass-through at 8 kHz
        self._heard = Converter(rate, MULAW_8K)
        self._pending = bytearray()
        self._chunk_bytes = rate.bytes_for_ms(20 * TICKS_PER_CHUNK)
        self._ticks = 0

    @property
    def stream_sid(self) -> str:
        return self._side.stream_sid

    def connected(self) -> str:
        return self._side.connected()

    def start(self, custom_parameters: Mapping[str, str]) -> str:
        return self._side.start(custom_parameters)

    def dtmf(self, digit: str) -> str:
        return self._side.dtmf(digit)

    def mark(self, name: str) -> str:
        return self._side.mark(name)

    def stop(self) -> str:
        return self._side.stop()

    def line(self) -> list[str]:
        """This tick's frames: a media message every fifth tick, carrying exactly 100 ms (the
        resampler's delay at 16 or 24 kHz goes out as silence at the start of the stream)."""
        self._pending += self._voice.convert(self._speak())
        self._ticks += 1
        if self._ticks % TICKS_PER_CHUNK:
            return []
        size = self._chunk_bytes
        chunk = bytes(self._pending[:size]).rjust(size, b"\x00")
        del self._pending[:size]
        return [self._side.media(chunk)]

    def parse(self, message: str | bytes) -> Command:
        """The bridge's frame as Exotel takes it; audio comes back as mu-law for `Playout`."""
        command = self._side.parse(message)
        if isinstance(command, PlayAudio):
            return PlayAudio(self._heard.convert(command.payload))
        return command
