"""`GET /v1/openapi.json` describes the API the app really serves.

Every `/v1` route is in the document and every documented operation is a route; and a scripted
session against a real bridge (simulators, records on) gets every status the document lists,
each answer validated against its documented schema (jsonschema, draft 2020-12, the dialect of
OpenAPI 3.1), so neither the handlers nor the document can drift alone.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import jsonschema

from bridge.calls.idempotency import fingerprint
from bridge.sim.softphone import Phone
from bridge.web.app import MAX_BODY_BYTES
from bridge.web.call_view import iso_utc
from bridge.web.keys import OUTBOUND, REGISTRY
from bridge.web.openapi import DOCUMENT
from tests.e2e.conftest import AGENT, CUSTOMER, Stack
from tests.store.stack import RecordsStacks

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time")
def _iso_utc(instance: object) -> bool:
    """RFC 3339 and UTC: the only time form the API answers with."""
    return not isinstance(instance, str) or ISO_UTC.fullmatch(instance) is not None


def documented() -> set[tuple[str, str, str]]:
    """(path, method, status) for every answer the document promises."""
    return {
        (path, method, status)
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if method in METHODS
        for status in operation["responses"]
    }


def template_of(path: str) -> str:
    for template in DOCUMENT["paths"]:
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return template
    raise AssertionError(f"{path} is not in the document")


class Client:
    """Requests to one stack; each answer is checked against the document and noted."""

    def __init__(self, stack: Stack, seen: set[tuple[str, str, str]]) -> None:
        self.stack, self.seen = stack, seen

    async def __call__(
        self, method: str, path: str, *, token: bool = True, **options: Any
    ) -> tuple[int, Any]:
        headers = dict(options.pop("headers", {}))
        if token:
            headers.update(self.stack.api_headers())
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.stack.url + path, headers=headers, **options) as response,
        ):
            status, body = response.status, await response.json()
        template, verb = template_of(path.split("?")[0]), method.lower()
        responses = DOCUMENT["paths"][template][verb]["responses"]
        assert str(status) in responses, f"{method} {path}: {status} is not documented: {body}"
        schema = responses[str(status)]["content"]["application/json"]["schema"]
        errors = violations(schema, body)
        assert not errors, f"{method} {path} {status}: {errors} in {body}"
        sent = options.get("json")
        if verb == "post" and status in (201, 422) and sent is not None:
            # The request schema accepts what the handler accepts and refuses what it refuses.
            request_schema = DOCUMENT["paths"][template][verb]["requestBody"]["content"]
            invalid = violations(request_schema["application/json"]["schema"], sent)
            assert bool(invalid) == (status == 422), f"{sent} answered {status}: {invalid}"
        self.seen.add((template, verb, str(status)))
        return status, body


def violations(schema: dict[str, Any], instance: Any) -> list[str]:
    root = {**schema, "components": DOCUMENT["components"]}
    validator = jsonschema.Draft202012Validator(root, format_checker=FORMATS)
    return [error.message for error in validator.iter_errors(instance)]


def test_the_document_is_openapi_3_1_with_valid_schemas() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    assert DOCUMENT["info"]["title"]
    assert DOCUMENT["info"]["version"]
    for schema in DOCUMENT["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    for path, method, status in documented():
        operation = DOCUMENT["paths"][path][method]
        assert re.fullmatch(r"[1-5]\d\d", status), (path, method, status)
        assert operation["responses"][status]["description"], (path, method, status)
    ids = [
        operation["operationId"]
        for item in DOCUMENT["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    ]
    assert len(ids) == len(set(ids))


async def test_every_v1_route_is_documented_and_every_documented_one_is_served(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start()
    served = {
        (route.resource.canonical, route.method.lower())
        for route in stack.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/v1/")
        and route.method != "HEAD"  # aiohttp's automatic HEAD for each GET
    }
    described = {(path, method) for path, method, _ in documented()}
    assert served == described


async def test_the_document_is_served_without_a_token(stacks: RecordsStacks) -> None:
    stack = await stacks.start()
    async with (
        aiohttp.ClientSession() as http,
        http.get(stack.url + "/v1/openapi.json") as response,
    ):
        assert response.status == 200
        assert response.content_type == "application/json"
        assert await response.json() == DOCUMENT


async def test_every_documented_answer_is_given_and_matches_its_schema(
    stacks: RecordsStacks, unused_tcp_port: int
) -> None:
    seen: set[tuple[str, str, str]] = set()
    stack = await stacks.start(webhooks_to_bridge=True)
    api = Client(stack, seen)
    new_call = {"to": CUSTOMER, "agent": AGENT, "source_language": "de", "target_language": "en"}
    async with asyncio.timeout(30):
        await api("GET", "/v1/openapi.json", token=False)
        # POST: the refusals, then a dial that rings, a call that goes live, a dial cancelled.
        await api("POST", "/v1/calls", token=False, json=new_call)
        await api("POST", "/v1/calls", data=b"[1]", headers={"Content-Type": "text/plain"})
        await api("POST", "/v1/calls", data=b"x" * (MAX_BODY_BYTES + 1))
        await api("POST", "/v1/calls", json={**new_call, "to": "555"})
        stack.app[REGISTRY].draining = True
        await api("POST", "/v1/calls", json=new_call)
        stack.app[REGISTRY].draining = False
        # The first request with this key still running (claimed, not yet answered).
        stack.app[OUTBOUND].requests.claim("key-busy", fingerprint(new_call))
        status, _ = await api(
            "POST", "/v1/calls", json=new_call, headers={"Idempotency-Key": "key-busy"}
        )
        assert status == 409

        stack.carrier.add_phone(AGENT, Phone(ring_s=0.1))
        stack.carrier.add_phone(CUSTOMER, Phone(ring_s=0.1))
        status, created = await api("POST", "/v1/calls", json=new_call)
        assert status == 201
        call = await stack.call_for(lambda c: c.id == created["call_id"])
        await call.activated.wait()
        await api("GET", "/v1/calls?limit=5")
        await api("GET", "/v1/calls?limit=500")
        await api("GET", f"/v1/calls/{call.id}")
        await api("GET", "/v1/calls/call_nope")
        await api("GET", "/v1/calls", token=False)
        await api("GET", f"/v1/calls/{call.id}", token=False)
        status, ended = await api("DELETE", f"/v1/calls/{call.id}")
        assert (status, ended["state"], ended["end_reason"]) == (200, "ended", "api_hangup")
        await api("DELETE", f"/v1/calls/{call.id}")  # 409: already ended
        await stack.kallglot.webhooks.wait_settled(3)  # created, transcript, ended
        _, stored = await api("GET", f"/v1/calls/{call.id}")
        assert len(stored["kallglot_events"]) == 3
        await api("DELETE", "/v1/calls/call_nope")
        await api("DELETE", f"/v1/calls/{call.id}", token=False)

        stack.carrier.add_phone(AGENT, Phone(ring_s=30))
        status, ringing = await api("POST", "/v1/calls", json=new_call)
        status, cancelled = await api("DELETE", f"/v1/calls/{ringing['call_id']}")
        assert (status, cancelled["state"]) == (200, "ended")

        links = "/v1/agents/alice/console-links"
        status, link = await api("POST", links, json={"ttl_s": 600})
        assert status == 201
        assert "#key=" in link["url"]
        await api("POST", links, json={"ttl_s": 1})  # 422
        await api("POST", links, token=False)

    # A bridge without BRIDGE_API_TOKEN (the API off), one whose carrier cannot be reached.
    off = Client(await stacks.start(BRIDGE_API_TOKEN="", BRIDGE_INSTANCE_ID="b-off"), seen)
    for method, path in [("POST", "/v1/calls"), ("GET", "/v1/calls"), ("DELETE", "/v1/calls/c")]:
        await off(method, path, json=new_call)
    await off("POST", "/v1/agents/alice/console-links")
    await off("GET", "/v1/calls/c")
    unreachable = f"http://127.0.0.1:{unused_tcp_port}"
    dead = Client(await stacks.start(TWILIO_API_URL=unreachable, BRIDGE_INSTANCE_ID="b-dead"), seen)
    await dead("POST", "/v1/calls", json=new_call)

    assert seen == documented()


def test_times_are_iso_8601_utc_to_the_millisecond() -> None:
    assert iso_utc(1_769_851_800.25) == "2026-01-31T09:30:00.250Z"
    assert iso_utc(0.0) == "1970-01-01T00:00:00.000Z"
