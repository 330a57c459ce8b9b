"""The guarded listening socket of `serve`, on real loopback sockets.

Idle and slowloris connections are closed at the header timeout (not at aiohttp's keepalive
timeout) and give back their file descriptors; the pending limits refuse at once; requests,
keep-alive and WebSockets work as before because aiohttp's own RequestHandler takes over the
transport; an idle kept-alive connection is closed at the keepalive timeout. The last tests run
`python -m bridge serve` itself and count its file descriptors the way the security test did.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from bridge.calls.settings import BridgeSettings
from bridge.web.listener import (
    HeadDetector,
    Listener,
    LogThrottle,
    PendingTable,
    Refusal,
    app_runner,
    listen,
    peer_key,
)
from tests.ports import port_for_a_process

HEAD = b"GET / HTTP/1.1\r\nHost: bridge\r\n\r\n"
RESPONSE_BODY = b"hello"
MARGIN_S = 0.6  # how late a close may come on a busy test machine (timeouts here are >= 0.4 s)

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def fd_count(pid: int | str = "self") -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def make_settings(**overrides: Any) -> BridgeSettings:
    values: dict[str, Any] = {
        "public_url": "http://127.0.0.1",
        "secret": b"s" * 32,
        "port": 0,
        "http_header_timeout_s": 5.0,
        "http_keepalive_timeout_s": 30.0,
        "http_max_pending_per_ip": 1000,
        "http_max_pending": 1000,
    }
    return BridgeSettings(**(values | overrides))


def echo_app() -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(body=RESPONSE_BODY)

    async def posted(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        assert request.transport is not None
        await ws.send_str(f"handler:{request.transport.get_protocol() is request.protocol}")
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type == aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_post("/", posted)
    app.router.add_get("/ws", echo)
    return app


Serve = Callable[..., Awaitable[Listener]]


@pytest.fixture
async def serving() -> AsyncIterator[Serve]:
    """Starts the echo app behind a listener with the given settings."""
    started: list[tuple[Listener, web.AppRunner]] = []

    async def start(on_refused: Callable[[str], None] | None = None, **overrides: Any) -> Listener:
        settings = make_settings(**overrides)
        runner = app_runner(echo_app(), settings)
        await runner.setup()
        listener = await listen(runner, settings, on_refused=on_refused)
        started.append((listener, runner))
        return listener

    yield start
    for listener, runner in started:
        listener.close()
        await runner.cleanup()


async def connect(listener: Listener, source: str = "127.0.0.1") -> Streams:
    return await asyncio.open_connection("127.0.0.1", listener.port, local_addr=(source, 0))


async def connect_watched(port: int) -> tuple[asyncio.StreamWriter, asyncio.Task[float]]:
    """A connection to `port`, and a task that says how long it lived once the server closed
    it (watched from the start, so a refusal at once is timed as one). Timed from before the
    connect: the server's clock starts at its accept, and a busy client may resume well after
    that, which would make a close on time look early."""
    since = asyncio.get_running_loop().time()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return writer, asyncio.create_task(closed_after(reader, since))


async def closed_after(reader: asyncio.StreamReader, since: float) -> float:
    """Seconds from `since` until the server closed the connection (EOF or reset)."""
    try:
        while await reader.read(65536):
            pass
    except ConnectionResetError:
        pass
    return asyncio.get_running_loop().time() - since


async def until(condition: Callable[[], bool]) -> None:
    """Until `condition` holds: a listener's counters and a process's fds have no event."""
    while not condition():  # noqa: ASYNC110 - counters and fd counts change with no event
        await asyncio.sleep(0.01)


async def close_all(connections: list[Streams]) -> None:
    await close_writers([writer for _, writer in connections])


async def close_writers(writers: list[asyncio.StreamWriter]) -> None:
    for writer in writers:
        writer.close()
    await asyncio.gather(*(writer.wait_closed() for writer in writers), return_exceptions=True)


async def get_hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(HEAD)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert await reader.readexactly(len(RESPONSE_BODY)) == RESPONSE_BODY


# -- pure parts ----------------------------------------------------------------------------


def test_the_head_is_complete_at_its_blank_line_however_the_bytes_are_split() -> None:
    request = HEAD + b"body"
    for cut in range(1, len(request)):
        detector = HeadDetector()
        complete = detector.feed(request[:cut])
        assert complete == (cut >= len(HEAD)), cut
        assert complete or detector.feed(request[cut:])
    detector = HeadDetector()
    assert [detector.feed(bytes([byte])) for byte in HEAD].index(True) == len(HEAD) - 1
    detector = HeadDetector()
    assert not detector.feed(b"\r\n\r\n\r\n")  # empty lines before a request line are no head
    assert not detector.feed(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert detector.feed(b"\r\n")


def test_pending_limits_per_peer_and_in_all() -> None:
    table = PendingTable(max_per_peer=2, max_total=3)
    assert table.admit("a") is None
    assert table.admit("a") is None
    assert table.admit("a") is Refusal.TOO_MANY_PENDING_PER_IP
    assert table.admit("b") is None
    assert table.admit("c") is Refusal.TOO_MANY_PENDING
    table.release("a")
    assert table.admit("c") is None
    assert table.total == 3


def test_ipv6_peers_count_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert (
        peer_key("2001:db8:1:2:aaaa::1") == peer_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    )
    assert peer_key("2001:db8:1:3::1") != peer_key("2001:db8:1:2::1")
    assert peer_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert peer_key("192.0.2.7") == "192.0.2.7"


def test_refusal_logging_is_a_few_lines_per_window_and_counts_what_it_left_out() -> None:
    throttle = LogThrottle(burst=3, window_s=10.0)
    assert [throttle.allow(0.0) for _ in range(5)] == [0, 0, 0, None, None]
    assert throttle.allow(9.9) is None
    assert throttle.allow(10.0) == 3  # the first line of the next window says 3 were left out
    assert throttle.allow(10.1) == 0


# -- the listener on loopback --------------------------------------------------------------

IDLE = 250


async def test_idle_connections_are_closed_at_the_header_timeout_and_give_back_their_fds(
    serving: Serve,
) -> None:
    refused: list[str] = []
    listener = await serving(refused.append, http_header_timeout_s=1.0)
    # Sockets earlier tests dropped without closing close when collected: not during the count.
    gc.collect()
    baseline = fd_count()
    with capture_logs() as logs:
        async with asyncio.timeout(15):
            opened = [await connect_watched(listener.port) for _ in range(IDLE)]
            await until(lambda: listener.stats.pending == IDLE)
            while_open = fd_count()
            lifetimes = await asyncio.gather(*(lived for _, lived in opened))
            server_side_closed = fd_count()
            await close_writers([writer for writer, _ in opened])
    after = fd_count()
    print(
        f"\nidle x{IDLE}: fds {baseline} -> {while_open} -> {server_side_closed} (server side"
        f" closed) -> {after}; lived {min(lifetimes):.3f}..{max(lifetimes):.3f} s"
    )
    assert while_open >= baseline + 2 * IDLE  # client and server end of each
    assert min(lifetimes) >= 1.0 - 0.05
    assert max(lifetimes) <= 1.0 + MARGIN_S
    assert server_side_closed == baseline + IDLE  # only the client ends are left
    assert after == baseline
    assert listener.stats.refused == {Refusal.HEADER_TIMEOUT: IDLE}
    assert refused == ["header_timeout"] * IDLE
    assert listener.stats.pending == 0
    lines = [entry for entry in logs if entry["event"] == "http_connection_refused"]
    assert 1 <= len(lines) <= 5  # a flood is a few log lines
    assert lines[0]["peer"] == "127.0.0.1"
    assert lines[0]["reason"] == "header_timeout"


async def test_a_slowloris_is_closed_at_the_header_timeout_not_later(serving: Serve) -> None:
    listener = await serving(http_header_timeout_s=0.5)
    loop = asyncio.get_running_loop()

    async def slowloris() -> tuple[float, int]:
        reader, writer = await connect(listener)
        opened_at = loop.time()
        writer.write(b"GET / HTTP/1.1\r\nHost: bridge\r\nX-Slow: ")
        sent = 0

        async def dribble() -> None:
            nonlocal sent
            while True:
                await asyncio.sleep(0.1)  # the attack's own pace, not synchronisation
                writer.write(b"a")
                await writer.drain()
                sent += 1

        dribbling = asyncio.create_task(dribble())
        try:
            lived = await closed_after(reader, opened_at)
        finally:
            dribbling.cancel()
            await asyncio.gather(dribbling, return_exceptions=True)
            writer.close()
        return lived, sent

    async with asyncio.timeout(10):
        results = await asyncio.gather(*(slowloris() for _ in range(10)))
    lifetimes = [lived for lived, _ in results]
    print(f"\nslowloris x10: lived {min(lifetimes):.3f}..{max(lifetimes):.3f} s")
    assert min(lifetimes) >= 0.5 - 0.05
    assert max(lifetimes) <= 0.5 + MARGIN_S
    assert all(sent >= 3 for _, sent in results)  # it kept sending and still was cut off
    assert listener.stats.refused == {Refusal.HEADER_TIMEOUT: 10}


async def test_the_per_ip_limit_refuses_at_once_and_other_addresses_still_get_in(
    serving: Serve,
) -> None:
    refused: list[str] = []
    listener = await serving(refused.append, http_max_pending_per_ip=3)
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(10):
        pending = [await connect(listener) for _ in range(3)]
        await until(lambda: listener.stats.pending == 3)

        reader, writer = await connect(listener)
        refused_in = await closed_after(reader, loop.time())
        writer.close()
        print(f"\nper-ip refusal: closed after {refused_in:.3f} s")
        assert refused_in < 0.3  # at once, not at the 5 s header timeout
        assert listener.stats.refused == {Refusal.TOO_MANY_PENDING_PER_IP: 1}
        assert refused == ["too_many_pending_per_ip"]
        assert listener.stats.pending == 3  # the first three are untouched

        other = await connect(listener, source="127.0.0.2")
        await get_hello(*other)  # another address is not limited by this one's pending
        await get_hello(*pending[0])  # a complete head is no longer pending ...
        assert listener.stats.pending == 2
        again = await connect(listener)
        await get_hello(*again)  # ... so 127.0.0.1 may open one more
        assert listener.stats.refused == {Refusal.TOO_MANY_PENDING_PER_IP: 1}
        await close_all([*pending, other, again])


async def test_the_overall_limit_refuses_at_once(serving: Serve) -> None:
    listener = await serving(http_max_pending=3)
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(10):
        pending = [await connect(listener) for _ in range(3)]
        await until(lambda: listener.stats.pending == 3)
        reader, writer = await connect(listener, source="127.0.0.2")
        assert await closed_after(reader, loop.time()) < 0.3
        writer.close()
        assert listener.stats.refused == {Refusal.TOO_MANY_PENDING: 1}
        await close_all(pending)


async def test_keep_alive_requests_and_a_websocket_run_on_aiohttps_own_handler(
    serving: Serve,
) -> None:
    listener = await serving()
    url = f"http://127.0.0.1:{listener.port}"
    async with asyncio.timeout(15):
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as http:
            for _ in range(20):
                async with http.get(url + "/") as response:
                    assert await response.read() == RESPONSE_BODY
            assert (listener.stats.accepted, listener.stats.handed_over) == (1, 1)

            async with http.ws_connect(url + "/ws") as ws:
                assert await ws.receive_str() == "handler:True"  # set_protocol happened
                for i in range(1000):
                    if i % 2:
                        await ws.send_bytes(i.to_bytes(2, "big") * 80)
                        assert await ws.receive_bytes() == i.to_bytes(2, "big") * 80
                    else:
                        await ws.send_str(f"frame {i}")
                        assert await ws.receive_str() == f"frame {i}"

        # A head dribbled byte by byte, with a body in the same write as its last byte.
        reader, writer = await connect(listener)
        request = b"POST / HTTP/1.1\r\nHost: bridge\r\nContent-Length: 4\r\n\r\nping"
        for i in range(len(request) - 5):
            writer.write(request[i : i + 1])
            await writer.drain()
        writer.write(request[-5:])
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200 ")
        assert await reader.readexactly(4) == b"ping"
        await close_all([(reader, writer)])
    assert listener.stats.refused == {}
    assert listener.stats.pending == 0


async def test_an_idle_kept_alive_connection_is_closed_at_the_keepalive_timeout(
    serving: Serve,
) -> None:
    listener = await serving(http_header_timeout_s=5.0, http_keepalive_timeout_s=0.4)
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(10):
        idle = await connect(listener)
        await get_hello(*idle)
        idle_lived = await closed_after(idle[0], loop.time())

        # A slowloris on the second request is bounded by the same timer.
        slow = await connect(listener)
        await get_hello(*slow)
        answered_at = loop.time()
        slow[1].write(b"GET / HTTP/1.1\r\nX-Slow: ")
        slow_lived = await closed_after(slow[0], answered_at)
        await close_all([idle, slow])
    print(
        f"\nkept-alive idle: closed after {idle_lived:.3f} s; 2nd-request slowloris {slow_lived:.3f} s"
    )
    assert 0.4 - 0.05 <= idle_lived <= 0.4 + MARGIN_S
    assert 0.4 - 0.05 <= slow_lived <= 0.4 + MARGIN_S
    assert listener.stats.refused == {}  # aiohttp closed these, not the guard


# -- `python -m bridge serve` itself -------------------------------------------------------


class ServeProcess:
    """`python -m bridge serve` (with its built-in simulators) and its JSON log lines."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []

    async def logged(self, event: str) -> dict[str, Any]:
        assert self.process.stderr is not None
        for entry in self.events:
            if entry.get("event") == event:
                return entry
        async for line in self.process.stderr:
            try:
                entry = json.loads(line)
            except ValueError:
                entry = {"event": line.decode(errors="replace").strip()}
            self.events.append(entry)
            if entry.get("event") == event:
                return entry
        raise AssertionError(f"serve exited without logging {event!r}: {self.events[-5:]}")


