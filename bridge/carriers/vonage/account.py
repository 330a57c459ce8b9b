"""The Vonage application over REST, read-only: one GET that proves VONAGE_APPLICATION_ID and
VONAGE_PRIVATE_KEY belong together, before the first dial depends on it.

For the preflight check (bridge/preflight/), not the call path (rest.py). Vonage has no
"who am I" for an application JWT, so the probe is the cheapest request that JWT must pass:
"List calls" with a page of one. It changes nothing and rings no one; a 401 means the key is
not the application's (or the id is wrong), exactly what a dial would have met.
"""

from __future__ import annotations

import time

from bridge.carriers import read_only
from bridge.carriers.interface import CarrierError
from bridge.carriers.vonage.appjwt import application_token
from bridge.carriers.vonage.config import VonageSettings
from bridge.carriers.vonage.rest import USER_AGENT, _detail, _hint, _title


async def check_account(settings: VonageSettings, timeout_s: float = 10.0) -> str:
    """`GET /v1/calls?page_size=1` with the application JWT; a short description of what was
    proven, or CarrierError (the key and the JWT never appear in its message)."""
    url = f"{settings.api_url.rstrip('/')}/v1/calls"
    token = application_token(settings.private_key, settings.application_id, time.time())
    headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
    what = f"list calls for application {settings.application_id}"
    status, payload, text = await read_only.get(
        url, headers, carrier="Vonage", what=what, timeout_s=timeout_s, params={"page_size": "1"}
    )
    if not 200 <= status < 300:
        raise CarrierError(
            f"Vonage refused to {what}: HTTP {status}, {_detail(payload, text)}{_hint(status)}",
            status=status,
            code=_title(payload),
        )
    return f"application {settings.application_id}"
