from __future__ import annotations

import pytest

from bridge.kallglot.config import DEFAULT_API_URL, KallglotSettings, ProtocolVersion
from bridge.settings import ConfigError


def test_defaults_from_an_empty_environment() -> None:
    settings = KallglotSettings.from_env({})

    assert settings.api_url == DEFAULT_API_URL
    assert settings.api_key is None
    assert settings.stream_protocol is ProtocolVersion.CURRENT
    assert settings.chunk_ms == 100
    assert settings.ping_interval_s == 15
    assert settings.reconnect_buffer_s == 10
    assert settings.webhook_tolerance_s == 300


def test_values_from_the_environment() -> None:
    settings = KallglotSettings.from_env(
        {
            "KALLGLOT_API_URL": "http://127.0.0.1:8765/v1/",
            "KALLGLOT_API_KEY": "sk_test_abc",
            "KALLGLOT_STREAM_PROTOCOL": "Legacy",
            "KALLGLOT_CHUNK_MS": "200",
            "KALLGLOT_PING_INTERVAL_S": "5",
            "KALLGLOT_RECONNECT_BUFFER_S": "2.5",
        }
    )

    assert settings.api_url == "http://127.0.0.1:8765/v1"
    assert settings.api_key == "sk_test_abc"
    assert settings.stream_protocol is ProtocolVersion.LEGACY
    assert (settings.chunk_ms, settings.ping_interval_s, settings.reconnect_buffer_s) == (
        200,
        5,
        2.5,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"KALLGLOT_CHUNK_MS": "110"}, "KALLGLOT_CHUNK_MS"),
        ({"KALLGLOT_CHUNK_MS": "10"}, "KALLGLOT_CHUNK_MS"),
        ({"KALLGLOT_CHUNK_MS": "1020"}, "KALLGLOT_CHUNK_MS"),
        ({"KALLGLOT_STREAM_PROTOCOL": "v2"}, "KALLGLOT_STREAM_PROTOCOL"),
        ({"KALLGLOT_API_URL": "ftp://x"}, "KALLGLOT_API_URL"),
        ({"KALLGLOT_PING_INTERVAL_S": "soon"}, "KALLGLOT_PING_INTERVAL_S"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        KallglotSettings.from_env(env)


def test_the_key_never_appears_in_repr() -> None:
    settings = KallglotSettings(api_key="sk_live_secret", webhook_secret="whsec_secret")

    assert "sk_live_secret" not in repr(settings)
    assert "whsec_secret" not in repr(settings)
