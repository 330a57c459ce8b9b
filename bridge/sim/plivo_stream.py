"""Plivo's end of one audio stream, run by the carrier-neutral `StreamSession`.

Every frame comes from the bridge's own `PlivoCarrierSide` (carriers.md §6.1); this module adds
what makes it Plivo on the wire: no `connected` and no `stop` frame (the socket's close is the
end), the stream's content type in both directions (what the party hears is recorded as 8 kHz
mu-law, so tests compare the same bytes whatever the format), `playedStream` for a checkpoint
once what was queued before it has played, and `clearedAudio` answering a `clearAudio`.
"""

from __future__ import annotations

import uuid
from array import array
from collections.abc import Callable, Mapping

import aiohttp

from bridge.audio import codecs
from bridge.audio.formats import Encoding
from bridge.carriers.base import ClearAudio, Command, PlayAudio
from bridge.carriers.plivo.config import CONTENT_TYPES
from bridge.carriers.plivo.protocol import PlivoCarrierSide
from bridge.sim.carrier_stream import StreamSession
from bridge.sim.plivo_http import PlivoHttp
from bridge.sim.plivo_xml import Stream
from bridge.sim.softphone_record import Recording

STREAM_FAILED = 4020  # the simulator's code (Plivo documents none): the socket did not open


def _to_mulaw_8k(pcm: bytes, rate: int) -> bytes:
    if rate == 16000:  # the loudspeaker is 8 kHz: every other sample (tests speak at 8 kHz)
        samples = array("h", pcm)
        pcm = samples[::2].tobytes()
    return codecs.encode(Encoding.MULAW, pcm)


class PlivoMediaSide:
    """A `MediaSide` for `StreamSession`; `speak` gives the party's next 20 ms as 8 kHz PCM16."""

    def __init__(self, side: PlivoCarrierSide, speak: Callable[[], bytes]) -> None:
        self._side, self._speak = side, speak
        self.cleared_pending = 0

    @property
    def stream_sid(self) -> str:
        return self._side.stream_id

    def connected(self) -> None:
        return None

    def start(self, custom_parameters: Mapping[str, str]) -> str:
        return self._side.start(custom_parameters)

    def dtmf(self, digit: str) -> str:
        return self._side.dtmf(digit)

    def mark(self, name: str) -> str:
        return self._side.played(name)

    def stop(self) -> None:
        return None

    def line(self) -> list[str]:
        pcm, audio = self._speak(), self._side.audio
        if audio.encoding is Encoding.MULAW:
            payload = codecs.encode(Encoding.MULAW, pcm)
        elif audio.sample_rate == 16000:
            samples = array("h", pcm)
            doubled = array("h", (s for s in samples for _ in range(2)))
            payload = doubled.tobytes()
        else:
            payload = pcm
        return [self._side.media(payload)]

    def parse(self, message: str | bytes) -> Command:
        """The bridge's frame as Plivo takes it; audio comes back as mu-law for `Playout`."""
        command = self._side.parse(message)
        if isinstance(command, ClearAudio):
            self.cleared_pending += 1
        if isinstance(command, PlayAudio) and self._side.audio.encoding is not Encoding.MULAW:
            return PlayAudio(_to_mulaw_8k(command.payload, self._side.audio.sample_rate))
        return command


class PlivoStreamSession(StreamSession):
    """A `StreamSession` that answers each `clearAudio` with `clearedAudio`, as Plivo does."""

    def __init__(
        self,
        record: Recording,
        ws: aiohttp.ClientWebSocketResponse,
        side: PlivoMediaSide,
        plivo: PlivoCarrierSide,
        clock_ppm: float,
    ) -> None:
        super().__init__(record, ws, side, side.line, clock_ppm=clock_ppm)
        self._plivo_side, self._media_side, self._socket = plivo, side, ws

    async def _handle(self, data: str | bytes) -> None:
        await super()._handle(data)
        while self._media_side.cleared_pending:
            self._media_side.cleared_pending -= 1
            await self._socket.send_str(self._plivo_side.cleared())


async def open_stream(
    http: PlivoHttp,
    record: Recording,
    stream: Stream,
    call_uuid: str,
    auth_id: str,
    speak: Callable[[], bytes],
    clock_ppm: float = 0.0,
) -> PlivoStreamSession | None:
    """Connects one stream (then `run` it with the stream's extra headers); None, and a
    warning, if it cannot connect."""
    try:
        ws = await http.ws_connect(stream.url)
    except aiohttp.WSServerHandshakeError as error:
        record.warn(STREAM_FAILED, f"stream handshake got HTTP {error.status}")
        return None
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        record.warn(STREAM_FAILED, f"stream connection failed: {type(error).__name__}")
        return None
    plivo = PlivoCarrierSide(
        str(uuid.uuid4()), call_uuid, auth_id, CONTENT_TYPES[stream.content_type]
    )
    side = PlivoMediaSide(plivo, speak)
    return PlivoStreamSession(record, ws, side, plivo, clock_ppm)
