"""Exotel settings: none set means no Exotel account; one wrong stops start-up with a message
naming the setting and saying what a valid value looks like."""

from __future__ import annotations

import pytest

from bridge.carriers import exotel
from bridge.carriers.exotel.config import ExotelSettings
from bridge.settings import ConfigError

VALID = {
    "EXOTEL_ACCOUNT_SID": "kallglot1",
    "EXOTEL_API_KEY": "key",
    "EXOTEL_API_TOKEN": "token-secret",
    "EXOTEL_CALLER_ID": "08047112345",
    "EXOTEL_APP_ID": "123456",
    "EXOTEL_WEBHOOK_USER": "exotel",
    "EXOTEL_WEBHOOK_PASSWORD": "0123456789abcdef",
}


def test_no_exotel_setting_means_no_exotel_account() -> None:
    assert exotel.PACKAGE.settings_from_env({}) is None
    assert (
        exotel.PACKAGE.settings_from_env({"TWILIO_ACCOUNT_SID": "AC1", "EXOTEL_APP_ID": " "})
        is None
    )


def test_valid_settings_with_defaults() -> None:
    settings = exotel.PACKAGE.settings_from_env(VALID)
    assert settings == ExotelSettings(
        account_sid="kallglot1",
        api_key="key",
        api_token="token-secret",
        caller_id="08047112345",
        app_id="123456",
        webhook_user="exotel",
        webhook_password="0123456789abcdef",
    )
    assert settings.api_url == "https://api.exotel.com"
    assert settings.sample_rate == 8000
    assert "token-secret" not in repr(settings)
    assert "0123456789abcdef" not in repr(settings)
    assert exotel.PACKAGE.build(settings).speaks is False


def test_sample_rate_and_api_url_can_be_chosen() -> None:
    env = VALID | {"EXOTEL_SAMPLE_RATE": "24000", "EXOTEL_API_URL": "https://api.in.exotel.com/"}
    settings = ExotelSettings.from_env(env)
    assert (settings.sample_rate, settings.api_url) == (24000, "https://api.in.exotel.com")


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("EXOTEL_API_KEY", "", "EXOTEL_API_KEY is not set"),
        ("EXOTEL_ACCOUNT_SID", "a/b", "EXOTEL_ACCOUNT_SID='a/b' is not an account SID"),
        ("EXOTEL_CALLER_ID", "call me", "EXOTEL_CALLER_ID='call me' is not a phone number"),
        ("EXOTEL_APP_ID", "flow-1", "EXOTEL_APP_ID='flow-1' is not a flow id"),
        ("EXOTEL_WEBHOOK_USER", "ex:otel", "EXOTEL_WEBHOOK_USER must not contain ':'"),
        ("EXOTEL_WEBHOOK_PASSWORD", "short", "at least 16 characters"),
        ("EXOTEL_WEBHOOK_PASSWORD", "0123456789abcdef@x", "without ':', '@'"),
        ("EXOTEL_SAMPLE_RATE", "44100", "EXOTEL_SAMPLE_RATE='44100' is not one of 8000"),
        ("EXOTEL_API_URL", "ftp://x", "EXOTEL_API_URL='ftp://x' is not an absolute URL"),
    ],
)
def test_a_wrong_setting_is_named_with_what_to_do(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError) as error:
        exotel.PACKAGE.settings_from_env(VALID | {name: value})
    assert words in str(error.value)
    assert "0123456789abcdef" not in str(error.value) or name == "EXOTEL_WEBHOOK_PASSWORD"


def test_one_exotel_setting_alone_asks_for_the_rest() -> None:
    with pytest.raises(ConfigError, match="EXOTEL_ACCOUNT_SID is not set"):
        exotel.PACKAGE.settings_from_env({"EXOTEL_API_KEY": "key"})
