"""Compose's rendered configuration, without Docker: what `docker compose config` would show.

Docker is not where the tests run, so this does the part of compose the deployment relies on:
the `.env` file's syntax, `${VAR}` interpolation with its `:-`, `-`, `:?`, `?`, `:+`, `+` forms
and `$$`, YAML merge keys (PyYAML does those), and each service's effective environment (the
image's ENV, then `env_file`, then `environment`, later winning). Anything else compose would
do differently is out of scope; anything this cannot read raises rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DOCKERFILE = DEPLOY / "Dockerfile"

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TOKEN = re.compile(
    rf"\$(?:(?P<escaped>\$)|(?P<bare>{_NAME})|\{{(?P<braced>{_NAME})(?:(?P<op>:?[-?+])(?P<arg>[^}}]*))?\}})"
)


class ComposeError(Exception):
    """What compose itself would refuse, with its message (a required variable unset...)."""


@dataclass(frozen=True)
class Service:
    name: str
    config: dict[str, Any]
    environment: dict[str, str]  # effective: image ENV < env_file < environment

    @property
    def command(self) -> list[str] | None:
        command = self.config.get("command")
        return command.split() if isinstance(command, str) else command


def read_env_file(path: Path) -> dict[str, str]:
    """Compose's `.env` syntax: KEY=VALUE lines, `#` comments, optional matching quotes."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not re.fullmatch(_NAME, key.strip()):
            raise ComposeError(f"{path}:{number}: not KEY=VALUE: {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def interpolate(text: str, variables: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["bare"] or match["braced"]
        op, arg = match["op"], match["arg"] or ""
        value = variables.get(name)
        present, non_empty = value is not None, bool(value)
        if "$" in arg:
            raise ComposeError(f"nested interpolation in {match[0]!r} is not handled here")
        if op in (":-", "-"):
            return value if (non_empty if op == ":-" else present) else arg  # type: ignore[return-value]
        if op in (":?", "?"):
            if not (non_empty if op == ":?" else present):
                raise ComposeError(f"required variable {name} is missing a value: {arg}")
            return value or ""
        if op in (":+", "+"):
            return arg if (non_empty if op == ":+" else present) else ""
        return value or ""

    return _TOKEN.sub(substitute, text)


def _walk(node: Any, variables: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, dict):
        return {key: _walk(value, variables) for key, value in node.items()}
    if isinstance(node, list):
        return [_walk(value, variables) for value in node]
    return node


def _as_mapping(environment: Any, variables: dict[str, str]) -> dict[str, str]:
    if environment is None:
        return {}
    if isinstance(environment, dict):
        return {k: "" if v is None else str(v) for k, v in environment.items()}
    mapping: dict[str, str] = {}
    for item in environment:  # list form: KEY=VALUE, or KEY alone (taken from the shell)
        key, sep, value = str(item).partition("=")
        if sep:
            mapping[key] = value
        elif key in variables:
            mapping[key] = variables[key]
    return mapping


def image_env(dockerfile: Path = DOCKERFILE) -> dict[str, str]:
    """The ENV of the Dockerfile's last stage (the image the services run)."""
    text = dockerfile.read_text().replace("\\\n", " ")
    last_stage = text.rsplit("\nFROM ", 1)[-1]
    env: dict[str, str] = {}
    for line in last_stage.splitlines():
        if line.startswith("ENV "):
            env.update(pair.split("=", 1) for pair in line[4:].split())  # type: ignore[misc]
    return env


def render(
    env_file: Path | None = ENV_EXAMPLE,
    overrides: dict[str, str] | None = None,
    compose_file: Path = COMPOSE_FILE,
) -> dict[str, Service]:
    """Every service as compose would run it with `--env-file env_file` (and `overrides` as the
    shell's environment, which wins over the file)."""
    variables = read_env_file(env_file) if env_file is not None else {}
    variables |= overrides or {}
    document = _walk(yaml.safe_load(compose_file.read_text()), variables)
    built = image_env()
    services: dict[str, Service] = {}
    for name, config in document["services"].items():
        environment = dict(built) if "build" in config else {}
        env_files = config.get("env_file") or []
        for path in [env_files] if isinstance(env_files, str) else env_files:
            environment |= read_env_file(compose_file.parent / path)
        environment |= _as_mapping(config.get("environment"), variables)
        services[name] = Service(name, config, environment)
    return services


def raw_services(compose_file: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The services before interpolation (to see what is a reference and what a literal)."""
    document: dict[str, Any] = yaml.safe_load(compose_file.read_text())
    return document["services"]  # type: ignore[no-any-return]
