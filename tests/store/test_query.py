"""`GET /v1/calls` parameters, cursors, and the merge of stored and live calls into a page."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.config import Config
from bridge.settings import ConfigError
from bridge.store.query import CallQuery, Cursor, QueryError, merge_page, query_from_params
from tests.store.support import T0, a_call


def test_parameters_become_a_query() -> None:
    query = query_from_params(
        {
            "since": "2026-01-01T00:00:00Z",
            "until": "2026-01-01T01:00:00+01:00",
            "status": "ended",
            "end_reason": "agent_hangup",
            "limit": "200",
        }
    )
    assert query == CallQuery(T0, T0, "ended", "agent_hangup", limit=200)
    assert query_from_params({"since": "2026-01-01T00:00:00"}).since == T0  # no zone: UTC
    assert query_from_params({}).limit == 50


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "1800000000"}, "until"),
        ({"status": "finished"}, "status"),
        ({"end_reason": "bored"}, "end_reason"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"before": "!!"}, "before"),
        ({"after": "bmFufGNhbGxfMQ"}, "after"),  # "nan|call_1"
        ({"after": Cursor(T0, "c").encode(), "before": Cursor(T0, "c").encode()}, "before"),
        ({"page": "2"}, "page"),
    ],
)
def test_bad_parameters_name_themselves(params: dict[str, str], field: str) -> None:
    with pytest.raises(QueryError) as raised:
        query_from_params(params)
    assert raised.value.field == field
    assert field in str(raised.value)


@given(st.floats(min_value=0, max_value=4e9), st.text(min_size=1))
def test_cursors_round_trip_exactly(created_at: float, call_id: str) -> None:
    cursor = Cursor(created_at, call_id)
    assert Cursor.decode(cursor.encode()) == cursor


def test_live_calls_join_the_page_in_order_and_replace_their_rows() -> None:
    stored = [a_call(5), a_call(3, state="active"), a_call(1)]
    live = [a_call(4, state="active"), a_call(3, state="ending")]
    page = merge_page(stored, True, live, CallQuery(limit=3))
    assert [(r.call_id, r.state) for r in page.calls] == [
        ("call_0005", "ended"),
        ("call_0004", "active"),
        ("call_0003", "ending"),
    ]
    assert page.before == Cursor.of(page.calls[-1])  # call_0001 is still to come

    # A live call that no longer matches the filter takes its stale row out of the page.
    only_ended = merge_page(stored, True, live, CallQuery(state="ended"))
    assert [r.call_id for r in only_ended.calls] == ["call_0005", "call_0001"]
    assert only_ended.before is None


def test_a_bad_database_url_is_reported_with_the_other_settings() -> None:
    with pytest.raises(ConfigError, match="BRIDGE_DATABASE_URL must start with"):
        Config.from_env({"BRIDGE_DATABASE_URL": "mysql://db/calls"})
