"""What the Plivo package signs itself: the media stream's URL token and the documents it puts
in URLs.

Plivo fetches every XML document by URL (a dial's `answer_url`, a transfer's `aleg_url`); it
takes no XML inline. So the document's content (a dialled leg's stream target with its ticket,
a redirect's apology) rides in a query parameter of our voice webhook, signed here so that no
one can make the bridge answer with a document of their choosing, and any instance can render
it without state. Plivo signs the fetch itself too (V3), which says Plivo asked; the token says
we wrote it.

The media WebSocket is not signed by Plivo. Its URL carries `?auth=` an HMAC of the call id in
its path (`/plivo/media/{call_id}`: the id, not the whole path, so a path prefix a proxy strips
changes nothing), so an upgrade that does not come from a document of ours is refused before
`start`, and a token for one call's stream is worthless for another's.

Both MACs are keyed with the auth token under their own labels, so neither can pass for the
other or for a V3 signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

STREAM_TOKEN_PARAM = "auth"
_STREAM_LABEL = b"kallglot-bridge/plivo-stream\x00"
_DOCUMENT_LABEL = b"kallglot-bridge/plivo-document\x00"
MAX_DOCUMENT_TOKEN_CHARS = 8 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, label: bytes, message: bytes) -> bytes:
    return hmac.new(key.encode(), label + message, hashlib.sha256).digest()


def stream_token(auth_token: str, call_id: str) -> str:
    """The `auth` query value that lets a media upgrade for `call_id` in."""
    return _b64(_mac(auth_token, _STREAM_LABEL, call_id.encode("utf-8", "surrogatepass")))


def stream_token_refusal(auth_token: str, call_id: str, presented: str | None) -> str | None:
    """None if `presented` is the token for `call_id`; otherwise why the upgrade is refused."""
    if not presented:
        return f"no '{STREAM_TOKEN_PARAM}' token in the stream URL: not a stream Plivo opened"
    expected = stream_token(auth_token, call_id)
    try:
        genuine = hmac.compare_digest(presented.encode("ascii"), expected.encode("ascii"))
    except UnicodeEncodeError:
        genuine = False
    if not genuine:
        return "the stream URL's token is not for this call (is PLIVO_AUTH_TOKEN the account's?)"
    return None


def sign_document(auth_token: str, content: dict[str, Any]) -> str:
    """`content` (JSON values) as a URL-safe signed token."""
    body = _b64(json.dumps(content, separators=(",", ":"), sort_keys=True).encode())
    return body + "." + _b64(_mac(auth_token, _DOCUMENT_LABEL, body.encode()))


def open_document(auth_token: str, token: str) -> dict[str, Any] | None:
    """The content of a token `sign_document` made with this auth token, else None."""
    if len(token) > MAX_DOCUMENT_TOKEN_CHARS:
        return None
    body, _, mac = token.partition(".")
    try:
        expected = _b64(_mac(auth_token, _DOCUMENT_LABEL, body.encode("ascii")))
        if not hmac.compare_digest(mac.encode("ascii"), expected.encode("ascii")):
            return None
        content = json.loads(_unb64(body))
    except (UnicodeEncodeError, binascii.Error, ValueError, RecursionError):
        return None
    return content if isinstance(content, dict) else None
