"""`POST /v1/calls` bodies: any JSON object is a CallPlan or a 4xx whose JSON says what to fix.

`_plan` is the validation behind the endpoint (bridge/web/api.py); the HTTP fuzzer in
test_http_calls_api.py sends fewer, real requests through the whole handler.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from hypothesis import given

from bridge.calls.model import Direction, Mode
from bridge.calls.plan import CallPlan
from bridge.calls.routes import E164, LANGUAGE, SIP_URI
from bridge.web.api import CREATE_FIELDS, _plan
from tests.fuzz.conftest import FUZZ
from tests.fuzz.genome import Genome, mutate
from tests.fuzz.strategies import genomes

BODY: dict[str, Any] = {
    "to": "+15550100003",
    "agent": "+15550100002",
    "source_language": "de",
    "target_language": "en",
    "mode": "bidirectional_translation",
}
VOCABULARY: list[Any] = [
    "+15550100003",
    "+1555",
    "15550100003",
    "+15550100003\n",
    " +15550100003",
    "sip:agent@pbx.example.com",
    "sip:agent@pbx example",
    "tel:+15550100003",
    "de",
    "DE",
    "deu",
    "de-DE",
    *[mode.value for mode in Mode],
    "ai_agent",
]
EXTRA_KEYS = ["from", "callback_url", "Mode", "metadata", "to "]


def check_error(exc: web.HTTPException) -> None:
    """A client error whose JSON body names the problem in words."""
    assert 400 <= exc.status < 500, exc.status
    assert exc.content_type == "application/json"
    assert isinstance(exc.text, str)
    error = json.loads(exc.text)["error"]
    assert isinstance(error["code"], str)
    assert error["code"]
    assert isinstance(error["message"], str)
    assert len(error["message"]) > 10


@FUZZ
@given(genomes)
def test_any_body_is_a_plan_or_a_4xx_that_says_what_to_fix(genome: bytes) -> None:
    g = Genome(genome)
    body = mutate(g, BODY, VOCABULARY, EXTRA_KEYS)
    if not isinstance(body, dict):
        body = {}  # the handler refuses non-objects before `_plan` (see the HTTP fuzzer)
    try:
        plan = _plan(body, ("twilio",))
    except web.HTTPException as exc:
        check_error(exc)
        return
    except Exception as exc:
        raise AssertionError(f"body {body!r}"[:500]) from exc
    assert isinstance(plan, CallPlan)
    assert set(body) <= CREATE_FIELDS
    assert plan.direction is Direction.OUTBOUND
    assert isinstance(plan.mode, Mode)
    assert plan.customer == body["to"]
    assert E164.match(plan.customer)
    assert plan.agent == body["agent"]
    assert E164.match(plan.agent) or SIP_URI.match(plan.agent)
    for language in (plan.customer_language, plan.agent_language):
        assert language is None or LANGUAGE.match(language)
