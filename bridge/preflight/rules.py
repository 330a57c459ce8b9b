"""The preflight rules: settings and probe facts in, findings out. Pure: no sockets, no clock.
(The carrier accounts' rules are in carrier_rules.py.)

"Real" carrier means its API URL is the carrier's own (api.twilio.com, a regional twilio.com
host, api.telnyx.com); any other URL is a simulator (tests, `make run`, the compose file's),
where a loopback `http` BRIDGE_PUBLIC_URL is right. A real carrier must be handed a public
`https` URL: it fetches the webhooks from there, and the media streams go to the same host
over `wss` (Twilio refuses `ws://`, and a stream carries the call's audio and its ticket).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from bridge.carriers.exotel.config import DEFAULT_API_URL as EXOTEL_API_URL
from bridge.carriers.plivo.config import DEFAULT_API_URL as PLIVO_API_URL
from bridge.carriers.telnyx.config import DEFAULT_API_URL as TELNYX_API_URL
from bridge.carriers.twilio.config import DEFAULT_API_URL as TWILIO_API_URL
from bridge.carriers.vonage.config import DEFAULT_API_URL as VONAGE_API_URL
from bridge.config import Config
from bridge.kallglot.probe import ProbeResult, Reach
from bridge.preflight.findings import DatabaseFacts, Finding, Level
from bridge.store.migrations import latest
from bridge.urls import public_http_url, public_ws_url

# Carrier -> the domain of its real API (from the default URL: api.twilio.com -> twilio.com).
REAL_DOMAINS = {
    name: ".".join((urlsplit(url).hostname or "").split(".")[-2:])
    for name, url in (
        ("twilio", TWILIO_API_URL),
        ("telnyx", TELNYX_API_URL),
        ("plivo", PLIVO_API_URL),
        ("vonage", VONAGE_API_URL),
        ("exotel", EXOTEL_API_URL),
    )
}
NOT_PUBLIC_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".localdomain")
TUNNEL = (
    "expose the bridge on a public https URL (e.g. `cloudflared tunnel --url "
    "http://127.0.0.1:8080` or `ngrok http 8080`) and set BRIDGE_PUBLIC_URL to it"
)


def is_real(name: str, settings: Any) -> bool:
    """Whether `settings` talk to the carrier itself rather than a simulator."""
    domain = REAL_DOMAINS.get(name)
    host = urlsplit(str(getattr(settings, "api_url", ""))).hostname or ""
    if domain is None:  # a carrier this module does not know: assume the real thing
        return True
    return host == domain or host.endswith("." + domain)


def real_carriers(carriers: Mapping[str, Any]) -> list[str]:
    return [name for name, settings in carriers.items() if is_real(name, settings)]


def public_url_problem(url: str) -> str | None:
    """Why a carrier on the internet could not use `url` as the bridge's address, or None."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    problems = [] if parts.scheme == "https" else ["is not https"]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(NOT_PUBLIC_SUFFIXES) or "." not in host:
            problems.append(f"names the host {host!r}, which is not a public DNS name")
    else:
        if not address.is_global:
            kind = "loopback" if address.is_loopback else "private or reserved"
            problems.append(f"names a {kind} address ({host})")
    return " and ".join(problems) or None


def settings_findings(config: Config, *, outbound_only: bool = False) -> list[Finding]:
    """What the settings alone say (no network)."""
    found = [_secret(config), _public_url(config), _routes(config, outbound_only)]
    if config.kallglot.api_key is None:
        found.append(
            Finding(
                Level.WARNING,
                "kallglot",
                "KALLGLOT_API_KEY is not set: serve starts the Kallglot simulator, which "
                "echoes speech instead of translating it",
                "set KALLGLOT_API_KEY (Kallglot Developer Portal) for real translation",
            )
        )
    if not config.carriers:
        found.append(
            Finding(
                Level.WARNING,
                "carriers",
                "no carrier account is set: serve starts a simulated Twilio (local tests only)",
                "set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_CALLER_ID (or another "
                'carrier\'s: TELNYX_*, VONAGE_*, PLIVO_* or EXOTEL_*, README "Carriers") to take '
                "real calls",
            )
        )
    return found


def _secret(config: Config) -> Finding:
    if config.bridge.secret_is_ephemeral:
        return Finding(
            Level.WARNING,
            "secret",
            "BRIDGE_SECRET is not set: each process signs call tickets with its own random "
            "secret, so no other instance can verify them",
            "set BRIDGE_SECRET (openssl rand -hex 32), the same on every instance",
        )
    return Finding(Level.OK, "secret", "BRIDGE_SECRET is set")


def _public_url(config: Config) -> Finding:
    url = config.bridge.public_url
    real = real_carriers(config.carriers)
    if not real:
        return Finding(
            Level.OK,
            "public url",
            f"BRIDGE_PUBLIC_URL={url} (no real carrier configured: it need not be public)",
        )
    problem = public_url_problem(url)
    stream = public_ws_url(url, f"/{real[0]}/media/...")
    if problem is not None:
        return Finding(
            Level.ERROR,
            "public url",
            f"BRIDGE_PUBLIC_URL={url} {problem}, but {' and '.join(real)} is real: it would be "
            f"handed {stream} for media streams, which it cannot reach (and Twilio refuses ws://)",
            TUNNEL,
            fatal=True,
        )
    return Finding(Level.OK, "public url", f"BRIDGE_PUBLIC_URL={url}; media streams at {stream}")


