"""The bridge's public URLs: what carriers call, rebuilt from BRIDGE_PUBLIC_URL.

Behind a proxy or tunnel a request's own URL is the internal address, so every URL a carrier
signs or is handed (webhooks, media WebSockets) is built from the configured public base.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

_WS_SCHEMES = {"https": "wss", "http": "ws"}


def public_http_url(base: str, path_qs: str) -> str:
    """`https://bridge.example.com` + `/twilio/voice?x=1`, as the carrier requested it."""
    if not path_qs.startswith("/"):
        raise ValueError(f"path must start with '/': {path_qs!r}")
    return base.rstrip("/") + path_qs


def public_ws_url(base: str, path: str) -> str:
    """A media WebSocket URL: the public base with https→wss, http→ws."""
    parts = urlsplit(public_http_url(base, path))
    scheme = _WS_SCHEMES.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"public base URL must be http(s), got {parts.scheme!r}")
    return urlunsplit(parts._replace(scheme=scheme))
