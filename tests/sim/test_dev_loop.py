"""The dev loop as a newcomer runs it: `serve` with its simulators prints a `call` command, and
that command places the call in the same simulated carrier the bridge dials the agent into.

So both legs are recorded, and when the agent does not answer the caller hears the route's
apology (with two simulators the bridge's update of the caller's leg went to the wrong one and
failed with 20404). When a call fails, `call` says why, in the carrier's words.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.ports import port_for_a_process

ROOT = Path(__file__).resolve().parents[2]
ROUTES = ROOT / "deploy" / "routes.example.toml"  # what `make run` uses
APOLOGY = "Leider ist gerade niemand erreichbar. Bitte rufen Sie später wieder an."


@dataclass
class DevServe:
    process: subprocess.Popen[str]
    command: list[str]  # the printed `call` command, split
    output: list[str] = field(default_factory=list)  # everything serve wrote, stdout and stderr


@pytest.fixture(scope="module")
def dev_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServe]:
    """`python -m bridge serve` as `make run` starts it: no Kallglot key, no carrier account."""
    workdir = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALLGLOT_", "TWILIO_"))}
    env |= {
        "BRIDGE_PORT": str(port_for_a_process()),
        "BRIDGE_ROUTES": str(ROUTES),
        "BRIDGE_DATABASE_URL": f"sqlite:///{workdir / 'calls.db'}",
        "BRIDGE_LOG_JSON": "true",
        "PYTHONUNBUFFERED": "1",
    }
    for name in [k for k in env if k.startswith("TELNYX_")]:
        del env[name]
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", "serve"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    command: list[str] | None = None
    listening = False
    for line in process.stdout:  # until the command is printed and the bridge listens
        output.append(line)
        if line.startswith("Place a test call with:"):
            command = shlex.split(next(process.stdout))
        listening = listening or '"bridge_listening"' in line
        if command is not None and listening:
            break
    assert command is not None, "".join(output[-20:])
    assert listening, "".join(output[-20:])
    served = DevServe(process, command, output)
    drain = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    drain.start()
    try:
        yield served
    finally:
        process.terminate()
        process.wait(timeout=30)
        drain.join(timeout=10)


def run_call(command: list[str], *extra: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, *extra], cwd=cwd, capture_output=True, text=True, timeout=90, check=False
    )


def summary_in(folder: Path) -> dict[str, Any]:
    [path] = folder.rglob("summary.json")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def test_the_printed_command_records_both_legs_in_its_own_folder(
    dev_serve: DevServe, tmp_path: Path
) -> None:
    assert "--sim" in dev_serve.command

    done = run_call(dev_serve.command, "--hangup-after", "3", cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert not (tmp_path / "demo-out").exists()
    [folder] = (tmp_path / "call-out").iterdir()  # call-out/<UTC time>
    summary = summary_in(folder)
    caller, agent = summary["caller"], summary["callee-1"]
    assert agent["to"] == "+15550100002"  # the route's agent, dialled into the same simulator
    assert caller["statuses"][-1] == agent["statuses"][-1] == "completed"
    assert caller["heard_bridge_audio_s"] > 0
    assert agent["heard_bridge_audio_s"] > 0
    assert (folder / "callee-1-heard.wav").stat().st_size > 44
    assert "failed" not in done.stdout


def test_an_agent_who_does_not_answer_leaves_the_caller_the_apology(
    dev_serve: DevServe, tmp_path: Path
) -> None:
    done = run_call(
        dev_serve.command,
        *("--hangup-after", "20", "--agent-answer", "no-answer", "--out", str(tmp_path)),
        cwd=tmp_path,
    )

    summary = summary_in(tmp_path)
    assert APOLOGY in [said["text"] for said in summary["caller"]["said"]], done.stdout
    assert summary["callee-1"]["statuses"][-1] == "no-answer"
    assert "callee-1: " in done.stdout
    assert "failed: the call ended no-answer" in done.stdout
    assert f"caller was told: {APOLOGY!r}" in done.stdout
    assert "20404" not in "".join(dev_serve.output)


def test_a_webhook_the_bridge_refuses_is_reported_with_the_carriers_code(
    dev_serve: DevServe, tmp_path: Path
) -> None:
    """Without --sim and with a token the bridge does not share, its webhook answers 403."""
    command = [arg for arg in dev_serve.command]
    sim_at = command.index("--sim")
    del command[sim_at : sim_at + 2]
    command[command.index("--auth-token") + 1] = "not-the-bridges-token"

    done = run_call(command, "--hangup-after", "2", "--out", str(tmp_path), cwd=tmp_path)

    assert done.returncode == 1
    assert "heard 0.0 s; failed: carrier warning 11200:" in done.stdout
    assert "/twilio/voice failed: 403" in done.stdout
    assert summary_in(tmp_path)["caller"]["warnings"][0]["code"] == 11200


def test_the_dev_simulator_refuses_a_call_with_the_wrong_credentials(
    dev_serve: DevServe, tmp_path: Path
) -> None:
    command = list(dev_serve.command)
    command[command.index("--auth-token") + 1] = "not-the-simulators-token"

    done = run_call(command, "--hangup-after", "2", "--out", str(tmp_path), cwd=tmp_path)

    assert done.returncode == 1
    assert "answered 401" in done.stderr
    assert "--auth-token" in done.stderr
    assert not (tmp_path / "summary.json").exists()


def test_an_unreachable_simulator_is_named_with_what_to_check(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bridge", "call", "--bridge", "http://127.0.0.1:9"]
    command += ["--to", "+15550100001", "--sim", f"http://127.0.0.1:{port_for_a_process()}"]

    done = run_call(command, "--account-sid", "AC1", "--auth-token", "x", cwd=tmp_path)

    assert done.returncode == 1
    assert "cannot reach the simulator at --sim" in done.stderr
    assert "Is `serve` running" in done.stderr
