"""A call's life as a pure state machine: events in, commands out (as h11 separates HTTP from I/O).

ringing -> bridging (the first leg is up: the Kallglot session and any leg to dial start) ->
active (every leg is up and Kallglot is ready: audio flows) -> ending (one teardown, whatever
asked for it first, with its reason and who hears the apology) -> ended.

No clocks, no tasks, no sockets: `bridge.calls.call.Call` feeds it what happened and carries out
the commands it returns, and tests walk every transition by calling its methods.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.calls.model import CallState, EndReason, Role


@dataclass(frozen=True, slots=True)
class StartKallglot:
    pass


@dataclass(frozen=True, slots=True)
class Dial:
    role: Role


@dataclass(frozen=True, slots=True)
class WatchAnswer:
    """Give up on `role` if its stream has not come a while after its dial was placed (a lost
    status callback must not leave the other party waiting forever)."""

    role: Role


@dataclass(frozen=True, slots=True)
class ReportProgress:
    """The session opened while a leg is still on its way: the records should name it now."""


@dataclass(frozen=True, slots=True)
class Activate:
    """Every leg is up and Kallglot is ready: let audio flow."""


@dataclass(frozen=True, slots=True)
class Teardown:
    reason: EndReason
    apologize: tuple[Role, ...]  # who hears the apology before their leg is hung up
    detail: str | None


@dataclass(frozen=True, slots=True)
class Finished:
    reason: EndReason


Command = StartKallglot | Dial | WatchAnswer | ReportProgress | Activate | Teardown | Finished


class Lifecycle:
    def __init__(self, roles: tuple[Role, ...], to_dial: tuple[Role, ...]) -> None:
        """`roles`: the legs the call needs; `to_dial`: those the call dials itself once its
        first leg is up (the others come to it)."""
        self.roles = roles
        self.to_dial = to_dial
        self.state = CallState.RINGING
        self.attached: set[Role] = set()
        self.dialling: set[Role] = set()
        self.kallglot_ready = False
        self.ending: Teardown | None = None

    @property
    def over(self) -> bool:
        return self.state in (CallState.ENDING, CallState.ENDED)

    # -- events -------------------------------------------------------------------------------

    def leg_attached(self, role: Role) -> list[Command]:
        """`role`'s media stream is up (the caller refuses streams while the call is over)."""
        if self.over:
            return []
        self.attached.add(role)
        commands: list[Command] = []
        if self.state is CallState.RINGING:
            self.state = CallState.BRIDGING
            commands.append(StartKallglot())
            for other in self.to_dial:
                if other not in self.attached:
                    self.dialling.add(other)
                    commands.append(Dial(other))
        return commands + self._maybe_activate()

    def kallglot_is_ready(self) -> list[Command]:
        if self.over:
            return []
        self.kallglot_ready = True
        activate = self._maybe_activate()
        return activate or [ReportProgress()]

    def dialled(self, role: Role) -> list[Command]:
        """The carrier accepted the dial for `role`: it rings now."""
        self.dialling.discard(role)
        if self.state is CallState.BRIDGING and role not in self.attached:
            return [WatchAnswer(role)]
        return []

    def dial_failed(self, role: Role, detail: str) -> list[Command]:
        self.dialling.discard(role)
        return self.end(EndReason.unavailable(role), (role.other,), detail)

    def unanswered(self, role: Role, detail: str) -> list[Command]:
        """`role` will not come: busy, no answer, failed, cancelled, or the watch ran out."""
        if role in self.attached:
            return []
        return self.end(EndReason.unavailable(role), (role.other,), detail)

    def hung_up(self, role: Role, detail: str | None = None) -> list[Command]:
        """`role`'s party is gone (their stream ended, or their carrier call completed)."""
        return self.end(EndReason.hangup_by(role), (), detail)

    def kallglot_gone(
        self, reason: EndReason, detail: str | None, apologize: bool
    ) -> list[Command]:
        return self.end(reason, self.roles if apologize else (), detail)

    def end(
        self, reason: EndReason, apologize: tuple[Role, ...] = (), detail: str | None = None
    ) -> list[Command]:
        """The first request to end the call decides how; later ones join it."""
        if self.ending is not None:
            return []
        self.state = CallState.ENDING
        self.ending = Teardown(reason, apologize, detail)
        return [self.ending]

    def torn_down(self) -> list[Command]:
        assert self.ending is not None, "torn down before a teardown was asked for"
        self.state = CallState.ENDED
        return [Finished(self.ending.reason)]

    def _maybe_activate(self) -> list[Command]:
        if self.state is not CallState.BRIDGING or not self.kallglot_ready:
            return []
        if not all(role in self.attached for role in self.roles):
            return []
        self.state = CallState.ACTIVE
        return [Activate()]
