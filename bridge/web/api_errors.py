"""The calls API's answers when it refuses: JSON `{"error": {"code", "message"}}`, always.

`code` is stable for programs to branch on; `message` is for the person reading it and says
what to change. Shared by every `/v1` handler and the Kallglot webhook.
"""

from __future__ import annotations

import json
from typing import NoReturn

from aiohttp import web

_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    404: web.HTTPNotFound,
    403: web.HTTPForbidden,
    409: web.HTTPConflict,
    410: web.HTTPGone,
    422: web.HTTPUnprocessableEntity,
    502: web.HTTPBadGateway,
    503: web.HTTPServiceUnavailable,
}


def fail(status: int, code: str, message: str) -> NoReturn:
    raise _ERRORS[status](text=_envelope(code, message), content_type="application/json")


def error_response(status: int, code: str, message: str) -> web.Response:
    """The same answer, returned rather than raised (one kept for an idempotent retry)."""
    return web.Response(
        status=status, text=_envelope(code, message), content_type="application/json"
    )


def _envelope(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})
