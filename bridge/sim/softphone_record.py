"""Everything a simulated call observed, and awaitables so tests never sleep to find out.

Tests await outcomes (`answered`, `stream_started`, `ended`, `wait_heard(n)`) under an
`asyncio.timeout`. A waiter whose condition can no longer come true because the call ended
fails with `CallEnded` at once, so a broken bridge fails a test fast instead of timing out.
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Callable

from bridge.audio import codecs
from bridge.audio.formats import Encoding
from bridge.audio.wav import build_wav
from bridge.sim.softphone import CarrierWarning, ReceivedMedia, Said, StatusCallbackRecord


class CallEnded(Exception):
    """The call ended before what a test was waiting for happened."""


class Recording:
    """What the party at one end of a simulated call heard, said, pressed and received."""

    def __init__(self) -> None:
        # What the party's loudspeaker played while a media stream was up: 8 kHz mu-law, one
        # 160-byte frame per 20 ms tick, silence where the bridge had nothing queued.
        self.heard = bytearray()
        self.heard_media_bytes = 0  # of `heard`, the bytes that came from the bridge
        # Per tick, parallel to the frames of `heard` (frame k is heard[160k:160k+160]): when it
        # played (perf_counter(); a stalled tick: when it was due), and the bridge audio still
        # queued after it (bytes; a stalled tick: as the stall ended). They say when each byte
        # was heard, so a test can time playout against what the bridge sent.
        self.tick_at = array("d")
        self.queued_after_tick = array("I")
        # (first tick index, length in ticks): where the bridge's audio ran dry (softphone.Holes;
        # a hole still open when its stream ended is not listed), and where the carrier stalled.
        self.holes: list[tuple[int, int]] = []
        self.stalls: list[tuple[int, int]] = []
        self.media_received: list[ReceivedMedia] = []  # every bridge `media`, with arrival time
        self.received_bytes = 0
        self.marks_received: list[str] = []  # mark names the bridge sent, in order
        self.marks_echoed: list[str] = []  # mark names echoed back, in echo order
        self.clears: list[float] = []  # perf_counter() of each `clear`
        self.said: list[Said] = []  # every <Say> the party heard
        self.digits_sent: list[str] = []  # keys pressed: one entry per Gather / press()
        self.statuses: list[str] = []  # call statuses in order: queued, ringing, in-progress, ...
        self.api_updates: list[str] = []  # REST updates received: "Status=completed", "Twiml", ...
        self.status_callbacks: list[StatusCallbackRecord] = []
        self.warnings: list[CarrierWarning] = []  # what Twilio's debugger would show
        self.stream_sids: list[str] = []
        self.stream_parameters: dict[str, str] = {}  # <Parameter>s of the latest stream
        self.close_code: int | None = None  # of the latest media socket
        self.close_reason = ""
        self.closed_by: str | None = None  # "bridge" or "carrier"
        self.stream_started_at: float | None = None  # perf_counter() when `start` was sent
        self.first_media_at: float | None = None  # perf_counter() of the first bridge media

        self.answered = asyncio.Event()
        self.stream_started = asyncio.Event()
        self.stream_ended = asyncio.Event()
        self.ended = asyncio.Event()
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    @property
    def status(self) -> str:
        return self.statuses[-1] if self.statuses else "queued"

    @property
    def start_to_first_media_s(self) -> float | None:
        """From `start` to the first audio from the bridge: the bridge's answer latency."""
        if self.stream_started_at is None or self.first_media_at is None:
            return None
        return self.first_media_at - self.stream_started_at

    def play_tick(self, frame: bytes, media_bytes: int, at: float, queued: int) -> int:
        """One tick of the loudspeaker: `frame` (160 bytes, `media_bytes` of them the bridge's)
        played at perf_counter() `at`, `queued` bytes left to play; returns the tick's index."""
        self.heard += frame
        self.heard_media_bytes += media_bytes
        self.tick_at.append(at)
        self.queued_after_tick.append(queued)
        return len(self.tick_at) - 1

    def heard_pcm(self) -> bytes:
        """`heard` as 8 kHz little-endian PCM16."""
        return codecs.decode(Encoding.MULAW, bytes(self.heard))

    def heard_wav(self) -> bytes:
        return build_wav(8000, self.heard_pcm())

    def warn(self, code: int, message: str) -> None:
        self.warnings.append(CarrierWarning(code, message))

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Returns once `condition()` holds; raises CallEnded if the call ends first."""
        if condition():
            return
        if self.ended.is_set():
            raise CallEnded("the call ended before the condition held")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (condition, future)
        self._waiters.append(entry)
        try:
            await future
        finally:
            self._waiters.remove(entry)

    async def wait_heard(self, n_bytes: int) -> None:
        """Until `n_bytes` of the bridge's audio have been *played* to the party."""
        await self.wait_until(lambda: self.heard_media_bytes >= n_bytes)

    async def wait_received(self, n_bytes: int) -> None:
        """Until `n_bytes` of the bridge's audio have *arrived* (queued, maybe not played)."""
        await self.wait_until(lambda: self.received_bytes >= n_bytes)

    async def wait_mark(self, name: str) -> None:
        """Until the mark `name` has been echoed back to the bridge."""
        await self.wait_until(lambda: name in self.marks_echoed)

    async def wait_said(self, fragment: str) -> None:
        """Until the party has heard a `<Say>` containing `fragment`."""
        await self.wait_until(lambda: any(fragment in said.text for said in self.said))

    async def wait_status(self, status: str) -> None:
        await self.wait_until(lambda: status in self.statuses)

    def notify(self) -> None:
        for condition, future in self._waiters:
            if not future.done() and condition():
                future.set_result(None)

    def fail_waiters(self) -> None:
        self.notify()
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(CallEnded(f"the call ended ({self.status}) first"))
