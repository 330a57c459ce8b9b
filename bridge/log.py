"""structlog set-up: JSON lines in production, a readable console when attached to a terminal.

Context (call_id, leg, session_id) is bound once with `structlog.contextvars.bind_contextvars`
or `logger.bind` where the object that owns it is created, and carried from there; it is never
passed by hand. Nothing secret (API keys, tokens, signatures, tickets) and no audio payload is
ever a log value: log lengths and ids instead.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str = "info", json: bool | None = None) -> None:
    """`json=None` picks JSON unless stderr is a terminal."""
    if json is None:
        json = not sys.stderr.isatty()
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def describe(exc: BaseException) -> str:
    """An exception as a log value: its message, or its type where it has none (a timeout's
    `str()` is empty, and an empty `error=` tells an operator nothing)."""
    return str(exc) or type(exc).__name__
