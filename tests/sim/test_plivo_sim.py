"""The Plivo simulator against a stand-in bridge on loopback: signed webhooks, the XML it runs,
the audio stream as Plivo plays it, and what it refuses."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bridge.carriers.plivo.protocol import INVALID_FRAME, WRONG_AUDIO
from bridge.carriers.plivo.signature import NONCE_HEADER, SIGNATURE_HEADER, PlivoSignatures
from bridge.sim.plivo import PlivoSimulator
from bridge.sim.plivo_run import XML_WARNING

CALLER, NUMBER = "+15550100003", "+15550100001"


class Bridge:
    """Answers each webhook with the next document of a script; records forms and refusals."""

    def __init__(self, token: str) -> None:
        self.signatures = PlivoSignatures(token)
        self.script: list[str] = []
        self.forms: list[tuple[str, dict[str, str], str | None]] = []
        self.frames: list[dict[str, Any]] = []
        self.stream_done = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/{path:.*}", self._hook)
        self.app.router.add_get("/media", self._media)
        self.url = ""

    async def _hook(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        refusal = self.signatures.refusal(
            "POST",
            str(request.url),
            form,
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get(NONCE_HEADER),
        )
        self.forms.append((request.path_qs, form, refusal))
        if form.get("Event") == "Hangup":
            return web.Response(status=204)
        document = self.script.pop(0) if self.script else "<Response><Hangup/></Response>"
        return web.Response(
            text=document.replace("{url}", self.url), content_type="application/xml"
        )

    async def _media(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        start = json.loads((await ws.receive()).data)
        self.frames.append(start)
        stream_id = start["start"]["streamId"]
        audio = base64.b64encode(b"\x10" * 1600).decode()
        play = {"contentType": "audio/x-mulaw", "sampleRate": 8000, "payload": audio}
        await ws.send_str(json.dumps({"event": "playAudio", "media": play}))
        await ws.send_str(json.dumps({"event": "checkpoint", "streamId": stream_id, "name": "m1"}))
        await ws.send_str(json.dumps({"event": "playAudio", "media": play | {"sampleRate": 16000}}))
        await ws.send_str("not json")
        async for msg in ws:
            frame = json.loads(msg.data)
            if frame["event"] == "media":
                continue
            self.frames.append(frame)
            if frame["event"] == "playedStream":
                await ws.send_str(json.dumps({"event": "clearAudio", "streamId": stream_id}))
            elif frame["event"] == "clearedAudio":
                break
        await ws.close()
        self.stream_done.set()
        return ws


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
async def plivo(aiohttp_server: Any) -> AsyncIterator[tuple[PlivoSimulator, Bridge]]:
    sim = PlivoSimulator()
    sim.api_url = str((await aiohttp_server(sim.app)).make_url("/v1"))
    bridge = Bridge(sim.auth_token)
    server = await aiohttp_server(bridge.app)
    bridge.url = str(server.make_url("")).rstrip("/")
    sim.answer_url = sim.hangup_url = bridge.url + "/plivo/voice"
    yield sim, bridge
    await sim.close()


async def test_webhooks_are_signed_and_the_menu_posts_the_key(
    plivo: tuple[PlivoSimulator, Bridge],
) -> None:
    sim, bridge = plivo
    menu = (
        '<Response><GetDigits action="{url}/plivo/voice/menu" numDigits="1" timeout="1">'
        "<Speak>Press one</Speak></GetDigits><Redirect>{url}/plivo/voice/menu</Redirect></Response>"
    )
    bridge.script = [menu, "<Response><Speak>Chose</Speak><Hangup/></Response>", menu]
    async with asyncio.timeout(10):
        chose = await sim.place_call(CALLER, NUMBER, digits="2")
        await chose.ended.wait()
        silent = await sim.place_call(CALLER, NUMBER)
        await silent.ended.wait()
    assert [said.text for said in chose.said] == ["Press one", "Chose"]
    assert chose.digits_sent == ["2"]
    assert all(refusal is None for _, _, refusal in bridge.forms)
    (_, answer, _), (menu_path, keyed, _) = bridge.forms[:2]
    assert (answer["From"], answer["To"], answer["Direction"]) == (
        "15550100003",
        "15550100001",
        "inbound",
    )
    assert (menu_path, keyed["Digits"]) == ("/plivo/voice/menu", "2")
    hangup = next(form for _, form, _ in bridge.forms if form.get("Event") == "Hangup")
    assert hangup["CallStatus"] == "completed"
    # No key: on to the element after <GetDigits>, the redirect, with no Digits.
    fetched = [
        (path, "Digits" in form)
        for path, form, _ in bridge.forms
        if form["CallUUID"] == silent.sid and form["Event"] != "Hangup"
    ]
    assert fetched == [("/plivo/voice", False), ("/plivo/voice/menu", False)]


async def test_the_stream_plays_checkpoints_clears_refuses_and_the_xml_goes_on_after_it(
    plivo: tuple[PlivoSimulator, Bridge],
) -> None:
    sim, bridge = plivo
    stream = (
        '<Response><Stream bidirectional="true" keepCallAlive="true" '
        'contentType="audio/x-mulaw;rate=8000" extraHeaders="ticket=abc,leg=1">'
        "ws://{host}/media</Stream><Speak>After the stream</Speak><Hangup/></Response>"
    )
    bridge.script = [stream.replace("{host}", bridge.url.split("//", 1)[1])]
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, NUMBER)
        await call.wait_said("After the stream")
        await call.ended.wait()
    start = bridge.frames[0]
    assert json.loads(start["extra_headers"]) == {"ticket": "abc", "leg": "1"}
    assert start["start"]["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000}
    assert call.stream_parameters == {"ticket": "abc", "leg": "1"}
    assert [f["event"] for f in bridge.frames[1:]] == ["playedStream", "clearedAudio"]
    assert call.heard_media_bytes >= 1600  # the checkpoint came back once its audio played
    assert [w.code for w in call.warnings] == [WRONG_AUDIO, INVALID_FRAME]
    assert call.closed_by == "bridge"


async def test_a_stream_plivo_would_refuse_is_a_warning_not_a_connection(
    plivo: tuple[PlivoSimulator, Bridge],
) -> None:
    sim, bridge = plivo
    bridge.script = [
        '<Response><Stream bidirectional="true" keepCallAlive="true" audioTrack="both">'
        "ws://127.0.0.1:1/media</Stream><Speak>Then this</Speak></Response>"
    ]
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, NUMBER)
        await call.ended.wait()
    assert [w.code for w in call.warnings] == [XML_WARNING]
    assert "audioTrack inbound" in call.warnings[0].message
    assert not call.stream_started.is_set()
    assert [s.text for s in call.said] == ["Then this"]


async def test_the_rest_api_wants_the_accounts_credentials(
    plivo: tuple[PlivoSimulator, Bridge],
) -> None:
    sim, bridge = plivo
    body = {"from": "15550100000", "to": "15550100002", "answer_url": bridge.url + "/a"}
    async with aiohttp.ClientSession() as http:
        for user, token, account in (
            (sim.auth_id, "wrong", sim.auth_id),
            ("MAOTHER", sim.auth_token, sim.auth_id),
            (sim.auth_id, sim.auth_token, "MAOTHERACCOUNT"),
        ):
            url = f"{sim.api_url}/Account/{account}/Call/"
            async with http.post(url, json=body, headers=basic(user, token)) as response:
                assert response.status == 401
                assert "auth" in (await response.json())["error"]
        url = f"{sim.api_url}/Account/{sim.auth_id}/Call/"
        bad = body | {"answer_url": "ftp://x"}
        async with http.post(url, json=bad, headers=basic(sim.auth_id, sim.auth_token)) as response:
            assert response.status == 400
            assert "answer_url" in (await response.json())["error"]
    assert not sim.calls
