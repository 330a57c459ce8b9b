from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bridge.audio.wav import parse_wav
from tests.fuzz.profile import FuzzProfileError, fuzz_profile
from tests.store.stack import RecordsStacks

DATA = Path(__file__).parent / "data"


def pytest_configure(config: pytest.Config) -> None:
    try:
        fuzz_profile()
    except FuzzProfileError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say when the fuzzers ran their quick pass: a green developer run is not CI's."""
    reports = (r for rs in terminalreporter.stats.values() for r in rs if hasattr(r, "nodeid"))
    fuzzed = any(r.nodeid.startswith("tests/fuzz/") for r in reports)
    if fuzzed and fuzz_profile() == "quick":
        terminalreporter.write_line(
            "fuzzers ran the quick profile (a few hundred cases each); CI=true or "
            "FUZZ_PROFILE=ci runs the full 10,000"
        )


def speech_pcm(name: str) -> bytes:
    """A shipped speech fixture as 8 kHz little-endian PCM16."""
    fmt, pcm = parse_wav((DATA / f"{name}.wav").read_bytes())
    assert fmt.sample_rate == 8000
    return pcm


@pytest.fixture(scope="session")
def customer_speech() -> bytes:
    return speech_pcm("customer_de")


@pytest.fixture(scope="session")
def agent_speech() -> bytes:
    return speech_pcm("agent_en")


@pytest.fixture
async def stacks(aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[RecordsStacks]:
    """Bridges sharing one call-records database (see tests/store/stack.py)."""
    made = RecordsStacks(aiohttp_server, tmp_path)
    yield made
    await made.close()
