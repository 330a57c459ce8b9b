"""The load generator's core: legs that speak real speech in 20 ms Twilio frames, cheaply.

Cost matters here as much as in the bridge: the generator shares one core with the Kallglot
simulator, and whatever time it spends is time a reply sits unread, which would show up as
latency the bridge did not add. So:

* Every media message a leg will ever send is built once, when the leg starts (one loop of the
  speech file, a few hundred messages), already framed as WebSocket frames (bench/wsclient.py):
  sending is one `transport.write` of bytes that already exist.
* One pacing task for the whole process wakes once per millisecond slot, against absolute
  deadlines, and sends the due frame of every leg in that slot. Legs are spread over 20 slots,
  so the bridge sees the steady, phase-spread arrivals of independent calls, not a burst every
  20 ms, and the generator pays ~1000 wake-ups a second however many legs run.
* Each frame carries a marker in its first 8 mu-law bytes: the leg's id and the frame's index in
  the loop, a nibble per byte in mu-law's quietest codes (0xF0-0xFF, below -48 dBFS), so the
  marker is inaudible and costs nothing downstream (a route that mixes the other party's voice
  under the translation would otherwise limit a full-scale click in every frame). The bridge
  passes mu-law through untouched, the simulator echoes it, and the bridge cuts it back into the
  same 160-byte frames, so every 20 ms frame can be recognised wherever it surfaces.
"""

from __future__ import annotations

import asyncio
import binascii
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from time import perf_counter_ns

from bench.stats import gap
from bench.wsclient import RawSocket, text_frame
from bridge.audio import codecs
from bridge.audio.formats import Encoding
from bridge.audio.wav import parse_wav
from bridge.carriers.twilio import TwilioCarrierSide
from bridge.tasks import cancel_and_wait

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
SPEECH = {"customer": DATA / "customer_de.wav", "agent": DATA / "agent_en.wav"}
FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
FRAME_NS = 20_000_000
SLOTS = 20  # pacing slots per 20 ms: legs start their frames on 1 ms phases


class QuietMarker:
    """Leg id and frame index, 16 bits each, as eight mu-law bytes 0xF0 | nibble."""

    size = 8

    @staticmethod
    def pack(leg_id: int, index: int) -> bytes:
        value = (leg_id << 16) | index
        return bytes(0xF0 | (value >> shift) & 0xF for shift in range(28, -4, -4))

    @staticmethod
    def unpack_from(data: bytes, offset: int) -> tuple[int, int]:
        value = 0
        for byte in data[offset : offset + 8]:
            value = (value << 4) | (byte & 0xF)
        return value >> 16, value & 0xFFFF


MARKER = QuietMarker()  # leg id, index of the frame in the speech loop
MAX_LEGS = 1 << 16
# The speech loops; frame indices (and so matching and loss counting) repeat every loop, so it
# must outlast any latency worth measuring. 10 s of frames is ~170 kB per leg, built once.
LOOP_S = 10


