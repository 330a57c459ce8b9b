"""The demo's look at the agent console: a screenshot of it mid-call (`demo-out/console.png`).

The console of the call's agent is opened in headless Chromium (bridge/sim/chromium.py) while
the call is live; it replays the captions so far, and the page is photographed once the
customer's caption and its translation show. Without Chromium the demo goes on and says how to
get the screenshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bridge.calls.console_keys import ConsoleKey, issue_key
from bridge.sim.browser_agent import BrowserAgent
from bridge.sim.chromium import browsers, missing
from bridge.sim.speech import AGENT_EN, speech_wav

LINK_TTL_S = 3600
CUSTOMER_CAPTION = "customer utterance 1"  # the simulator's text for the customer's first turn


def console_link(bridge_url: str, secret: bytes, agent: str) -> str:
    """A sign-in link for `agent`, as `POST /v1/agents/{id}/console-links` would issue it."""
    key = issue_key(ConsoleKey(agent, int(time.time()) + LINK_TTL_S), secret)
    return f"{bridge_url}/console#key={key}"


async def photograph_console(link: str, out: Path, progress: Callable[[str], None]) -> Path | None:
    """Opens the console at `link`, waits for the customer's first caption, saves the page as
    `out`/console.png. None (and a line saying why) where Chromium cannot run here."""
    problem = missing()
    if problem is not None:
        progress(f"no console screenshot: {problem}")
        return None
    shot = out / "console.png"
    mic = out / "agent-mic.wav"
    mic.write_bytes(speech_wav(AGENT_EN))  # never opened: a phone agent's console only watches
    async with browsers(out) as launcher:
        agent = await BrowserAgent.sign_in(await launcher.launch(mic), link)
        await agent.wait_caption("customer", CUSTOMER_CAPTION)
        await agent.screenshot(shot)
    progress(f"the agent's console, mid-call: {shot}")
    return shot
