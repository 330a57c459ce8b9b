"""Signed webhook deliveries from the simulator to a receiving server, with retries."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp.plugin import AiohttpClient, AiohttpServer

from bridge.kallglot.webhooks import verify_signature
from bridge.sim.kallglot import KallglotSimulator

KEY = "sk_test_sim"
SECRET = "whsec_test"


class Receiver:
    """A webhook endpoint that answers 500 to the first `fail` deliveries."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.received: list[tuple[bytes, dict[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((await request.read(), dict(request.headers)))
        if self.fail > 0:
            self.fail -= 1
            return web.Response(status=500)
        return web.Response(status=200)


async def receiver_server(aiohttp_server: AiohttpServer, receiver: Receiver) -> TestServer:
    app = web.Application()
    app.router.add_post("/hooks", receiver.handle)
    return await aiohttp_server(app)


async def run_session(aiohttp_client: AiohttpClient, sim: KallglotSimulator) -> str:
    http = await aiohttp_client(sim.app())
    auth = {"Authorization": f"Bearer {KEY}"}
    created = await http.post(
        "/v1/sessions", json={"mode": "bidirectional_translation"}, headers=auth
    )
    session_id = str((await created.json())["id"])
    await http.post(f"/v1/sessions/{session_id}/end", headers=auth)
    return session_id


async def test_lifecycle_events_are_delivered_signed(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient
) -> None:
    receiver = Receiver()
    hooks = await receiver_server(aiohttp_server, receiver)
    sim = KallglotSimulator(
        api_key=KEY, webhook_url=str(hooks.make_url("/hooks")), webhook_secret=SECRET
    )

    session_id = await run_session(aiohttp_client, sim)
    async with asyncio.timeout(5):
        await sim.webhooks.wait_settled(3)

    events = [json.loads(body) for body, _ in receiver.received]
    assert sorted(e["type"] for e in events) == [
        "session.created",
        "session.ended",
        "transcript.ready",
    ]
    for (body, headers), event in zip(receiver.received, events, strict=True):
        assert verify_signature(body, headers["Kallglot-Signature"], SECRET)
        assert not verify_signature(body, headers["Kallglot-Signature"], "whsec_wrong")
        assert headers["Kallglot-Retry-Count"] == "0"
        assert headers["Kallglot-Webhook-Id"].startswith("wh_del_")
        assert abs(int(headers["Kallglot-Original-Timestamp"]) - time.time()) < 60
        assert event["id"].startswith("evt_")
        assert event["api_version"] == "v1"
    ended = next(e for e in events if e["type"] == "session.ended")
    assert (ended["data"]["id"], ended["data"]["status"]) == (session_id, "ended")
    transcript = next(e for e in events if e["type"] == "transcript.ready")
    assert transcript["data"]["session_id"] == session_id


async def test_failed_deliveries_are_retried_with_the_same_delivery_id(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient
) -> None:
    receiver = Receiver(fail=2)
    hooks = await receiver_server(aiohttp_server, receiver)
    sim = KallglotSimulator(
        api_key=KEY,
        webhook_url=str(hooks.make_url("/hooks")),
        webhook_secret=SECRET,
        webhook_retry_delays=(0.01, 0.01, 0.01),
    )
    http = await aiohttp_client(sim.app())

    await http.post(
        "/v1/sessions", json={"mode": "ai_agent"}, headers={"Authorization": f"Bearer {KEY}"}
    )
    async with asyncio.timeout(5):
        await sim.webhooks.wait_settled(1)

    [delivery] = sim.webhooks.deliveries
    assert delivery.attempts == ["500", "500", "200"]
    assert delivery.delivered
    headers = [h for _, h in receiver.received]
    assert [h["Kallglot-Retry-Count"] for h in headers] == ["0", "1", "2"]
    assert len({h["Kallglot-Webhook-Id"] for h in headers}) == 1
    assert len({h["Kallglot-Original-Timestamp"] for h in headers}) == 1
    assert all(
        verify_signature(body, h["Kallglot-Signature"], SECRET) for body, h in receiver.received
    )


async def test_an_unreachable_endpoint_gives_up_after_the_schedule(
    aiohttp_client: AiohttpClient,
) -> None:
    sim = KallglotSimulator(
        api_key=KEY, webhook_url="http://127.0.0.1:9/hooks", webhook_retry_delays=(0.01,)
    )

    await run_session(aiohttp_client, sim)
    async with asyncio.timeout(5):
        await sim.webhooks.wait_settled(3)

    assert all(d.failed and len(d.attempts) == 2 for d in sim.webhooks.deliveries)
    assert all(a.startswith("Client") for d in sim.webhooks.deliveries for a in d.attempts)


async def test_cleanup_cancels_deliveries_waiting_to_retry(aiohttp_server: AiohttpServer) -> None:
    receiver = Receiver(fail=100)
    hooks = await receiver_server(aiohttp_server, receiver)
    sim = KallglotSimulator(
        api_key=KEY, webhook_url=str(hooks.make_url("/hooks")), webhook_retry_delays=(60.0,)
    )
    server = await aiohttp_server(sim.app())
    async with aiohttp.ClientSession() as http:
        await http.post(
            server.make_url("/v1/sessions"),
            json={"mode": "ai_agent"},
            headers={"Authorization": f"Bearer {KEY}"},
        )
    async with asyncio.timeout(5):
        await sim.webhooks.changed.wait_for(lambda: bool(sim.webhooks.deliveries[0].attempts))
    assert sim.webhooks.pending == 1  # waiting a minute for its retry

    started = time.monotonic()
    await server.close()

    assert time.monotonic() - started < 2
    assert sim.webhooks.pending == 0
    assert not sim.webhooks.deliveries[0].delivered


def test_no_url_means_no_deliveries() -> None:
    sim = KallglotSimulator(api_key=KEY)
    sim.webhooks.send("session.created", {})

    assert sim.webhooks.deliveries == []
