"""The documented Telnyx quirks the simulator reproduces, each one switchable.

On by default, because the bridge must survive them in production (carriers.md §4): tests that
check the bridge copes rely on them, and tests about something else can turn one off so that a
failure points at one cause. Read by each call when it is created (`TelnyxSimulator.quirks`).
"""

from __future__ import annotations

from dataclasses import dataclass

# Every 25th frame swapped with its successor: twice a second, often enough that a bridge which
# does not reorder hears it in a one-second test, rare enough to be a quirk and not noise.
SWAP_EVERY = 25


@dataclass(frozen=True, slots=True)
class TelnyxQuirks:
    """`swap_every`: media frame n (a multiple of it) is sent after frame n + 1, each with its
    true `chunk` and `timestamp` ("order is not guaranteed", §4.2); 0 sends all in order.
    `mp3_drops_audio`: in `stream_bidirectional_mode` "mp3" (Telnyx's default) the raw audio
    the bridge sends is dropped unheard, with only a simulator warning to show for it (§4.1);
    off, it plays as in "rtp" mode.
    `hangup_ended_is_422`: a `hangup` of a call that has ended gets HTTP 422, code 90018
    (§4.4); off, it gets 200 like any other hang-up (every other command still gets 422).
    """

    swap_every: int = SWAP_EVERY
    mp3_drops_audio: bool = True
    hangup_ended_is_422: bool = True

    def __post_init__(self) -> None:
        if self.swap_every == 1 or self.swap_every < 0:
            raise ValueError(
                f"swap_every must be 0 (off) or at least 2 (a pair), not {self.swap_every}"
            )


NO_QUIRKS = TelnyxQuirks(swap_every=0, mp3_drops_audio=False, hangup_ended_is_422=False)
