"""Telnyx Call Control v2 over REST: dial, answer, speak, gather, stream, transfer, hang up.

Plain aiohttp with the API key as a bearer token (carriers.md §4). Every command carries a
`command_id`, Telnyx's idempotency key, so a retried command is not carried out twice. Errors
become `CarrierError` with Telnyx's HTTP status and error code; a hang-up of a call that has
already ended (422, code 90018) is success, because "make sure it is over" is what we mean.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog

from bridge.carriers.interface import CarrierError
from bridge.carriers.telnyx.config import TelnyxSettings

log = structlog.get_logger(__name__)
CALL_ALREADY_ENDED = "90018"
USER_AGENT = "kallglot-bridge/0.1"


class TelnyxRest:
    def __init__(self, settings: TelnyxSettings, timeout_s: float = 10.0) -> None:
        self._settings = settings
        self._base = settings.api_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: aiohttp.ClientSession | None = None  # made on first use: needs a loop

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def dial(self, to: str, from_: str, fields: Mapping[str, Any]) -> str:
        """Rings `to` through the Call Control application; the new call's control id."""
        body = {"connection_id": self._settings.connection_id, "to": to, "from": from_, **fields}
        data = await self._post("/calls", body, f"dial {to}")
        call_control_id = data.get("call_control_id") if isinstance(data, dict) else None
        if not isinstance(call_control_id, str) or not call_control_id:
            raise CarrierError("Telnyx answered the dial without a call_control_id")
        log.info("telnyx_call_created", call_control_id=call_control_id)
        return call_control_id

    async def action(
        self, call_control_id: str, action: str, fields: Mapping[str, Any] | None = None
    ) -> None:
        """One Call Control command (`answer`, `speak`, `streaming_start`, ...) on a call."""
        path = f"/calls/{quote(call_control_id, safe='')}/actions/{action}"
        await self._post(path, dict(fields or {}), f"{action} call {call_control_id}")

    async def hang_up(self, call_control_id: str) -> None:
        """Ends the call in any state; one that already ended (or is unknown) is success."""
        try:
            await self.action(call_control_id, "hangup")
        except CarrierError as error:
            if error.code != CALL_ALREADY_ENDED and error.status != 404:
                raise
            log.debug("telnyx_hangup_call_already_ended", call_control_id=call_control_id)

    async def _post(self, path: str, body: dict[str, Any], what: str) -> Any:
        body.setdefault("command_id", str(uuid.uuid4()))
        headers = {
            "Authorization": f"Bearer {self._settings.api_key}",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._http.post(
                self._base + path, data=json.dumps(body), headers=headers
            ) as response:
                text = await response.text(errors="replace")
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as error:
            raise CarrierError(
                f"could not reach Telnyx to {what}: {type(error).__name__}: {error}"
            ) from None
        try:
            payload = json.loads(text) if text else {}
        except ValueError:
            payload = {}
        if 200 <= status < 300:
            return payload.get("data") if isinstance(payload, dict) else None
        code, title = _first_error(payload)
        raise CarrierError(
            f"Telnyx refused to {what}: HTTP {status}, error {code}: {title}",
            status=status,
            code=code,
        )


def _first_error(payload: Any) -> tuple[str | None, str]:
    """Telnyx's error envelope: `{"errors": [{"code": "90018", "title": ..., "detail": ...}]}`."""
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        code = first.get("code")
        title = first.get("detail") or first.get("title") or "no detail"
        return (str(code) if code is not None else None), str(title)
    return None, "no error envelope in the response"
