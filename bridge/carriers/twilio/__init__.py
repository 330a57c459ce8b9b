"""Twilio: Media Streams (bidirectional `<Connect><Stream>`), TwiML, X-Twilio-Signature and
call control over REST (../shared/carriers.md §1-§3). `PACKAGE` is its carrier-interface entry
(bridge/carriers/registry.py)."""

from typing import Any

from bridge.carriers.twilio.carrier import NAME, TwilioCarrier
from bridge.carriers.twilio.config import TwilioSettings
from bridge.carriers.twilio.protocol import (
    BINARY_FRAME,
    INVALID_MESSAGE,
    MAX_FRAMES_PER_MESSAGE,
    TwilioCarrierSide,
    TwilioMediaStream,
)
from bridge.carriers.twilio.signature import (
    SIGNATURE_HEADER,
    TwilioSignatures,
    public_http_url,
    public_ws_url,
)
from bridge.carriers.twilio.twiml import (
    connect_stream_twiml,
    language_menu_twiml,
    say_hangup_twiml,
)

CREDENTIALS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_CALLER_ID")


class TwilioPackage:
    name = NAME

    def settings_from_env(self, env: Any) -> TwilioSettings | None:
        if not any(env.get(name) for name in CREDENTIALS):
            return None
        return TwilioSettings.from_env(env)

    def build(self, settings: Any) -> TwilioCarrier:
        return TwilioCarrier(settings)


PACKAGE = TwilioPackage()

__all__ = [
    "BINARY_FRAME",
    "INVALID_MESSAGE",
    "MAX_FRAMES_PER_MESSAGE",
    "PACKAGE",
    "SIGNATURE_HEADER",
    "TwilioCarrierSide",
    "TwilioMediaStream",
    "TwilioSignatures",
    "connect_stream_twiml",
    "language_menu_twiml",
    "public_http_url",
    "public_ws_url",
    "say_hangup_twiml",
]
