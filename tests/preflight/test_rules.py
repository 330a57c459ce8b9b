"""The preflight rules on their own: values in, findings out."""

from __future__ import annotations

import pytest

from bridge.carriers.telnyx.config import TelnyxSettings
from bridge.carriers.twilio.account import IncomingNumber
from bridge.carriers.twilio.config import TwilioSettings
from bridge.preflight.findings import DatabaseFacts, Finding, Level, exit_code, summary
from bridge.preflight.numbers import Step, plan_number
from bridge.preflight.probes import shown_url
from bridge.preflight.rules import database_finding, is_real, public_url_problem
from bridge.store.migrations import latest

SID = "AC" + "0" * 32
URL = "https://bridge.example.com/twilio/voice"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://bridge.example.com", None),
        ("https://abc-def.trycloudflare.com", None),
        ("https://203.0.113.7.nip.io:8443", None),
        ("https://8.8.8.8", None),
        ("http://bridge.example.com", "is not https"),
        ("http://127.0.0.1:8080", "is not https and names a loopback address (127.0.0.1)"),
        ("https://127.0.0.1", "names a loopback address (127.0.0.1)"),
        ("https://[::1]:8443", "names a loopback address (::1)"),
        ("https://10.1.2.3", "names a private or reserved address (10.1.2.3)"),
        ("https://192.168.1.20", "names a private or reserved address (192.168.1.20)"),
        ("https://100.64.0.9", "names a private or reserved address (100.64.0.9)"),
        ("https://localhost:8443", "names the host 'localhost', which is not a public DNS name"),
        ("https://nginx", "names the host 'nginx', which is not a public DNS name"),
        (
            "https://bridge.internal",
            "names the host 'bridge.internal', which is not a public DNS name",
        ),
    ],
)
def test_a_public_url_must_be_https_on_a_public_host(url: str, problem: str | None) -> None:
    assert public_url_problem(url) == problem


@pytest.mark.parametrize(
    ("api_url", "real"),
    [
        ("https://api.twilio.com", True),
        ("https://api.dublin.ie1.twilio.com", True),
        ("http://127.0.0.1:8089", False),
        ("http://carrier-sim:8089", False),  # the compose file's simulator
        ("https://twilio.com.example.net", False),
    ],
)
def test_a_carrier_is_real_when_its_api_is_the_carriers_own(api_url: str, real: bool) -> None:
    assert is_real("twilio", TwilioSettings(SID, "token", "+15550100000", api_url)) is real


def test_telnyx_realness_follows_its_own_domain() -> None:
    settings = TelnyxSettings("KEY", "pk", "123", "+15550100000")
    assert is_real("telnyx", settings)
    assert not is_real("telnyx", TelnyxSettings("KEY", "pk", "123", "+1555", "http://sim/v2"))


def number(**fields: str | None) -> IncomingNumber:
    values: dict[str, str | None] = {
        "sid": "PN1",
        "phone_number": "+15550100001",
        "voice_url": URL,
        "voice_method": "POST",
    }
    values.update(fields)
    return IncomingNumber(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("found", "step", "problem"),
    [
        ([number()], Step.NONE, ""),
        ([number(voice_method="GET")], Step.SET, "(PN1) calls GET " + URL),
        ([number(voice_url="https://old/voice")], Step.SET, "(PN1) calls POST https://old/voice"),
        ([number(voice_url=None, voice_method=None)], Step.SET, "(PN1) calls no voice URL"),
        ([], Step.MISSING, "is not a number of this Twilio account"),
        (
            [number(trunk_sid="TK1")],
            Step.BLOCKED,
            "(PN1) sends its calls to SIP trunk TK1, so its voice URL is ignored",
        ),
    ],
)
def test_a_number_plan_says_what_is_wrong(
    found: list[IncomingNumber], step: Step, problem: str
) -> None:
    plan = plan_number("+15550100001", found, URL)
    assert (plan.step, plan.problem) == (step, problem)
    assert plan.ok is (step is Step.NONE)
    assert bool(plan.todo) is not plan.ok


def test_the_database_finding_follows_the_schema_version() -> None:
    now = latest()
    assert database_finding(DatabaseFacts("sqlite:///x.db", now)).level is Level.OK
    behind = database_finding(DatabaseFacts("sqlite:///x.db", now - 1))
    assert behind.level is Level.WARNING
    assert "serve migrates it" in behind.todo
    ahead = database_finding(DatabaseFacts("sqlite:///x.db", now + 1))
    assert ahead.level is Level.WARNING
    assert "newer bridge" in ahead.message
    broken = database_finding(DatabaseFacts("postgresql://u:***@db/x", error="refused"))
    assert broken.level is Level.ERROR
    assert broken.message == "cannot open BRIDGE_DATABASE_URL=postgresql://u:***@db/x: refused"


def test_a_database_url_is_shown_as_given_without_its_password() -> None:
    assert shown_url("sqlite:///./kallglot-bridge.db") == "sqlite:///./kallglot-bridge.db"
    assert shown_url("postgresql://bridge:s3cret@db:5432/calls") == (
        "postgresql://bridge:***@db:5432/calls"
    )
    assert shown_url("postgresql://bridge@db/calls") == "postgresql://bridge@db/calls"


def test_findings_print_one_line_each_and_decide_the_exit_status() -> None:
    ok = Finding(Level.OK, "routes", "2 numbers routed")
    warn = Finding(Level.WARNING, "secret", "BRIDGE_SECRET is not set", "set it")
    error = Finding(Level.ERROR, "kallglot", "refused", "fix the key", fatal=True)
    assert ok.line() == "ok      routes        2 numbers routed"
    assert warn.line() == "warning secret        BRIDGE_SECRET is not set -> set it"
    assert error.sentence() == "refused; fix the key"
    assert (exit_code([ok, warn]), exit_code([ok, error])) == (0, 1)
    assert summary([ok]) == "all checks passed"
    assert summary([ok, warn, error]) == "1 error, 1 warning"
