"""`python -m bridge sim-kallglot`: arguments, and a real process serving a real request."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import aiohttp
import pytest

from bridge.sim import kallglot_cli


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    kallglot_cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_defaults() -> None:
    args = parse()

    assert (args.host, args.port, args.api_key, args.delay) == (
        "127.0.0.1",
        8765,
        "sk_test_sim",
        0.3,
    )
    assert args.fail_creates == []


def test_faults_from_the_command_line() -> None:
    args = parse("--fail-creates", "503:3", "--fail-creates", "429", "--drop-after", "2", "--stall")

    assert args.fail_creates == [(503, 3), (429, 1)]
    assert (args.drop_after, args.stall, args.refuse_reconnects) == (2.0, True, False)


def test_a_bad_failure_spec_is_an_argument_error() -> None:
    with pytest.raises(SystemExit):
        parse("--fail-creates", "five-oh-three")


async def test_the_simulator_process_prints_where_it_listens_and_serves() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge", "sim-kallglot", "--port", "0", "--api-key", "sk_test_cli",
        "--fail-creates", "503:1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        async with asyncio.timeout(15):
            lines = [(await process.stdout.readline()).decode() for _ in range(3)]
        url = lines[1].split("=", 1)[1].strip()
        assert lines[2].strip() == "export KALLGLOT_API_KEY=sk_test_cli"
        async with aiohttp.ClientSession() as http:
            auth = {"Authorization": "Bearer sk_test_cli"}
            body = {"mode": "bidirectional_translation"}
            first = await http.post(f"{url}/sessions", json=body, headers=auth)
            second = await http.post(f"{url}/sessions", json=body, headers=auth)
        assert (first.status, second.status) == (503, 201)
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            code = await process.wait()
    assert code == 0
