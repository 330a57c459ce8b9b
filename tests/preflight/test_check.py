"""`python -m bridge check` and serve's `startup_errors` against the simulators on loopback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.carriers.vonage.appjwt import generate_private_key
from bridge.preflight import Level, preflight, startup_errors
from bridge.preflight.findings import Finding
from bridge.preflight.rules import voice_webhooks
from bridge.store.base import open_store
from bridge.store.config import StoreSettings
from bridge.store.migrations import latest
from tests.preflight.conftest import CENTRE, PUBLIC_URL, SOLO, Services, closed_port

Run = Callable[..., Any]


def by_subject(findings: list[Finding]) -> dict[str, list[Finding]]:
    found: dict[str, list[Finding]] = {}
    for finding in findings:
        found.setdefault(finding.subject, []).append(finding)
    return found


def levels(findings: list[Finding]) -> dict[str, set[Level]]:
    return {subject: {f.level for f in group} for subject, group in by_subject(findings).items()}


async def test_all_good_passes_every_check_and_prints_the_webhooks(
    services: Services, run_command: Run
) -> None:
    services.own_routed_numbers()
    status, out, err = await run_command(services.env, "check")

    assert (status, err) == (0, "")
    lines = out.splitlines()
    checks = [line for line in lines if line.split(" ", 1)[0] in ("ok", "warning", "error")]
    assert [line for line in checks if not line.startswith("ok ")] == []
    subjects = {line.split()[1] for line in checks}
    assert {"secret", "public", "routes", "kallglot", "database"} <= subjects
    assert {"twilio", "telnyx", "vonage", "plivo", "exotel"} <= subjects
    assert (
        sum(f"{number} calls POST {PUBLIC_URL}/twilio/voice" in out for number in (CENTRE, SOLO))
        == 2
    )
    assert f"twilio  POST {PUBLIC_URL}/twilio/voice" in out
    assert f"telnyx  POST {PUBLIC_URL}/telnyx/voice" in out
    assert lines[-1] == "all checks passed"
    assert services.kallglot.api_key not in out  # no secret is printed
    assert not services.kallglot.sessions  # nothing created, nothing billed
    assert await startup_errors(services.config()) == []


async def test_a_wrong_kallglot_key_is_an_error_and_stops_serve(
    services: Services, run_command: Run
) -> None:
    env = services.environment(KALLGLOT_API_KEY="sk_live_revoked")
    status, out, _ = await run_command(env, "check")

    assert status == 1
    (line,) = [line for line in out.splitlines() if line.split()[:2] == ["error", "kallglot"]]
    assert "refused KALLGLOT_API_KEY (HTTP 401, invalid_api_key" in line
    assert "Developer Portal" in line  # what to do
    assert "sk_live_revoked" not in out
    errors = await startup_errors(services.config(KALLGLOT_API_KEY="sk_live_revoked"))
    assert len(errors) == 1
    assert "refused KALLGLOT_API_KEY" in errors[0]
    assert "Developer Portal" in errors[0]


async def test_an_unreachable_kallglot_url_names_the_setting_but_does_not_stop_serve(
    services: Services,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    config = services.config(KALLGLOT_API_URL=url)
    report = await preflight(config, timeout_s=2)

    (kallglot,) = by_subject(report.findings)["kallglot"]
    assert kallglot.level is Level.ERROR
    assert f"KALLGLOT_API_URL={url}" in kallglot.message
    assert "check KALLGLOT_API_URL" in kallglot.todo
    assert not kallglot.fatal  # it may come back: readiness covers that, not start-up
    assert await startup_errors(config, timeout_s=2) == []


async def test_a_loopback_public_url_with_a_real_looking_carrier_is_an_error(
    services: Services, run_command: Run
) -> None:
    # Twilio's own API host makes the account real; offline, so nothing is sent to it.
    env = services.environment(TWILIO_API_URL=None, TELNYX_API_KEY=None, TELNYX_PUBLIC_KEY=None,
                               TELNYX_CONNECTION_ID=None, TELNYX_CALLER_ID=None, TELNYX_API_URL=None)  # fmt: skip
    status, out, _ = await run_command(env, "check", "--offline")

    assert status == 1
    (line,) = [line for line in out.splitlines() if line.startswith("error")]
    assert f"BRIDGE_PUBLIC_URL={PUBLIC_URL} is not https and names a loopback address" in line
    assert "ws://127.0.0.1:8080/twilio/media/" in line
    assert "cloudflared tunnel" in line
    assert "set BRIDGE_PUBLIC_URL" in line
    assert "(offline:" in out

    report = await preflight(services.config(TWILIO_API_URL=None), offline=True)
    fatal = [f for f in report.findings if f.fatal]
    assert [f.subject for f in fatal] == ["public url"]

    tunnel = await preflight(
        services.config(TWILIO_API_URL=None, BRIDGE_PUBLIC_URL="https://abc.trycloudflare.com"),
        offline=True,
    )
    assert levels(tunnel.findings)["public url"] == {Level.OK}
    assert "POST https://abc.trycloudflare.com/twilio/voice" in tunnel.webhooks[0]


async def test_no_routes_is_an_error_without_the_api_and_a_warning_with_it(
    services: Services, run_command: Run
) -> None:
    no_api = services.environment(BRIDGE_ROUTES=None, BRIDGE_API_TOKEN=None)
    status, out, _ = await run_command(no_api, "check", "--offline")
    assert status == 1
    (line,) = [line for line in out.splitlines() if line.startswith("error")]
    assert "no routes" in line
    assert "set BRIDGE_ROUTES" in line

    config = services.config(BRIDGE_ROUTES=None)
    (routes,) = by_subject((await preflight(config, offline=True)).findings)["routes"]
    assert routes.level is Level.WARNING
    assert "--outbound-only" in routes.todo  # how to silence it
    quiet = await preflight(config, offline=True, outbound_only=True)
    assert levels(quiet.findings)["routes"] == {Level.OK}
    assert await startup_errors(config) == []  # outbound calls through the API still work


async def test_wrong_carrier_credentials_are_errors_and_stop_serve(services: Services) -> None:
    config = services.config(TWILIO_AUTH_TOKEN="wrong", TELNYX_API_KEY="KEYwrong")
    found = by_subject((await preflight(config)).findings)

    (twilio,) = found["twilio"]
    assert (twilio.level, twilio.fatal) == (Level.ERROR, True)
    assert "HTTP 401, error 20003" in twilio.message
    assert "Twilio Console" in twilio.todo
    assert "twilio number" not in found  # no lookups with credentials already refused
    (telnyx,) = found["telnyx"]
    assert (telnyx.level, telnyx.fatal) == (Level.ERROR, True)
    assert "TELNYX_API_KEY" in telnyx.message
    assert "10009" in telnyx.message
    errors = await startup_errors(config)
    assert len(errors) == 2
    assert any("TWILIO_AUTH_TOKEN" in e for e in errors)
    assert any("TELNYX_API_KEY" in e for e in errors)


async def test_carrier_consoles_that_do_not_point_at_the_bridge_are_warnings(
    services: Services,
) -> None:
    services.twilio.own_number(CENTRE, "https://demo.twilio.com/welcome/voice/")
    services.telnyx.webhook_url = "https://old.example.com/hooks"
    found = by_subject((await preflight(services.config())).findings)

    numbers = {f.message.split()[0]: f for f in found["twilio number"]}
    assert numbers[CENTRE].level is Level.WARNING
    assert "calls POST https://demo.twilio.com/welcome/voice/" in numbers[CENTRE].message
    assert "configure-numbers --apply" in numbers[CENTRE].todo
    assert "is not a number of this Twilio account" in numbers[SOLO].message
    (_, webhook) = found["telnyx"]
    assert webhook.level is Level.WARNING
    assert webhook.todo.startswith(f"set its webhook URL to {PUBLIC_URL}/telnyx/voice")

    wrong_app = services.config(TELNYX_CONNECTION_ID="1234")
    (app,) = by_subject((await preflight(wrong_app)).findings)["telnyx"]
    assert app.level is Level.ERROR
    assert not app.fatal
    assert "TELNYX_CONNECTION_ID=1234 is not a Call Control application" in app.message


async def test_the_database_check_reads_the_schema_version_and_changes_nothing(
    services: Services,
) -> None:
    path = services.tmp / "calls.db"
    (fresh,) = by_subject((await preflight(services.config())).findings)["database"]
    assert (fresh.level, "does not exist yet" in fresh.message) == (Level.OK, True)
    assert not path.exists()  # a check creates nothing

    store = open_store(StoreSettings(f"sqlite:///{path}"))
    await store.migrate()
    await store.close()
    (current,) = by_subject((await preflight(services.config())).findings)["database"]
    assert current.level is Level.OK
    assert f"schema version {latest()}, current" in current.message

    blocked = services.tmp / "file"
    blocked.write_text("not a directory")
    config = services.config(BRIDGE_DATABASE_URL=f"sqlite:///{blocked}/calls.db")
    (broken,) = by_subject((await preflight(config)).findings)["database"]
    assert broken.level is Level.ERROR
    assert "BRIDGE_DATABASE_URL=sqlite:///" in broken.message


async def test_invalid_settings_exit_2_with_the_message_serve_gives(run_command: Run) -> None:
    status, out, err = await run_command({"BRIDGE_PORT": "eighty"}, "check")
    assert (status, out) == (2, "")
    assert "BRIDGE_PORT='eighty' is not a whole number" in err


async def test_each_carriers_webhook_is_printed_as_its_console_takes_it(
    services: Services,
) -> None:
    """Fetched the way each carrier fetches it, and Exotel's with the Basic credentials its
    applet's URL must carry (the password named, not printed)."""
    config = services.config(BRIDGE_PUBLIC_URL="https://bridge.example.com")
    lines = {line.split()[0]: line.split()[1:3] for line in voice_webhooks(config)}
    user = config.carriers["exotel"].webhook_user
    assert lines == {
        "twilio": ["POST", "https://bridge.example.com/twilio/voice"],
        "telnyx": ["POST", "https://bridge.example.com/telnyx/voice"],
        "vonage": ["GET", "https://bridge.example.com/vonage/voice"],
        "plivo": ["POST", "https://bridge.example.com/plivo/voice"],
        "exotel": [
            "GET",
            f"https://{user}:<EXOTEL_WEBHOOK_PASSWORD>@bridge.example.com/exotel/voice",
        ],
    }
    assert config.carriers["exotel"].webhook_password not in "".join(voice_webhooks(config))


