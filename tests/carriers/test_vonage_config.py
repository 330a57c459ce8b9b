"""Vonage settings: none configures no account; each mistake names its setting and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bridge.carriers.vonage import PACKAGE
from bridge.carriers.vonage.appjwt import generate_private_key
from bridge.carriers.vonage.config import VonageSettings
from bridge.settings import ConfigError

KEY = generate_private_key()
GOOD = {
    "VONAGE_APPLICATION_ID": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    "VONAGE_PRIVATE_KEY": KEY,
    "VONAGE_SIGNATURE_SECRET": "s" * 40,
    "VONAGE_CALLER_ID": "+15550100000",
}


def test_no_vonage_setting_means_no_vonage_account() -> None:
    assert PACKAGE.settings_from_env({}) is None
    assert PACKAGE.settings_from_env({"TWILIO_AUTH_TOKEN": "x"}) is None


def test_a_complete_configuration_reads_with_defaults() -> None:
    settings = PACKAGE.settings_from_env(GOOD)
    assert settings is not None
    assert settings.sample_rate == 16000  # Vonage recommends 16 kHz
    assert settings.api_url == "https://api.nexmo.com"
    assert settings.webhook_tolerance_s == 300
    assert KEY not in repr(settings)
    assert "s" * 40 not in repr(settings)


def test_the_private_key_may_be_a_path(tmp_path: Path) -> None:
    path = tmp_path / "private.key"
    path.write_text(KEY)
    settings = VonageSettings.from_env(GOOD | {"VONAGE_PRIVATE_KEY": str(path)})
    assert settings.private_key == KEY


def test_a_key_with_escaped_newlines_from_an_env_file_reads() -> None:
    settings = VonageSettings.from_env(GOOD | {"VONAGE_PRIVATE_KEY": KEY.replace("\n", "\\n")})
    assert settings.private_key == KEY


ED25519 = (
    Ed25519PrivateKey.generate()
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode()
)


@pytest.mark.parametrize(
    ("changes", "named", "says"),
    [
        ({"VONAGE_CALLER_ID": ""}, "VONAGE_CALLER_ID", "not set"),
        ({"VONAGE_APPLICATION_ID": "my-app"}, "VONAGE_APPLICATION_ID", "UUID"),
        ({"VONAGE_CALLER_ID": "15550100000"}, "VONAGE_CALLER_ID", "E.164"),
        ({"VONAGE_SIGNATURE_SECRET": "short"}, "VONAGE_SIGNATURE_SECRET", "too short"),
        (
            {"VONAGE_PRIVATE_KEY": "/nonexistent/private.key"},
            "VONAGE_PRIVATE_KEY",
            "does not exist",
        ),
        (
            {"VONAGE_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nxx\n"},
            "VONAGE_PRIVATE_KEY",
            "PEM text",
        ),
        ({"VONAGE_PRIVATE_KEY": ED25519}, "VONAGE_PRIVATE_KEY", "not the RSA key"),
        ({"VONAGE_SAMPLE_RATE": "44100"}, "VONAGE_SAMPLE_RATE", "out of range"),
        ({"VONAGE_SAMPLE_RATE": "11025"}, "VONAGE_SAMPLE_RATE", "8000, 16000 or 24000"),
        ({"VONAGE_API_URL": "ftp://x"}, "VONAGE_API_URL", "scheme"),
        ({"VONAGE_WEBHOOK_TOLERANCE_S": "0"}, "VONAGE_WEBHOOK_TOLERANCE_S", "range"),
    ],
)
def test_each_mistake_names_its_setting(changes: dict[str, str], named: str, says: str) -> None:
    with pytest.raises(ConfigError) as error:
        PACKAGE.settings_from_env(GOOD | changes)
    assert named in str(error.value), str(error.value)
    assert says in str(error.value), str(error.value)


def test_a_key_file_that_is_not_a_key_says_which_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ConfigError, match=r"the file .*notes\.txt"):
        VonageSettings.from_env(GOOD | {"VONAGE_PRIVATE_KEY": str(path)})
