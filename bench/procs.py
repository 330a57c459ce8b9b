"""Child processes for the load benchmark: started pinned to a core, measured, stopped.

The bridge and the floor relay each get a core to themselves (`taskset`, or `sched_setaffinity`
where taskset is missing); the harness, the generator and the simulator share the other one.
CPU time and RSS come from psutil, read around the measurement window only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp
import psutil  # type: ignore[import-untyped]  # no stubs installed

ROOT = Path(__file__).resolve().parents[1]


def cores() -> tuple[int | None, int | None]:
    """(core for the process under test, core for the load), or None where there is no choice."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return available[0], available[1]


def pin_self(core: int | None) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})


@dataclass
class Child:
    proc: subprocess.Popen[bytes]
    ps: psutil.Process
    log: Path | None

    @classmethod
    def spawn(
        cls,
        argv: list[str],
        core: int | None,
        *,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        stdout: int | IO[bytes] | None = None,
    ) -> Child:
        prefix: list[str] = []
        taskset = shutil.which("taskset")
        if core is not None and taskset:
            prefix = [taskset, "-c", str(core)]
        out: int | IO[bytes] | None = stdout
        if log is not None:
            out = log.open("wb")
        proc = subprocess.Popen(
            prefix + argv,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if log is not None else None,
        )
        if core is not None and not prefix:
            os.sched_setaffinity(proc.pid, {core})
        return cls(proc, psutil.Process(proc.pid), log)

    def cpu_s(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        return int(self.ps.memory_info().rss)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    async def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM (the bridge drains and exits 0), then SIGKILL if it will not go."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        for _ in range(int(timeout_s * 20)):
            if not self.alive():
                break
            await asyncio.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        return self.proc.wait()


async def wait_healthy(
    http: aiohttp.ClientSession, url: str, child: Child, timeout_s: float
) -> None:
    """Until `url` answers 200; a child that died or never answers is an error with its log."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if not child.alive():
            raise RuntimeError(f"process exited with {child.proc.returncode}:\n{child.log_tail()}")
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(url) as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s:\n{child.log_tail()}")
