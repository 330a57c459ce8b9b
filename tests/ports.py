"""A port for a test server whose URL must be known before the server exists.

The bridge's public URL goes into its own configuration (and the simulators' webhooks), so its
port is chosen first. Probing a free port and binding it later leaves a gap in which any
connection the test opens meanwhile (to a simulator, a browser's) may be given that very port
as its local one, and the bind then fails with EADDRINUSE. A `ReservedPort` is bound at once and
handed to the server as its socket.
"""

from __future__ import annotations

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
