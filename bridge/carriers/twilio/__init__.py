"""Twilio: Media Streams (bidirectional `<Connect><Stream>`), TwiML, X-Twilio-Signature and
call control over REST (../shared/carriers.md §1-§3)."""

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

__all__ = [
    "BINARY_FRAME",
    "INVALID_MESSAGE",
    "MAX_FRAMES_PER_MESSAGE",
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
