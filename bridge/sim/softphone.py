"""The far end of a simulated call: a phone that speaks a script and records what it hears.

`Phone` is the script (answer or not, what to say, when to hang up, which keys to press);
`Playout` is its loudspeaker, playing what the bridge sends exactly the way Twilio plays a
bidirectional stream (carriers.md §1.5-1.7): queued in arrival order, 20 ms per tick in real
time, marks echoed once everything before them has played, `clear` dropping the queue and
echoing pending marks at once. Pure: the stream session feeds it and sends the echoes.
`Holes` watches what it played for the moments the bridge's audio ran dry mid-flow.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
FRAME_S = 0.020
SILENCE = b"\xff" * FRAME_BYTES  # mu-law zero
MAX_CLOCK_PPM = 100_000.0  # 10 %: far beyond any real carrier's drift, so a typo is caught

AnswerMode = Literal["answer", "no-answer", "busy", "failed"]
ANSWER_MODES = ("answer", "no-answer", "busy", "failed")


def check_clock_ppm(ppm: float) -> float:
    """`ppm` if it is a carrier clock skew the simulator runs (|ppm| <= 100000), else ValueError."""
    if not -MAX_CLOCK_PPM <= ppm <= MAX_CLOCK_PPM:  # also refuses NaN
        raise ValueError(f"clock skew must be within +-{MAX_CLOCK_PPM:.0f} ppm, got {ppm} ppm")
    return float(ppm)


@dataclass(frozen=True, slots=True)
class Phone:
    """How a number in the simulator's directory behaves when called (or when it calls).

    `ring_s`: rings this long, then answers (or ends busy/failed; a no-answer phone rings
    until the call's `Timeout` or `ring_s`, whichever is shorter, so tests stay fast).
    `audio`: 8 kHz PCM16 the party speaks from the moment a media stream starts; silence after.
    `hangup_after_s`: the party hangs up this long after the call is answered.
    `digits`: keys pressed when a `<Gather>` asks (consumed in order).
    """

    answer: AnswerMode = "answer"
    ring_s: float = 0.2
    audio: bytes = b""
    hangup_after_s: float | None = None
    digits: str = ""

    def __post_init__(self) -> None:
        if self.answer not in ANSWER_MODES:
            raise ValueError(f"Phone.answer must be one of {ANSWER_MODES}, got {self.answer!r}")
        if self.ring_s < 0 or (self.hangup_after_s is not None and self.hangup_after_s < 0):
            raise ValueError("Phone.ring_s and Phone.hangup_after_s must not be negative")
        if len(self.audio) % 2:
            raise ValueError("Phone.audio must be 16-bit PCM (an even number of bytes)")


@dataclass(frozen=True, slots=True)
class Said:
    """A `<Say>` the party heard."""

    text: str
    language: str | None = None
    voice: str | None = None


@dataclass(frozen=True, slots=True)
class ReceivedMedia:
    """A `media` frame from the bridge: its mu-law payload and `time.perf_counter()` on arrival."""

    payload: bytes
    at: float


@dataclass(frozen=True, slots=True)
class CarrierWarning:
    """What Twilio's debugger would show (31950 binary frame, 31951 invalid message, ...)."""

    code: int
    message: str


@dataclass(frozen=True, slots=True)
class StatusCallbackRecord:
    """One status callback the simulator delivered, and the HTTP status it got (None: failed)."""

    params: dict[str, str]
    http_status: int | None


@dataclass(frozen=True, slots=True)
class _Mark:
    name: str


class Playout:
    """The phone's loudspeaker for one media stream."""

    def __init__(self) -> None:
        self._queue: deque[bytes | _Mark] = deque()
        self._head = 0  # bytes of the first queued payload already played
        self._crossed: list[str] = []  # marks passed during the current tick: due at its end
        self.queued_bytes = 0

    def push_audio(self, payload: bytes) -> None:
        if payload:
            self._queue.append(payload)
            self.queued_bytes += len(payload)

    def push_mark(self, name: str) -> list[str]:
        """Marks to echo now: this one if nothing is queued ahead of it, else none yet."""
        if self._queue:
            self._queue.append(_Mark(name))
            return []
        if self._crossed:  # audio is still playing this tick; keep the order of echoes
            self._crossed.append(name)
            return []
        return [name]

    def clear(self) -> list[str]:
        """Drops every queued byte; returns every pending mark, to be echoed at once."""
        pending = self._crossed + [item.name for item in self._queue if isinstance(item, _Mark)]
        self._queue.clear()
        self._crossed = []
        self._head = 0
        self.queued_bytes = 0
        return pending

    def tick(self) -> tuple[bytes, int, list[str]]:
        """Plays 20 ms: (the frame heard, bridge bytes in it, marks to echo now).

        Marks echoed now are those whose audio finished playing in the previous tick. A frame
        with less queued audio than 20 ms is completed with silence (an underrun, audible).
        """
        due, self._crossed = self._crossed, []
        while self._queue:
            head = self._queue[0]
            if not isinstance(head, _Mark):
                break
            self._queue.popleft()
            due.append(head.name)
        frame = bytearray()
        while self._queue and len(frame) < FRAME_BYTES:
            item = self._queue[0]
            if isinstance(item, _Mark):
                self._crossed.append(item.name)
                self._queue.popleft()
                continue
            take = min(FRAME_BYTES - len(frame), len(item) - self._head)
            frame += item[self._head : self._head + take]
            self._head += take
            if self._head == len(item):
                self._queue.popleft()
                self._head = 0
        played = len(frame)
        self.queued_bytes -= played
        frame += SILENCE[: FRAME_BYTES - played]
        return bytes(frame), played, due


class Holes:
    """Finds where the loudspeaker ran dry: the gaps a listener hears inside the bridge's audio.

    A hole starts at a tick that played less than a full frame of bridge audio right after a
    tick that played a full frame, and ends at the next tick that plays any bridge audio; its
    length counts the ticks from its start up to (not including) that one. Pure: fed one tick at
    a time with the tick's index (its frame in `Recording.heard`) and the bridge bytes it played.
    A hole still open when the stream ends is never returned (`open_at` says where it began).
    """

    def __init__(self) -> None:
        self._was_full = False
        self.open_at: int | None = None  # first tick of the hole in progress, if any

    def tick(self, index: int, played: int) -> tuple[int, int] | None:
        """Feeds one tick; returns the hole it closes as (first tick index, length in ticks)."""
        closed = None
        if self.open_at is not None:
            if played:
                closed = (self.open_at, index - self.open_at)
                self.open_at = None
        elif self._was_full and played < FRAME_BYTES:
            self.open_at = index
        self._was_full = played >= FRAME_BYTES
        return closed