async def test_the_other_carriers_credentials_are_proved_and_refusals_stop_serve(
    services: Services,
) -> None:
    """Vonage, Plivo and Exotel: one read-only request each; a refused credential is a fatal
    error naming the settings, a carrier out of reach an error naming its URL setting."""
    good = by_subject((await preflight(services.config())).findings)
    for name in ("vonage", "plivo", "exotel"):
        (finding,) = good[name]
        assert finding.level is Level.OK, finding

    wrong = services.config(
        VONAGE_PRIVATE_KEY=generate_private_key(),  # another application's key
        PLIVO_AUTH_TOKEN="wrong-plivo-token-0123456789",
        EXOTEL_API_TOKEN="wrong-exotel-token",
    )
    found = by_subject((await preflight(wrong)).findings)
    settings = {
        "vonage": "VONAGE_APPLICATION_ID/VONAGE_PRIVATE_KEY",
        "plivo": "PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN",
        "exotel": "EXOTEL_ACCOUNT_SID/EXOTEL_API_KEY/EXOTEL_API_TOKEN",
    }
    for name, named in settings.items():
        (finding,) = found[name]
        assert (finding.level, finding.fatal) == (Level.ERROR, True), finding
        assert f"refused {named}" in finding.message
        assert "HTTP 401" in finding.message
    said = "\n".join(f.line() for findings in found.values() for f in findings)
    for secret in ("wrong-plivo-token-0123456789", "wrong-exotel-token", "PRIVATE KEY"):
        assert secret not in said
    errors = await startup_errors(wrong)
    assert sorted(e.split()[0] for e in errors) == ["Exotel", "Plivo", "Vonage"]

    away = f"http://127.0.0.1:{closed_port()}"
    unreachable = services.config(PLIVO_API_URL=away + "/v1", EXOTEL_API_URL=away)
    found = by_subject((await preflight(unreachable)).findings)
    for name, setting in (("plivo", "PLIVO_API_URL"), ("exotel", "EXOTEL_API_URL")):
        (finding,) = found[name]
        assert (finding.level, finding.fatal) == (Level.ERROR, False), finding
        assert f"{setting}={away}" in finding.message
        assert finding.todo.startswith(f"check {setting}")
