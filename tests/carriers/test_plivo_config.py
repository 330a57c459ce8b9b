"""Plivo settings: none configured means no account; one wrong stops the bridge naming it."""

from __future__ import annotations

import pytest

from bridge.audio.formats import MULAW_8K, PCM16_16K
from bridge.carriers.plivo import PACKAGE
from bridge.settings import ConfigError

GOOD = {
    "PLIVO_AUTH_ID": "MAXXXXXXXXXXXXXXXXX1",
    "PLIVO_AUTH_TOKEN": "token-" + "t" * 30,
    "PLIVO_CALLER_ID": "+15550100000",
}


def test_no_plivo_setting_means_no_plivo_account() -> None:
    assert PACKAGE.settings_from_env({"TWILIO_AUTH_TOKEN": "x"}) is None


def test_good_settings_and_their_defaults() -> None:
    settings = PACKAGE.settings_from_env(GOOD)
    assert settings is not None
    assert settings.api_url == "https://api.plivo.com/v1"
    assert settings.audio_format == MULAW_8K
    assert GOOD["PLIVO_AUTH_TOKEN"] not in repr(settings)
    l16 = PACKAGE.settings_from_env(GOOD | {"PLIVO_CONTENT_TYPE": "audio/x-L16; rate=16000"})
    assert l16 is not None
    assert l16.content_type == "audio/x-l16;rate=16000"
    assert l16.audio_format == PCM16_16K


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"PLIVO_AUTH_ID": "AC" + "0" * 32}, "PLIVO_AUTH_ID='AC"),
        ({"PLIVO_AUTH_ID": ""}, "PLIVO_AUTH_ID is not set"),
        ({"PLIVO_AUTH_TOKEN": ""}, "PLIVO_AUTH_TOKEN is not set"),
        ({"PLIVO_CALLER_ID": "5550100"}, "PLIVO_CALLER_ID='5550100' is not an E.164"),
        ({"PLIVO_CONTENT_TYPE": "audio/x-alaw;rate=8000"}, "PLIVO_CONTENT_TYPE='audio/x-alaw"),
        ({"PLIVO_API_URL": "ftp://api.plivo.com"}, "PLIVO_API_URL='ftp://api.plivo.com'"),
    ],
)
def test_a_wrong_setting_is_named_with_what_to_do(change: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        PACKAGE.settings_from_env(GOOD | change)
    assert named in str(raised.value)


def test_one_setting_alone_asks_for_the_others() -> None:
    with pytest.raises(ConfigError, match="PLIVO_AUTH_ID is not set"):
        PACKAGE.settings_from_env({"PLIVO_CONTENT_TYPE": "audio/x-mulaw;rate=8000"})
