"""Kallglot webhooks over real HTTP: 401 unless signed, then recorded or a 400 that says why.

Deliveries to `POST /kallglot/webhooks` with damaged event envelopes, signed with the endpoint's
secret (to reach the event parsing behind the signature) or forged, stale or unsigned. The
signature check itself gets its 10 000 cases in test_kallglot_webhooks.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import given

from bridge.kallglot.webhooks import SIGNATURE_HEADER, sign
from tests.fuzz.conftest import HTTP_FUZZ, WEBHOOK_SECRET, Bridge
from tests.fuzz.genome import Genome, damage, mutate
from tests.fuzz.strategies import genomes

EVENT: dict[str, Any] = {
    "data": {"object": "session", "id": "sess_1", "status": "ended", "session_id": "sess_1"},
    "id": "evt_1",
    "type": "session.ended",
    "created_at": "2026-01-31T09:30:00Z",
}
VOCABULARY: list[Any] = ["session.ended", "transcript.ready", "session", "evt_" + "x" * 200, ""]


def delivery(g: Genome) -> tuple[bytes, str | None, bool]:
    """The body, its signature header, and whether that header is genuine and fresh."""
    kind = g.below(8)
    event = mutate(g, EVENT, VOCABULARY, ["object", "livemode"]) if kind else dict(EVENT)
    if isinstance(event, dict) and g.byte() % 2:
        event["id"] = f"evt_{g.below(50)}"  # some redeliveries
    text = json.dumps(event, ensure_ascii=g.byte() % 2 == 0)  # surrogates escaped, or raw
    raw = (damage(g, text) if kind == 7 else text).encode("utf-8", "surrogatepass")
    if g.below(8) == 0:
        raw = g.pick(
            [b"", b"\xff", b"[]", b"null", g.blob(40), b"[" * 100_000, b"{" + b" " * 1_100_000]
        )
    now = int(time.time())
    header = g.below(6)
    if header <= 2:
        return raw, sign(raw, WEBHOOK_SECRET, now), True
    if header == 3:
        return raw, sign(raw, WEBHOOK_SECRET, now - 3600), False
    if header == 4:
        return raw, sign(raw, "whsec_forged", now), False
    junk = "".join(c for c in g.text(20) if " " <= c <= "~")  # what an HTTP header can carry
    return raw, g.pick([None, "", "t=1,v1=00", junk]), False


@HTTP_FUZZ
@given(genomes)
async def test_deliveries_are_recorded_or_refused_with_reasons_never_5xx(
    bridge: Bridge, genome: bytes
) -> None:
    raw, header, genuine = delivery(Genome(genome))
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers[SIGNATURE_HEADER] = header
    async with bridge.client.post("/kallglot/webhooks", data=raw, headers=headers) as response:
        status, text = response.status, await response.text(errors="replace")
    where = f"{status} for {header!r} {raw[:300]!r}"
    assert status < 500, f"{where}: {text[:300]}"
    body = json.loads(text)
    if status == 413:
        assert body["error"]["code"] == "too_large", where
    elif not genuine:
        assert status == 401, where
        assert body["error"]["code"] == "bad_signature", where
    elif status == 200:
        assert body["status"] in ("recorded", "duplicate"), where
    else:
        assert status == 400, where
        assert " " in body["error"]["message"], where


# ---- found by this fuzzer, fixed in kallglot_hooks.py/api.py by their owner (ea323dc) ----------


async def test_a_signed_deeply_nested_body_is_a_400(bridge: Bridge) -> None:
    """json.loads raised RecursionError: a 500, and Kallglot would redeliver it forever."""
    raw = b"[" * 100_000
    headers = {SIGNATURE_HEADER: sign(raw, WEBHOOK_SECRET), "Content-Type": "application/json"}
    async with bridge.client.post("/kallglot/webhooks", data=raw, headers=headers) as response:
        assert response.status == 400


async def test_a_body_over_the_webhook_limit_is_a_413_that_says_so(bridge: Bridge) -> None:
    """fail(413) could not build HTTPRequestEntityTooLarge (it needs the sizes): a 500."""
    raw = b"{" + b" " * (1024 * 1024) + b"}"
    headers = {SIGNATURE_HEADER: sign(raw, WEBHOOK_SECRET), "Content-Type": "application/json"}
    async with bridge.client.post("/kallglot/webhooks", data=raw, headers=headers) as response:
        assert response.status == 413
        assert "too_large" in await response.text()


async def test_an_event_id_with_a_lone_surrogate_is_a_400(bridge: Bridge) -> None:
    """'\\ud800' is valid JSON; the SQLite store could not encode it: a 500, redelivered forever."""
    raw = json.dumps({**EVENT, "id": "evt_\ud800"}).encode()
    headers = {SIGNATURE_HEADER: sign(raw, WEBHOOK_SECRET), "Content-Type": "application/json"}
    async with bridge.client.post("/kallglot/webhooks", data=raw, headers=headers) as response:
        assert response.status == 400
