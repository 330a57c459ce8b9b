from __future__ import annotations

import pytest

from bridge.config import Config
from bridge.settings import ConfigError


def test_each_sections_mistake_is_named_at_once() -> None:
    env = {"BRIDGE_PORT": "eighty", "KALLGLOT_CHUNK_MS": "30", "TWILIO_ACCOUNT_SID": "nope"}
    with pytest.raises(ConfigError) as refused:
        Config.from_env(env)
    message = str(refused.value)
    for name in ("BRIDGE_PORT", "KALLGLOT_CHUNK_MS", "TWILIO_ACCOUNT_SID"):
        assert name in message


def test_a_secret_with_undecodable_bytes_is_refused_by_name() -> None:
    # What os.environ holds for the bytes b"\xff\xfe" in a UTF-8 locale.
    env = {"KALLGLOT_WEBHOOK_SECRET": "whsec_\udcff\udcfe"}
    with pytest.raises(
        ConfigError, match="KALLGLOT_WEBHOOK_SECRET contains bytes that are not UTF-8"
    ):
        Config.from_env(env)


def test_a_partial_twilio_account_is_an_error_not_the_simulator() -> None:
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID"):
        Config.from_env({"TWILIO_AUTH_TOKEN": "x"})


def test_nothing_configured_means_the_simulators() -> None:
    config = Config.from_env({})
    assert config.kallglot.api_key is None
    assert config.carriers == {}
    assert config.bridge.secret_is_ephemeral
