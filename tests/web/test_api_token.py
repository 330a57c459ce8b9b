"""BRIDGE_API_TOKEN guards the API that dials phones: one short enough to guess is refused at
start-up, by name, before anything listens."""

from __future__ import annotations

import argparse

import pytest

from bridge.config import Config
from bridge.settings import ConfigError
from bridge.web import serve


def test_a_token_under_32_characters_is_refused_by_name() -> None:
    with pytest.raises(ConfigError) as refused:
        Config.from_env({"BRIDGE_API_TOKEN": "x" * 31})
    message = str(refused.value)
    assert "BRIDGE_API_TOKEN is 31 characters; it must be at least 32" in message
    assert "openssl rand -hex 32" in message


def test_a_32_character_token_or_none_is_accepted() -> None:
    assert Config.from_env({"BRIDGE_API_TOKEN": "x" * 32}).bridge.api_token == "x" * 32
    assert Config.from_env({}).bridge.api_token is None  # the API is off


def test_serve_stops_at_start_up_with_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRIDGE_API_TOKEN", "test-api-token")
    assert serve.run(argparse.Namespace(host=None, port=None)) == 2
    assert "BRIDGE_API_TOKEN is 14 characters" in capsys.readouterr().err