@cache
def speech_frames(role: str) -> tuple[bytes, ...]:
    """The role's speech as whole 20 ms mu-law frames, repeated to at least LOOP_S seconds
    (encoded once per process)."""
    fmt, pcm = parse_wav(SPEECH[role].read_bytes())
    if fmt.sample_rate != 8000:
        raise ValueError(f"{SPEECH[role]} must be 8 kHz")
    mulaw = codecs.encode(Encoding.MULAW, pcm)
    once = [mulaw[i : i + FRAME_BYTES] for i in range(0, len(mulaw) - FRAME_BYTES + 1, FRAME_BYTES)]
    repeats = -(-LOOP_S * 1_000_000_000 // (FRAME_NS * len(once)))
    return tuple(once * repeats)


@dataclass(eq=False, slots=True)
class Leg:
    """One simulated carrier media stream and what was measured on it."""

    id: int
    role: str
    side: TwilioCarrierSide
    frames: list[bytes] = field(default_factory=list)  # the media messages, framed once
    sent_ns: list[int] = field(default_factory=list)  # per loop index: last time it was sent
    out_ns: list[int] = field(default_factory=list)  # per loop index: left the simulator
    ws: RawSocket | None = None
    partner: Leg | None = None
    next: int = 0
    sent: int = 0
    received: int = 0  # partner frames that came back to this leg
    expect_in: int = -1  # next loop index the simulator should see from this leg
    expect_back: int = -1  # next loop index of the partner's frames expected here
    plays_until_ns: int = 0  # when the carrier would finish playing what reached this leg
    closed: bool = False

    def build(self) -> None:
        """Pre-builds one loop of marked media messages (after `start`, for the counters)."""
        speech = speech_frames(self.role)
        mask = os.urandom(4)  # one per leg: servers do not check masks for unpredictability
        self.frames = [
            text_frame(self.side.media(MARKER.pack(self.id, i) + frame[MARKER.size :]), mask)
            for i, frame in enumerate(speech)
        ]
        self.sent_ns = [0] * len(speech)
        self.out_ns = [0] * len(speech)


@dataclass(slots=True)
class Window:
    """What was measured while recording (the steady-state window)."""

    inbound: list[int] = field(default_factory=list)  # ns, carrier frame in -> Kallglot out
    outbound: list[int] = field(default_factory=list)  # ns, Kallglot in -> carrier frame out
    inbound_at: list[int] = field(default_factory=list)  # when each inbound sample was taken
    outbound_at: list[int] = field(default_factory=list)
    end_to_end: list[int] = field(default_factory=list)  # ns, sent here -> back at partner
    lost_to_kallglot: int = 0
    lost: int = 0  # frames skipped in what came back to the partner leg
    odd: int = 0  # markers that did not decode to the expected leg (should stay 0)
    sent: int = 0
    back: int = 0
    pacer_late: list[int] = field(default_factory=list)  # ns each pacing tick ran late


class Probe:
    """The one registry of legs, shared by the generator and the simulator's timing hook."""

    def __init__(self) -> None:
        self.legs: list[Leg] = []
        self.recording = False
        self.window = Window()

    def new_leg(self, role: str, side: TwilioCarrierSide) -> Leg:
        if len(self.legs) >= MAX_LEGS:
            raise RuntimeError(f"at most {MAX_LEGS} legs per run (16-bit marker)")
        leg = Leg(len(self.legs), role, side)
        self.legs.append(leg)
        return leg

    def start_window(self) -> None:
        self.window = Window()
        self.window.sent = -sum(leg.sent for leg in self.legs)
        self.recording = True

    def stop_window(self) -> Window:
        self.recording = False
        self.window.sent += sum(leg.sent for leg in self.legs)
        return self.window

    # -- called by the simulator hook ------------------------------------------------------

    def chunk_in(self, payload: str, at_ns: int) -> None:
        """A chunk reached Kallglot: added latency = now - when its LAST frame was sent."""
        data = binascii.a2b_base64(payload)
        count = len(data) // FRAME_BYTES
        if not count:
            return
        leg_id, first = MARKER.unpack_from(data, 0)
        last_id, last = MARKER.unpack_from(data, (count - 1) * FRAME_BYTES)
        legs, window = self.legs, self.window
        if leg_id >= len(legs) or last_id != leg_id:
            window.odd += 1
            return
        leg = legs[leg_id]
        loop = len(leg.frames)
        if self.recording:
            if leg.expect_in >= 0:
                window.lost_to_kallglot += gap(leg.expect_in, first, loop)
            window.inbound.append(at_ns - leg.sent_ns[last])
            window.inbound_at.append(at_ns)
        leg.expect_in = (last + 1) % loop

    def chunk_out(self, payload: str, at_ns: int) -> None:
        """Translated audio left Kallglot: stamp each frame it carries."""
        data = binascii.a2b_base64(payload)
        legs = self.legs
        for offset in range(0, len(data) - FRAME_BYTES + 1, FRAME_BYTES):
            leg_id, index = MARKER.unpack_from(data, offset)
            if leg_id < len(legs) and index < len(legs[leg_id].out_ns):
                legs[leg_id].out_ns[index] = at_ns

    # -- called by each leg's reader ---------------------------------------------------------

    def frame_back(self, leg: Leg, text: str, at_ns: int) -> bool:
        """A media message reached `leg`; False when `text` is not a media message.

        The payload may hold one 20 ms frame or several (Twilio plays any length), so every
        160-byte frame in it is matched on its own marker.
        """
        start = text.find('"payload"')
        if start < 0:
            return False
        quote = text.find('"', start + 9)
        data = binascii.a2b_base64(text[quote + 1 : text.find('"', quote + 1)])
        leg.plays_until_ns = max(leg.plays_until_ns, at_ns) + len(data) // FRAME_BYTES * FRAME_NS
        source = leg.partner
        window, recording = self.window, self.recording
        for offset in range(0, len(data) - FRAME_BYTES + 1, FRAME_BYTES):
            leg_id, index = MARKER.unpack_from(data, offset)
            if source is None or leg_id != source.id or index >= len(source.frames):
                window.odd += 1
                continue
            leg.received += 1
            if recording:
                window.back += 1
                if leg.expect_back >= 0:
                    window.lost += gap(leg.expect_back, index, len(source.frames))
                window.end_to_end.append(at_ns - source.sent_ns[index])
                out = source.out_ns[index]
                if out:
                    window.outbound.append(at_ns - out)
                    window.outbound_at.append(at_ns)
            leg.expect_back = (index + 1) % len(source.frames)
        return True


class Pacer:
    """The one task that sends every leg's frames in real time, against absolute deadlines.

    How late each tick runs is kept while recording: it is the generator's own event-loop lag,
    which any latency figure measured here also contains.
    """

    def __init__(self, probe: Probe) -> None:
        self._probe = probe
        self._slots: list[list[Leg]] = [[] for _ in range(SLOTS)]
        self._added = 0
        self._task: asyncio.Task[None] | None = None

    def add(self, leg: Leg) -> None:
        self._slots[self._added % SLOTS].append(leg)
        self._added += 1
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="pacer")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    async def _run(self) -> None:
        tick_ns = FRAME_NS // SLOTS
        start = perf_counter_ns()
        tick = 0
        probe = self._probe
        while True:
            due = start + tick * tick_ns
            wait = due - perf_counter_ns()
            if wait > 0:
                await asyncio.sleep(wait / 1e9)
            if probe.recording:
                probe.window.pacer_late.append(perf_counter_ns() - due)
            slot = self._slots[tick % SLOTS]
            dead = False
            for leg in slot:
                ws = leg.ws
                if leg.closed or ws is None:
                    dead = True
                    continue
                index = leg.next
                leg.sent_ns[index] = perf_counter_ns()
                if not ws.send(leg.frames[index]):
                    leg.closed = dead = True
                    continue
                leg.next = index + 1 if index + 1 < len(leg.frames) else 0
                leg.sent += 1
            if dead:
                slot[:] = [leg for leg in slot if not leg.closed]
            tick += 1


def listener(leg: Leg, probe: Probe) -> Callable[[str, int], None]:
    """What `leg` does with each message: time media frames, echo marks as Twilio does (once
    the audio before the mark would have played: the bridge paces by those echoes)."""
    frame_back = probe.frame_back
    loop = asyncio.get_running_loop()

    def echo(name: str) -> None:
        if leg.ws is not None and not leg.closed:
            leg.ws.send_text(leg.side.mark(name))

    def on_text(text: str, at_ns: int) -> None:
        if frame_back(leg, text, at_ns) or '"mark"' not in text or leg.ws is None:
            return
        name = json.loads(text)["mark"]["name"]
        loop.call_later(max(0, leg.plays_until_ns - at_ns) / 1e9, echo, name)

    return on_text


async def connect(
    leg: Leg, probe: Probe, url: str, headers: Mapping[str, str] | None = None
) -> None:
    leg.ws = await RawSocket.connect(url, listener(leg, probe), headers)
