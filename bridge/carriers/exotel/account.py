"""The Exotel account over REST: one read-only GET that proves the API key, token and SID.

For the preflight check (bridge/preflight/), not the call path (rest.py). Exotel has no
"who am I" endpoint, so the probe asks for one page of one record of the account's Bulk Call
Details: it changes nothing, costs nothing, and is refused (401) unless the key and token are
right and (403) unless the key belongs to that SID.
"""

from __future__ import annotations

from urllib.parse import quote

from bridge.carriers import read_only
from bridge.carriers.exotel.auth import basic_header
from bridge.carriers.exotel.config import ExotelSettings
from bridge.carriers.exotel.rest import USER_AGENT, _message
from bridge.carriers.interface import CarrierError


async def check_account(settings: ExotelSettings, timeout_s: float = 10.0) -> str:
    """`GET /v1/Accounts/{EXOTEL_ACCOUNT_SID}/Calls.json?PageSize=1`: what was proved, or
    CarrierError (status None when Exotel could not be reached)."""
    sid = settings.account_sid
    url = f"{settings.api_url.rstrip('/')}/v1/Accounts/{quote(sid, safe='')}/Calls.json"
    headers = {
        "Authorization": basic_header(settings.api_key, settings.api_token),
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
    what = f"list calls of account {sid}"
    status, payload, _ = await read_only.get(
        url, headers, carrier="Exotel", what=what, timeout_s=timeout_s, params={"PageSize": "1"}
    )
    if not 200 <= status < 300:
        raise CarrierError(
            f"Exotel refused to {what}: HTTP {status}, {_message(payload)}", status=status
        )
    return f"account {sid}"
