"""An agent using the real console page (bridge/web/console/) in headless Chromium.

What a person does, done with Playwright: open the sign-in link, wait for the ring, click
Answer, watch the captions, click Hang up. What the page knows about its own audio comes from
`window.kallglotConsole` (frames sent and received, underruns, marks echoed, and how long each
received frame waited in the speaker's jitter buffer). Used by `demo --agent browser`,
`make demo`'s screenshot, and tests/browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 15_000


class BrowserAgent:
    def __init__(self, page: Page) -> None:
        self.page = page

    @classmethod
    async def sign_in(cls, browser: Browser, link: str) -> BrowserAgent:
        """Opens the console at the sign-in `link`; returns once it is signed in and idle."""
        page = await browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(link)
        agent = cls(page)
        await agent.wait_state("idle")
        return agent

    async def state(self) -> str:
        return str(await self.page.evaluate("window.kallglotConsole.state"))

    async def wait_state(self, *states: str) -> None:
        await self.page.wait_for_function(
            "states => states.includes(window.kallglotConsole && window.kallglotConsole.state)",
            arg=list(states),
        )

    async def answer(self) -> None:
        """Waits for the ring, answers, and returns once the call's audio is connected."""
        await self.wait_state("ringing")
        await self.page.click("#answer")
        await self.wait_state("in-call")

    async def decline(self) -> None:
        await self.wait_state("ringing")
        await self.page.click("#decline")

    async def hang_up(self) -> None:
        await self.page.click("#hangup")
        await self.wait_state("ended")

    async def wait_caption(self, speaker: str, text: str, *, final: bool = True) -> dict[str, str]:
        """The first caption of `speaker` whose text contains `text`, as the page shows it."""
        selector = f'#captions .caption[data-speaker="{speaker}"]'
        if final:
            selector += '[data-final="true"]'
        caption = self.page.locator(selector).filter(has_text=text).first
        await caption.wait_for()
        return {
            "text": await caption.locator(".text").inner_text(),
            "translation": await caption.locator(".translation").inner_text(),
        }

    async def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = await self.page.evaluate("window.kallglotConsole.stats")
        return stats

    async def status(self) -> str:
        return await self.page.locator("#status").inner_text()

    async def screenshot(self, path: Path) -> None:
        await self.page.screenshot(path=str(path))
