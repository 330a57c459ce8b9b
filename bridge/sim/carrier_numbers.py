"""The simulated Twilio account itself: the Account resource and its phone numbers.

`GET /2010-04-01/Accounts/{Sid}.json` (what the preflight check fetches to prove the SID and
token), and IncomingPhoneNumbers: list (filtered by `PhoneNumber`, where Twilio matches part of
a number and `*` stands for any digit; paged), fetch, and update (`VoiceUrl`, `VoiceMethod` and
the other voice fields), with Twilio's resource shape and error documents, so that the real
`twilio` client (and `configure-numbers`) cannot tell the difference. A call to a number the
account owns goes to that number's voice URL (`CarrierSimulator.call_number`), as on Twilio.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web

from bridge.sim.carrier_call import API_VERSION
from bridge.sim.carrier_callbacks import rfc2822
from bridge.sim.carrier_rest import BASE, TwilioError, _backend, _not_found, _twilio_errors
from bridge.sim.carrier_stream import new_sid

NUMBERS = f"{BASE}/IncomingPhoneNumbers"
MAX_PAGE_SIZE = 1000
METHODS = ("GET", "POST")
# Form field -> attribute of OwnedNumber, for the voice settings an update may change.
UPDATABLE = {
    "FriendlyName": "friendly_name",
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "VoiceFallbackMethod": "voice_fallback_method",
    "VoiceApplicationSid": "voice_application_sid",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
}


@dataclass
class OwnedNumber:
    """One of the account's phone numbers and where its incoming calls go."""

    phone_number: str
    sid: str = field(default_factory=lambda: new_sid("PN"))
    friendly_name: str = ""
    voice_url: str | None = None
    voice_method: str = "POST"
    voice_fallback_url: str | None = None
    voice_fallback_method: str = "POST"
    voice_application_sid: str | None = None  # when set, Twilio ignores voice_url
    trunk_sid: str | None = None  # likewise: calls go to the SIP trunk
    status_callback: str | None = None
    status_callback_method: str = "POST"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updates: list[dict[str, str]] = field(default_factory=list)  # each update's fields, for tests


class NumbersBackend(Protocol):
    account_sid: str
    auth_token: str
    account_status: str
    account_type: str
    numbers: dict[str, OwnedNumber]  # by PN sid


NUMBERS_BACKEND = web.AppKey("carrier_numbers_backend", NumbersBackend)


def add_routes(app: web.Application, backend: NumbersBackend) -> None:
    """Mounts beside carrier_rest's routes (whose authentication it shares)."""
    app[NUMBERS_BACKEND] = backend
    app.router.add_get(f"{BASE}.json", _twilio_errors(fetch_account))
    app.router.add_get(f"{NUMBERS}.json", _twilio_errors(list_numbers))
    app.router.add_get(f"{NUMBERS}/{{number_sid}}.json", _twilio_errors(fetch_number))
    app.router.add_post(f"{NUMBERS}/{{number_sid}}.json", _twilio_errors(update_number))


def _account(request: web.Request) -> NumbersBackend:
    _backend(request)  # HTTP Basic auth and the account in the path, as for Calls
    return request.app[NUMBERS_BACKEND]


def account_resource(backend: NumbersBackend) -> dict[str, Any]:
    uri = f"/{API_VERSION}/Accounts/{backend.account_sid}"
    created = rfc2822(datetime(2024, 1, 1, tzinfo=UTC))
    return {
        "auth_token": backend.auth_token,  # Twilio shows it to the account's own credentials
        "date_created": created,
        "date_updated": created,
        "friendly_name": "Simulated account",
        "owner_account_sid": backend.account_sid,
        "sid": backend.account_sid,
        "status": backend.account_status,
        "subresource_uris": {
            "calls": f"{uri}/Calls.json",
            "incoming_phone_numbers": f"{uri}/IncomingPhoneNumbers.json",
        },
        "type": backend.account_type,
        "uri": f"{uri}.json",
    }


