"""Kallglot REST answers: any status, body and headers become data or a typed KallglotError.

The client's contract (bridge/kallglot/rest.py, errors.py) is that a caller branches on a
`KallglotError` subclass and nothing else: a proxy's HTML 502, a truncated envelope, a wrong type
in `retry_after` or an absurd Retry-After date must all end as one. The fuzzer drives the real
`KallglotClient._attempt` (response reading, JSON, Retry-After, the error envelope) against a
fake session that answers with the generated response, without sockets, 10 000 times.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Coroutine
from typing import Any

import pytest
from hypothesis import assume, given
from multidict import CIMultiDict, CIMultiDictProxy

from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.errors import (
    KallglotError,
    UnexpectedResponseError,
    error_class_for,
    error_from_response,
)
from bridge.kallglot.models import Session, SessionTranscript, parse_time
from bridge.kallglot.rest import KallglotClient
from tests.fuzz.conftest import FUZZ
from tests.fuzz.dictionary import HOSTILE_STRINGS
from tests.fuzz.genome import Genome, frame
from tests.fuzz.strategies import genomes, outcome

ENVELOPES: list[dict[str, Any]] = [
    {  # NEW
        "error": {
            "retry_after": 2.5,
            "request_id": "req_1",
            "code": "rate_limited",
            "message": "Too many requests.",
            "type": "rate_limit_error",
            "param": "mode",
        }
    },
    {  # OLD
        "error": {
            "code": "insufficient_api_credits",
            "message": "No credits left",
            "doc_url": "https://docs.kallglot.com/errors",
        }
    },
    {"error": {"code": "idempotency_mismatch", "message": "Different body."}},
    {
        "stream": {
            "url": "wss://s.kallglot.com/v1",
            "token": "tok",
            "expires_at": "2030-01-01T00:00:00Z",
        },
        "id": "sess_1",
        "status": "active",
        "mode": "bidirectional_translation",
    },
]
VOCABULARY: list[Any] = [
    "idempotency_mismatch",
    "insufficient_api_credits",
    "idempotency_conflict",
    "...",
    ".",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    1e9,
    1e9 - 1,
    -0.5,
]
STATUSES = [200, 201, 299, 400, 401, 402, 403, 404, 409, 422, 429, 500, 502, 503, 504, 418, 302]
HINTS = [
    "2",
    " 2 ",
    "-1",
    "0",
    "1.5",
    "nan",
    "inf",
    "1e400",
    "1_000",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "Mon, 01 Jan 0001 00:00:00 +2359",
    "Mon, 01 Jan 0001 00:00:00 -0000",
    "Fri, 31 Dec 9999 23:59:59 -1200",
    "Sat, 01 Jan 10000 00:00:00 GMT",
    "Thu, 31 Feb 2030 00:00:00 GMT",
    "2030-01-01T00:00:00Z",
    "99999999999999999999",
]


class _Response:
    def __init__(self, status: int, text: str, headers: CIMultiDictProxy[str]) -> None:
        self.status, self._text, self.headers = status, text, headers

    async def text(self, errors: str = "strict") -> str:
        return self._text

    async def __aenter__(self) -> _Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Http:
    """Stands in for aiohttp.ClientSession: every request gets the one prepared response."""

    def __init__(self) -> None:
        self.response: _Response | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> _Response:
        assert self.response is not None
        return self.response


HTTP = _Http()
CLIENT = KallglotClient(
    HTTP,  # type: ignore[arg-type]
    KallglotSettings(api_url="https://api.kallglot.test/v1", api_key="sk_test_fuzz"),
)


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Runs a coroutine that never suspends (the fake answers at once), without a loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    finally:
        coroutine.close()
    raise AssertionError("the fake session suspended")


def response(g: Genome) -> tuple[int, str, CIMultiDictProxy[str]]:
    status = g.pick(STATUSES) if g.below(4) else 100 + g.below(900)
    text = frame(g, ENVELOPES, VOCABULARY, binary=False)
    assert isinstance(text, str)
    if g.below(8) == 0:
        text = g.pick(["", "<html><h1>502 Bad Gateway</h1></html>", "Service Unavailable", "\x00"])
    headers: CIMultiDict[str] = CIMultiDict()
    for name in ("Retry-After", "X-RateLimit-Reset", "X-Request-ID"):
        if g.byte() % 2:
            pool = [*HINTS, str(g.integer()), g.text(), g.pick(HOSTILE_STRINGS)]
            headers[name] = g.pick(pool)
    return status, text, CIMultiDictProxy(headers)


def deeply_nested(text: str) -> bool:
    return text.startswith(("[[[", '{"a":{"a":'))


@FUZZ
@given(genomes)
def test_any_answer_becomes_data_or_a_typed_kallglot_error(genome: bytes) -> None:
    status, text, headers = response(Genome(genome))
    # Deep nesting is left out only because this test's own oracle (_json_or_none) cannot read
    # it; the client's handling of it is test_a_deeply_nested_answer_is_a_kallglot_error.
    assume(not deeply_nested(text))
    HTTP.response = _Response(status, text, headers)
    attempt = CLIENT._attempt("GET", "https://api.kallglot.test/v1/sessions/s", {}, None)
    data = outcome(KallglotError, run, attempt, sent=(status, dict(headers), text[:300]))
    if isinstance(data, KallglotError):
        exc = data
        assert exc.status == status
        assert f"HTTP {status}" in str(exc)
        if 200 <= status < 300:
            assert isinstance(exc, UnexpectedResponseError)
            return
        body = _json_or_none(text)
        envelope = body.get("error") if isinstance(body, dict) else None
        code = envelope.get("code") if isinstance(envelope, dict) else None
        assert type(exc) is error_class_for(
            status, code if isinstance(code, str) and code else None
        )
        # Retry-After / X-RateLimit-Reset (server_hint, capped at an hour) or the body's.
        assert exc.retry_after is None or 0 <= exc.retry_after < 1e9
        return
    assert 200 <= status < 300
    assert data is not None


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def test_error_from_response_takes_any_python_value_as_body() -> None:
    """Its docstring promises it never raises "whatever `body` holds", not only JSON."""
    for body in (object(), {"error": object()}, {"error": {"code": 1, "retry_after": 10**400}}):
        assert isinstance(error_from_response(500, body), KallglotError)


# ---- found by fuzzing, fixed: regression tests ------------------------------------------------


def test_a_deeply_nested_answer_is_a_kallglot_error() -> None:
    HTTP.response = _Response(502, "[" * 100_000, CIMultiDictProxy(CIMultiDict()))
    with pytest.raises(KallglotError):
        run(CLIENT._attempt("GET", "https://api.kallglot.test/v1/sessions/s", {}, None))


def test_an_out_of_range_expiry_is_unreadable_not_an_exception() -> None:
    assert parse_time("0001-01-01T00:00:00+01:00") is None
    stream = {"url": "wss://x", "token": "t", "expires_at": "9999-12-31T23:59:59-01:00"}
    assert Session.from_json({"id": "s", "stream": stream}).stream is not None


def test_a_transcript_with_a_number_for_segments_has_no_turns() -> None:
    assert SessionTranscript.from_json({"segments": 5}).turns == ()


RESOURCES: list[dict[str, Any]] = [
    ENVELOPES[3],
    {
        "turns": [
            {
                "translation": {"text": "hello", "language": "en"},
                "sequence": 1,
                "speaker": "customer",
                "language": "de",
                "text": "hallo",
            }
        ],
        "session_id": "sess_1",
        "status": "completed",
    },
    {"segments": [{"translation": "hello", "text": "hallo"}], "session_id": "sess_1"},
]


@FUZZ
@given(genomes)
def test_any_2xx_body_is_a_resource_or_an_unexpected_response(genome: bytes) -> None:
    text = frame(Genome(genome), RESOURCES, VOCABULARY, binary=False)
    assert isinstance(text, str)
    assume(not deeply_nested(text))
    body = _json_or_none(text)
    for parse in (Session.from_json, SessionTranscript.from_json):
        with contextlib.suppress(UnexpectedResponseError):
            parse(body)
