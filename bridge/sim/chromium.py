"""Headless Chromium with a WAV file as its microphone, driven by Playwright: the agent of
`demo --agent browser`, `make demo`'s console screenshot, and the tests in tests/browser.

The browser is the OS's Chromium (Debian: `apt-get install chromium`), never Playwright's own
download, which needs the internet; BRIDGE_CHROMIUM points at another Chromium or Chrome.

How Chromium's fake microphone treats the file (Chromium 156): any integer-PCM WAV at any rate
works (8 kHz telephony fixtures included; it resamples), and it loops the file from the moment
a page's getUserMedia opens the device. With `%noloop` it plays the file once and then repeats
its last ~10 ms buffer forever (a buzz, not silence), so `loop=False` plays a copy that ends in
silence.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from bridge.audio.wav import build_wav, parse_wav

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

DEFAULT_CHROMIUM = "/usr/bin/chromium"
NOLOOP_PADDING_S = 0.1  # longer than the one buffer Chromium repeats after a `%noloop` file


class ChromiumMissing(RuntimeError):
    """Chromium or the playwright package is not installed; the message says how to fix it."""


def chromium_path() -> Path:
    return Path(os.environ.get("BRIDGE_CHROMIUM", DEFAULT_CHROMIUM))


def missing() -> str | None:
    """What is missing to drive Chromium here, and how to install it (None: nothing)."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make install installs it)"
    path = chromium_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        return (
            f"Chromium not found at {path} (apt-get install chromium, or point BRIDGE_CHROMIUM "
            "at a Chromium or Chrome binary)"
        )
    return None


def chromium_args(mic: Path, *, loop: bool) -> list[str]:
    """Flags for an unattended, root-in-a-container Chromium whose microphone is `mic`."""
    if "%" in str(mic):
        raise ValueError(f"{mic}: Chromium reads '%' in the capture path as an option; rename it")
    capture = str(mic) if loop else f"{mic}%noloop"
    return [
        "--no-sandbox",  # the sandbox refuses to start as root, and containers run as root
        "--disable-dev-shm-usage",  # Docker's 64 MB /dev/shm crashes renderers; use /tmp
        "--use-fake-ui-for-media-stream",  # grant getUserMedia without a permission prompt
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={capture}",
        "--autoplay-policy=no-user-gesture-required",  # AudioContext runs without a click
    ]


def microphone_file(mic_wav: Path, scratch: Path, *, loop: bool) -> Path:
    """The file to capture from: `mic_wav`, or for `%noloop` a copy in `scratch` that ends in
    silence (so the buffer Chromium then repeats is quiet)."""
    if not mic_wav.is_file():
        raise FileNotFoundError(f"microphone WAV {mic_wav} does not exist")
    if loop:
        return mic_wav
    fmt, pcm = parse_wav(mic_wav.read_bytes())
    silence = bytes(2 * round(fmt.sample_rate * NOLOOP_PADDING_S))
    padded = scratch / f"noloop-{mic_wav.name}"
    padded.write_bytes(build_wav(fmt.sample_rate, pcm + silence))
    return padded


@asynccontextmanager
async def browsers(scratch: Path) -> AsyncIterator[BrowserLauncher]:
    """Launches headless Chromium browsers, each with its own WAV microphone; closes them all
    on exit. Raises ChromiumMissing where it cannot."""
    problem = missing()
    if problem is not None:
        raise ChromiumMissing(problem)
    from playwright.async_api import async_playwright

    async with AsyncExitStack() as stack:
        playwright = await stack.enter_async_context(async_playwright())
        launcher = BrowserLauncher(playwright, stack, scratch)
        yield launcher


class BrowserLauncher:
    def __init__(self, playwright: Playwright, stack: AsyncExitStack, scratch: Path) -> None:
        self._playwright = playwright
        self._stack = stack
        self._scratch = scratch

    async def launch(self, mic_wav: Path, *, loop: bool = True) -> Browser:
        mic = microphone_file(mic_wav, self._scratch, loop=loop)
        browser = await self._playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=chromium_args(mic, loop=loop)
        )
        self._stack.push_async_callback(browser.close)
        return browser
