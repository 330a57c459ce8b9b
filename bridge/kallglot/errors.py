"""The Kallglot error envelope as typed exceptions, so callers branch on a class, not a string.

Both envelope generations are read (kallglot-api.md §3.1): NEW carries `request_id` and
`retry_after` in the body, OLD carries `doc_url`; either may be missing or the body may not be
JSON at all (a proxy's HTML 502). Each class knows what the operator should do about it, and the
message says so, because "HTTP 402" in a log at 3 a.m. helps nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class KallglotError(Exception):
    """Any failure talking to Kallglot. `status` is None when no HTTP response was involved.

    `maybe_applied` (set by the REST client) says whether Kallglot may have carried the request
    out although it failed: some attempt was sent and got no definite refusal (a 5xx, a
    timeout, a connection lost after sending, an `idempotency_conflict`). For a create, that
    means a session may exist, billing, with an id only a replay of its key can tell.
    """

    summary: ClassVar[str] = "Kallglot request failed"
    hint: ClassVar[str] = ""
    maybe_applied: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        facts = [f"HTTP {self.status}"] if self.status is not None else []
        facts += [f"{k} {v}" for k, v in (("code", self.code), ("param", self.param)) if v]
        if self.request_id:
            facts.append(f"request {self.request_id}")
        where = f" ({', '.join(facts)})" if facts else ""
        hint = f" {self.hint}" if self.hint else ""
        return f"{self.summary}{where}: {self.message}.{hint}"


class ValidationError(KallglotError):
    summary = "Kallglot rejected the request as invalid"
    hint = "Fix the request (see `param`); retrying the same request will fail again."


class IdempotencyMismatchError(ValidationError):
    summary = "Idempotency-Key reused with a different request body"
    hint = "Each logical request needs its own key; a retry must send exactly the same body."


class AuthenticationError(KallglotError):
    summary = "Kallglot did not accept the credentials"
    hint = (
        "Check KALLGLOT_API_KEY (sk_live_ for production, sk_test_ for sandbox, not revoked); "
        "for stream tokens, fetch the session again for a fresh one."
    )


class InsufficientCreditsError(KallglotError):
    summary = "Kallglot API credits are exhausted"
    hint = "Top up credits in the Kallglot Developer Portal; retrying will not help."


class PermissionDeniedError(KallglotError):
    summary = "Kallglot refused the operation for this organization or key"
    hint = (
        "Check the key's scopes (sessions:write) and that the organization's subscription is "
        "active in the Developer Portal."
    )


class NotFoundError(KallglotError):
    summary = "Kallglot does not know this resource"
    hint = "Check the id; sessions cannot be listed, keep the id from the create response."


class ConflictError(KallglotError):
    summary = "Kallglot reported a conflict"
    hint = "A request with the same Idempotency-Key is still running; retry later with that key."


class RateLimitError(KallglotError):
    summary = "Kallglot rate limit exceeded"
    hint = "Slow down: honour Retry-After / X-RateLimit-Reset, or raise the plan's limits."


class ServerError(KallglotError):
    summary = "Kallglot had a server-side failure"
    hint = "The failure is on Kallglot's side and persisted through retries; check its status."


class KallglotConnectionError(KallglotError):
    summary = "Could not reach Kallglot"
    hint = "Check KALLGLOT_API_URL, DNS, outbound network/firewall rules and Kallglot's status."
    request_sent = True  # False: no connection was made, so Kallglot never saw the request


class UnexpectedResponseError(KallglotError):
    summary = "Kallglot answered with something this client does not understand"
    hint = "The API contract may have changed; report the request id to Kallglot."


class StreamError(KallglotError):
    """The stream could not be opened or was refused (not a REST error)."""

    summary = "Kallglot stream failed"
    hint = "The session may have ended or the token is no longer valid."


_BY_STATUS: dict[int, type[KallglotError]] = {
    400: ValidationError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitError,
}


def error_class_for(status: int, code: str | None) -> type[KallglotError]:
    if code == "idempotency_mismatch":
        return IdempotencyMismatchError
    if code == "insufficient_api_credits":  # the code wins over a surprising status
        return InsufficientCreditsError
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, KallglotError)


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _opt_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value < 1e9 else None


def error_from_response(
    status: int,
    body: Any,
    *,
    headers: Mapping[str, str] | None = None,
    text: str = "",
    retry_after: float | None = None,
) -> KallglotError:
    """Builds the typed error for a non-2xx answer. Never raises, whatever `body` holds.

    `retry_after` is the caller's reading of the headers; the body's `retry_after` fills in when
    the headers carry none.
    """
    envelope = body.get("error") if isinstance(body, dict) else None
    if not isinstance(envelope, dict):
        envelope = {}
    code = _opt_str(envelope.get("code"))
    message = _opt_str(envelope.get("message"))
    if message is None:
        snippet = " ".join(text.split())[:200]
        message = f"no error envelope in the response{': ' + snippet if snippet else ''}"
    request_id = _opt_str(envelope.get("request_id"))
    if request_id is None and headers is not None:
        request_id = _opt_str(headers.get("X-Request-ID"))
    if retry_after is None:
        retry_after = _opt_float(envelope.get("retry_after"))
    cls = error_class_for(status, code)
    return cls(
        message.rstrip("."),
        status=status,
        type=_opt_str(envelope.get("type")),
        code=code,
        param=_opt_str(envelope.get("param")),
        request_id=request_id,
        retry_after=retry_after,
    )
