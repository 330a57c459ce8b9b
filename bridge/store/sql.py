"""The statements both backends run, written once with PostgreSQL's `$n` placeholders.

SQLite understands the same SQL with `?n` (`for_sqlite`). Upserts merge rather than overwrite:
of two records for one call, the one further along (higher state rank) decides each column,
and the other only fills what it left empty; the earliest creation time is kept. That makes
writes idempotent and safe to arrive in any order from any instance.
"""

from __future__ import annotations

import re
from typing import Any

from bridge.calls.model import EndReason
from bridge.calls.obligations import (
    RANK,
    SETTLED_RANK,
    Adoption,
    SessionObligation,
    SessionState,
)
from bridge.store.query import CallQuery
from bridge.store.records import STATE_RANK, CallRecord, LegRecord, WebhookEvent

CALL_COLUMNS = (
    "call_id",
    "state",
    "state_rank",
    "direction",
    "mode",
    "route",
    "customer_language",
    "agent_language",
    "session_id",
    "created_at",
    "answered_at",
    "ended_at",
    "end_reason",
    "error",
    "instance",
    "updated_at",
)
LEG_COLUMNS = (
    "call_id",
    "role",
    "carrier",
    "carrier_call_id",
    "stream_id",
    "streams",
    "audio_in_s",
    "audio_out_s",
    "frames_lost",
    "state_rank",
)
SESSION_COLUMNS = (
    "call_id",
    "state",
    "state_rank",
    "owner",
    "create_body",
    "session_id",
    "attempts",
    "last_error",
    "created_at",
    "updated_at",
)
EVENT_COLUMNS = (
    "event_id",
    "type",
    "session_id",
    "created_at",
    "received_at",
    "instance",
    "payload",
)


def _upsert(table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
    newer = f"excluded.state_rank >= {table}.state_rank"
    updates = []
    for column in columns:
        if column in key:
            continue
        if column == "state_rank":
            value = f"CASE WHEN {newer} THEN excluded.state_rank ELSE {table}.state_rank END"
        elif column == "created_at":
            value = (
                f"CASE WHEN excluded.created_at < {table}.created_at "
                f"THEN excluded.created_at ELSE {table}.created_at END"
            )
        else:
            value = (
                f"CASE WHEN {newer} THEN COALESCE(excluded.{column}, {table}.{column}) "
                f"ELSE COALESCE({table}.{column}, excluded.{column}) END"
            )
        updates.append(f"{column} = {value}")
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(updates)}"
    )


UPSERT_CALL = _upsert("calls", CALL_COLUMNS, ("call_id",))
UPSERT_LEG = _upsert("call_legs", LEG_COLUMNS, ("call_id", "role"))
UPSERT_SESSION = _upsert("kallglot_sessions", SESSION_COLUMNS, ("call_id",))
ENDING = SessionState.ENDING.value
ENDING_RANK = RANK[SessionState.ENDING]
# Obligations nobody is working on any more: left by an instance that stopped heartbeating
# (with the same grace as END_ORPHANS: a row touched since $2 is not an orphan), recovered
# from an orphaned call's record (no owner), or, at start-up only ($4), left by this very
# instance's previous life (same BRIDGE_INSTANCE_ID). An obligation of a dead owner whose
# call was still live is now owed an end, whatever state it was in.
ADOPT_SESSIONS = f"""UPDATE kallglot_sessions SET
        adopted_from = owner, owner = $1, updated_at = $3,
        state = CASE WHEN state_rank < {ENDING_RANK} THEN '{ENDING}' ELSE state END,
        state_rank = CASE WHEN state_rank < {ENDING_RANK} THEN {ENDING_RANK} ELSE state_rank END
    WHERE state_rank < {SETTLED_RANK} AND (
        owner IS NULL
        OR (owner = $1 AND $4)
        OR (owner <> $1 AND updated_at < $2
            AND owner NOT IN (SELECT instance FROM instances WHERE seen_at >= $2)))
    RETURNING {", ".join(SESSION_COLUMNS)}, adopted_from"""
