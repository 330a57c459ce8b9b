"""The Plivo account over REST: one read-only GET that proves PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN.

For the preflight check (bridge/preflight/), not the call path (rest.py): "Get account details"
changes nothing and is answered for any account, so a wrong token shows up before a call is
placed or a webhook signature is refused. One attempt, no retries: the check reports what it
saw and readiness decides about outages.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from bridge.carriers import read_only
from bridge.carriers.interface import CarrierError
from bridge.carriers.plivo.config import PlivoSettings
from bridge.carriers.plivo.rest import USER_AGENT


async def check_account(settings: PlivoSettings, timeout_s: float = 10.0) -> str:
    """`GET /v1/Account/{PLIVO_AUTH_ID}/`: "account MA... (name, type)"; CarrierError otherwise."""
    auth_id = settings.auth_id
    url = f"{settings.api_url.rstrip('/')}/Account/{quote(auth_id, safe='')}/"
    headers = {"Authorization": _basic_auth(settings), "User-Agent": USER_AGENT}
    status, payload, _ = await read_only.get(
        url, headers, carrier="Plivo", what=f"fetch account {auth_id}", timeout_s=timeout_s
    )
    if not isinstance(payload, dict):
        payload = {}
    if not 200 <= status < 300:
        detail = payload.get("error") or "no error message"
        raise CarrierError(
            f"Plivo refused to fetch account {auth_id}: HTTP {status}, {detail}", status=status
        )
    return _describe(payload, auth_id)


def _basic_auth(settings: PlivoSettings) -> str:
    """As PlivoRest sends it (UTF-8, not aiohttp's Latin-1 BasicAuth, deprecated in 3.14)."""
    credentials = f"{settings.auth_id}:{settings.auth_token}".encode()
    return "Basic " + base64.b64encode(credentials).decode("ascii")


def _describe(account: dict[str, Any], auth_id: str) -> str:
    """Whatever of the name and type Plivo gave: a subaccount's answer may lack either."""
    shown = [str(account[key]) for key in ("name", "account_type") if account.get(key)]
    label = f"account {account.get('auth_id') or auth_id}"
    return f"{label} ({', '.join(shown)})" if shown else label
