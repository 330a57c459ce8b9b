"""The simulator's debug surface (no authentication; never expose it): what each session
received, credits, webhook deliveries, and fault changes while it runs."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from aiohttp import web

from bridge.sim.kallglot_http import invalid

if TYPE_CHECKING:
    from bridge.sim.kallglot import KallglotSimulator


def add_routes(app: web.Application, sim: KallglotSimulator) -> None:
    async def debug_sessions(request: web.Request) -> web.Response:
        return web.json_response({"sessions": [r.summary() for r in sim.sessions.values()]})

    async def debug_state(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "credits_remaining": sim.credits_remaining,
                "credits_used": sim.credits_used,
                "create_requests": sim.create_requests,
                "faults": sim.faults.to_json(),
                "webhooks": [dataclasses.asdict(d) for d in sim.webhooks.deliveries],
            }
        )

    async def debug_faults(request: web.Request) -> web.Response:
        """Changes faults at runtime: `{"stall": true, "refuse_reconnects": false, ...}`."""
        try:
            changes = await request.json()
            for name, value in dict(changes).items():
                if name == "on_new_call":
                    raise ValueError("on_new_call is a hook for tests in the same process")
                current = getattr(sim.faults, name)
                if name == "create_failures":
                    value = [(int(status), bool(commit)) for status, commit in value]
                elif current is not None and not isinstance(value, type(current)):
                    value = type(current)(value)
                setattr(sim.faults, name, value)
        except (ValueError, TypeError, AttributeError) as exc:
            return invalid("invalid_field_value", f"bad fault change: {exc}")
        return web.json_response(sim.faults.to_json())

    async def debug_drop(request: web.Request) -> web.Response:
        await sim.drop_stream(request.match_info["id"])
        return web.json_response({"dropped": request.match_info["id"]})

    app.router.add_get("/_sim/sessions", debug_sessions)
    app.router.add_get("/_sim/state", debug_state)
    app.router.add_post("/_sim/faults", debug_faults)
    app.router.add_post("/_sim/sessions/{id}/drop", debug_drop)
