"""deploy/docker-compose.yml with deploy/.env.example, rendered as compose would (no Docker).

What breaks a compose deployment silently is configuration that disagrees with itself: a
public URL the bridges sign against that is not where the carrier reaches them, an nginx config
other than the one `make test-cluster` runs, a secret baked into the file. These read the
rendered configuration and check that each part agrees with the others.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bridge.calls.settings import BridgeSettings
from tests.cluster.nginx import TEMPLATE
from tests.deploy.compose import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    ComposeError,
    Service,
    raw_services,
    read_env_file,
    render,
)

SECRETS = ("BRIDGE_SECRET", "BRIDGE_API_TOKEN", "POSTGRES_PASSWORD")
FILLED = {"BRIDGE_SECRET": "s" * 64, "BRIDGE_API_TOKEN": "t" * 64, "POSTGRES_PASSWORD": "pg-pw"}


def filled_env(tmp_path: Path, extra: str = "") -> Path:
    """.env.example as the instructions say: copied, the secrets filled in, nothing else."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={FILLED[key]}" if key in FILLED else line)
    env = tmp_path / ".env"
    env.write_text("\n".join(lines) + "\n" + extra)
    return env


def bridges(services: dict[str, Service]) -> list[Service]:
    """The services that run `serve` (the image's own command), not a simulator."""
    found = [s for s in services.values() if "build" in s.config and s.command is None]
    assert [s.name for s in found] == ["bridge-1", "bridge-2", "bridge-3"]
    return found


def nginx_url(services: dict[str, Service]) -> str:
    """Where the other containers reach nginx: its service name, on the port it listens on."""
    port = services["nginx"].environment["NGINX_PORT"]
    return "http://nginx" if port == "80" else f"http://nginx:{port}"


def option(service: Service, name: str) -> str:
    values = [a.split("=", 1)[1] for a in service.command or [] if a.startswith(f"--{name}=")]
    assert len(values) == 1, f"{service.name}: --{name}= once in {service.command}"
    return values[0]


def test_the_example_env_needs_its_secrets_filled_in() -> None:
    with pytest.raises(ComposeError, match=r"BRIDGE_SECRET.*openssl rand -hex 32"):
        render(ENV_EXAMPLE)
    assert all(read_env_file(ENV_EXAMPLE)[name] == "" for name in SECRETS)
    assert "32" in ENV_EXAMPLE.read_text()  # BRIDGE_API_TOKEN's minimum is said where it is set


def test_every_bridge_signs_against_the_url_the_carrier_simulator_reaches_nginx_at(
    tmp_path: Path,
) -> None:
    services = render(filled_env(tmp_path))
    url = nginx_url(services)
    for bridge in bridges(services):
        assert bridge.environment["BRIDGE_PUBLIC_URL"] == url, bridge.name
    # Kallglot's (simulated) webhooks go through nginx too, signed with the bridges' secret.
    kallglot = services["kallglot-sim"]
    assert option(kallglot, "webhook-url") == f"{url}/kallglot/webhooks"
    for bridge in bridges(services):
        env = bridge.environment
        assert option(kallglot, "webhook-secret") == env["KALLGLOT_WEBHOOK_SECRET"]
        api = urlsplit(env["KALLGLOT_API_URL"])
        assert (api.hostname, str(api.port)) == ("kallglot-sim", option(kallglot, "port"))
        twilio = urlsplit(env["TWILIO_API_URL"])
        carrier = services["carrier-sim"]
        assert (twilio.hostname, str(twilio.port)) == ("carrier-sim", option(carrier, "port"))
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):  # its signatures must verify
            assert carrier.environment[name] == env[name], name


def test_a_public_url_set_in_env_reaches_every_bridge(tmp_path: Path) -> None:
    services = render(filled_env(tmp_path, "BRIDGE_PUBLIC_URL=https://bridge.example.com\n"))
    for bridge in bridges(services):
        assert bridge.environment["BRIDGE_PUBLIC_URL"] == "https://bridge.example.com"


def test_secrets_come_from_env_and_are_never_written_into_the_compose_file(
    tmp_path: Path,
) -> None:
    raw = raw_services()
    reference = re.compile(r"\$\{(?P<name>[A-Z_]+):\?[^}]*\}")
    for name in ("BRIDGE_SECRET", "BRIDGE_API_TOKEN"):
        assert reference.fullmatch(raw["bridge-1"]["environment"][name])["name"] == name  # type: ignore[index]
    assert reference.fullmatch(raw["postgres"]["environment"]["POSTGRES_PASSWORD"])
    services = render(filled_env(tmp_path))
    for bridge in bridges(services):
        env = bridge.environment
        assert (env["BRIDGE_SECRET"], env["BRIDGE_API_TOKEN"]) == (
            FILLED["BRIDGE_SECRET"],
            FILLED["BRIDGE_API_TOKEN"],
        )
        database = urlsplit(env["BRIDGE_DATABASE_URL"])
        assert database.password == services["postgres"].environment["POSTGRES_PASSWORD"]
        assert database.hostname == "postgres"
        assert database.username == services["postgres"].environment["POSTGRES_USER"]


def test_nginx_runs_the_config_the_cluster_test_runs_in_front_of_the_three_bridges(
    tmp_path: Path,
) -> None:
    services = render(filled_env(tmp_path))
    nginx = services["nginx"]
    mounts = [volume.split(":") for volume in nginx.config["volumes"]]
    templates = [
        (COMPOSE_FILE.parent / source).resolve()
        for source, target, *_ in mounts
        if target.startswith("/etc/nginx/templates/") and target.endswith(".template")
    ]
    assert templates == [TEMPLATE]
    placeholders = set(re.findall(r"\$\{([A-Z0-9_]+)\}", TEMPLATE.read_text()))
    assert placeholders <= set(nginx.environment), "every placeholder is defined"
    upstreams = sorted(nginx.environment[f"UPSTREAM_{i}"] for i in (1, 2, 3))
    assert upstreams == sorted(
        f"{bridge.name}:{bridge.environment['BRIDGE_PORT']}" for bridge in bridges(services)
    )


def test_only_nginx_is_published_on_the_host(tmp_path: Path) -> None:
    services = render(filled_env(tmp_path))
    published = {
        name: s.config.get("ports") for name, s in services.items() if s.config.get("ports")
    }
    assert published == {"nginx": ["8080:80"]}
    assert services["nginx"].environment["NGINX_PORT"] == "80"  # the container side of 8080:80


def test_each_bridge_s_rendered_environment_is_accepted_by_the_bridge(tmp_path: Path) -> None:
    services = render(filled_env(tmp_path))
    for bridge in bridges(services):
        mounts = dict(reversed(v.split(":")[:2]) for v in bridge.config["volumes"])
        env = dict(bridge.environment)
        routes = COMPOSE_FILE.parent / mounts[env["BRIDGE_ROUTES"]]  # the mounted file, here
        env["BRIDGE_ROUTES"] = str(routes)
        settings = BridgeSettings.from_env(env)
        assert settings.public_url == env["BRIDGE_PUBLIC_URL"]
        assert settings.port == 8080
