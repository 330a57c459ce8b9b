"""What the preflight checks say, as data: one finding per check, and the facts probes learnt.

A finding is a line an operator reads (`ok`, `warning` or `error`; what; what to do), and
`fatal` marks the ones that are certainly wrong, which `serve` refuses to start with. The probe
results are plain values, so the rules that judge them (rules.py) never touch a socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bridge.carriers.interface import CarrierError
from bridge.carriers.telnyx.application import CallControlApplication
from bridge.carriers.twilio.account import AccountInfo, IncomingNumber
from bridge.kallglot.probe import ProbeResult


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    subject: str  # what was checked: "kallglot", "twilio", "public url", ...
    message: str  # what was found
    todo: str = ""  # what to do about it (empty when there is nothing to do)
    fatal: bool = False  # certainly wrong: `serve` should not start (run.startup_errors)

    def line(self) -> str:
        todo = f" -> {self.todo}" if self.todo else ""
        return f"{self.level.value:<8}{self.subject:<14}{self.message}{todo}"

    def sentence(self) -> str:
        """The finding as one error message (for serve's start-up)."""
        return f"{self.message}; {self.todo}" if self.todo else self.message


def exit_code(findings: Sequence[Finding]) -> int:
    """0 when nothing is an error, 1 otherwise (2, invalid settings, is the caller's)."""
    return 1 if any(f.level is Level.ERROR for f in findings) else 0


def summary(findings: Sequence[Finding]) -> str:
    errors = sum(f.level is Level.ERROR for f in findings)
    warnings = sum(f.level is Level.WARNING for f in findings)
    if not errors and not warnings:
        return "all checks passed"
    plural = {1: ""}
    return f"{errors} error{plural.get(errors, 's')}, {warnings} warning{plural.get(warnings, 's')}"


@dataclass(frozen=True, slots=True)
class Failure:
    """A carrier request that failed: `status` None means it never got an answer."""

    message: str
    status: int | None = None
    code: str | None = None

    @classmethod
    def of(cls, error: CarrierError) -> Failure:
        code = None if error.code is None else str(error.code)
        return cls(str(error), error.status, code)


@dataclass(frozen=True, slots=True)
class TwilioFacts:
    account: AccountInfo | Failure
    # Each routed number's IncomingPhoneNumbers (exact matches), or why it could not be read;
    # empty when the account could not be read (no point asking about its numbers).
    numbers: dict[str, list[IncomingNumber] | Failure] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TelnyxFacts:
    application: CallControlApplication | Failure


@dataclass(frozen=True, slots=True)
class DatabaseFacts:
    shown_url: str  # BRIDGE_DATABASE_URL without its password
    version: int | None = None  # the schema's; None when the database does not exist yet
    error: str | None = None  # could not be opened or read: why


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the probes learnt; None where a probe did not run (offline, unconfigured)."""

    kallglot: ProbeResult | None = None
    twilio: TwilioFacts | None = None
    telnyx: TelnyxFacts | None = None
    # The other carriers' credentials, by carrier: what one read-only request proved, or why not.
    accounts: dict[str, str | Failure] = field(default_factory=dict)
    database: DatabaseFacts | None = None