def _routes(config: Config, outbound_only: bool) -> Finding:
    numbers = list(config.bridge.routes.by_number)
    if numbers:
        shown = ", ".join(numbers[:3]) + (
            f" and {len(numbers) - 3} more" if len(numbers) > 3 else ""
        )
        routed = f"{len(numbers)} number{'s' if len(numbers) > 1 else ''} routed"
        return Finding(Level.OK, "routes", f"{routed}: {shown}")
    none = "no routes (BRIDGE_ROUTES is unset or names a file without any)"
    example = "set BRIDGE_ROUTES to a routes file (see deploy/routes.example.toml)"
    if config.bridge.api_token is None:
        return Finding(
            Level.ERROR,
            "routes",
            f"{none} and the API is off (BRIDGE_API_TOKEN unset): every caller would hear "
            '"not in service", and no call can be placed',
            example,
            fatal=bool(real_carriers(config.carriers)),  # a simulator may idle; real numbers not
        )
    if outbound_only:
        return Finding(Level.OK, "routes", f"{none}: outbound calls only, as --outbound-only says")
    return Finding(
        Level.WARNING,
        "routes",
        f'{none}: callers of your numbers hear "not in service"; only outbound calls '
        "(POST /v1/calls) work",
        f"{example}; if only outbound calls are intended, run check with --outbound-only",
    )


def kallglot_finding(url: str, result: ProbeResult) -> Finding:
    """What the Kallglot probe says about KALLGLOT_API_URL and KALLGLOT_API_KEY."""
    if result.reach is Reach.ACCEPTED:
        took = f"{result.elapsed_s * 1000:.0f} ms"
        return Finding(Level.OK, "kallglot", f"{url} accepts KALLGLOT_API_KEY ({took})")
    if result.reach is Reach.UNREACHABLE:
        return Finding(
            Level.ERROR,
            "kallglot",
            f"cannot reach Kallglot at KALLGLOT_API_URL={url}: {result.detail}",
            "check KALLGLOT_API_URL (unset means https://api.kallglot.com/v1), DNS and "
            "outbound firewall rules",
        )
    if result.reach is Reach.FAILING:
        return Finding(
            Level.ERROR,
            "kallglot",
            f"Kallglot at {url} is failing ({result.detail})",
            "the fault is Kallglot's: check its status, then run this check again",
        )
    if result.status == 401:
        return Finding(
            Level.ERROR,
            "kallglot",
            f"Kallglot at {url} refused KALLGLOT_API_KEY ({result.detail})",
            "copy a current key from the Kallglot Developer Portal (sk_live_... for "
            "production; a revoked key, or a test key against live, is refused)",
            fatal=True,
        )
    return Finding(
        Level.ERROR,
        "kallglot",
        f"Kallglot at {url} refused this account ({result.detail})",
        "check the organization's subscription and the key's scopes (sessions:read, "
        "sessions:write) in the Kallglot Developer Portal",
    )


def database_finding(facts: DatabaseFacts) -> Finding:
    known = latest()
    where = f"BRIDGE_DATABASE_URL={facts.shown_url}"
    if facts.error is not None:
        return Finding(
            Level.ERROR,
            "database",
            f"cannot open {where}: {facts.error}",
            "check the URL, that PostgreSQL runs and accepts this user and password, or "
            "(SQLite) that the directory is writable",
        )
    if facts.version is None:
        return Finding(
            Level.OK, "database", f"{where} does not exist yet: serve creates it (schema {known})"
        )
    if facts.version == known:
        return Finding(Level.OK, "database", f"{where}: schema version {known}, current")
    if facts.version < known:
        return Finding(
            Level.WARNING,
            "database",
            f"{where}: schema version {facts.version}, this bridge's is {known}",
            "nothing to do by hand: serve migrates it at start-up (steps only add)",
        )
    return Finding(
        Level.WARNING,
        "database",
        f"{where}: schema version {facts.version} is newer than this bridge's ({known}): a "
        "newer bridge migrated it",
        "upgrade this instance; older code keeps working on a newer schema meanwhile",
    )


def voice_webhooks(config: Config) -> list[str]:
    """Per configured carrier, the exact URL to paste into its console, how it is fetched, and
    where it goes (README, "Carriers")."""
    if not config.carriers:
        return ["(no carrier configured: serve's simulated Twilio needs no webhook)"]
    lines = []
    for name, settings in config.carriers.items():
        url = voice_url(config, name)
        method, where = {
            "twilio": (
                "POST",
                'each number\'s "A call comes in" (or: python -m bridge configure-numbers --apply)',
            ),
            "telnyx": ("POST", "the Call Control application's webhook URL, API v2"),
            "vonage": ("GET", "the Voice application's Answer URL, and its Event URL too"),
            "plivo": ("POST", "the Plivo application's Answer URL (and Hangup URL)"),
            "exotel": ("GET", "the Voicebot applet's dynamic endpoint, in the call flow"),
        }.get(name, ("POST", "the number's voice webhook"))
        if name == "exotel":  # Exotel authenticates by the URL's own credentials
            user = getattr(settings, "webhook_user", "<EXOTEL_WEBHOOK_USER>")
            scheme, _, rest = url.partition("://")
            url = f"{scheme}://{user}:<EXOTEL_WEBHOOK_PASSWORD>@{rest}"
        lines.append(f"{name:<8}{method:<5}{url}   {where}")
    return lines


def voice_url(config: Config, carrier: str) -> str:
    return public_http_url(config.bridge.public_url, f"/{carrier}/voice")
