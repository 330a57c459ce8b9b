"""Logs a machine can read: one JSON object per line, whoever logs, with identifiers as events."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKE = re.compile(r"[a-z][a-z0-9_]*")
LEVELS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "msg"})
MAKERS = frozenset({"get_logger", "getLogger", "bind", "new"})


def _made_by_logger(node: ast.expr, loggers: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in loggers or "log" in node.id.lower()
    if isinstance(node, ast.Attribute):
        return "log" in node.attr.lower()
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in MAKERS or _made_by_logger(node.func.value, loggers)
    return False


def log_calls(tree: ast.AST) -> list[ast.Call]:
    """Calls of a logger's level methods: on `log`, `self._log`, `logger`, and on names bound
    from a logger (`bound = log.bind(...)`)."""
    loggers = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and _made_by_logger(node.value, set())
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in LEVELS
        and _made_by_logger(node.func.value, loggers)
    ]


def wrong_event(call: ast.Call) -> bool:
    """A literal that is no identifier, a formatted or concatenated string, or no event. (An
    event held in a variable is taken on trust: its value is not known here.)"""
    event = call.args[0] if call.args else None
    if isinstance(event, ast.Name | ast.Attribute):
        return False
    return not (isinstance(event, ast.Constant) and SNAKE.fullmatch(str(event.value)))


def test_every_log_event_is_a_snake_case_identifier_not_a_sentence() -> None:
    """What a person should read goes in `message=`; the event is what queries match on."""
    found, wrong = 0, []
    for path in sorted([*ROOT.glob("bridge/**/*.py"), *ROOT.glob("bench/**/*.py")]):
        for call in log_calls(ast.parse(path.read_text(), str(path))):
            found += 1
            if wrong_event(call):
                wrong.append(f"{path.relative_to(ROOT)}:{call.lineno}: {ast.unparse(call)[:90]}")
    assert found > 80  # the scan sees the code's log calls at all
    assert wrong == []


def test_the_scan_tells_a_sentence_from_an_event() -> None:
    source = (
        "log = structlog.get_logger()\n"
        "log.warning('BRIDGE_SECRET is not set: set it')\n"
        "bound = log.bind(call_id=1)\nbound.info('call_summary')\n"
        "self._log.error(f'failed {x}')\n"
        "log.info(event)\n"
        "debugger.error(CODE, 'not a logger')\n"
    )
    calls = log_calls(ast.parse(source))
    events = [ast.unparse(call.args[0]) for call in calls]
    assert events == [
        "'BRIDGE_SECRET is not set: set it'",
        "'call_summary'",
        "f'failed {x}'",
        "event",
    ]
    assert [wrong_event(call) for call in calls] == [True, False, True, False]


LIBRARIES_LOG = """
import logging, warnings, structlog
from bridge.log import configure_logging

configure_logging("info", json=True)
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("aiohttp.server").exception("Error handling request")
logging.getLogger("aiohttp.access").info("127.0.0.1 GET /healthz 200")
logging.getLogger("twilio.async_http_client").info("-- BEGIN Twilio API Request --")
logging.getLogger("websockets.client").warning("connection %s lost", "ws-1")
warnings.warn("a deprecated thing", UserWarning)
structlog.get_logger().info("our_event", n=1)
raise RuntimeError("boom")
"""


def test_library_logs_and_tracebacks_are_one_json_object_per_line() -> None:
    run = subprocess.run(
        [sys.executable, "-c", LIBRARIES_LOG],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 1  # the uncaught exception still fails the process
    entries = [json.loads(line) for line in run.stderr.splitlines()]  # every line is JSON
    by_event = {entry["event"]: entry for entry in entries}
    assert list(by_event) == [
        "aiohttp_server",
        "websockets_client",
        "py_warnings",
        "our_event",
        "uncaught_exception",
    ]  # libraries' info lines are left out at info: a line per probe or REST call is noise
    server = by_event["aiohttp_server"]
    assert server["message"] == "Error handling request"
    assert server["level"] == "error"
    assert server["logger"] == "aiohttp.server"
    assert "ZeroDivisionError" in server["exception"]
    assert by_event["websockets_client"]["message"] == "connection ws-1 lost"
    assert "a deprecated thing" in by_event["py_warnings"]["message"]
    assert "RuntimeError: boom" in by_event["uncaught_exception"]["exception"]
    assert all("timestamp" in entry for entry in entries)