def number_resource(account_sid: str, number: OwnedNumber) -> dict[str, Any]:
    uri = f"/{API_VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers/{number.sid}"
    return {
        "account_sid": account_sid,
        "address_requirements": "none",
        "address_sid": None,
        "api_version": API_VERSION,
        "beta": False,
        "bundle_sid": None,
        "capabilities": {"fax": False, "mms": True, "sms": True, "voice": True},
        "date_created": rfc2822(number.created_at),
        "date_updated": rfc2822(number.updated_at),
        "emergency_address_sid": None,
        "emergency_status": "Inactive",
        "friendly_name": number.friendly_name or number.phone_number,
        "identity_sid": None,
        "origin": "twilio",
        "phone_number": number.phone_number,
        "sid": number.sid,
        "sms_application_sid": None,
        "sms_fallback_method": "POST",
        "sms_fallback_url": "",
        "sms_method": "POST",
        "sms_url": "",
        "status": "in-use",
        "status_callback": number.status_callback or "",
        "status_callback_method": number.status_callback_method,
        "subresource_uris": {"assigned_add_ons": f"{uri}/AssignedAddOns.json"},
        "trunk_sid": number.trunk_sid,
        "uri": f"{uri}.json",
        "voice_application_sid": number.voice_application_sid or "",
        "voice_caller_id_lookup": False,
        "voice_fallback_method": number.voice_fallback_method,
        "voice_fallback_url": number.voice_fallback_url or "",
        "voice_method": number.voice_method,
        "voice_receive_mode": "voice",
        "voice_url": number.voice_url or "",
    }


def matches(pattern: str, phone_number: str) -> bool:
    """Twilio's `PhoneNumber` filter: part of the number, `*` for any one digit."""
    regex = "".join("[0-9]" if c == "*" else re.escape(c) for c in pattern.strip())
    return re.search(regex, phone_number) is not None


async def fetch_account(request: web.Request) -> web.Response:
    return web.json_response(account_resource(_account(request)))


async def list_numbers(request: web.Request) -> web.Response:
    backend = _account(request)
    query = request.query
    # A bare '+' in a query string decodes as a space: Twilio reads such a number as meant.
    pattern = query.get("PhoneNumber", "").replace(" ", "+")
    try:
        page_size = int(query.get("PageSize", "50"))
        page = int(query.get("Page", "0"))
    except ValueError:
        raise TwilioError(400, 20001, "PageSize and Page must be whole numbers") from None
    if not 1 <= page_size <= MAX_PAGE_SIZE or page < 0:
        raise TwilioError(400, 20001, f"PageSize must be 1 to {MAX_PAGE_SIZE}, Page 0 or more")
    found = [n for n in backend.numbers.values() if matches(pattern, n.phone_number)]
    start = page * page_size
    shown = found[start : start + page_size]
    base = f"/{API_VERSION}/Accounts/{backend.account_sid}/IncomingPhoneNumbers.json"
    filters = f"&PhoneNumber={pattern.replace('+', '%2B')}" if pattern else ""

    def page_uri(number: int) -> str:
        return f"{base}?PageSize={page_size}&Page={number}{filters}"

    more = start + page_size < len(found)
    return web.json_response(
        {
            "end": start + max(len(shown) - 1, 0),
            "first_page_uri": page_uri(0),
            "incoming_phone_numbers": [number_resource(backend.account_sid, n) for n in shown],
            "next_page_uri": page_uri(page + 1) if more else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        }
    )


def _number(request: web.Request) -> tuple[NumbersBackend, OwnedNumber]:
    backend = _account(request)
    number = backend.numbers.get(request.match_info["number_sid"])
    if number is None:
        raise _not_found(request)
    return backend, number


async def fetch_number(request: web.Request) -> web.Response:
    backend, number = _number(request)
    return web.json_response(number_resource(backend.account_sid, number))


async def update_number(request: web.Request) -> web.Response:
    backend, number = _number(request)
    form = await request.post()
    changes = {key: str(form[key]) for key in UPDATABLE if key in form}
    for key, value in changes.items():  # validate all before changing anything
        if key.endswith("Method") and value.upper() not in METHODS:
            raise TwilioError(400, 21205, f"{key} {value!r} must be GET or POST")
        if (
            key.endswith(("Url", "Callback"))
            and value
            and not value.startswith(("http://", "https://"))
        ):
            raise TwilioError(400, 21205, f"{key} {value!r} is not a valid URL")
    for key, value in changes.items():
        setattr(number, UPDATABLE[key], _stored(key, value))
    if changes:
        number.updated_at = datetime.now(UTC)
        number.updates.append(changes)
    return web.json_response(number_resource(backend.account_sid, number))


def _stored(key: str, value: str) -> str | None:
    """A field as the resource keeps it: methods upper-case, an empty URL or SID cleared."""
    if key.endswith("Method"):
        return value.upper()
    return value if key == "FriendlyName" else value or None
