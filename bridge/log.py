"""structlog set-up: JSON lines in production, a readable console when attached to a terminal.

Context (call_id, leg, session_id) is bound once with `structlog.contextvars.bind_contextvars`
or `logger.bind` where the object that owns it is created, and carried from there; it is never
passed by hand. Nothing secret (API keys, tokens, signatures, tickets) and no audio payload is
ever a log value: log lengths and ids instead.

Event names are snake_case identifiers (`call_summary`, `cannot_listen`), so that a log query
can match them exactly; what a person should read goes in a `message` field
(tests/test_log_events.py keeps it so). The libraries underneath (aiohttp, asyncio, websockets,
Python's warnings and uncaught exceptions) log through stdlib `logging`; their records are
rendered by the same renderer, with the logger's name as the event and their text as
`message`, so a JSON stream stays one object per line: a traceback is a field, never raw lines.
"""

from __future__ import annotations

import logging
import sys
from types import TracebackType
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger


def configure_logging(level: str = "info", json: bool | None = None) -> None:
    """`json=None` picks JSON unless stderr is a terminal."""
    json = renders_json(json)
    threshold = logging.getLevelNamesMapping()[level.upper()]
    renderer: Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    # JSON needs the traceback as a string field; the console renders exc_info itself, readably.
    exceptions: list[Processor] = [structlog.processors.format_exc_info] if json else []
    stamped: list[Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *stamped, *exceptions, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    _route_stdlib(threshold, stamped, [*exceptions, renderer])


def renders_json(json: bool | None) -> bool:
    """Whether `configure_logging(json=json)` writes JSON lines (None: unless on a terminal)."""
    return not sys.stderr.isatty() if json is None else json


class _StdlibHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so that configuring again replaces it instead of adding a second one."""


def _route_stdlib(threshold: int, stamped: list[Processor], render: list[Processor]) -> None:
    handler = _StdlibHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *stamped, _event_from_logger],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StdlibHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Libraries say at info what the bridge already logs its own way (aiohttp a line per request,
    # probes and scrapes included; twilio eleven per REST call): their warnings and errors only,
    # unless BRIDGE_LOG_LEVEL=debug asks for everything.
    root.setLevel(threshold if threshold <= logging.DEBUG else max(threshold, logging.WARNING))
    logging.captureWarnings(True)  # `warnings` too, instead of raw lines on stderr
    sys.excepthook = _log_uncaught
    sys.unraisablehook = _log_unraisable


def _event_from_logger(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """A library's record: its text is a sentence, so it becomes `message`, and the event is
    the logger's name as an identifier (`aiohttp.server` -> `aiohttp_server`)."""
    event_dict["message"] = event_dict.pop("event", "")
    name = str(event_dict.get("logger") or "stdlib")
    event_dict["event"] = "".join(c if c.isalnum() else "_" for c in name).lower()
    return event_dict


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):  # a person at the terminal: Python's own output
        sys.__excepthook__(kind, exc, tb)
        return
    structlog.get_logger(__name__).critical("uncaught_exception", exc_info=(kind, exc, tb))


def _log_unraisable(unraisable: Any) -> None:
    exc = unraisable.exc_value
    structlog.get_logger(__name__).error(
        "unraisable_exception",
        message=unraisable.err_msg or "Exception ignored",
        object=repr(unraisable.object),
        exc_info=(type(exc), exc, unraisable.exc_traceback) if exc is not None else None,
    )


def describe(exc: BaseException) -> str:
    """An exception as a log value: its message, or its type where it has none (a timeout's
    `str()` is empty, and an empty `error=` tells an operator nothing)."""
    return str(exc) or type(exc).__name__
