"""nginx for the cluster test, from the deployment's own config (deploy/nginx), in a temp dir.

The deployment's server block is rendered with this test's ports and wrapped in a minimal main
config whose every path (pid, logs, temp files) is inside the test's directory, so nothing
needs root and nothing outside the directory is touched. nginx runs in the foreground as a
child of the test and is stopped by it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "bridge.conf.template"

MAIN = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log notice;
{user}
events {{ worker_connections 4096; }}
http {{
    log_format cluster '$request_method $uri $status upstream=$upstream_addr '
                       'upstream_status=$upstream_status';
    access_log {root}/access.log cluster;
    client_body_temp_path {root}/temp/body;
    proxy_temp_path {root}/temp/proxy;
    fastcgi_temp_path {root}/temp/fastcgi;
    uwsgi_temp_path {root}/temp/uwsgi;
    scgi_temp_path {root}/temp/scgi;
    include {root}/bridge.conf;
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def render(port: int, upstreams: list[str]) -> str:
    """The deployment's server block for these ports (what the nginx image does with envsubst)."""
    values = {"NGINX_PORT": str(port)}
    values.update({f"UPSTREAM_{i}": address for i, address in enumerate(upstreams, 1)})
    return Template(TEMPLATE.read_text()).safe_substitute(values)


class Nginx:
    def __init__(self, binary: str, root: Path, port: int, upstreams: list[str]) -> None:
        self.binary = binary
        self.root = root
        self.port = port
        self.upstreams = upstreams
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.root / "access.log"

    async def start(self) -> None:
        (self.root / "temp").mkdir(parents=True, exist_ok=True)
        (self.root / "bridge.conf").write_text(render(self.port, self.upstreams))
        # As root, nginx would hand its workers to "nobody", who cannot enter a 0700 temp dir.
        user = "user root;" if os.geteuid() == 0 else ""
        (self.root / "nginx.conf").write_text(MAIN.format(root=self.root, user=user))
        self.process = await asyncio.create_subprocess_exec(
            self.binary,
            "-p",
            f"{self.root}/",
            "-c",
            str(self.root / "nginx.conf"),
            "-e",
            str(self.root / "error.log"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await wait_for_port(self.port, self.process, self.root / "error.log")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()  # SIGTERM: nginx's fast shutdown
            await self.process.wait()


async def wait_for_port(
    port: int, process: asyncio.subprocess.Process, log: Path, timeout_s: float = 20
) -> None:
    """Until something accepts connections on `port`; fails at once if `process` exits."""
    async with asyncio.timeout(timeout_s):
        while True:
            if process.returncode is not None:
                raise RuntimeError(
                    f"exited with {process.returncode} before listening:\n{_tail(log)}"
                )
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return


def _tail(log: Path) -> str:
    return log.read_text()[-4000:] if log.exists() else ""
