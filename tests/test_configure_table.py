"""Every setting the code reads is in README's Configure table, and the table names no other.

The names are collected from the source the way the code reads them: the `env_*(env, "NAME"`
readers of bridge/settings.py, and `env.get("NAME")` / `os.environ[...]` / `os.getenv(...)`.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = r'"([A-Z][A-Z0-9]*_[A-Z0-9_]+)"'
READS = [
    re.compile(rf"\benv_[a-z_]+\(\s*\w+,\s*{NAME}"),  # env_int(env, "BRIDGE_PORT", ...)
    re.compile(rf"\b\w*env\w*\.get\(\s*{NAME}"),  # env.get, os.environ.get
    re.compile(rf"\b\w*environ\[\s*{NAME}\s*\](?!\s*=[^=])"),  # a read, not an assignment
    re.compile(rf"\bgetenv\(\s*{NAME}"),
]


def names_read() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "bridge").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern in READS:
            for name in pattern.findall(text):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def configure_table() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configure\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z0-9_]+)`", row.split("|")[1])}


def test_the_collector_sees_each_way_settings_are_read() -> None:
    read = names_read()
    assert "BRIDGE_PUBLIC_URL" in read  # env_url(\n env, "BRIDGE_PUBLIC_URL", ...): multi-line
    assert "BRIDGE_LOG_LEVEL" in read  # env_choice(e, ...): another variable name
    assert "BRIDGE_LOG_JSON" in read  # env.get("BRIDGE_LOG_JSON")
    assert "TWILIO_ACCOUNT_SID" in read  # os.environ.get(...) in the simulator's CLI
    assert len(configure_table()) > 30


def test_every_setting_read_is_in_the_configure_table_and_only_those() -> None:
    read, table = names_read(), configure_table()
    undocumented = {name: sorted(read[name]) for name in sorted(set(read) - table)}
    assert not undocumented, f"add these to README's Configure table: {undocumented}"
    assert not table - set(read), f"README documents settings nothing reads: {table - set(read)}"
