from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bridge.audio.wav import parse_wav
from tests.profile import ProfileError, carrier_for, chosen_profile, scenario_of
from tests.store.stack import RecordsStacks

DATA = Path(__file__).parent / "data"
_QUICK_LEFT_OUT = pytest.StashKey[int]()


def pytest_configure(config: pytest.Config) -> None:
    try:
        chosen_profile()
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.addinivalue_line(
        "markers", "long: a real-time run of many seconds, left to CI's profile (tests/profile.py)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The quick profile: each scenario on one of its carriers, no long runs."""
    if chosen_profile() != "quick":
        return
    on_carriers: dict[str, dict[str, pytest.Item]] = defaultdict(dict)
    kept: list[pytest.Item] = []
    for item in items:
        if item.get_closest_marker("long"):
            continue
        carrier = _carrier_of(item)
        if carrier is None:
            kept.append(item)
        else:
            on_carriers[scenario_of(item.nodeid, carrier)][carrier] = item
    for scenario, by_carrier in on_carriers.items():
        kept.append(by_carrier[carrier_for(scenario, sorted(by_carrier))])
    left = set(map(id, kept))
    deselected = [item for item in items if id(item) not in left]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        config.stash[_QUICK_LEFT_OUT] = len(deselected)
        items[:] = [item for item in items if id(item) in left]  # in their collected order


def _carrier_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    carrier = callspec.params.get("carrier_name") if callspec is not None else None
    return carrier if isinstance(carrier, str) else None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run the quick profile left nothing of (`pytest tests/browser`) passed: nothing failed."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and session.config.stash.get(
        _QUICK_LEFT_OUT, 0
    ):
        session.exitstatus = pytest.ExitCode.OK


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say when the quick profile ran: a green developer run is not CI's."""
    if chosen_profile() == "quick":
        terminalreporter.write_line(
            "quick profile: each e2e scenario ran on one carrier, the long runs were left out, "
            "the fuzzers tried a few hundred cases; CI=true or TEST_PROFILE=ci runs everything"
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
