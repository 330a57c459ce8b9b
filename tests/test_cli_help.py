"""What a user reads first: `--help`, `--version`, and the tool naming itself as it was run."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bridge.__main__ import COMMANDS, main, program_name
from tests.test_configure_table import configure_table

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "kallglot-bridge"


def help_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_the_top_level_help_says_what_the_tool_is_and_where_to_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_of(capsys)

    assert "translation" in text
    assert "Twilio" in text
    assert "Telnyx" in text
    for command in COMMANDS:
        assert re.search(rf"^    {re.escape(command)}\s", text, re.MULTILINE), command
    assert "where to start:" in text
    assert "demo" in text.split("where to start:")[1]


def test_serve_help_lists_every_setting_of_readmes_configure_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_of(capsys, "serve")

    prefixes = "BRIDGE|KALLGLOT|TWILIO|TELNYX|VONAGE|PLIVO|EXOTEL"
    listed = set(re.findall(rf"\b(?:{prefixes})_[A-Z0-9_]+", text))
    assert configure_table() - listed == set(), "add these to bridge/web/serve.py SETTINGS_HELP"
    assert listed - configure_table() == set(), "serve --help names settings README does not"


def test_version_comes_from_the_package_metadata() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

    done = subprocess.run(
        [sys.executable, "-m", "bridge", "--version"], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0
    assert done.stdout.strip() == f"kallglot-bridge {declared}"


def test_usage_lines_name_the_tool_as_it_was_started() -> None:
    assert program_name("/usr/local/bin/kallglot-bridge") == "kallglot-bridge"
    assert program_name("/work/main/bridge/__main__.py") == "python -m bridge"


@pytest.mark.skipif(not SCRIPT.exists(), reason="the console script is not installed")
def test_the_console_script_names_itself_in_usage_lines() -> None:
    done = subprocess.run([str(SCRIPT), "call", "--help"], capture_output=True, text=True)

    assert done.returncode == 0
    assert done.stdout.startswith("usage: kallglot-bridge call ")
    assert "python -m bridge" not in done.stdout
