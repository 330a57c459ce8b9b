from __future__ import annotations

from pathlib import Path

import pytest

from bridge.audio.wav import parse_wav

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
