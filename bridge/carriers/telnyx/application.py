"""The Call Control application (`TELNYX_CONNECTION_ID`) over REST: one GET that proves the API
key, proves the id names an application of this account, and says where its webhooks go.

For the preflight check (bridge/preflight/), not the call path (rest.py). Telnyx has no
per-number voice URL to set: a number belongs to an application, and the application's
`webhook_event_url` is where its calls are announced, so that is what must be the bridge.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from bridge.carriers import read_only
from bridge.carriers.interface import CarrierError
from bridge.carriers.telnyx.config import TelnyxSettings
from bridge.carriers.telnyx.rest import USER_AGENT, _first_error


@dataclass(frozen=True, slots=True)
class CallControlApplication:
    id: str
    name: str
    webhook_url: str | None  # webhook_event_url: where call.initiated and the rest are sent
    api_version: str | None  # the bridge reads API v2 webhooks only
    active: bool


async def fetch_application(
    settings: TelnyxSettings, timeout_s: float = 10.0
) -> CallControlApplication:
    """`GET /v2/call_control_applications/{TELNYX_CONNECTION_ID}`; CarrierError otherwise."""
    url = f"{settings.api_url.rstrip('/')}/call_control_applications/{quote(settings.connection_id, safe='')}"
    headers = {"Authorization": f"Bearer {settings.api_key}", "User-Agent": USER_AGENT}
    what = f"fetch Call Control application {settings.connection_id}"
    status, payload, _ = await read_only.get(
        url, headers, carrier="Telnyx", what=what, timeout_s=timeout_s
    )
    if not 200 <= status < 300:
        code, detail = _first_error(payload)
        raise CarrierError(
            f"Telnyx refused to {what}: HTTP {status}, error {code}: {detail}",
            status=status,
            code=code,
        )
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise CarrierError(f"Telnyx answered {what} without a data object")
    return CallControlApplication(
        id=str(data.get("id", settings.connection_id)),
        name=str(data.get("application_name") or ""),
        webhook_url=_text(data.get("webhook_event_url")),
        api_version=_text(data.get("webhook_api_version")),
        active=data.get("active") is not False,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
