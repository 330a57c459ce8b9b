"""Stopping background tasks: the one way every owner of a task does it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancels `tasks` and returns once each has finished, whatever it raised. Whoever stops a
    task no longer wants its outcome, only the certainty that nothing of it runs on."""
    stopping = list(tasks)
    for task in stopping:
        task.cancel()
    await asyncio.gather(*stopping, return_exceptions=True)
