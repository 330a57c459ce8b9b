"""Probes: /healthz says the process is alive, /readyz whether it should get new calls, and
/metrics what it is doing (Prometheus text format; no secrets in it, but scrape it from inside
the cluster rather than publishing it)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bridge.web.keys import REGISTRY, SERVICES


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    registry = request.app[REGISTRY]
    if registry.draining:
        return web.json_response({"ready": False, "reason": "draining"}, status=503)
    if not registry.accepting():
        return web.json_response({"ready": False, "reason": "at BRIDGE_MAX_CALLS"}, status=503)
    # Kallglot refused the key, or the watch (bridge/web/kallglot_watch.py) cannot reach it:
    # a caller sent here now would only hear the apology.
    kallglot = request.app[SERVICES].health.not_ready_reason
    if kallglot is not None:
        return web.json_response({"ready": False, "reason": kallglot}, status=503)
    return web.json_response({"ready": True, "calls": len(registry)})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[SERVICES].metrics.exposition(),
        headers={"Content-Type": CONTENT_TYPE_LATEST},
    )
