"""The outage proxy over real loopback sockets: it pipes HTTP and WebSockets, refuses and resets
during an outage, comes back on the same port, and leaves no task behind when closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer
from pytest_aiohttp.plugin import AiohttpServer

from bridge.sim import outage_proxy
from bridge.sim.outage_proxy import OutageProxy

PROMPTLY = 2.0  # seconds; a bound on waits that should finish in milliseconds


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type is WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


@pytest.fixture
async def upstream(aiohttp_server: AiohttpServer) -> TestServer:
    app = web.Application()
    app.router.add_get("/hello", hello)
    app.router.add_get("/ws", echo)
    return await aiohttp_server(app)


@pytest.fixture
async def proxy(upstream: TestServer) -> AsyncIterator[OutageProxy]:
    assert upstream.host is not None
    assert upstream.port is not None
    proxy = OutageProxy(upstream.host, upstream.port)
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


def proxy_tasks() -> set[asyncio.Task[object]]:
    """Running tasks whose coroutine is code from the proxy module."""
    return {
        t
        for t in asyncio.all_tasks()
        if not t.done()
        and getattr(getattr(t.get_coro(), "cr_code", None), "co_filename", None)
        == outage_proxy.__file__
    }


async def assert_works(proxy: OutageProxy, session: aiohttp.ClientSession) -> None:
    async with session.get(proxy.url("/hello")) as response:
        assert response.status == 200
        assert await response.text() == "hello"
    async with session.ws_connect(proxy.url("/ws")) as ws:
        await ws.send_str("hi")
        assert await ws.receive_str(timeout=PROMPTLY) == "hi"


async def test_http_and_websocket_pass_through(
    proxy: OutageProxy, session: aiohttp.ClientSession
) -> None:
    await assert_works(proxy, session)
    async with session.ws_connect(proxy.url("/ws"), max_msg_size=0) as ws:
        big = bytes(range(256)) * 8192  # 2 MiB: many chunks, both directions, backpressure
        await ws.send_bytes(big)
        assert await ws.receive_bytes(timeout=PROMPTLY) == big
    assert proxy.accepted >= 2
    assert proxy.outages == 0
    assert proxy.cut == 0
    assert not proxy.is_down


async def test_half_close_is_passed_on(proxy: OutageProxy) -> None:
    async def reply_after_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.read()  # to EOF: only the client's write_eof ends this
        writer.write(b"got:" + request)
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(reply_after_eof, "127.0.0.1", 0)
    async with server:
        half = OutageProxy("127.0.0.1", server.sockets[0].getsockname()[1])
        port = await half.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"ping")
            writer.write_eof()
            async with asyncio.timeout(PROMPTLY):
                assert await reader.read() == b"got:ping"
            writer.close()
        finally:
            await half.close()


async def test_down_refuses_and_cuts_open_connections(
    proxy: OutageProxy, session: aiohttp.ClientSession
) -> None:
    ws = await session.ws_connect(proxy.url("/ws"))
    await ws.send_str("before")
    assert await ws.receive_str(timeout=PROMPTLY) == "before"
    raw_reader, raw_writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    raw_writer.write(b"GET /hello HTTP/1.1\r\nHost: upstream\r\n\r\n")
    async with asyncio.timeout(PROMPTLY):  # a reply proves the raw link is fully piped
        await raw_reader.readuntil(b"hello")

    await proxy.down()

    assert proxy.is_down
    assert proxy.outages == 1
    assert proxy.cut >= 2
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", proxy.port)
    msg = await ws.receive(timeout=PROMPTLY)
    assert msg.type in (WSMsgType.CLOSED, WSMsgType.ERROR)
    assert ws.closed
    async with asyncio.timeout(PROMPTLY):
        with pytest.raises(ConnectionResetError):  # a reset, not an orderly EOF
            await raw_reader.read()
    raw_writer.close()
    await ws.close()


async def test_up_serves_again_on_the_same_port(
    proxy: OutageProxy, session: aiohttp.ClientSession
) -> None:
    port = proxy.port
    await assert_works(proxy, session)
    await proxy.down()
    await proxy.up()
    assert proxy.port == port
    assert not proxy.is_down
    await assert_works(proxy, session)
    await proxy.down()  # and again: repeated outages reuse the port too
    await proxy.up()
    assert proxy.port == port
    assert proxy.outages == 2
    await assert_works(proxy, session)


async def test_outage_task_goes_down_then_up(
    proxy: OutageProxy, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    went_down = asyncio.Event()
    real_down = proxy.down

    async def down_and_signal() -> None:
        await real_down()
        went_down.set()

    monkeypatch.setattr(proxy, "down", down_and_signal)
    task = asyncio.create_task(proxy.outage(PROMPTLY / 4))
    async with asyncio.timeout(PROMPTLY):
        await went_down.wait()
    with pytest.raises(ConnectionRefusedError):  # down for real, not just flagged
        await asyncio.open_connection("127.0.0.1", proxy.port)
    async with asyncio.timeout(PROMPTLY):
        await task
    assert not proxy.is_down
    assert proxy.outages == 1
    await assert_works(proxy, session)


async def test_close_leaves_no_task_running(
    upstream: TestServer, session: aiohttp.ClientSession
) -> None:
    assert upstream.host is not None
    assert upstream.port is not None
    proxy = OutageProxy(upstream.host, upstream.port)
    port = await proxy.start()
    ws = await session.ws_connect(proxy.url("/ws"))
    await ws.send_str("x")
    assert await ws.receive_str(timeout=PROMPTLY) == "x"
    assert proxy_tasks()  # the check below means something: a live connection has tasks

    await proxy.close()

    assert not proxy_tasks()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    await proxy.up()  # closed for good: up() does not revive it
    assert proxy.is_down
    await ws.close()
