"""The floor: a bare aiohttp WebSocket relay, the least any bridge in this stack could cost.

    python -m bench.floor [--port 0]      (prints "listening on PORT", then serves)

Each call is two sockets, `/relay/{pair}/customer` and `/relay/{pair}/agent`; every text frame
one sends is forwarded verbatim to the other. No JSON, no base64, no Kallglot: just aiohttp
receiving and sending the same frames, at the same rate, on the same number of sockets as the
bridge handles. The bridge's CPU per leg-second divided by this one's says how much of the
bridge's cost is its own work rather than the framework's.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiohttp import WSMsgType, web

PEERS: web.AppKey[dict[tuple[str, str], web.WebSocketResponse]] = web.AppKey("peers")
OTHER = {"customer": "agent", "agent": "customer"}
MAX_MESSAGE_BYTES = 64 * 1024  # as the bridge's media socket


async def relay(request: web.Request) -> web.StreamResponse:
    pair, role = request.match_info["pair"], request.match_info["role"]
    if role not in OTHER:
        raise web.HTTPNotFound()
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, autoping=True)
    await ws.prepare(request)
    peers = request.app[PEERS]
    peers[(pair, role)] = ws
    other = (pair, OTHER[role])
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                break
            partner = peers.get(other)
            if partner is not None and not partner.closed:
                try:  # noqa: SIM105 - per frame: a with-block would cost more than the send
                    await partner.send_str(msg.data)
                except (ConnectionError, RuntimeError):
                    pass
    finally:
        if peers.get((pair, role)) is ws:
            del peers[(pair, role)]
    return ws


def make_app() -> web.Application:
    app = web.Application()
    app[PEERS] = {}
    app.router.add_get("/relay/{pair}/{role}", relay)
    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(make_app())
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print(f"listening on {runner.addresses[0][1]}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
