"""Plivo's webhook signature, V3 (carriers.md §6.1), written from the spec, both ways.

Plivo signs every webhook with `X-Plivo-Signature-V3` (base64 of HMAC-SHA256 keyed with the
auth token) and `X-Plivo-Signature-V3-Nonce`. The signed string is the URL Plivo called,
rebuilt by rule: `scheme://host/path`, then the query and form parameters sorted by name,
rendered differently for GET (`?k=v&k=v`) and for a POST with a body (`?` + the URL's own
sorted query, `.` if that query was not empty, then every form field as `namevalue` with no
separators), then `.` and the nonce. The header may hold several comma-separated signatures
(Plivo rotates tokens); a match with any is enough. There is no timestamp in the scheme, so a
captured request could be replayed: what it can do is bounded by what the webhook itself
checks (tickets expire; a status for a call that is over changes nothing).

Every check fails closed: a malformed header is a reason to refuse, never an exception.
`PlivoSigner` is the simulator's end (and the tests').
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit

SIGNATURE_HEADER = "X-Plivo-Signature-V3"
NONCE_HEADER = "X-Plivo-Signature-V3-Nonce"
# A genuine header is 44 characters a signature; a few rotated tokens fit well within this.
MAX_SIGNATURE_CHARS = 1024
MAX_NONCE_CHARS = 256

Params = Mapping[str, str | list[str]] | Iterable[tuple[str, str]]


def _grouped(params: Params) -> dict[str, list[str]]:
    pairs = params.items() if isinstance(params, Mapping) else params
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        values = value if isinstance(value, list) else [value]
        grouped.setdefault(key, []).extend(values)
    return grouped


def _query_string(params: dict[str, list[str]]) -> str:
    """`k=v` sorted by name (a repeated name: each value, sorted), joined by `&`."""
    return "&".join(f"{k}={v}" for k in sorted(params) for v in sorted(params[k]))


def _form_string(params: dict[str, list[str]]) -> str:
    """`namevalue` sorted by name (a repeated name: each value, sorted), no separators."""
    return "".join(f"{k}{v}" for k in sorted(params) for v in sorted(params[k]))


def base_string(method: str, url: str, params: Params, nonce: str) -> str:
    """What Plivo signs for a `method` request to `url` (as called, query included) with form
    `params` (empty for a GET, whose parameters are in the URL)."""
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    query = _grouped(parse_qsl(parts.query, keep_blank_values=True))
    form = _grouped(params)
    if method.upper() == "POST" and form:
        own = _query_string(query)
        base += "?" + own + ("." if own else "") + _form_string(form)
    else:
        for key, values in form.items():  # a GET's extra parameters join the URL's
            query.setdefault(key, []).extend(values)
        merged = _query_string(query)
        if merged:
            base += "?" + merged
    return base + "." + nonce


def compute(auth_token: str, method: str, url: str, params: Params, nonce: str) -> str:
    digest = hmac.new(
        auth_token.encode(), base_string(method, url, params, nonce).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


class PlivoSignatures:
    """Checks V3 signatures with one account's auth token."""

    def __init__(self, auth_token: str) -> None:
        self._token = auth_token

    def __repr__(self) -> str:
        return "PlivoSignatures(auth_token=<hidden>)"

    def refusal(
        self, method: str, url: str, params: Params, signature: str | None, nonce: str | None
    ) -> str | None:
        """None if Plivo signed this request; otherwise why not (for a log line or a 403)."""
        if not signature:
            return f"no {SIGNATURE_HEADER} header"
        if not nonce:
            return f"no {NONCE_HEADER} header"
        if len(signature) > MAX_SIGNATURE_CHARS or len(nonce) > MAX_NONCE_CHARS:
            return "signature or nonce header is too long"
        try:
            expected = compute(self._token, method, url, params, nonce).encode("ascii")
        except ValueError:  # lone surrogates (UnicodeEncodeError), a URL urlsplit refuses
            return "the request cannot have been signed by Plivo"
        for candidate in signature.split(","):
            try:
                if hmac.compare_digest(candidate.strip().encode("ascii"), expected):
                    return None
            except UnicodeEncodeError:
                continue
        return "signature does not match"


class PlivoSigner:
    """Signs requests the way Plivo does (simulator and tests only)."""

    def __init__(self, auth_token: str) -> None:
        self._token = auth_token

    def __repr__(self) -> str:
        return "PlivoSigner(auth_token=<hidden>)"

    def headers(
        self, method: str, url: str, params: Params, nonce: str | None = None
    ) -> dict[str, str]:
        nonce = nonce or str(secrets.randbelow(10**20))
        return {
            SIGNATURE_HEADER: compute(self._token, method, url, params, nonce),
            NONCE_HEADER: nonce,
        }
