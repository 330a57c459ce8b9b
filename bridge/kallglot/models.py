"""REST resources as frozen values, parsed tolerantly from both API generations.

Only the fields the bridge acts on are typed; everything else stays reachable through `raw`, so a
field we did not foresee never needs a client release to be read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bridge.kallglot.errors import UnexpectedResponseError


class Mode(StrEnum):
    BIDIRECTIONAL_TRANSLATION = "bidirectional_translation"
    ASSISTIVE_TRANSLATION = "assistive_translation"
    AI_AGENT = "ai_agent"
    HELP_CHAT_VOICE = "help_chat_voice"


class Speaker(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"

    @property
    def other(self) -> Speaker:
        return Speaker.AGENT if self is Speaker.CUSTOMER else Speaker.CUSTOMER


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 to an aware UTC datetime; None for anything unreadable (it is informational)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # unreadable, or its UTC value is out of datetime's range
        return None


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class StreamInfo:
    url: str
    token: str
    expires_at: datetime | None

    def __repr__(self) -> str:  # the token is a credential
        return f"StreamInfo(url={self.url!r}, token=<redacted>, expires_at={self.expires_at!r})"

    def expired(self, now: datetime, margin_s: float = 0.0) -> bool:
        if self.expires_at is None:
            return False
        return (self.expires_at - now).total_seconds() <= margin_s

    @classmethod
    def from_json(cls, data: Any) -> StreamInfo | None:
        if not isinstance(data, Mapping):
            return None
        url, token = _str(data, "url"), _str(data, "token")
        if not url or not token:
            return None
        return cls(url=url, token=token, expires_at=parse_time(data.get("expires_at")))


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    status: str
    mode: str | None
    stream: StreamInfo | None
    raw: Mapping[str, Any] = field(compare=False, hash=False, repr=False)

    @property
    def ended(self) -> bool:
        return self.status == "ended"

    @classmethod
    def from_json(cls, data: Any) -> Session:
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
            raise UnexpectedResponseError("session response without an `id`")
        return cls(
            id=data["id"],
            # Unknown statuses (OLD `connecting`, `ending`) are kept as they are.
            status=_str(data, "status") or "unknown",
            mode=_str(data, "mode"),
            stream=StreamInfo.from_json(data.get("stream")),
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class Turn:
    sequence: int | None
    speaker: str | None
    language: str | None
    text: str
    translation_text: str | None
    translation_language: str | None


@dataclass(frozen=True, slots=True)
class SessionTranscript:
    session_id: str | None
    status: str | None
    turns: tuple[Turn, ...]
    raw: Mapping[str, Any] = field(compare=False, hash=False, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> SessionTranscript:
        """NEW `turns[]` (translation object) or OLD `segments[]` (translation string)."""
        if not isinstance(data, Mapping):
            raise UnexpectedResponseError("transcript response is not a JSON object")
        items = data.get("turns")
        if not isinstance(items, list):
            items = data.get("segments")
        if not isinstance(items, list):
            items = []
        turns = tuple(
            _turn(item, index) for index, item in enumerate(items, 1) if isinstance(item, Mapping)
        )
        return cls(
            session_id=_str(data, "session_id"),
            status=_str(data, "status"),
            turns=turns,
            raw=dict(data),
        )


def _turn(item: Mapping[str, Any], index: int) -> Turn:
    translation = item.get("translation")
    if isinstance(translation, Mapping):
        t_text, t_lang = _str(translation, "text"), _str(translation, "language")
    else:
        t_text, t_lang = (translation if isinstance(translation, str) else None), None
    sequence = item.get("sequence")
    return Turn(
        sequence=sequence
        if isinstance(sequence, int) and not isinstance(sequence, bool)
        else index,
        speaker=_str(item, "speaker"),
        language=_str(item, "language"),
        text=_str(item, "text") or "",
        translation_text=t_text,
        translation_language=t_lang,
    )
