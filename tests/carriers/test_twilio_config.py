"""Twilio settings: validation names the setting; the token never shows."""

from __future__ import annotations

import pytest

from bridge.carriers.twilio.config import TwilioSettings
from bridge.settings import ConfigError

SID = "AC" + "0123456789abcdef" * 2
ENV = {
    "TWILIO_ACCOUNT_SID": SID,
    "TWILIO_AUTH_TOKEN": "super-secret-token",
    "TWILIO_CALLER_ID": "+15550100001",
}


def test_from_env_with_defaults() -> None:
    settings = TwilioSettings.from_env(ENV)
    assert settings == TwilioSettings(SID, "super-secret-token", "+15550100001")
    assert settings.api_url == "https://api.twilio.com"


def test_api_url_override_is_normalised() -> None:
    settings = TwilioSettings.from_env(ENV | {"TWILIO_API_URL": "http://127.0.0.1:9000/"})
    assert settings.api_url == "http://127.0.0.1:9000"


def test_token_is_not_in_repr() -> None:
    assert "super-secret-token" not in repr(TwilioSettings.from_env(ENV))


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"TWILIO_ACCOUNT_SID": ""}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_ACCOUNT_SID": "SK" + "0" * 32}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_AUTH_TOKEN": " "}, "TWILIO_AUTH_TOKEN"),
        ({"TWILIO_CALLER_ID": "5550100001"}, "TWILIO_CALLER_ID"),
        ({"TWILIO_CALLER_ID": "+0550100001"}, "TWILIO_CALLER_ID"),
        ({"TWILIO_API_URL": "ftp://api.example"}, "TWILIO_API_URL"),
    ],
)
def test_errors_name_the_setting(change: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError, match=setting) as caught:
        TwilioSettings.from_env(ENV | change)
    assert "super-secret-token" not in str(caught.value)
