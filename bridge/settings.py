"""Reading settings from the environment, with errors that name the setting and say how to fix it.

Each layer declares its own frozen settings dataclass with a `from_env(env)` built from these
readers; `bridge.config` composes them and validates everything once at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

Env = Mapping[str, str]


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names it and what a valid value looks like."""


def _raw(env: Env, name: str) -> str:
    """The setting, stripped. os.environ hands undecodable bytes over as lone surrogates, which
    would fail much later (signing with such a secret raises); refuse them here, by name."""
    value = env.get(name, "").strip()
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(
            f"{name} contains bytes that are not UTF-8; set it to plain text"
        ) from None
    return value


def env_str(env: Env, name: str, default: str | None = None) -> str:
    value = _raw(env, name)
    if value:
        return value
    if default is None:
        raise ConfigError(f"{name} is not set; it is required")
    return default


def env_optional(env: Env, name: str) -> str | None:
    return _raw(env, name) or None


def env_int(env: Env, name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not a whole number (expected {low}..{high})"
        ) from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range; use {low}..{high}")
    return value


def env_float(env: Env, name: str, default: float, *, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number (expected {low}..{high})") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range; use {low}..{high}")
    return value


def env_choice(env: Env, name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def env_bool(env: Env, name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false")


def env_url(env: Env, name: str, default: str | None, schemes: tuple[str, ...]) -> str:
    value = env_str(env, name, default).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(
            f"{name}={value!r} is not an absolute URL with scheme {' or '.join(schemes)}"
        )
    return value
