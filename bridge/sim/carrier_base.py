"""What every simulated carrier shares: a phone directory, its calls, serving its REST API on
its own, and one shutdown that leaves nothing running (carrier.py: Twilio, telnyx.py: Telnyx).
"""

from __future__ import annotations

import asyncio
from typing import Generic, Protocol, TypeVar

import aiohttp
from aiohttp import web

from bridge.sim.softphone import Phone, check_clock_ppm
from bridge.sim.softphone_record import Recording

WS_CLOSE_TIMEOUT_S = 2.0
MAX_WS_MESSAGE = 4 * 1024 * 1024


class SimulatedCall(Protocol):
    sid: str
    direction: str
    to: str

    def start(self) -> None: ...
    def stall(self, seconds: float) -> None: ...
    async def close(self) -> None: ...


C = TypeVar("C", bound=SimulatedCall)
T = TypeVar("T")


class InOrderDelivery(Generic[T]):
    """A call's webhooks or callbacks, sent one at a time in the order queued by a task the
    first one starts, so that a carrier's events reach the bridge in the order they happened.
    Each carrier says in `_deliver` how one goes out and what it records."""

    def __init__(self, task_name: str | None = None) -> None:
        """`task_name` names the delivery task (with this queue's id), for leak reports."""
        self._task_name = task_name
        self._queue: asyncio.Queue[T | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def _put(self, item: T) -> None:
        self._queue.put_nowait(item)
        if self._task is None:
            name = f"{self._task_name}-{id(self)}" if self._task_name else None
            self._task = asyncio.create_task(self._deliver_all(), name=name)

    async def drain(self, timeout_s: float) -> None:
        """Waits (up to `timeout_s`) until everything queued so far was delivered."""
        if self._task is not None and not self._task.done():
            self._queue.put_nowait(None)
            await asyncio.wait([self._task], timeout=timeout_s)

    async def cancel(self) -> None:
        """Simulator shutdown: the delivery stops, whatever is still queued stays unsent."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task])

    async def _deliver_all(self) -> None:
        while (item := await self._queue.get()) is not None:
            await self._deliver(item)

    async def _deliver(self, item: T) -> None:
        raise NotImplementedError


class LazySession:
    """One aiohttp session for everything a simulator sends, made on first use (it needs a
    running loop) and refused once the simulator is closed."""

    def __init__(self, timeout_s: float, what: str) -> None:
        self._timeout_s = timeout_s
        self._what = what
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError(f"{self._what} is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout_s)
            )
        return self._session

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None


class SimulatedCarrier(Generic[C]):
    API_PATH = ""  # what `start()` appends to the server's URL to make the API base
    NAME = "the carrier simulator"

    def __init__(self, http: LazySession, default_phone: Phone | None) -> None:
        """`default_phone` answers numbers not in the directory (None: such calls fail)."""
        self.default_phone = default_phone
        self.phones: dict[str, Phone] = {}
        self.calls: dict[str, C] = {}
        self.api_url: str | None = None  # set by start(); with aiohttp_server use its URL
        self._clock_ppm = 0.0
        self._http = http
        self._dialled = Recording()  # only its waiter machinery: "a call to X was created"
        self._claimed: set[str] = set()
        self._runner: web.AppRunner | None = None
        self._closed = False
        self.app = web.Application()
        self.app.on_cleanup.append(self._on_cleanup)

    @property
    def clock_ppm(self) -> float:
        """How fast this carrier's media clock runs, in parts per million (+1000: every 20 ms
        frame is sent and played 1/1.001 of 20 ms of real time apart). Read as each media stream
        starts, so a change applies to streams started after it; |ppm| <= 100000."""
        return self._clock_ppm

    @clock_ppm.setter
    def clock_ppm(self, ppm: float) -> None:
        self._clock_ppm = check_clock_ppm(ppm)

    def stall(self, sid: str, seconds: float) -> None:
        """Fault: call `sid`'s media loop freezes for `seconds` (see `StreamSession.stall`);
        KeyError for an unknown call, RuntimeError when it has no media stream up."""
        self.calls[sid].stall(seconds)

    def add_phone(self, number: str, phone: Phone | None = None) -> None:
        """Registers `number`: calls to it ring and behave as `phone` says."""
        self.phones[number] = phone or Phone()

    def outbound(self, call: C) -> bool:
        """Whether the simulator placed `call` (a dial), rather than a test calling in."""
        raise NotImplementedError

    async def next_call(self, to: str | None = None) -> C:
        """The oldest outbound call (to `to`, if given) not yet returned by this method."""
        found: list[C] = []

        def pending() -> bool:
            for call in self.calls.values():
                mine = self.outbound(call) and call.sid not in self._claimed
                if mine and (to is None or call.to == to):
                    found.append(call)
                    return True
            return False

        await self._dialled.wait_until(pending)
        self._claimed.add(found[0].sid)
        return found[0]

    def _register(self, call: C, dialled: bool) -> C:
        if self._closed:
            raise RuntimeError(f"{self.NAME} is closed")
        self.calls[call.sid] = call
        call.start()
        if dialled:
            self._dialled.notify()
        return call

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serves the REST API on its own; returns the base URL its clients are configured with."""
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_port = self._runner.addresses[0][1]
        self.api_url = f"http://{host}:{bound_port}{self.API_PATH}"
        return self.api_url

    async def close(self) -> None:
        """Ends every call (no callbacks), closes every socket and session; idempotent."""
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(call.close() for call in self.calls.values()))
        self._dialled.fail_waiters()
        await self._http.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()  # runs _on_cleanup, which returns at once now

    async def _on_cleanup(self, app: web.Application) -> None:
        await self.close()
