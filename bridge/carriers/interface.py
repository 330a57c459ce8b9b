"""What every carrier package provides: one `Carrier` bundle behind one interface.

The layers above (bridge/calls, bridge/web) speak only these terms: a webhook is an
`IncomingCall` or a `StatusChanged` with a neutral `CallStatus`; the bridge decides an `Answer`
(connect a media stream, ask for a digit, say something and hang up, transfer) and the carrier
renders it, as a document in the webhook's response (TwiML, NCCO, ...) or as REST commands
(Telnyx Call Control). Each carrier also owns its media-stream protocol (bridge/carriers/base.py),
how a webhook and a WebSocket upgrade prove they come from it, and its call control over REST.

Adding a carrier is one package under bridge/carriers/ exporting a `CarrierPackage`, plus one
line in bridge/carriers/registry.py (README, "Layout").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from aiohttp import web

from bridge.carriers.base import MediaStreamProtocol
from bridge.settings import Env


class CallStatus(StrEnum):
    """A carrier call's state, in words every carrier's statuses map onto."""

    INITIATED = "initiated"
    RINGING = "ringing"
    ANSWERED = "answered"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"

    @property
    def unanswered(self) -> bool:
        """The call ended without ever being answered (or was refused, or cancelled)."""
        return self in (
            CallStatus.BUSY,
            CallStatus.NO_ANSWER,
            CallStatus.FAILED,
            CallStatus.CANCELED,
        )

    @property
    def over(self) -> bool:
        return self.unanswered or self is CallStatus.COMPLETED


class CarrierError(Exception):
    """A carrier's REST API refused or could not be reached; the message says which and why.
    `status`/`code` are the carrier's HTTP status and error code where it gave one."""

    def __init__(self, message: str, status: int | None = None, code: int | str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class WebhookRefused(Exception):
    """A webhook the bridge must not believe (bad signature) or cannot read: answered with
    `status` and `message` (which says what to check), and counted under `metric`."""

    def __init__(self, status: int, message: str, metric: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.metric = metric


# ---- what the bridge tells a carrier to do with a call ----------------------------------------


@dataclass(frozen=True, slots=True)
class Speech:
    """Text the carrier reads out; `language` like `de-DE`, `voice` as the carrier names one."""

    text: str
    language: str | None = None
    voice: str | None = None


@dataclass(frozen=True, slots=True)
class StreamTarget:
    """Where a leg's media stream connects and what it carries there (the call ticket)."""

    url: str  # wss:// (or ws:// on loopback)
    parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConnectStream:
    target: StreamTarget
    greeting: Speech | None = None


@dataclass(frozen=True, slots=True)
class AskForDigit:
    """Read `prompt` and send the key pressed (or none) to `action_url`, a webhook of ours."""

    prompt: Speech
    action_url: str


@dataclass(frozen=True, slots=True)
class SayAndHangUp:
    speech: tuple[Speech, ...]


@dataclass(frozen=True, slots=True)
class Transfer:
    number: str


Answer = ConnectStream | AskForDigit | SayAndHangUp | Transfer
Redirect = SayAndHangUp | Transfer  # what a live call can be switched to


# ---- what a carrier's webhook says ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncomingCall:
    to: str  # the number dialled: the key into the routes
    carrier_call_id: str | None
    caller: str | None = None
    digits: str | None = None  # the answer to an `AskForDigit` ("" when nothing was pressed)
    context: Mapping[str, Any] = field(default_factory=dict)  # what the carrier needs to answer


@dataclass(frozen=True, slots=True)
class StatusChanged:
    carrier_call_id: str
    status: CallStatus
    raw: str  # the carrier's own word for it, for records and logs
    call_id: str | None = None  # our call, where the webhook names it (Twilio: in the path)
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Ignored:
    reason: str


@dataclass(frozen=True, slots=True)
class Reply:
    """A webhook the carrier package answers by itself, with nothing for the bridge to decide:
    a carrier that fetches a document by URL where others take it inline (a dialled leg's
    stream, a redirect's apology) is handed one the package put in that URL, signed."""

    response: web.Response


Webhook = IncomingCall | StatusChanged | Ignored | Reply


class CarrierControl(Protocol):
    """A carrier's call control over REST."""

    @property
    def caller_id(self) -> str | None:
        """The number outbound calls come from when no route names one."""

    async def dial(
        self, to: str, from_: str, stream: StreamTarget, status_url: str, ring_timeout_s: int
    ) -> str:
        """Rings `to`; once answered, its media stream goes to `stream`. The carrier call id.
        Status changes of the call are sent to `status_url`."""

    async def hang_up(self, carrier_call_id: str) -> None:
        """Ends the call in any state; one already over is success. CarrierError otherwise."""

    async def redirect(self, carrier_call_id: str, to: Redirect) -> None:
        """Replaces whatever the party hears (an apology, the busy message, a transfer)."""

    async def settle(self, timeout_s: float) -> None:
        """Before the process stops answering webhooks: let what a later webhook finishes
        (a hang-up after an apology where the carrier cannot say-then-hang-up by itself) be
        finished, for up to `timeout_s`, then finish the rest at once."""

    async def close(self) -> None: ...


class Carrier(Protocol):
    """Everything carrier-specific, for one configured carrier account."""

    @property
    def name(self) -> str:
        """Its path segment (`/{name}/voice`, `/{name}/media/{call_id}`) and its name in records."""

    @property
    def control(self) -> CarrierControl: ...

    @property
    def speaks(self) -> bool:
        """Whether the carrier reads text out (greetings, the language menu, apologies). Where
        it cannot (Exotel), the bridge skips the menu for the route's language, connects
        without a greeting, and what it would have said is left unsaid (README, "Carriers")."""

    def media_stream(self, call_id: str) -> MediaStreamProtocol:
        """A fresh protocol instance for one media WebSocket, on `call_id`'s media path."""

    def upgrade_refusal(self, request: web.Request, public_url: str) -> str | None:
        """Why this WebSocket upgrade does not come from the carrier (None: it does)."""

    async def read_webhook(self, request: web.Request, public_url: str, kind: str) -> Webhook:
        """The verified webhook; raises WebhookRefused. `kind` is the endpoint it came to
        (by GET or POST, as the carrier is configured to call it):
        "voice" (a new call, and for some carriers every call event), "menu" (the answer to an
        `AskForDigit`) or "status" (`/{name}/status/{call_id}/{role}`, for dialled legs)."""

    async def answer(self, call: IncomingCall, answer: Answer) -> web.Response:
        """The webhook's response that does `answer` (issuing REST commands where the carrier
        answers calls that way)."""


class CarrierPackage(Protocol):
    """What a carrier package exports: reads its settings, builds its `Carrier`."""

    @property
    def name(self) -> str: ...

    def settings_from_env(self, env: Env) -> Any | None:
        """Its settings, or None when the environment configures no account for it (raises
        ConfigError, naming the setting, for one configured wrongly)."""

    def build(self, settings: Any) -> Carrier: ...
