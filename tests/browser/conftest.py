"""Headless Chromium driven by Playwright, with a WAV file as its microphone.

The browser is the OS's Chromium (bridge/sim/chromium.py says why and how it treats the
microphone file). Where Chromium or the playwright package is missing the tests skip with how
to install it, except under CI (`CI=true`), where a skip would hide a gap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

from bridge.sim.chromium import browsers, missing
from tests.e2e.conftest import carrier_name, make_stack  # noqa: F401 - the e2e stack fixtures
from tests.store.pg import skip_or_fail

if TYPE_CHECKING:
    from playwright.async_api import Browser

DATA = Path(__file__).resolve().parents[1] / "data"
SPEECH_WAV = DATA / "agent_en.wav"


class LaunchBrowser(Protocol):
    def __call__(self, mic_wav: Path, *, loop: bool = True) -> Awaitable[Browser]: ...


def require_chromium() -> None:
    """Skips (fails under CI) unless both Chromium and the playwright package are here."""
    problem = missing()
    if problem is not None:
        skip_or_fail(problem)


@pytest.fixture
async def launch_browser(tmp_path: Path) -> AsyncIterator[LaunchBrowser]:
    """Launches headless Chromium browsers, each with its own WAV microphone; closes them all."""
    require_chromium()
    async with browsers(tmp_path) as launcher:
        yield launcher.launch


@pytest.fixture
async def browser(launch_browser: LaunchBrowser) -> Browser:
    """One Chromium whose microphone loops the English agent's speech."""
    return await launch_browser(SPEECH_WAV)
