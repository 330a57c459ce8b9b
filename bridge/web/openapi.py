"""The calls API described as OpenAPI 3.1, served at `GET /v1/openapi.json` (no token needed).

Written by hand, next to the handlers it describes (bridge/web/api.py, call_view.py,
idempotent.py), so that a change to one is a change to the other in the same diff;
tests/web/test_openapi.py fails when a `/v1` route, a status or a field drifts from it. The
closed sets (states, modes, end reasons, carriers) are the code's own enums, not copies.
Schemas are strict (`additionalProperties: false`), so a field added to an answer must be
added here too.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bridge.calls.console_keys import MAX_TTL_S
from bridge.calls.model import Direction, EndReason, Mode, Role
from bridge.calls.routes import AGENT_ID, E164, LANGUAGE, SIP_URI
from bridge.carriers.registry import BY_NAME
from bridge.store.records import STATES
from bridge.web.idempotent import KEY

JSON = "application/json"
NULLABLE_STRING = {"type": ["string", "null"]}
TIME = {"type": "string", "format": "date-time", "description": "ISO-8601, UTC"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time", "description": "ISO-8601, UTC"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, schema: str = "Error", **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(schema)}}, **extra}


def _object(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """Strict: every property but `optional` always present (null when unknown), no others."""
    required = [name for name in properties if name not in optional]
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


LEG = _object(
    {
        "carrier": {"type": "string", "description": "the carrier this leg is on"},
        "carrier_call_id": {**NULLABLE_STRING, "description": "the carrier's id of the call"},
        "stream_id": {**NULLABLE_STRING, "description": "the carrier's id of the media stream"},
        "streams": {"type": "integer", "minimum": 0},
        "audio_in_s": {"type": "number", "minimum": 0, "description": "heard from the party"},
        "audio_out_s": {"type": "number", "minimum": 0, "description": "sent to the party"},
        "frames_lost": {"type": "integer", "minimum": 0, "description": "playout overflow"},
    }
)

KALLGLOT_EVENT = _object(
    {
        "id": {"type": "string"},
        "type": {"type": "string"},
        "created_at": {**NULLABLE_STRING, "description": "as Kallglot sent it"},
    }
)

CALL = {
    "description": "One call, the same from every endpoint: ringing, live or ended.",
    **_object(
        {
            "call_id": {"type": "string"},
            "state": {"enum": list(STATES), "description": "dialing_agent: not yet a call"},
            "direction": {"enum": [d.value for d in Direction]},
            "mode": {"enum": [m.value for m in Mode]},
            "route": {**NULLABLE_STRING, "description": "inbound: the number dialled"},
            "customer_language": NULLABLE_STRING,
            "agent_language": NULLABLE_STRING,
            "session_id": {**NULLABLE_STRING, "description": "the Kallglot session"},
            "created_at": TIME,
            "answered_at": {**NULLABLE_TIME, "description": "when audio started flowing"},
            "ended_at": NULLABLE_TIME,
            "duration_s": {"type": ["number", "null"], "description": "null until it ends"},
            "end_reason": {"enum": [*(r.value for r in EndReason), None]},
            "error": {**NULLABLE_STRING, "description": "what went wrong, in words"},
            "instance": {**NULLABLE_STRING, "description": "the bridge instance of the call"},
            "legs": {
                "type": "object",
                "propertyNames": {"enum": [r.value for r in Role]},
                "additionalProperties": _ref("Leg"),
            },
            "kallglot_events": {
                "type": "array",
                "description": "GET /v1/calls/{call_id} only: the session's Kallglot webhooks",
                "items": _ref("KallglotEvent"),
            },
        },
        optional=("kallglot_events",),
    ),
}

LANGUAGE_CODE = {"type": ["string", "null"], "pattern": LANGUAGE.pattern, "description": "'de'"}
NEW_CALL = _object(
    {
        "to": {"type": "string", "pattern": E164.pattern, "description": "the customer, E.164"},
        "agent": {
            "type": "string",
            "anyOf": [
                {"pattern": E164.pattern},
                {"pattern": SIP_URI.pattern},
                {"pattern": "^browser:" + AGENT_ID.pattern.removeprefix("^")},
            ],
            "description": "dialled first: an E.164 number, a SIP URI, or browser:<agent id> "
            "(rings that agent's console)",
        },
        "source_language": LANGUAGE_CODE,
        "target_language": LANGUAGE_CODE,
        "mode": {"enum": [m.value for m in Mode], "default": Mode.BIDIRECTIONAL.value},
        "carrier": {
            "enum": list(BY_NAME),
            "description": "one of the configured carriers; default: the first configured",
        },
    },
    optional=("source_language", "target_language", "mode", "carrier"),
)

CONSOLE_LINK = _object(
    {
        "agent": {"type": "string"},
        "url": {"type": "string", "description": "the console, signed in as the agent"},
        "expires_at": TIME,
    }
)

PAGE = _object(
    {
        "calls": {"type": "array", "items": _ref("Call"), "description": "newest first"},
        "before": {**NULLABLE_STRING, "description": "cursor of the next older page"},
        "after": {**NULLABLE_STRING, "description": "cursor for calls newer than this page"},
    }
)

ERROR = _object(
    {
        "error": _object(
            {
                "code": {"type": "string", "description": "stable, for programs"},
                "message": {"type": "string", "description": "for people: what to change"},
            }
        )
    }
)

UNAUTHORIZED = _answer("no or wrong 'Authorization: Bearer <BRIDGE_API_TOKEN>'")
UNAVAILABLE = _answer(
    "the API is off (no BRIDGE_API_TOKEN), the call records are unreachable, or (POST) this "
    "instance is draining or full"
)
REPLAYED = {
    "Idempotent-Replayed": {
        "description": "'true' when this is the answer kept for the Idempotency-Key",
        "schema": {"enum": ["true"]},
    }
}
CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": "string", **schema},
    }


PATHS = {
    "/v1/calls": {
        "post": {
            "summary": "Dial the agent, then the customer, with live translation between them",
            "operationId": "createCall",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "description": "A retry with the same key and body gets the first answer "
                    "again (header Idempotent-Replayed: true) instead of a second dial, for "
                    "24 h, on the instance that answered it.",
                    "schema": {"type": "string", "pattern": f"^{KEY.pattern}$"},
                }
            ],
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("NewCall")}}},
            "responses": {
                "201": _answer("the agent is being dialled", "Call", headers=REPLAYED),
                "400": _answer("not a JSON object, or an invalid Idempotency-Key"),
                "401": UNAUTHORIZED,
                "409": _answer("the first request with this Idempotency-Key is still running"),
                "413": _answer("the body is over 64 KiB"),
                "422": _answer(
                    "a field is invalid, or the Idempotency-Key was used on another body"
                ),
                "502": _answer(
                    "the carrier refused to dial the agent, or could not be reached (kept "
                    "under an Idempotency-Key: it may have placed the call)",
                    headers=REPLAYED,
                ),
                "503": UNAVAILABLE,
            },
        },
        "get": {
            "summary": "Calls, newest first: every instance's records with live calls laid over",
            "operationId": "listCalls",
            "parameters": [
                _query("since", "created at or after (ISO-8601)", format="date-time"),
                _query("until", "created before (ISO-8601)", format="date-time"),
                _query("status", "a call state", enum=list(STATES)),
                _query("end_reason", "an end reason", enum=[r.value for r in EndReason]),
                _query("limit", "1..200, default 50", pattern="^[0-9]+$"),
                _query("before", "a page's 'before' cursor: older calls"),
                _query("after", "a page's 'after' cursor: newer calls"),
            ],
            "responses": {
                "200": _answer("a page of calls", "CallPage"),
                "401": UNAUTHORIZED,
                "422": _answer("a parameter is invalid"),
                "503": UNAVAILABLE,
            },
        },
    },
    "/v1/calls/{call_id}": {
        "parameters": [CALL_ID],
        "get": {
            "summary": "One call, with its Kallglot events",
            "operationId": "getCall",
            "responses": {
                "200": _answer("the call", "Call"),
                "401": UNAUTHORIZED,
                "404": _answer("no such call"),
                "503": UNAVAILABLE,
            },
        },
        "delete": {
            "summary": "Hang up every leg of the call (or stop dialling it)",
            "operationId": "hangUpCall",
            "responses": {
                "200": _answer("the call, ended", "Call"),
                "401": UNAUTHORIZED,
                "404": _answer("no such call"),
                "409": _answer("already ended, or live on another instance"),
                "503": UNAVAILABLE,
            },
        },
    },
    "/v1/agents/{agent_id}/console-links": {
        "parameters": [
            {
                "name": "agent_id",
                "in": "path",
                "required": True,
                "description": "the id in a route's browser:<id>, or a phone agent's number",
                "schema": {"type": "string", "pattern": AGENT_ID.pattern},
            }
        ],
        "post": {
            "summary": "A sign-in link to the agent console for one agent",
            "operationId": "createConsoleLink",
            "requestBody": {
                "required": False,
                "content": {
                    JSON: {
                        "schema": _object(
                            {"ttl_s": {"type": "integer", "minimum": 60, "maximum": MAX_TTL_S}},
                            optional=("ttl_s",),
                        )
                    }
                },
            },
            "responses": {
                "201": _answer("the link (valid for ttl_s, default 8 h)", "ConsoleLink"),
                "401": UNAUTHORIZED,
                "422": _answer("a bad agent id or ttl_s"),
                "503": UNAVAILABLE,
            },
        },
    },
    "/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "operationId": "getOpenApi",
            "security": [],
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1",
                    "content": {JSON: {"schema": {"type": "object"}}},
                }
            },
        }
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "kallglot-bridge calls API",
        "version": "1",
        "description": "Agent-assisted outbound calls with live translation, and the records "
        "of every call. Errors are {'error': {'code', 'message'}}; the message says what to "
        "change. Times are ISO-8601 in UTC.",
    },
    "security": [{"bearer": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "BRIDGE_API_TOKEN",
            }
        },
        "schemas": {
            "Call": CALL,
            "Leg": LEG,
            "KallglotEvent": KALLGLOT_EVENT,
            "NewCall": NEW_CALL,
            "CallPage": PAGE,
            "ConsoleLink": CONSOLE_LINK,
            "Error": ERROR,
        },
    },
}


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)
