"""The error envelope, NEW and OLD, to typed exceptions with actionable messages."""

from __future__ import annotations

import pytest

from bridge.kallglot.errors import (
    AuthenticationError,
    ConflictError,
    IdempotencyMismatchError,
    InsufficientCreditsError,
    KallglotError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
    error_from_response,
)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ValidationError),
        (401, AuthenticationError),
        (402, InsufficientCreditsError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, ValidationError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (418, KallglotError),
    ],
)
def test_status_picks_the_class(status: int, cls: type[KallglotError]) -> None:
    error = error_from_response(status, {"error": {"code": "x", "message": "m"}})

    assert type(error) is cls
    assert error.status == status


def test_new_envelope_fields() -> None:
    error = error_from_response(
        429,
        {
            "error": {
                "type": "rate_limit_error",
                "code": "rate_limit_exceeded",
                "message": "Too many requests.",
                "request_id": "req_1",
                "retry_after": 2,
            }
        },
    )

    assert (error.type, error.code, error.request_id, error.retry_after) == (
        "rate_limit_error",
        "rate_limit_exceeded",
        "req_1",
        2.0,
    )
    assert str(error) == (
        "Kallglot rate limit exceeded (HTTP 429, code rate_limit_exceeded, request req_1): "
        "Too many requests. Slow down: honour Retry-After / X-RateLimit-Reset, or raise the "
        "plan's limits."
    )


def test_old_envelope_and_request_id_from_the_header() -> None:
    error = error_from_response(
        400,
        {
            "error": {
                "code": "invalid_language_code",
                "message": "bad",
                "type": "validation_error",
                "param": "source_language",
                "doc_url": "https://docs",
            }
        },
        headers={"X-Request-ID": "req_h"},
    )

    assert isinstance(error, ValidationError)
    assert (error.param, error.request_id) == ("source_language", "req_h")


def test_codes_win_over_surprising_statuses() -> None:
    assert isinstance(
        error_from_response(400, {"error": {"code": "idempotency_mismatch"}}),
        IdempotencyMismatchError,
    )
    assert isinstance(
        error_from_response(403, {"error": {"code": "insufficient_api_credits"}}),
        InsufficientCreditsError,
    )


@pytest.mark.parametrize(
    "body", [None, "text", [1], {"error": "boom"}, {"error": {"code": 5, "message": ["x"]}}]
)
def test_anything_that_is_not_an_envelope_still_gives_a_useful_error(body: object) -> None:
    error = error_from_response(502, body, text="<html><body>Bad   gateway</body></html>")

    assert isinstance(error, ServerError)
    assert error.code is None
    assert "Bad gateway" in error.message or "no error envelope" in error.message
