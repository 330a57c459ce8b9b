"""Hypothesis profiles for the fuzzers of untrusted input, and the fixtures they share.

Profiles: `fuzz`, 10 000 generated cases of hostile input per test, one such test per parser;
`fuzz-roundtrip`, 500 cases, for round trips of valid messages (a property of the builders);
`http-fuzz`, 1 000 cases, for the fuzzers that send each case as a real request over loopback.
Runs are reproducible: generation is derandomized (a fixed seed per test) and no example
database is kept, so CI explores the same cases every time and nothing lands in the tree.

Tests opt in with `@FUZZ`, `@ROUNDTRIP` or `@HTTP_FUZZ` (imported from here), so the global
hypothesis settings other test directories rely on are left alone. Those are the counts of the
`ci` test profile, which CI runs; a developer's run is `quick`, a few hundred cases per fuzzer
(tests/profile.py says which runs when).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, settings

from bridge.config import Config
from bridge.web.app import create_app
from tests.e2e.conftest import carrier_name, make_stack
from tests.ports import ReservedPort
from tests.profile import chosen_profile

__all__ = ["carrier_name", "make_stack"]

MIN_CASES = 10_000
_QUICK = chosen_profile() == "quick"
_COMMON = {
    "deadline": None,  # a loaded 2-core CI box is no place for per-example timing
    "derandomize": True,
    "database": None,
    "print_blob": True,
}
settings.register_profile(
    "fuzz",
    max_examples=300 if _QUICK else MIN_CASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    **_COMMON,
)
# Valid values built and parsed back: a property of the builders, not hostile input, so fewer.
settings.register_profile("fuzz-roundtrip", max_examples=100 if _QUICK else 500, **_COMMON)
settings.register_profile(
    "http-fuzz",
    max_examples=100 if _QUICK else 1_000,
    # One app serves every example of a test (function-scoped fixture): that is the point.
    suppress_health_check=list(HealthCheck),
    **_COMMON,
)
FUZZ = settings(settings.get_profile("fuzz"))
ROUNDTRIP = settings(settings.get_profile("fuzz-roundtrip"))
HTTP_FUZZ = settings(settings.get_profile("http-fuzz"))


# ---- a bridge app on loopback, for the HTTP fuzzers ------------------------------------------

ACCOUNT_SID = "AC" + "f" * 32
AUTH_TOKEN = "fuzz-auth-token-" + "0" * 16
API_TOKEN = "fuzz-api-token-" + "f" * 32
WEBHOOK_SECRET = "whsec_fuzz"
CENTRE = "+15550100001"
MENU = "+15550100011"
SOLO = "+15550100021"
ROUTES = f"""
[routes."{CENTRE}"]
agent = "+15550100002"
customer_language = "de"
agent_language = "en"
greeting = "Willkommen."

[routes."{MENU}"]
agent = "+15550100002"
agent_language = "en"

[routes."{MENU}".menu]
prompt = "Für Deutsch drücken Sie 1."
1 = "de"
2 = "fr"

[routes."{SOLO}"]
customer_language = "de"
"""


@dataclass(repr=False)
class Bridge:
    """The bridge app alone: Kallglot is never reached; Twilio's REST API is a stub that
    accepts every dial and hang-up (the fuzzers test our parsing, not the carrier)."""

    server: TestServer
    client: TestClient[web.Request, web.Application]
    public_url: str
    dials: list[dict[str, str]] = field(default_factory=list)

    def __repr__(self) -> str:  # hypothesis prints it with every failing case: keep it short
        return f"<bridge at {self.public_url}>"


def _fake_twilio_rest(dials: list[dict[str, str]]) -> web.Application:
    base = f"/2010-04-01/Accounts/{ACCOUNT_SID}"

    async def create(request: web.Request) -> web.Response:
        form = await request.post()
        dials.append({k: str(v) for k, v in form.items()})
        sid = f"CA{len(dials):032x}"
        return web.json_response({"sid": sid, "status": "queued"}, status=201)

    async def update(request: web.Request) -> web.Response:
        return web.json_response({"sid": request.match_info["sid"], "status": "completed"})

    app = web.Application()
    app.router.add_post(f"{base}/Calls.json", create)
    app.router.add_post(f"{base}/Calls/{{sid}}.json", update)
    return app


@pytest.fixture
async def bridge(
    aiohttp_server: Any,
    aiohttp_client: Any,
    tmp_path: Path,
) -> Bridge:
    dials: list[dict[str, str]] = []
    twilio = await aiohttp_server(_fake_twilio_rest(dials))
    routes = tmp_path / "routes.toml"
    routes.write_text(ROUTES)
    reserved = ReservedPort()
    public_url = f"http://127.0.0.1:{reserved.port}"
    env = {
        "BRIDGE_PUBLIC_URL": public_url,
        "BRIDGE_SECRET": "f" * 40,
        "BRIDGE_API_TOKEN": API_TOKEN,
        "BRIDGE_ROUTES": str(routes),
        "BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'calls.db'}",
        "KALLGLOT_API_URL": "http://127.0.0.1:9/v1",  # never contacted: no media stream starts
        "KALLGLOT_API_KEY": "sk_test_fuzz",
        "KALLGLOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_CALLER_ID": "+15550100000",
        "TWILIO_API_URL": str(twilio.make_url("")).rstrip("/"),
    }
    app = create_app(Config.from_env(env))
    server = await aiohttp_server(app, port=reserved.port, socket_factory=reserved.socket_factory)
    return Bridge(server, await aiohttp_client(server), public_url, dials)
