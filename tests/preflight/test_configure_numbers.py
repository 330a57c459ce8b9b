"""`python -m bridge configure-numbers` against the Twilio simulator's IncomingPhoneNumbers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.preflight.numbers_cli import configure
from tests.preflight.conftest import CENTRE, PUBLIC_URL, SOLO, Services

Run = Callable[..., Any]
VOICE_URL = PUBLIC_URL + "/twilio/voice"
DEMO_URL = "https://demo.twilio.com/welcome/voice/"
OTHER_CARRIERS = {"TELNYX", "VONAGE", "PLIVO", "EXOTEL"}  # their settings' prefixes


async def test_a_dry_run_prints_the_change_and_changes_nothing(
    services: Services, run_command: Run
) -> None:
    centre = services.twilio.own_number(CENTRE, DEMO_URL, voice_method="GET")
    status, out, err = await run_command(services.env, "configure-numbers")

    assert (status, err) == (0, "")
    assert f"{CENTRE}  {centre.sid}  would set: {DEMO_URL} -> POST {VOICE_URL}" in out
    assert f"{SOLO}  not on this Twilio account: one of exotel, plivo, telnyx, vonage?" in out
    assert "1 to change: run again with --apply" in out
    assert centre.updates == []
    assert (centre.voice_url, centre.voice_method) == (DEMO_URL, "GET")


async def test_apply_points_each_routed_number_at_the_bridge_once(services: Services) -> None:
    centre = services.twilio.own_number(CENTRE, DEMO_URL, voice_method="GET")
    solo = services.twilio.own_number(SOLO)  # bought, never configured
    other = services.twilio.own_number("+15550100099", DEMO_URL)  # not routed: left alone
    said: list[str] = []

    assert await configure(services.config(), apply=True, say=said.append) == 0

    for number in (centre, solo):
        assert (number.voice_url, number.voice_method) == (VOICE_URL, "POST")
        assert number.updates == [{"VoiceUrl": VOICE_URL, "VoiceMethod": "POST"}]
    assert other.updates == []
    assert f"  {SOLO}  {solo.sid}  set: no voice URL -> POST {VOICE_URL}" in said
    assert said[-1] == "2 changed, 0 with problems"

    again: list[str] = []
    assert await configure(services.config(), apply=True, say=again.append) == 0
    assert f"  {CENTRE}  {centre.sid}  already POST {VOICE_URL}" in again
    assert centre.updates == [{"VoiceUrl": VOICE_URL, "VoiceMethod": "POST"}]  # not again


async def test_numbers_it_cannot_configure_are_reported_and_fail_the_run(
    services: Services,
) -> None:
    app = services.twilio.own_number(CENTRE, DEMO_URL, voice_application_sid="AP" + "1" * 32)
    others = [name for name in services.env if name.split("_")[0] in OTHER_CARRIERS]
    twilio_only = services.config(**dict.fromkeys(others))  # SOLO can be nobody else's
    said: list[str] = []

    assert await configure(twilio_only, apply=True, say=said.append) == 1

    assert app.updates == []  # its VoiceUrl would be ignored: not touched
    assert any(f"sends its calls to TwiML App AP{'1' * 32}" in line for line in said)
    assert any(
        line.startswith(f"  {SOLO}  is not a number of this Twilio account -> buy or port it")
        for line in said
    )
    assert said[-1] == "0 changed, 2 with problems"


async def test_it_refuses_what_cannot_work(services: Services) -> None:
    said: list[str] = []
    no_twilio = services.config(
        TWILIO_ACCOUNT_SID=None, TWILIO_AUTH_TOKEN=None, TWILIO_CALLER_ID=None
    )
    assert await configure(no_twilio, apply=True, say=said.append) == 1
    assert "no Twilio account is configured" in said[-1]

    # Twilio's own API with a loopback URL: refused before anything is sent anywhere.
    real = services.config(TWILIO_API_URL=None)
    assert await configure(real, apply=True, say=said.append) == 1
    assert f"BRIDGE_PUBLIC_URL={PUBLIC_URL} is not https" in said[-1]
    assert "cloudflared" in said[-1]

    wrong = services.config(TWILIO_AUTH_TOKEN="wrong")
    assert await configure(wrong, apply=True, say=said.append) == 1
    assert "HTTP 401, error 20003" in said[-1]
    assert "TWILIO_AUTH_TOKEN" in said[-1]
