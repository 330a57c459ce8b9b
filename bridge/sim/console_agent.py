"""An agent at the console, simulated: the page's side of the console's wire protocol.

It signs in with a console key, watches its desk, answers (or declines) a ringing call and then
is the browser leg: 20 ms frames of 16-bit PCM at the page's rate sent in real time from what
it was told to `speak` (silence otherwise), and what the bridge sends played one frame per
20 ms tick, marks echoed as playback reaches them, exactly as the page's worklets do. Tests use
it where a real browser would add nothing but time (bridge/web/console/ is tested in Chromium
by tests/browser); load tests can run many of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp

FRAME_S = 0.02


class ConsoleRefused(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class ConsoleAgent:
    def __init__(self, base_url: str, key: str, sample_rate: int = 48000) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.sample_rate = sample_rate
        self.frame_bytes = sample_rate // 50 * 2
        self.calls: list[dict[str, Any]] = []  # the desk's latest list
        self.heard = bytearray()  # what the speaker played, silence included (one frame a tick)
        self.received = bytearray()  # every audio byte the bridge sent
        self.marks_echoed: list[str] = []
        self.close_code: int | None = None  # of the media socket, once closed
        self.close_reason = ""
        self._speech = b""
        self._queue: deque[bytes | str] = deque()  # audio frames and mark names, in order
        self._http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"})
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._media: aiohttp.ClientWebSocketResponse | None = None

    async def __aenter__(self) -> ConsoleAgent:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._media is not None:
            await self._media.close()
        await self._http.close()

    # ---- the desk ----

    def watch_desk(self) -> None:
        self._spawn(self._desk())

    async def _desk(self) -> None:
        async with self._http.ws_connect(self.base_url + "/console/desk") as ws:
            await ws.send_str(json.dumps({"key": self.key}))
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    update = json.loads(msg.data)
                    if update.get("type") == "calls":
                        self.calls = update["calls"]
                        await self._notify()

    async def ringing(self) -> str:
        """The id of a call ringing this console, once one is."""
        await self.wait_until(lambda: any(c["ringing"] for c in self.calls))
        return str(next(c["call_id"] for c in self.calls if c["ringing"]))

    # ---- acting on a call ----

    async def answer(self, call_id: str) -> dict[str, Any]:
        return await self._post(f"/console/calls/{call_id}/answer")

    async def decline(self, call_id: str) -> None:
        await self._post(f"/console/calls/{call_id}/decline")

    async def hang_up(self, call_id: str) -> None:
        await self._post(f"/console/calls/{call_id}/hangup")

    async def _post(self, path: str) -> dict[str, Any]:
        async with self._http.post(self.base_url + path) as response:
            body = await response.json() if response.content_type == "application/json" else {}
            if response.status >= 400:
                raise ConsoleRefused(response.status, body)
            return dict(body)

    # ---- the media leg ----

    async def open_media(self, answer: dict[str, Any], ticket: str | None = None) -> None:
        """Connects the leg the answer granted (`ticket` overrides its ticket, for tests)."""
        self._media = await self._http.ws_connect(answer["media_url"])
        start = {
            "event": "start",
            "ticket": ticket or answer["ticket"],
            "sampleRate": self.sample_rate,
        }
        await self._media.send_str(json.dumps(start))
        self._spawn(self._receive(self._media))
        self._spawn(self._tick(self._media))

    async def lose_network(self) -> None:
        """The laptop drops off the network: nothing more is sent, read or answered (pings
        included), and no close is sent either."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def speak(self, pcm: bytes) -> None:
        """Says `pcm` (16-bit PCM at `sample_rate`) from the next frame on."""
        self._speech += pcm

    async def send_raw(self, data: bytes | str) -> None:
        assert self._media is not None
        if isinstance(data, bytes):
            await self._media.send_bytes(data)
        else:
            await self._media.send_str(data)

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        async with self._changed:
            await self._changed.wait_for(condition)

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            msg = await ws.receive()
            if msg.type is aiohttp.WSMsgType.BINARY:
                self.received += msg.data
                for at in range(0, len(msg.data), self.frame_bytes):
                    self._queue.append(msg.data[at : at + self.frame_bytes])
            elif msg.type is aiohttp.WSMsgType.TEXT:
                event = json.loads(msg.data)
                if event.get("event") == "mark":
                    self._queue.append(str(event["name"]))
                elif event.get("event") == "clear":
                    marks = [item for item in self._queue if isinstance(item, str)]
                    self._queue.clear()
                    for name in marks:
                        await self._echo(ws, name)
            else:  # the socket is closing: keep why
                self.close_code = ws.close_code
                self.close_reason = msg.extra if isinstance(msg.extra, str) else ""
                await self._notify()
                return
            await self._notify()

    async def _tick(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """One frame each way every 20 ms, on absolute deadlines (no drift)."""
        started, tick = time.monotonic(), 0
        silence = bytes(self.frame_bytes)
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):
            while not ws.closed:
                frame, self._speech = (
                    self._speech[: self.frame_bytes],
                    self._speech[self.frame_bytes :],
                )
                await ws.send_bytes(frame.ljust(self.frame_bytes, b"\0"))
                self.heard += self._play() or silence
                tick += 1
                await asyncio.sleep(max(0.0, started + tick * FRAME_S - time.monotonic()))

    def _play(self) -> bytes | None:
        """The next frame the speaker plays; marks it passes are echoed."""
        while self._queue:
            item = self._queue.popleft()
            if isinstance(item, bytes):
                return item
            self._spawn(self._echo(self._media, item))
        return None

    async def _echo(self, ws: aiohttp.ClientWebSocketResponse | None, name: str) -> None:
        if ws is not None and not ws.closed:
            await ws.send_str(json.dumps({"event": "mark", "name": name}))
            self.marks_echoed.append(name)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
