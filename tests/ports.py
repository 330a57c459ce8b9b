"""A port for a test server whose URL must be known before the server exists.

The bridge's public URL goes into its own configuration (and the simulators' webhooks), so its
port is chosen first. Probing a free port and binding it later leaves a gap in which any
connection the test opens meanwhile (to a simulator, a browser's) may be given that very port
as its local one, and the bind then fails with EADDRINUSE. A `ReservedPort` is bound at once and
handed to the server as its socket.
"""

from __future__ import annotations

import random
import socket


class ReservedPort:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.port: int = self._socket.getsockname()[1]

    def socket_factory(self, host: str, port: int, family: socket.AddressFamily) -> socket.socket:
        """For aiohttp's TestServer (`aiohttp_server(app, port=..., socket_factory=...)`)."""
        return self._socket


def port_for_a_process(host: str = "127.0.0.1") -> int:
    """A port for a child process to bind (a socket is not easily handed over), chosen below
    the kernel's ephemeral range: connections opened meanwhile, by this test or another worker,
    are given local ports only from that range, so they cannot take it. The choice is random,
    so two workers pick the same port about once in twenty thousand tries, and is checked free.
    """
    low = _ephemeral_low()
    while True:
        port = random.randrange(max(1024, low - 20_000), low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        return port


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            return int(ports.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default; other systems use 49152 and up, above this
