"""The simulator's command-line tools, run in-process against the tiny bridge."""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from bridge.audio.wav import parse_wav
from bridge.sim import call_cli, carrier_cli
from bridge.sim.carrier import CarrierSimulator
from tests.conftest import DATA
from tests.sim.test_carrier_sim import TinyBridge


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_call_cli_places_a_call_and_writes_what_was_heard(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    token = "cli-test-token"
    bridge = TinyBridge(CarrierSimulator(auth_token=token))
    server: TestServer = await aiohttp_server(bridge.app)
    bridge.base = str(server.make_url("")).rstrip("/")
    parser = argparse.ArgumentParser()
    call_cli.add_arguments(parser)
    args = parser.parse_args(
        [
            "--bridge", bridge.base,
            "--to", "+15550100009",
            "--voice-path", "/voice",
            "--audio", str(DATA / "customer_de.wav"),
            "--hangup-after", "0.6",
            "--auth-token", token,
            "--account-sid", "AC" + "1" * 32,
            "--api-url", f"http://127.0.0.1:{free_port()}",
            "--out", str(tmp_path),
        ]
    )  # fmt: skip

    assert await call_cli.place(args) == 0

    summary = json.loads((tmp_path / "summary.json").read_text())
    caller = summary["caller"]
    assert caller["statuses"] == ["ringing", "in-progress", "completed"]
    assert caller["stream_parameters"] == ["session"]
    assert caller["warnings"] == []
    assert caller["heard_bridge_audio_s"] > 0.3  # its own voice, echoed
    fmt, pcm = parse_wav((tmp_path / caller["heard_wav"]).read_bytes())
    assert fmt.sample_rate == 8000
    assert len(pcm) == 2 * int(caller["heard_s"] * 8000)


def test_cli_argument_parsing() -> None:
    parser = argparse.ArgumentParser()
    carrier_cli.add_arguments(parser)
    args = parser.parse_args(["--port", "0", "--phone", "+15550100002:busy", "--phone", "+1555"])
    phones, answering = carrier_cli.phones_from(args)
    assert phones["+15550100002"].answer == "busy"
    assert phones["+1555"].answer == "answer"
    assert answering.answer == "answer"
    assert call_cli.rest_address("http://127.0.0.1:8089") == ("127.0.0.1", 8089)
    assert call_cli.rest_address("https://api.twilio.com") is None
    assert call_cli.rest_address(None) is None
