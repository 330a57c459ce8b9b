from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.audio.wav import parse_wav
from tests.store.stack import RecordsStacks

DATA = Path(__file__).parent / "data"


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
async def stacks(
    aiohttp_server: Any, unused_tcp_port_factory: Callable[[], int], tmp_path: Path
) -> AsyncIterator[RecordsStacks]:
    """Bridges sharing one call-records database (see tests/store/stack.py)."""
    made = RecordsStacks(aiohttp_server, unused_tcp_port_factory, tmp_path)
    yield made
    await made.close()