@pytest.fixture
async def serve_process(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[ServeProcess]]]:
    started: list[ServeProcess] = []
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BRIDGE_", "KALLGLOT_", "TWILIO_"))
    }

    async def start(port: int | None = None, **env: str) -> ServeProcess:
        port = port or port_for_a_process()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bridge",
            "serve",
            env={
                **inherited,
                "BRIDGE_PORT": str(port),
                "BRIDGE_SECRET": "x" * 40,
                "BRIDGE_LOG_JSON": "true",
                "BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'calls.db'}",
                **env,
            },
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        serve = ServeProcess(process)
        started.append(serve)
        return serve

    yield start
    for serve in started:
        if serve.process.returncode is None:
            serve.process.kill()
            await serve.process.wait()


FLOOD = 500


async def test_serve_sheds_an_idle_flood_gives_back_its_fds_and_still_answers(
    serve_process: Callable[..., Awaitable[ServeProcess]],
) -> None:
    """The security test's 500 idle connections, against the real `serve` with its defaults
    for the limits: 256 wait (per address), the rest are refused at once, all are gone by the
    header timeout, and the bridge's descriptor count is back where it was."""
    port = port_for_a_process()
    serve = await serve_process(port, BRIDGE_HTTP_HEADER_TIMEOUT_S="1.0")
    pid = serve.process.pid
    async with asyncio.timeout(60):
        await serve.logged("bridge_listening")
        baseline = fd_count(pid)
        opened = [await connect_watched(port) for _ in range(FLOOD)]
        watching = [lived for _, lived in opened]
        await until(lambda: sum(lived.done() for lived in watching) >= FLOOD - 256)
        while_open = fd_count(pid)  # the bridge holds the 256 pending ones ...
        lifetimes = await asyncio.gather(*(lived for _, lived in opened))
        after = fd_count(pid)  # ... and gives them back
        await close_writers([writer for writer, _ in opened])

        refused_at_once = sum(lived < 0.5 for lived in lifetimes)
        waited = sorted(lived for lived in lifetimes if lived >= 0.5)
        print(
            f"\nserve, {FLOOD} idle: bridge fds {baseline} -> {while_open} -> {after}; {refused_at_once} refused"
            f" at once, {len(waited)} closed after {waited[0]:.3f}..{waited[-1]:.3f} s"
        )
        assert refused_at_once == FLOOD - 256
        assert waited[0] >= 1.0 - 0.05
        assert waited[-1] <= 1.0 + MARGIN_S
        assert baseline + 256 <= while_open <= baseline + 256 + 2
        assert after <= baseline + 2  # a probe's client socket may come and go meanwhile

        async with aiohttp.ClientSession() as http:
            for _ in range(3):  # keep-alive requests through the guard still work
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    assert response.status == 200

        # Shutdown with connections still pending: stop listening, clean up, exit 0.
        stragglers = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]
        serve.process.send_signal(signal.SIGTERM)
        assert await serve.process.wait() == 0
        await close_all(stragglers)


