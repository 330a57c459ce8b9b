"""A live call's captions, for the consoles watching it (bridge/web/console_sockets.py).

Kallglot's `transcript.partial`/`transcript.final` events become `Caption`s; every watcher gets
each one in order, and one that starts watching mid-call first gets the finals so far. The
call's state changes go the same way, so a console sees a call end as soon as it does. A
watcher that falls `MAX_BEHIND` captions behind (a stalled tab) is dropped rather than let
the call hold an ever-growing queue for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_BEHIND = 500


@dataclass(frozen=True, slots=True)
class Caption:
    speaker: str | None  # "customer" | "agent" (Kallglot's label)
    final: bool
    text: str
    language: str | None
    translation: str | None
    translation_language: str | None
    at: float  # unix seconds

    def to_json(self, iso: Callable[[float], str]) -> dict[str, Any]:
        return {
            "type": "caption",
            "speaker": self.speaker,
            "final": self.final,
            "text": self.text,
            "language": self.language,
            "translation": self.translation,
            "translation_language": self.translation_language,
            "at": iso(self.at),
        }


@dataclass(frozen=True, slots=True)
class StateChange:
    state: str
    end_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"type": "state", "state": self.state, "end_reason": self.end_reason}


Update = Caption | StateChange


class CaptionFeed:
    def __init__(self) -> None:
        self.finals: list[Caption] = []
        self.state = StateChange("bridging")
        self._watchers: set[asyncio.Queue[Update | None]] = set()

    def publish(self, update: Update) -> None:
        if isinstance(update, Caption) and update.final:
            self.finals.append(update)
        elif isinstance(update, StateChange):
            self.state = update
        for queue in list(self._watchers):
            if queue.qsize() >= MAX_BEHIND:
                self._watchers.discard(queue)
                queue.put_nowait(None)  # its reader stops here
            else:
                queue.put_nowait(update)

    def watch(self) -> asyncio.Queue[Update | None]:
        """A queue of what happens from now, primed with the finals so far and the state;
        None in it means the feed dropped this watcher (or the call is over)."""
        queue: asyncio.Queue[Update | None] = asyncio.Queue()
        backlog: list[Update] = [*self.finals, self.state]
        for update in backlog:
            queue.put_nowait(update)
        if self.state.state == "ended":
            queue.put_nowait(None)
        else:
            self._watchers.add(queue)
        return queue

    def unwatch(self, queue: asyncio.Queue[Update | None]) -> None:
        self._watchers.discard(queue)

    def close(self, end_reason: str | None) -> None:
        self.publish(StateChange("ended", end_reason))
        for queue in self._watchers:
            queue.put_nowait(None)
        self._watchers.clear()
