"""The agent console's leg (a browser, bridge/web/console/) behind the carrier interface.

Unlike a phone carrier it needs no account: every bridge has it (bridge/carriers/registry.py),
and a route or `POST /v1/calls` reaches it with an agent of `browser:<agent id>`.
"""

from bridge.carriers.browser.carrier import NAME, PREFIX, BrowserCarrier
from bridge.carriers.browser.desk import AnswerRefused, Desk, Ring, RingState
from bridge.carriers.browser.protocol import BrowserMediaStream

__all__ = [
    "NAME",
    "PREFIX",
    "AnswerRefused",
    "BrowserCarrier",
    "BrowserMediaStream",
    "Desk",
    "Ring",
    "RingState",
]
