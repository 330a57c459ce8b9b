"""The REST client against the simulator over loopback: retries, idempotency, typed errors."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import pytest

from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.errors import (
    AuthenticationError,
    IdempotencyMismatchError,
    InsufficientCreditsError,
    KallglotConnectionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from bridge.kallglot.models import Mode
from bridge.kallglot.rest import KallglotClient
from bridge.settings import ConfigError
from bridge.sim.kallglot import KallglotSimulator
from tests.kallglot.support import fast_settings

CREATE = {"mode": Mode.BIDIRECTIONAL_TRANSLATION, "source_language": "de", "target_language": "en"}


def create_times(sim: KallglotSimulator) -> list[float]:
    return [t for t, method, path in sim.request_log if (method, path) == ("POST", "/v1/sessions")]


async def test_create_returns_a_session_with_a_stream(
    client: KallglotClient, sim: KallglotSimulator
) -> None:
    session = await client.create_session(**CREATE, metadata={"call_id": "c1"})

    assert session.id.startswith("sess_")
    assert session.status == "created"
    assert session.mode == "bidirectional_translation"
    assert session.stream is not None
    assert session.stream.token.startswith("kst_test_")
    assert session.stream.url.endswith(f"/v1/sessions/{session.id}/connect")
    assert session.stream.expires_at is not None
    assert session.raw["metadata"] == {"call_id": "c1"}
    assert sim.credits_used == 1
    assert client.credits_remaining == str(sim.credits_remaining)
    # Every POST carries an Idempotency-Key, even when the caller passed none.
    assert sum(sim.create_requests_by_key.values()) == 1


async def test_5xx_three_times_then_success_bills_one_session(
    client: KallglotClient, sim: KallglotSimulator
) -> None:
    # The first 502 and 500 happen after the session was created: the answers are lost.
    sim.faults.fail_next_creates(502, after_commit=True)
    sim.faults.fail_next_creates(500, after_commit=True)
    sim.faults.fail_next_creates(503, after_commit=False)

    session = await client.create_session(**CREATE, idempotency_key="call-xyz-create")

    assert sim.create_requests == 4
    assert sim.create_requests_by_key["call-xyz-create"] == 4
    assert list(sim.sessions) == [session.id]
    assert sim.credits_by_key["call-xyz-create"] == 1
    assert sim.credits_used == 1


async def test_a_retry_from_another_client_with_the_same_key_is_not_billed_again(
    http: aiohttp.ClientSession, settings: KallglotSettings, sim: KallglotSimulator
) -> None:
    first = await KallglotClient(http, settings).create_session(**CREATE, idempotency_key="call-1")
    again = await KallglotClient(http, settings).create_session(**CREATE, idempotency_key="call-1")

    assert again.id == first.id
    assert sim.credits_used == 1


async def test_429_retry_waits_at_least_retry_after(
    client: KallglotClient, sim: KallglotSimulator
) -> None:
    sim.faults.fail_next_creates(429, retry_after=0.2)

    await client.create_session(**CREATE)

    first, second = create_times(sim)
    assert second - first >= 0.2
    assert len(sim.sessions) == 1


async def test_409_conflict_on_a_concurrent_duplicate_is_retried_with_the_same_key(
    client: KallglotClient, sim: KallglotSimulator
) -> None:
    sim.faults.rest_latency_s = 0.15  # the first request is still running when the second lands
    sim.conflict_retry_after_s = 0.05

    a, b = await asyncio.gather(
        client.create_session(**CREATE, idempotency_key="dup"),
        client.create_session(**CREATE, idempotency_key="dup"),
    )

    assert a.id == b.id
    assert sim.credits_by_key["dup"] == 1
    assert sim.create_requests_by_key["dup"] >= 3  # original, conflict, replay


async def test_a_create_that_times_out_is_not_billed_twice(
    http: aiohttp.ClientSession, sim_url: str, sim: KallglotSimulator
) -> None:
    sim.faults.rest_latency_s = 0.3  # Kallglot is slow, but does create the session
    sim.conflict_retry_after_s = 0.05
    client = KallglotClient(http, fast_settings(sim_url, sim.api_key, http_timeout_s=0.1))

    session = await client.create_session(**CREATE, idempotency_key="slow")

    # timeout, then 409 idempotency_conflict while the original still runs, then the replay
    assert sim.create_requests_by_key["slow"] >= 3
    assert list(sim.sessions) == [session.id]
    assert sim.credits_by_key["slow"] == 1


async def test_persistent_5xx_gives_up_within_the_time_budget(
    http: aiohttp.ClientSession, sim_url: str, sim: KallglotSimulator
) -> None:
    client = KallglotClient(http, fast_settings(sim_url, sim.api_key, retry_total_s=0.3))
    sim.faults.fail_next_creates(503, 1000)

    started = time.monotonic()
    with pytest.raises(ServerError) as caught:
        await client.create_session(**CREATE)

    assert time.monotonic() - started < 1.0
    assert caught.value.status == 503
    assert str(caught.value.request_id).startswith("req_")
    assert sim.create_requests > 1


async def test_429_beyond_the_budget_raises_rate_limit_error(
    http: aiohttp.ClientSession, sim_url: str, sim: KallglotSimulator
) -> None:
    client = KallglotClient(http, fast_settings(sim_url, sim.api_key, retry_total_s=0.5))
    sim.faults.fail_next_creates(429, retry_after=5)

    with pytest.raises(RateLimitError) as caught:
        await client.create_session(**CREATE)

    assert caught.value.retry_after == pytest.approx(5)
    assert sim.create_requests == 1  # waiting 5 s would break the budget: no pointless retry
    assert "Retry-After" in str(caught.value)


@pytest.mark.parametrize(
    ("change", "error", "status", "code"),
    [
        ({"mode": "karaoke"}, ValidationError, 400, "invalid_mode"),
        ({"source_language": "xx"}, ValidationError, 400, "invalid_language_code"),
        ({"extra": {"provider": {"type": "twilio"}}}, ValidationError, 400, "invalid_provider"),
    ],
)
async def test_validation_errors_are_typed_and_not_retried(
    client: KallglotClient,
    sim: KallglotSimulator,
    change: dict[str, object],
    error: type[Exception],
    status: int,
    code: str,
) -> None:
    with pytest.raises(error) as caught:
        await client.create_session(**{**CREATE, **change})  # type: ignore[arg-type]

    assert isinstance(caught.value, ValidationError)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.param is not None
    assert "retrying the same request will fail again" in str(caught.value)
    assert sim.create_requests == 1


async def test_bad_api_key_is_an_authentication_error(
    http: aiohttp.ClientSession, sim_url: str, sim: KallglotSimulator
) -> None:
    client = KallglotClient(http, fast_settings(sim_url, "sk_test_wrong"))

    with pytest.raises(AuthenticationError) as caught:
        await client.get_session("sess_x")

    assert caught.value.code == "invalid_api_key"
    assert "KALLGLOT_API_KEY" in str(caught.value)
    assert "sk_test_wrong" not in str(caught.value)
    assert len(sim.request_log) == 1


async def test_exhausted_credits_raise_without_retry(
    client: KallglotClient, sim: KallglotSimulator
) -> None:
    sim.credits_remaining = 0

    with pytest.raises(InsufficientCreditsError) as caught:
        await client.create_session(**CREATE)

    assert (caught.value.status, caught.value.code) == (402, "insufficient_api_credits")
    assert "Top up" in str(caught.value)
    assert sim.create_requests == 1


async def test_inactive_organization_is_permission_denied(
    client: KallglotClient, sim: KallglotSimulator
) -> None:
    sim.faults.inactive = True

    with pytest.raises(PermissionDeniedError) as caught:
        await client.create_session(**CREATE)

    assert (caught.value.status, caught.value.code) == (403, "organization_inactive")


async def test_unknown_session_is_not_found(client: KallglotClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.get_session("sess_unknown")

    assert caught.value.status == 404


async def test_same_key_with_a_different_body_is_a_mismatch(client: KallglotClient) -> None:
    await client.create_session(**CREATE, idempotency_key="k1")

    with pytest.raises(IdempotencyMismatchError) as caught:
        await client.create_session(**{**CREATE, "target_language": "fr"}, idempotency_key="k1")

    assert (caught.value.status, caught.value.code) == (400, "idempotency_mismatch")


async def test_idempotency_conflict_409_is_retried(
    client: KallglotClient, sim: KallglotSimulator
) -> None:
    sim.faults.create_failures.append((409, False))  # code idempotency_conflict, no Retry-After

    session = await client.create_session(**CREATE)

    assert session.id in sim.sessions
    assert sim.create_requests == 2


async def test_unreachable_kallglot_raises_connection_error(http: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = KallglotClient(
        http, fast_settings(f"http://127.0.0.1:{port}/v1", "sk_test_x", retry_total_s=0.3)
    )

    started = time.monotonic()
    with pytest.raises(KallglotConnectionError) as caught:
        await client.create_session(**CREATE)

    assert time.monotonic() - started < 1.5
    assert "gave up after" in str(caught.value)
    assert "KALLGLOT_API_URL" in str(caught.value)


async def test_a_slow_kallglot_times_out_per_attempt(
    http: aiohttp.ClientSession, sim_url: str, sim: KallglotSimulator
) -> None:
    sim.faults.rest_latency_s = 1.0
    client = KallglotClient(
        http, fast_settings(sim_url, sim.api_key, http_timeout_s=0.1, retry_total_s=0.35)
    )

    with pytest.raises(KallglotConnectionError):
        await client.get_session("sess_x")

    assert len(sim.request_log) >= 2


async def test_end_is_idempotent_and_ends_once(
    client: KallglotClient, sim: KallglotSimulator
) -> None:
    session = await client.create_session(**CREATE)

    first = await client.end_session(session.id, idempotency_key="end-1")
    second = await client.end_session(session.id)
    fetched = await client.get_session(session.id)

    assert first.status == second.status == fetched.status == "ended"
    assert fetched.stream is None
    assert sim.sessions[session.id].ended_transitions == 1
    assert sim.sessions[session.id].end_reason == "api_request"


async def test_transcript_of_a_fresh_session_is_empty(client: KallglotClient) -> None:
    session = await client.create_session(**CREATE)

    transcript = await client.get_transcript(session.id)

    assert transcript.session_id == session.id
    assert transcript.status == "in_progress"
    assert transcript.turns == ()


def test_client_needs_an_api_key() -> None:
    async def build() -> None:
        async with aiohttp.ClientSession() as http:
            KallglotClient(http, KallglotSettings())

    with pytest.raises(ConfigError, match="KALLGLOT_API_KEY"):
        asyncio.run(build())
