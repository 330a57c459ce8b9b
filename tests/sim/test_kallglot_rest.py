"""The simulator's REST surface, spoken to with a plain HTTP client (no bridge code involved)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp.plugin import AiohttpClient

from bridge.sim.kallglot import KallglotSimulator

KEY = "sk_test_sim"
AUTH = {"Authorization": f"Bearer {KEY}"}
BODY = {"mode": "bidirectional_translation", "source_language": "de", "target_language": "en"}


@pytest.fixture
def sim() -> KallglotSimulator:
    return KallglotSimulator(api_key=KEY, translation_delay_s=0)


@pytest.fixture
async def http(aiohttp_client: AiohttpClient, sim: KallglotSimulator) -> TestClient[Any, Any]:
    return await aiohttp_client(sim.app())


async def create(http: TestClient[Any, Any], body: Any = BODY, **headers: str) -> Any:
    response = await http.post("/v1/sessions", json=body, headers={**AUTH, **headers})
    return response.status, await response.json(), response.headers


async def test_create_answers_201_with_the_session_and_headers(
    http: TestClient[Any, Any], sim: KallglotSimulator
) -> None:
    status, session, headers = await create(http, {**BODY, "metadata": {"call_id": "c1"}})

    assert status == 201
    assert session["object"] == "session"
    assert session["status"] == "created"
    assert session["provider"] is None
    assert session["metadata"] == {"call_id": "c1"}
    stream = session["stream"]
    assert stream["url"] == f"ws://{http.host}:{http.port}/v1/sessions/{session['id']}/connect"
    assert stream["token"].startswith("kst_test_")
    assert headers["X-Request-ID"].startswith("req_")
    assert headers["X-API-Credits-Remaining"] == "999"
    assert headers["X-API-Credits-Used"] == "1"
    assert int(headers["X-RateLimit-Remaining"]) < int(headers["X-RateLimit-Limit"])
    assert int(headers["X-RateLimit-Reset"]) > 1e9
    assert sim.sessions[session["id"]].metadata == {"call_id": "c1"}


async def test_x_api_key_header_is_accepted(http: TestClient[Any, Any]) -> None:
    response = await http.post("/v1/sessions", json=BODY, headers={"X-API-Key": KEY})

    assert response.status == 201


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer sk_test_other"}, {"X-API-Key": "x"}]
)
async def test_bad_keys_get_401_with_the_envelope(
    http: TestClient[Any, Any], headers: dict[str, str]
) -> None:
    response = await http.get("/v1/sessions/sess_x", headers=headers)
    body = await response.json()

    assert response.status == 401
    assert body["error"]["type"] == "authentication_error"
    assert body["error"]["code"] == "invalid_api_key"
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"source_language": "de"}, "missing_required_field", "mode"),
        ({"mode": "karaoke"}, "invalid_mode", "mode"),
        (
            {**BODY, "provider": {"type": "twilio", "call_sid": "CA1"}},
            "invalid_provider",
            "provider",
        ),
        ({**BODY, "source_language": "klingon"}, "invalid_language_code", "source_language"),
        ({**BODY, "target_language": 7}, "invalid_language_code", "target_language"),
        ({**BODY, "metadata": "x"}, "invalid_field_value", "metadata"),
        (["mode"], "invalid_request", None),
    ],
)
async def test_validation_errors(
    http: TestClient[Any, Any], sim: KallglotSimulator, body: Any, code: str, param: str | None
) -> None:
    status, answer, _ = await create(http, body)

    assert status == 400
    assert answer["error"]["type"] == "invalid_request_error"
    assert answer["error"]["code"] == code
    assert answer["error"].get("param") == param
    assert not sim.sessions
    assert sim.credits_used == 0


async def test_invalid_json_is_422(http: TestClient[Any, Any]) -> None:
    response = await http.post("/v1/sessions", data=b"{mode", headers=AUTH)

    assert response.status == 422
    assert (await response.json())["error"]["code"] == "invalid_json"


async def test_old_request_fields_are_accepted_where_harmless(http: TestClient[Any, Any]) -> None:
    status, session, _ = await create(
        http, {**BODY, "recording": {"enabled": True, "channels": "dual"}, "source_language": None}
    )

    assert status == 201
    assert session["source_language"] is None  # auto-detect


async def test_exhausted_credits_give_402(
    http: TestClient[Any, Any], sim: KallglotSimulator
) -> None:
    sim.credits_remaining = 1
    first, _, _ = await create(http)
    status, answer, headers = await create(http)

    assert (first, status) == (201, 402)
    assert answer["error"]["code"] == "insufficient_api_credits"
    assert headers["X-API-Credits-Remaining"] == "0"


async def test_idempotent_replay_returns_the_same_status_and_body(
    http: TestClient[Any, Any], sim: KallglotSimulator
) -> None:
    first = await create(http, **{"Idempotency-Key": "k"})
    again = await create(http, **{"Idempotency-Key": "k"})

    assert first[0] == again[0] == 201
    assert first[1] == again[1]
    assert again[2]["Idempotent-Replayed"] == "true"
    assert len(sim.sessions) == 1
    assert sim.credits_by_key == {"k": 1}
    assert sim.create_requests_by_key == {"k": 2}


async def test_same_key_different_body_is_a_mismatch(http: TestClient[Any, Any]) -> None:
    await create(http, **{"Idempotency-Key": "k"})
    status, answer, _ = await create(
        http, {**BODY, "mode": "assistive_translation"}, **{"Idempotency-Key": "k"}
    )

    assert status == 400
    assert answer["error"]["code"] == "idempotency_mismatch"


async def test_concurrent_duplicate_gets_409_with_retry_after(
    http: TestClient[Any, Any], sim: KallglotSimulator
) -> None:
    sim.faults.rest_latency_s = 0.1
    sim.conflict_retry_after_s = 0.25

    results = await asyncio.gather(
        create(http, **{"Idempotency-Key": "k"}), create(http, **{"Idempotency-Key": "k"})
    )

    by_status = {status: (body, headers) for status, body, headers in results}
    assert sorted(by_status) == [201, 409]
    body, headers = by_status[409]
    assert body["error"]["code"] == "idempotency_conflict"
    assert body["error"]["retry_after"] == 0.25
    assert headers["Retry-After"] == "0.25"
    assert len(sim.sessions) == 1


async def test_a_failed_request_frees_its_key(
    http: TestClient[Any, Any], sim: KallglotSimulator
) -> None:
    sim.credits_remaining = 0
    failed = await create(http, **{"Idempotency-Key": "k"})
    sim.credits_remaining = 5
    retried = await create(http, **{"Idempotency-Key": "k"})

    assert (failed[0], retried[0]) == (402, 201)


@pytest.mark.parametrize(
    ("status", "after_commit"), [(429, False), (500, True), (502, True), (503, False)]
)
async def test_injected_create_failures(
    http: TestClient[Any, Any], sim: KallglotSimulator, status: int, after_commit: bool
) -> None:
    sim.faults.fail_next_creates(status, 2, retry_after=0.5)

    answers = [await create(http, **{"Idempotency-Key": "k"}) for _ in range(3)]

    assert [a[0] for a in answers] == [status, status, 201]
    assert answers[0][1]["error"]["request_id"] == answers[0][2]["X-Request-ID"]
    if status in (429, 503):
        assert answers[0][2]["Retry-After"] == "0.5"
    assert len(sim.sessions) == 1
    assert sim.credits_used == 1
    # After-commit failures created the session on the first attempt: the third one replays it.
    assert (answers[2][2].get("Idempotent-Replayed") == "true") is after_commit


async def test_the_rate_limit_window_answers_429(
    http: TestClient[Any, Any], sim: KallglotSimulator
) -> None:
    sim.rate_limit_per_min = 2

    statuses = [(await http.get("/v1/sessions/sess_x", headers=AUTH)).status for _ in range(3)]
    limited = await http.get("/v1/sessions/sess_x", headers=AUTH)

    assert statuses == [404, 404, 429]
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert float(limited.headers["Retry-After"]) >= 1


async def test_inactive_organization_gets_403(
    http: TestClient[Any, Any], sim: KallglotSimulator
) -> None:
    sim.faults.inactive = True

    status, answer, _ = await create(http)

    assert status == 403
    assert answer["error"]["code"] == "organization_inactive"


async def test_unknown_routes_and_sessions_get_404_with_request_id(
    http: TestClient[Any, Any],
) -> None:
    for path in ("/v1/sessions/sess_nope", "/v1/sessions/sess_nope/transcript", "/v2/whatever"):
        response = await http.get(path, headers=AUTH)
        assert response.status == 404
        assert response.headers["X-Request-ID"].startswith("req_")
        assert "error" in await response.json()
    ended = await http.post("/v1/sessions/sess_nope/end", headers=AUTH)
    assert ended.status == 404


async def test_end_is_idempotent_and_transitions_once(
    http: TestClient[Any, Any], sim: KallglotSimulator
) -> None:
    _, session, _ = await create(http)
    url = f"/v1/sessions/{session['id']}/end"

    first = await http.post(url, headers=AUTH)
    second = await http.post(url, headers=AUTH, json={"reason": "customer_hangup"})
    fetched = await (await http.get(f"/v1/sessions/{session['id']}", headers=AUTH)).json()

    assert first.status == second.status == 200
    summary = await first.json()
    assert set(summary) == {"id", "object", "status", "duration_seconds", "ended_at"}
    assert summary["status"] == "ended"
    assert await second.json() == summary
    assert "stream" not in fetched
    assert fetched["end_reason"] == "api_request"
    assert sim.sessions[session["id"]].ended_transitions == 1


async def test_get_mints_a_fresh_token_once_the_old_one_expired(
    http: TestClient[Any, Any], sim: KallglotSimulator
) -> None:
    _, session, _ = await create(http)
    url = f"/v1/sessions/{session['id']}"

    same = await (await http.get(url, headers=AUTH)).json()
    sim.advance_clock(301)
    fresh = await (await http.get(url, headers=AUTH)).json()

    assert same["stream"]["token"] == session["stream"]["token"]
    assert fresh["stream"]["token"] != session["stream"]["token"]
    assert sim.token_problem(fresh["stream"]["token"], session["id"]) is None
    assert sim.token_problem(session["stream"]["token"], session["id"]) == "expired_token"


async def test_transcript_has_the_new_shape(http: TestClient[Any, Any]) -> None:
    _, session, _ = await create(http)

    transcript = await (
        await http.get(f"/v1/sessions/{session['id']}/transcript?format=json", headers=AUTH)
    ).json()

    assert transcript["id"] == f"trn_{session['id']}"
    assert transcript["object"] == "transcript"
    assert transcript["status"] == "in_progress"
    assert transcript["turns"] == []
    assert transcript["metadata"]["total_turns"] == 0


async def test_debug_view_and_runtime_faults(
    http: TestClient[Any, Any], sim: KallglotSimulator
) -> None:
    _, session, _ = await create(http)

    listing = await (await http.get("/_sim/sessions")).json()
    changed = await http.post(
        "/_sim/faults", json={"stall": True, "create_failures": [[503, False]]}
    )
    bad = await http.post("/_sim/faults", json={"no_such_fault": 1})
    state = await (await http.get("/_sim/state")).json()

    assert [s["id"] for s in listing["sessions"]] == [session["id"]]
    assert listing["sessions"][0]["received_bytes"] == {}
    assert changed.status == 200
    assert sim.faults.stall is True
    assert sim.faults.create_failures == [(503, False)]
    assert bad.status == 400
    assert state["credits_used"] == 1
