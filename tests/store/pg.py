"""A throw-away PostgreSQL cluster for tests: initdb into a temp dir, one free loopback port.

Shared by the store suite (every PostgreSQL-flavoured test gets a fresh database in it) and the
cluster test (the bridges' records database). initdb refuses to run as root, so as root the
server runs as the `postgres` user on a directory that user owns. Where PostgreSQL is not
installed the tests skip, except under CI (`CI=true`), where a missing server is a failure.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from tests.ports import port_for_a_process

SERVER_USER = "postgres"


def skip_or_fail(reason: str) -> None:
    """Skips locally; under CI a missing dependency must fail the run, not hide it."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: .ci/run installs it; this must not be skipped)")
    pytest.skip(reason)


def postgres_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    installed = glob.glob("/usr/lib/postgresql/*/bin/initdb")  # Debian keeps them off PATH
    if not installed:
        return None
    newest = max(installed, key=lambda p: int(Path(p).parts[-3].split(".")[0]))
    return Path(newest).parent


class PostgresServer:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = port_for_a_process()
        self.root = Path(tempfile.mkdtemp(prefix="kallglot-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed:\n{result.stdout}{result.stderr}\n{log}")

    def start(self) -> None:
        if self._as_root:
            shutil.chown(self.root, SERVER_USER, SERVER_USER)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = " ".join(
            (
                f"-p {self.port}",
                f"-k {self.root}",  # the unix socket stays in the temp dir
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",  # throw-away: durability buys nothing here
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            )
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def create_database(self) -> str:
        """A new, empty database; its URL."""
        name = "test_" + secrets.token_hex(6)
        connection = await asyncpg.connect(self.url())
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = postgres_bindir()
    if bindir is None:
        skip_or_fail("PostgreSQL is not installed (apt-get install postgresql)")
        raise AssertionError("unreachable")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        skip_or_fail("running as root needs runuser to start PostgreSQL as its own user")
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
