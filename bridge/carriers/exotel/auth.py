"""How Exotel proves itself to us, and how we hand it what it must hand back.

Exotel signs no webhook and no media upgrade (carriers.md §6.2): it authenticates with the HTTP
Basic credentials written into the URLs it calls (`https://user:pass@host/...` becomes
`Authorization: Basic base64(user:pass)`). So one shared password guards the Voicebot applet's
URL, the status callbacks and the media streams; it is compared in constant time, and every
check fails closed (a malformed header is a reason to refuse, never an exception).

A dialled party's flow fetches the same applet URL as a caller's, told apart only by the
`CustomField` our dial set. That field carries the leg's stream target (URL and ticket),
sealed with an HMAC under the webhook password, so `/exotel/voice` can answer it statelessly on
any instance and nobody can make it return a URL of their choosing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from bridge.carriers.interface import StreamTarget

AUTHORIZATION = "Authorization"
MAX_HEADER_CHARS = 1024  # user and password of a few dozen characters each, base64'd
MAX_FIELD_CHARS = 4096  # a sealed target is ~800 characters
TICKET_KEYS = ("t1", "t2", "t3")  # Exotel's limit: three custom query parameters ...
MAX_PARAMETER_CHARS = 256  # ... of at most 256 characters each
_SEAL_LABEL = b"kallglot-bridge/exotel-stream-target\x00"  # never a MAC of anything else


def basic_header(user: str, password: str) -> str:
    """The Authorization header Exotel sends for `user:password` in a URL."""
    token = base64.b64encode(_utf8(f"{user}:{password}")).decode("ascii")
    return f"Basic {token}"


def basic_refusal(header: str | None, user: str, password: str) -> str | None:
    """None if `header` is Basic auth with exactly `user` and `password`; otherwise why not,
    short enough for a log line (never echoing what was presented)."""
    if not header:
        return "no Authorization header"
    if len(header) > MAX_HEADER_CHARS:
        return "Authorization header is too long"
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return "Authorization is not Basic"
    try:
        presented = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):  # ValueError: a non-ASCII str
        return "Basic credentials are not base64"
    expected = _utf8(f"{user}:{password}")
    if not hmac.compare_digest(presented, expected):
        return "Basic credentials do not match"
    return None


def with_userinfo(url: str, user: str, password: str) -> str:
    """`url` with `user:password@` before its host (percent-encoded), as Exotel wants it."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


def stream_url(target: StreamTarget, user: str, password: str, sample_rate: int) -> str:
    """The `wss://` URL the Voicebot applet connects to: our credentials, the sample rate, and
    the ticket split over at most three custom parameters (ValueError when it does not fit)."""
    query: dict[str, str] = {"sample-rate": str(sample_rate)}
    for name, value in target.parameters.items():
        if name != "ticket":
            raise ValueError(f"Exotel streams carry only the ticket, not {name!r}")
        query |= split_ticket(value)
    url = with_userinfo(target.url, user, password)
    glue = "&" if urlsplit(url).query else "?"
    return url + glue + urlencode(query)


def split_ticket(ticket: str) -> dict[str, str]:
    """`ticket` as `t1`..`t3` of at most 256 characters each (ValueError if it is longer)."""
    if len(ticket) > len(TICKET_KEYS) * MAX_PARAMETER_CHARS:
        raise ValueError(
            f"a ticket of {len(ticket)} characters does not fit Exotel's 3 custom parameters "
            f"of {MAX_PARAMETER_CHARS}"
        )
    size = MAX_PARAMETER_CHARS
    chunks = [ticket[i : i + size] for i in range(0, len(ticket), size)] or [""]
    return dict(zip(TICKET_KEYS, chunks, strict=False))


def joined_ticket(params: Mapping[str, str]) -> dict[str, str]:
    """`params` with `t1`..`t3` joined back into `ticket` (an explicit `ticket` wins)."""
    out = {key: value for key, value in params.items() if key not in TICKET_KEYS}
    parts = [params[key] for key in TICKET_KEYS if key in params]
    if parts and "ticket" not in out:
        out["ticket"] = "".join(parts)
    return out


def seal(target: StreamTarget, key: str) -> str:
    """`target` as a CustomField value only the holder of `key` can have made: compact JSON
    (ASCII) and its MAC after a `~` (~560 characters with a ticket)."""
    body = json.dumps({"u": target.url, "p": dict(target.parameters)}, separators=(",", ":"))
    return body + "~" + _mac(key, body.encode("ascii"))


def unseal(field: str, key: str) -> StreamTarget | None:
    """The target `seal` put in `field`; None for anything else (a field not ours, or forged)."""
    if len(field) > MAX_FIELD_CHARS or not field.isascii():
        return None
    body, tilde, mac = field.rpartition("~")
    if not tilde or not hmac.compare_digest(_mac(key, body.encode("ascii")), mac):
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    url, params = data.get("u"), data.get("p")
    if not isinstance(url, str) or not isinstance(params, dict):
        return None
    return StreamTarget(url, {str(k): str(v) for k, v in params.items()})


def _mac(key: str, data: bytes) -> str:
    digest = hmac.new(_utf8(key), _SEAL_LABEL + data, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _utf8(text: str) -> bytes:
    """UTF-8, lone surrogates passed through: any str has one encoding, never an error."""
    return text.encode("utf-8", "surrogatepass")