# A session named only by an orphaned call's record (its instance predates obligations).
RECOVER_SESSION = f"""INSERT INTO kallglot_sessions
        (call_id, state, state_rank, session_id, created_at, updated_at)
    VALUES ($1, '{ENDING}', {ENDING_RANK}, $2, $3, $3) ON CONFLICT (call_id) DO NOTHING"""
# A leg is claimed once, and never for a call whose record says it has ended: a party who
# answers a dial after the others hung up (a carrier that cannot cancel a ringing dial) brings
# an unused ticket, and must not rebuild the call or rewrite its record.
CLAIM_STREAM = (
    "INSERT INTO stream_claims (call_id, role, instance, stream_id, claimed_at) "
    "SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT), "
    "CAST($5 AS DOUBLE PRECISION) "
    "WHERE NOT EXISTS (SELECT 1 FROM calls WHERE call_id = CAST($1 AS TEXT) "
    "AND ended_at IS NOT NULL) "
    "ON CONFLICT (call_id, role) DO NOTHING"
)
PRUNE_CLAIMS = "DELETE FROM stream_claims WHERE claimed_at < $1"
SELECT_SESSION = (
    f"SELECT {', '.join(SESSION_COLUMNS)}, NULL FROM kallglot_sessions WHERE call_id = $1"
)
INSERT_EVENT = (
    f"INSERT INTO kallglot_events ({', '.join(EVENT_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(EVENT_COLUMNS) + 1))}) "
    "ON CONFLICT (event_id) DO NOTHING"
)
HEARTBEAT = (
    "INSERT INTO instances (instance, seen_at) VALUES ($1, $2) "
    "ON CONFLICT (instance) DO UPDATE SET seen_at = excluded.seen_at"
)
# Calls not yet ended whose instance has not been heard from since $2 (and whose row has not
# been touched since either: a record written just before its instance's first heartbeat is
# not an orphan). Ranked "ended", so the owner's own end record, if it ever comes, still wins
# (equal rank: the later write decides) and puts the true reason and time back.
END_ORPHANS = f"""UPDATE calls SET
        state = 'ended', state_rank = {STATE_RANK["ended"]}, ended_at = $1, end_reason = $3,
        updated_at = $1
    WHERE state_rank < {STATE_RANK["ended"]} AND updated_at < $2
        AND (instance IS NULL
             OR instance NOT IN (SELECT instance FROM instances WHERE seen_at >= $2))
    RETURNING call_id, instance, session_id,
        instance IN (SELECT instance FROM instances) AS heartbeated"""
ORPHAN_REASON = EndReason.INSTANCE_LOST.value
SELECT_CALL = f"SELECT {', '.join(CALL_COLUMNS)} FROM calls WHERE call_id = $1"
SELECT_EVENTS = f"SELECT {', '.join(EVENT_COLUMNS)} FROM kallglot_events"


def for_sqlite(sql: str) -> str:
    return re.sub(r"\$(\d+)", r"?\1", sql)


def call_params(record: CallRecord, now: float) -> tuple[Any, ...]:
    r = record
    return (
        r.call_id,
        r.state,
        r.rank,
        r.direction,
        r.mode,
        r.route,
        r.customer_language,
        r.agent_language,
        r.session_id,
        r.created_at,
        r.answered_at,
        r.ended_at,
        r.end_reason,
        r.error,
        r.instance,
        now,
    )


def leg_params(record: CallRecord, leg: LegRecord) -> tuple[Any, ...]:
    return (
        record.call_id,
        leg.role,
        leg.carrier,
        leg.carrier_call_id,
        leg.stream_id,
        leg.streams,
        leg.audio_in_s,
        leg.audio_out_s,
        leg.frames_lost,
        record.rank,
    )


def session_params(obligation: SessionObligation) -> tuple[Any, ...]:
    o = obligation
    return (
        o.call_id,
        o.state.value,
        o.rank,
        o.owner,
        o.create_body,
        o.session_id,
        o.attempts,
        o.last_error,
        o.created_at,
        o.updated_at,
    )