async def stderr_and_status(serve: ServeProcess) -> tuple[list[str], int]:
    assert serve.process.stderr is not None
    async with asyncio.timeout(30):
        err = await serve.process.stderr.read()
        status = await serve.process.wait()
    return err.decode().splitlines(), status


@pytest.mark.parametrize("json_logs", [True, False], ids=["json", "console"])
async def test_serve_says_in_one_line_that_its_port_is_taken_and_exits_2(
    serve_process: Callable[..., Awaitable[ServeProcess]], json_logs: bool
) -> None:
    """Bound before the simulators or the records start, so this is all it says."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = await serve_process(port, BRIDGE_LOG_JSON=str(json_logs).lower())
        lines, status = await stderr_and_status(serve)
    assert status == 2
    (line,) = lines
    if json_logs:
        entry = json.loads(line)
        assert entry["event"] == "cannot_listen"
        assert entry["setting"] == "BRIDGE_PORT"
        line = entry["message"]
    assert f"BRIDGE_PORT={port}" in line
    assert "already in use" in line


@pytest.mark.parametrize(
    ("host", "says"),
    [("bridge-host.invalid", "does not resolve"), ("192.0.2.1", "not an address of this")],
)
async def test_serve_says_in_one_line_that_its_host_is_wrong_and_exits_2(
    serve_process: Callable[..., Awaitable[ServeProcess]],
    host: str,
    says: str,
) -> None:
    serve = await serve_process(BRIDGE_HOST=host, BRIDGE_LOG_JSON="false")
    lines, status = await stderr_and_status(serve)
    assert status == 2
    (line,) = lines
    assert line.startswith(f"kallglot-bridge: BRIDGE_HOST='{host}' ")
    assert says in line
