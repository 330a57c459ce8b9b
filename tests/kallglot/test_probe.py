"""The Kallglot probe: what each answer means, and one real exchange with the simulator."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.probe import Reach, classify, probe
from bridge.sim.kallglot import KallglotSimulator


@pytest.mark.parametrize(
    ("status", "reach"),
    [
        (404, Reach.ACCEPTED),  # the expected answer: the key passed, the session does not exist
        (200, Reach.ACCEPTED),
        (400, Reach.ACCEPTED),
        (422, Reach.ACCEPTED),
        (429, Reach.ACCEPTED),  # rate limits come after authentication
        (402, Reach.ACCEPTED),
        (401, Reach.REJECTED),
        (403, Reach.REJECTED),
        (500, Reach.FAILING),
        (502, Reach.FAILING),
        (503, Reach.FAILING),
    ],
)
def test_what_an_answer_means(status: int, reach: Reach) -> None:
    body = {"error": {"code": "some_code", "message": "words"}}
    result = classify(status, body, "", 0.01)
    assert (result.reach, result.status) == (reach, status)
    if reach is not Reach.ACCEPTED:
        assert result.detail == f"HTTP {status}, some_code: words"


def test_an_answer_without_an_envelope_still_says_what_came() -> None:
    result = classify(502, None, "<html>Bad Gateway</html>", 0.01)
    assert result.reach is Reach.FAILING
    assert "Bad Gateway" in result.detail


async def test_the_simulator_tells_a_good_key_from_a_bad_one(aiohttp_server: Any) -> None:
    sim = KallglotSimulator()
    url = str((await aiohttp_server(sim.app())).make_url("/v1"))
    async with aiohttp.ClientSession() as http:
        good = await probe(http, KallglotSettings(api_url=url, api_key=sim.api_key))
        bad = await probe(http, KallglotSettings(api_url=url, api_key="sk_test_other"))
    assert (good.reach, good.status) == (Reach.ACCEPTED, 404)
    assert (bad.reach, bad.status, bad.code) == (Reach.REJECTED, 401, "invalid_api_key")
    assert "sk_test_other" not in bad.detail
    assert not sim.sessions
    assert sim.credits_used == 0
