"""Telnyx calls told to speak and then hang up, whose hang-up is still to come.

Call Control has no "say, then hang up": the bridge sends `speak`, and hangs up when the
`call.speak.ended` webhook arrives (bridge/carriers/telnyx/carrier.py). A process about to
stop would never receive that webhook, and the party would be left on a silent line, so the
control remembers each such call until its hang-up, and `TelnyxControl.settle` lets the
speaking finish before shutdown, then hangs up what is left itself.

Pure bookkeeping: callers pass the clock. Entries expire after `MAX_SPEECH_S`: where several
instances share the webhook URL, the `call.speak.ended` of a call this instance spoke to may
reach another one, which hangs up instead, and this table must not grow for ever.
"""

from __future__ import annotations

MAX_SPEECH_S = 120.0  # no apology or busy message is longer


class PendingHangUps:
    __slots__ = ("_since",)

    def __init__(self) -> None:
        self._since: dict[str, float] = {}  # call_control_id -> when its speech was asked for

    def __len__(self) -> int:
        return len(self._since)

    def speaking(self, call_control_id: str, now: float) -> None:
        """A `speak` whose end should hang the call up was sent."""
        self._prune(now)
        self._since[call_control_id] = now

    def done(self, call_control_id: str) -> bool:
        """The call was hung up, or ended by itself; True if it was pending."""
        return self._since.pop(call_control_id, None) is not None

    def pending(self, now: float) -> list[str]:
        self._prune(now)
        return list(self._since)

    def _prune(self, now: float) -> None:
        for ccid in [c for c, since in self._since.items() if now - since > MAX_SPEECH_S]:
            del self._since[ccid]
