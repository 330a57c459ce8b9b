"""`python -m bridge demo --agent browser`: the demo call with the agent in the console.

The customer is a simulated phone; the agent is the real console page in headless Chromium,
whose microphone plays the English agent's recorded sentence (after a pause, so the customer
speaks first). The agent answers in the page, hears the customer, sees the captions, speaks,
and hangs up in the page. The summary says what a user of the console asks first: did every
frame cross the browser's link (both ways, the page's count against the bridge's), and how much
delay the browser leg adds per direction.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bridge.audio import codecs
from bridge.audio.formats import Encoding
from bridge.audio.wav import build_wav, parse_wav
from bridge.calls.model import Role
from bridge.demo import (
    Progress,
    percentiles,
    quiet,
    received_audio,
    speech_pcm,
    voiced_frames,
)
from bridge.demo_console import CUSTOMER_CAPTION, console_link
from bridge.demo_stack import CENTRE, CUSTOMER, SECRET, demo_stack
from bridge.sim.browser_agent import BrowserAgent
from bridge.sim.carrier import CarrierSimulator
from bridge.sim.chromium import browsers
from bridge.sim.kallglot import KallglotSimulator
from bridge.sim.speech import AGENT_EN, CUSTOMER_DE, speech_wav
from bridge.web.keys import REGISTRY

AGENT_ID = "alice"
AGENT_PAUSE_S = 6.0  # the agent listens first: their sentence starts this long after answering
ROUTES = f"""
[routes."{CENTRE}"]
agent = "browser:{AGENT_ID}"
customer_language = "de"
agent_language = "en"
"""


async def demo_browser(
    out: Path, delay: float, port: int, progress: Progress = quiet
) -> dict[str, Any]:
    progress("starting the Kallglot and twilio simulators, and headless Chromium")
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before any call starts
    fmt, agent_pcm = parse_wav(speech_wav(AGENT_EN))
    mic = out / "agent-mic.wav"
    mic.write_bytes(build_wav(fmt.sample_rate, bytes(int(2 * 8000 * AGENT_PAUSE_S)) + agent_pcm))
    kallglot = KallglotSimulator(translation_delay_s=delay)
    carrier = CarrierSimulator(default_phone=None)
    async with browsers(out) as launcher, demo_stack(out, ROUTES, kallglot, carrier, port) as stack:
        browser = await launcher.launch(mic, loop=False)
        agent = await BrowserAgent.sign_in(
            browser, console_link(stack.url, SECRET.encode(), AGENT_ID)
        )
        progress(f"agent {AGENT_ID} signed in to {stack.url}/console; the customer dials")
        customer = await carrier.place_call(CUSTOMER, CENTRE, stack.url + "/twilio/voice")
        async with asyncio.timeout(60):
            await agent.answer()
            call = await stack.app[REGISTRY].wait_for()
            await call.activated.wait()
            progress("the agent answered in the page; the customer speaks German")
            customer.speak(speech_pcm(CUSTOMER_DE))
            await agent.wait_caption("customer", CUSTOMER_CAPTION)
            progress("the page shows the caption; the agent answers in English")
            said = voiced_frames(
                (0.0, frame) for frame in _frames(codecs.encode(Encoding.MULAW, agent_pcm))
            )
            await customer.wait_until(lambda: _heard(customer) >= 0.9 * len(said))
            await agent.wait_caption("agent", "agent utterance")
            await agent.screenshot(out / "console-browser.png")
            progress("the customer heard it; the agent hangs up in the page")
            await agent.hang_up()
            await call.ended()
            await customer.ended.wait()
        page = await agent.stats()
    leg = call.summary().legs[Role.AGENT.value]
    connection = call.legs[Role.AGENT].connection
    assert connection is not None
    return {
        "call_id": call.id,
        "end_reason": call.end_reason.value if call.end_reason else None,
        "translation_delay_s": delay,
        "page": {k: v for k, v in page.items() if k != "jitterDelayMs"},
        "lost": {
            "page_to_bridge": page["framesSent"] - leg.frames_in,
            "bridge_to_page": leg.frames_out - page["framesReceived"],
            "dropped_in_bridge": leg.frames_dropped,
        },
        "added_delay_ms": {
            "to_kallglot": percentiles(list(connection.delays.inbound)),
            "to_page": percentiles(list(connection.delays.outbound)),
            "page_jitter_buffer": percentiles([ms / 1000 for ms in page["jitterDelayMs"]]),
        },
        "customer_heard_voiced_frames": _heard(customer),
        "agent_said_voiced_frames": len(said),
        "out": str(out),
    }


def render_browser(summary: dict[str, Any]) -> str:
    lost, delay = summary["lost"], summary["added_delay_ms"]

    def spread(name: str) -> str:
        d = delay[name]
        return f"p50 {d.get('p50')}  p95 {d.get('p95')}  max {d.get('max')}" if d else "n/a"

    return "\n".join(
        [
            f"Demo call {summary['call_id']} with the agent in the browser console, "
            f"ended by {summary['end_reason']}",
            "",
            "Frames lost on the browser leg: "
            f"page -> bridge {lost['page_to_bridge']}, bridge -> page {lost['bridge_to_page']}, "
            f"dropped in the bridge {lost['dropped_in_bridge']}",
            f"  (the page sent {summary['page']['framesSent']} and received "
            f"{summary['page']['framesReceived']} 20 ms frames; {summary['page']['underruns']} "
            f"speaker underruns; {summary['page']['marksEchoed']} marks echoed)",
            "",
            "Delay the browser leg adds (ms):",
            f"  mic -> Kallglot   (chunk complete to sent)            {spread('to_kallglot')}",
            f"  Kallglot -> page  (translation in to first frame out) {spread('to_page')}",
            f"  page jitter buffer (frame arrived to playing)         {spread('page_jitter_buffer')}",
            "",
            f"Voiced frames: the agent said {summary['agent_said_voiced_frames']}, the customer "
            f"heard {summary['customer_heard_voiced_frames']} (resampled 48 kHz -> 8 kHz)",
            f"Console screenshot: {summary['out']}/console-browser.png",
        ]
    )


def lost_frames(summary: dict[str, Any]) -> int:
    return int(sum(summary["lost"].values()))


def _frames(audio: bytes) -> list[bytes]:
    return [audio[i : i + 160] for i in range(0, len(audio), 160)]


def _heard(customer: Any) -> int:
    return len(voiced_frames((0.0, frame) for frame in _frames(received_audio(customer))))
