"""Vonage application settings from the environment, checked once at start-up.

A Vonage Voice application is three secrets and an id: the application's RSA private key signs
the JWTs our REST calls carry, and the account's signature secret is what Vonage signs its
webhooks and media handshakes with (HS256). Both are checked here, so a pasted key that does not
parse, or a placeholder secret, stops the bridge with the setting's name instead of failing the
first call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from bridge.settings import ConfigError, Env, env_float, env_int, env_str, env_url

DEFAULT_API_URL = "https://api.nexmo.com"
SAMPLE_RATES = (8000, 16000, 24000)  # what Vonage streams as audio/l16 (carriers.md §5.1)
DEFAULT_SAMPLE_RATE = 16000  # Vonage's recommendation for speech recognition
MIN_SECRET_CHARS = 16  # Vonage's are ~50; anything this short is a placeholder
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_KEY_HELP = (
    "set it to the application's private key (Vonage dashboard, Applications, your app, "
    "'Generate public and private key': the private.key file), as the PEM text itself or the "
    "path of that file"
)


@dataclass(frozen=True, slots=True)
class VonageSettings:
    application_id: str
    private_key: str = field(repr=False)  # PEM: signs the application JWT of every REST call
    signature_secret: str = field(repr=False)  # HS256: signs webhooks and media handshakes
    caller_id: str
    api_url: str = DEFAULT_API_URL
    sample_rate: int = DEFAULT_SAMPLE_RATE
    webhook_tolerance_s: float = 300.0

    @classmethod
    def from_env(cls, env: Env) -> VonageSettings:
        application_id = env_str(env, "VONAGE_APPLICATION_ID")
        if not _UUID.fullmatch(application_id):
            raise ConfigError(
                f"VONAGE_APPLICATION_ID={application_id!r} is not an application id (a UUID "
                "like aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, shown under Applications in the "
                "Vonage dashboard)"
            )
        caller_id = env_str(env, "VONAGE_CALLER_ID")
        if not _E164.fullmatch(caller_id):
            raise ConfigError(
                f"VONAGE_CALLER_ID={caller_id!r} is not an E.164 number like +15550100001 "
                "(a number of your Vonage account, linked to the application)"
            )
        secret = env_str(env, "VONAGE_SIGNATURE_SECRET")
        if len(secret) < MIN_SECRET_CHARS:
            raise ConfigError(
                f"VONAGE_SIGNATURE_SECRET is {len(secret)} characters, too short to be the "
                "account's signature secret (Vonage dashboard, API Settings, 'Signature "
                f"secret'; at least {MIN_SECRET_CHARS} characters)"
            )
        return cls(
            application_id=application_id,
            private_key=load_private_key(env_str(env, "VONAGE_PRIVATE_KEY")),
            signature_secret=secret,
            caller_id=caller_id,
            api_url=env_url(env, "VONAGE_API_URL", DEFAULT_API_URL, ("https", "http")),
            sample_rate=_sample_rate(env),
            webhook_tolerance_s=env_float(
                env, "VONAGE_WEBHOOK_TOLERANCE_S", 300.0, low=1, high=3600
            ),
        )


def load_private_key(value: str) -> str:
    """The PEM text of VONAGE_PRIVATE_KEY (given as PEM, or as the path of a PEM file),
    checked to be an RSA private key; ConfigError saying which form failed and why."""
    if value.startswith("-----BEGIN"):
        pem, source = value.replace("\\n", "\n"), "the PEM text"
    else:
        path = Path(value).expanduser()
        try:
            pem, source = path.read_text(encoding="utf-8"), f"the file {str(path)!r}"
        except FileNotFoundError:
            raise ConfigError(
                f"VONAGE_PRIVATE_KEY is neither PEM text (it does not start with "
                f"'-----BEGIN') nor the path of a file ({str(path)!r} does not exist); "
                f"{_KEY_HELP}"
            ) from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(
                f"VONAGE_PRIVATE_KEY: cannot read the file {str(path)!r} "
                f"({type(error).__name__}); {_KEY_HELP}"
            ) from None
    try:
        key = serialization.load_pem_private_key(pem.encode("utf-8"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        why = "it is encrypted" if isinstance(error, TypeError) else "it does not parse"
        raise ConfigError(
            f"VONAGE_PRIVATE_KEY: {source} is not an unencrypted PEM private key ({why}); "
            f"{_KEY_HELP}"
        ) from None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError(
            f"VONAGE_PRIVATE_KEY: {source} holds a {type(key).__name__}, not the RSA key "
            f"Vonage generates; {_KEY_HELP}"
        )
    return pem


def _sample_rate(env: Env) -> int:
    rate = env_int(env, "VONAGE_SAMPLE_RATE", DEFAULT_SAMPLE_RATE, low=8000, high=24000)
    if rate not in SAMPLE_RATES:
        raise ConfigError(
            f"VONAGE_SAMPLE_RATE={rate} is not one Vonage streams; use 8000, 16000 or 24000"
        )
    return rate