def session_from_row(row: tuple[Any, ...]) -> Adoption:
    """An obligation row: SESSION_COLUMNS, then the previous owner (NULL where not adopted)."""
    o = dict(zip(SESSION_COLUMNS, row[: len(SESSION_COLUMNS)], strict=True))
    obligation = SessionObligation(
        call_id=o["call_id"],
        state=SessionState(o["state"]),
        owner=o["owner"],
        created_at=float(o["created_at"]),
        updated_at=float(o["updated_at"]),
        create_body=o["create_body"],
        session_id=o["session_id"],
        attempts=int(o["attempts"]),
        last_error=o["last_error"],
    )
    return Adoption(obligation, row[len(SESSION_COLUMNS)])


def event_params(event: WebhookEvent) -> tuple[Any, ...]:
    e = event
    return (e.event_id, e.type, e.session_id, e.created_at, e.received_at, e.instance, e.payload)


def select_calls(query: CallQuery, fetch: int) -> tuple[str, list[Any]]:
    """Rows matching `query`, in page order (newest first; oldest first for `after`)."""
    where: list[str] = []
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    if query.since is not None:
        where.append(f"created_at >= {param(query.since)}")
    if query.until is not None:
        where.append(f"created_at < {param(query.until)}")
    if query.state is not None:
        where.append(f"state = {param(query.state)}")
    if query.end_reason is not None:
        where.append(f"end_reason = {param(query.end_reason)}")
    if query.before is not None:
        b = query.before
        where.append(f"(created_at, call_id) < ({param(b.created_at)}, {param(b.call_id)})")
    if query.after is not None:
        a = query.after
        where.append(f"(created_at, call_id) > ({param(a.created_at)}, {param(a.call_id)})")
    order = "ASC" if query.after is not None else "DESC"
    sql = (
        f"SELECT {', '.join(CALL_COLUMNS)} FROM calls"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY created_at {order}, call_id {order} LIMIT {param(fetch)}"
    )
    return sql, params


def select_legs(call_ids: list[str]) -> tuple[str, list[Any]]:
    marks = ", ".join(f"${i}" for i in range(1, len(call_ids) + 1))
    return (
        f"SELECT {', '.join(LEG_COLUMNS)} FROM call_legs WHERE call_id IN ({marks}) "
        "ORDER BY call_id, role DESC",
        list(call_ids),
    )


def records_from_rows(
    calls: list[tuple[Any, ...]], legs: list[tuple[Any, ...]]
) -> list[CallRecord]:
    by_call: dict[str, list[LegRecord]] = {}
    for row in legs:
        leg = dict(zip(LEG_COLUMNS, row, strict=True))
        by_call.setdefault(leg["call_id"], []).append(
            LegRecord(
                role=leg["role"],
                carrier=leg["carrier"],
                carrier_call_id=leg["carrier_call_id"],
                stream_id=leg["stream_id"],
                streams=int(leg["streams"]),
                audio_in_s=float(leg["audio_in_s"]),
                audio_out_s=float(leg["audio_out_s"]),
                frames_lost=int(leg["frames_lost"]),
            )
        )
    records = []
    for row in calls:
        c = dict(zip(CALL_COLUMNS, row, strict=True))
        records.append(
            CallRecord(
                call_id=c["call_id"],
                state=c["state"],
                direction=c["direction"],
                mode=c["mode"],
                created_at=float(c["created_at"]),
                route=c["route"],
                customer_language=c["customer_language"],
                agent_language=c["agent_language"],
                session_id=c["session_id"],
                answered_at=c["answered_at"],
                ended_at=c["ended_at"],
                end_reason=c["end_reason"],
                error=c["error"],
                instance=c["instance"],
                legs=tuple(by_call.get(c["call_id"], ())),
            )
        )
    return records


def event_from_row(row: tuple[Any, ...]) -> WebhookEvent:
    e = dict(zip(EVENT_COLUMNS, row, strict=True))
    return WebhookEvent(
        event_id=e["event_id"],
        type=e["type"],
        session_id=e["session_id"],
        created_at=e["created_at"],
        received_at=float(e["received_at"]),
        instance=e["instance"],
        payload=e["payload"],
    )
