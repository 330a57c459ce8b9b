"""Records built from what the call says about itself, and merged with what is live."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.calls.summary import CallSummary, LegSummary
from bridge.settings import ConfigError
from bridge.store.config import StoreSettings, without_password
from bridge.store.records import DIALING, CallRecord, LegRecord
from tests.store.support import T0, a_call

SUMMARY = CallSummary(
    call_id="call_1",
    state="ended",
    direction="inbound",
    mode="bidirectional_translation",
    created_at=T0,
    customer_language="de",
    agent_language="en",
    session_id="sess_1",
    answered_at=T0 + 1,
    ended_at=T0 + 11,
    end_reason="customer_hangup",
    legs={
        "customer": LegSummary(
            carrier="twilio",
            carrier_call_id="CAc",
            stream_id="MZc",
            streams=1,
            frames_in=500,
            frames_out=480,
            frames_heard=470,
            frames_dropped=3,
            underflows=1,
        )
    },
    route="+15550100001",
)


def test_a_call_summary_becomes_a_record_with_audio_in_seconds() -> None:
    record = CallRecord.from_summary(SUMMARY, instance="a")
    assert record.legs == (LegRecord("customer", "twilio", "CAc", "MZc", 1, 10.0, 9.6, 3),)
    assert record.route == "+15550100001"
    assert record.instance == "a"
    body = record.to_json()
    assert body["duration_s"] == 11.0
    assert body["legs"]["customer"]["audio_in_s"] == 10.0
    # The API keeps every key the call's own summary has.
    assert set(SUMMARY.to_json(T0 + 20)) <= set(body)


def test_an_outbound_dial_summary_becomes_a_dialing_record() -> None:
    dial = CallSummary(
        "call_2",
        DIALING,
        "outbound",
        "bidirectional_translation",
        T0,
        legs={"agent": LegSummary("twilio", "CAa")},
    )
    record = CallRecord.from_summary(dial, instance="a")
    assert record.rank == 0
    assert record.legs == (LegRecord("agent", "twilio", "CAa"),)


def test_in_memory_state_wins_over_the_stored_row_unless_that_is_further_along() -> None:
    stored = a_call(1, state="active", route="+15550100001")
    live = replace(stored, state="ending", route=None, created_at=T0 + 5)
    merged = live.over(stored)
    assert merged.state == "ending"
    assert merged.route == "+15550100001"  # a gap filled from the row
    assert merged.created_at == stored.created_at  # the earlier time, as the store keeps it

    dial_here = CallRecord("call_0001", DIALING, "outbound", "x", T0 - 9, legs=())
    assert dial_here.over(stored).state == "active"  # the call went live on another instance
    assert dial_here.over(stored).legs == stored.legs


def test_settings_name_the_database_and_never_show_its_password() -> None:
    settings = StoreSettings.from_env(
        {"BRIDGE_DATABASE_URL": "postgresql://bridge:s3cret@db:5432/bridge"}
    )
    assert settings.is_postgres
    assert "s3cret" not in repr(settings)
    assert "'postgresql://bridge:***@db:5432/bridge'" in repr(settings)
    in_query = "postgresql://db/bridge?user=bridge&password=s3cret&sslmode=require"
    assert (
        without_password(in_query)
        == "postgresql://db/bridge?user=bridge&password=***&sslmode=require"
    )
    for url in ("sqlite:///./kallglot-bridge.db", "sqlite:////var/b.db", "postgresql://u@db/b"):
        assert without_password(url) == url  # as given (sqlite:/// was once shown as sqlite:/)
    assert "'sqlite:///./kallglot-bridge.db'" in repr(StoreSettings.from_env({}))
    assert StoreSettings.from_env({}).sqlite_path == "./kallglot-bridge.db"
    absolute = StoreSettings.from_env({"BRIDGE_DATABASE_URL": "sqlite:////var/lib/b/calls.db"})
    assert absolute.sqlite_path == "/var/lib/b/calls.db"
    instance = StoreSettings.from_env({"BRIDGE_INSTANCE_ID": "bridge-7"}).instance_id
    assert instance == "bridge-7"


def test_the_orphan_window_defaults_to_two_minutes_and_refuses_nonsense_by_name() -> None:
    assert StoreSettings.from_env({}).orphan_after_s == 120.0
    assert StoreSettings.from_env({"BRIDGE_ORPHAN_AFTER_S": "30"}).orphan_after_s == 30.0
    for bad in ("soon", "0", "-5"):
        with pytest.raises(ConfigError, match="BRIDGE_ORPHAN_AFTER_S"):
            StoreSettings.from_env({"BRIDGE_ORPHAN_AFTER_S": bad})
