"""Signed webhook deliveries with retries, as Kallglot documents them (api §5.2-5.5).

The documented schedule spans 41 hours; the simulator takes its delays as a parameter so tests
run it in milliseconds. Each delivery is one background task, tracked so that the application's
cleanup cancels and awaits every one of them (no task outlives the app).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from typing import Any

import aiohttp

from bridge.kallglot.webhooks import SIGNATURE_HEADER, sign
from bridge.sim.kallglot_state import Pulse, WebhookDelivery, iso
from bridge.tasks import cancel_and_wait

DELIVERY_TIMEOUT_S = 30.0  # the documented limit for the receiver to answer


class WebhookSender:
    def __init__(
        self,
        url: str | None,
        secret: str | None,
        retry_delays: tuple[float, ...],
        now: Callable[[], float],
    ) -> None:
        self.url = url
        self.secret = secret or ""
        self.retry_delays = retry_delays
        self.deliveries: list[WebhookDelivery] = []
        self.changed = Pulse()
        self._now = now
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Deliveries still running (in an attempt or waiting to retry)."""
        return len(self._tasks)

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_S))

    async def close(self) -> None:
        await cancel_and_wait(self._tasks)
        if self._http is not None:
            await self._http.close()
            self._http = None

    def send(self, event_type: str, data: dict[str, Any]) -> None:
        """Queues one event for delivery; a no-op when no webhook URL is configured."""
        if self.url is None or self._http is None:
            return
        created = self._now()
        event_id = "evt_" + secrets.token_hex(12)
        envelope = {
            "id": event_id,
            "type": event_type,
            "api_version": "v1",
            "created_at": iso(created),
            "data": data,
        }
        delivery = WebhookDelivery(event_id, event_type, "wh_del_" + secrets.token_hex(12))
        self.deliveries.append(delivery)
        body = json.dumps(envelope, separators=(",", ":")).encode()
        task = asyncio.create_task(self._deliver(delivery, body, int(created)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery: WebhookDelivery, body: bytes, created: int) -> None:
        assert self.url is not None
        assert self._http is not None
        for attempt, delay in enumerate((0.0, *self.retry_delays)):
            await asyncio.sleep(delay)
            headers = {
                "Content-Type": "application/json",
                # A fresh `t` on every attempt; the original time has its own header.
                SIGNATURE_HEADER: sign(body, self.secret, int(self._now())),
                "Kallglot-Webhook-Id": delivery.delivery_id,
                "Kallglot-Retry-Count": str(attempt),
                "Kallglot-Original-Timestamp": str(created),
            }
            try:
                async with self._http.post(self.url, data=body, headers=headers) as response:
                    outcome = str(response.status)
                    delivered = 200 <= response.status < 300
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcome, delivered = type(exc).__name__, False
            delivery.attempts.append(outcome)
            delivery.delivered = delivered
            delivery.failed = not delivered and attempt == len(self.retry_delays)
            self.changed.fire()
            if delivered:
                return

    async def wait_settled(self, count: int) -> None:
        """Until at least `count` deliveries have succeeded or given up."""
        await self.changed.wait_for(
            lambda: sum(d.delivered or d.failed for d in self.deliveries) >= count
        )
