"""X-Twilio-Signature checks and the public URLs they are computed over.

We never re-implement Twilio's HMAC: `twilio.request_validator.RequestValidator` is the
reference, including its quirks (it signs each URL with and without the port). What we own is
*which URL* to check: behind a proxy or tunnel `request.url` is the internal address, so both
webhook and WebSocket URLs are rebuilt from the configured public base (carriers.md §2.3, §9.17).
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator

from bridge.urls import public_http_url, public_ws_url

__all__ = ["SIGNATURE_HEADER", "TwilioSignatures", "public_http_url", "public_ws_url"]
SIGNATURE_HEADER = "X-Twilio-Signature"


class TwilioSignatures:
    """Signs and checks Twilio signatures with one account's primary auth token.

    Every check fails closed: a malformed URL, a missing header or anything the validator
    chokes on (it raises TypeError for some inputs) is a rejection, never an exception.
    """

    def __init__(self, auth_token: str) -> None:
        self._validator = RequestValidator(auth_token)

    def __repr__(self) -> str:
        return "TwilioSignatures(auth_token=<hidden>)"

    def sign(self, url: str, params: Mapping[str, str] | None = None) -> str:
        """The signature Twilio sends for a request to `url` with form `params`."""
        return str(self._validator.compute_signature(url, params or {}))

    def validate_webhook(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        """A form-encoded webhook: `url` exactly as Twilio requested it (public scheme, host,
        path and query), `params` the form body (a multidict is fine: repeated names count)."""
        if not signature:
            return False
        try:
            return bool(self._validator.validate(url, params, signature))
        except Exception:  # fail closed: a validator error is never a pass
            return False

    def validate_upgrade(self, url: str, signature: str | None) -> bool:
        """The media WebSocket upgrade: a `wss://` (or loopback `ws://`) URL with no params.

        Twilio's security guide says to retry with a trailing slash when the exact URL fails.
        """
        if not signature:
            return False
        candidates = [url] if url.endswith("/") else [url, url + "/"]
        return any(self.validate_webhook(candidate, {}, signature) for candidate in candidates)
