"""The schema, as ordered steps; each instance brings the database up to date at start-up.

A step is never edited once released: a change is a new step with the next version. Every
backend applies the pending steps and records them in `schema_version` in one transaction while
holding a lock (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE), so instances starting
together apply each step exactly once and none of them sees a half-built schema.

The SQL is the dialect both databases share: DOUBLE PRECISION, TEXT, BIGINT, ON CONFLICT.
Times are unix seconds (what the call reports), so ordering and ranges are plain comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at DOUBLE PRECISION NOT NULL
)"""
CURRENT_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_version"
RECORD_VERSION = "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "calls and legs",
        (
            """CREATE TABLE calls (
                call_id TEXT PRIMARY KEY,
                state TEXT NOT NULL,
                state_rank INTEGER NOT NULL,
                direction TEXT NOT NULL,
                mode TEXT NOT NULL,
                route TEXT,
                customer_language TEXT,
                agent_language TEXT,
                session_id TEXT,
                created_at DOUBLE PRECISION NOT NULL,
                answered_at DOUBLE PRECISION,
                ended_at DOUBLE PRECISION,
                end_reason TEXT,
                error TEXT,
                instance TEXT,
                updated_at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX calls_by_created ON calls (created_at, call_id)",
            "CREATE INDEX calls_by_session ON calls (session_id)",
            """CREATE TABLE call_legs (
                call_id TEXT NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
                role TEXT NOT NULL,
                carrier TEXT NOT NULL,
                carrier_call_id TEXT,
                stream_id TEXT,
                streams INTEGER NOT NULL DEFAULT 0,
                audio_in_s DOUBLE PRECISION NOT NULL DEFAULT 0,
                audio_out_s DOUBLE PRECISION NOT NULL DEFAULT 0,
                frames_lost BIGINT NOT NULL DEFAULT 0,
                state_rank INTEGER NOT NULL,
                PRIMARY KEY (call_id, role)
            )""",
        ),
    ),
    Migration(
        2,
        "kallglot webhook events",
        (
            """CREATE TABLE kallglot_events (
                event_id TEXT PRIMARY KEY,
                type TEXT NOT NULL,
                session_id TEXT,
                created_at TEXT,
                received_at DOUBLE PRECISION NOT NULL,
                instance TEXT,
                payload TEXT NOT NULL
            )""",
            "CREATE INDEX kallglot_events_by_session ON kallglot_events (session_id)",
        ),
    ),
    Migration(
        3,
        "instance heartbeats",
        (
            """CREATE TABLE instances (
                instance TEXT PRIMARY KEY,
                seen_at DOUBLE PRECISION NOT NULL
            )""",
            # The orphan sweep looks for calls not yet ended; most rows are ended.
            "CREATE INDEX calls_by_rank ON calls (state_rank)",
        ),
    ),
    Migration(
        4,
        "kallglot session obligations and stream claims",
        (
            # One row per call that may have a Kallglot session: kept until its end is
            # confirmed (bridge/calls/obligations.py); `owner` is the instance working on it.
            """CREATE TABLE kallglot_sessions (
                call_id TEXT PRIMARY KEY,
                state TEXT NOT NULL,
                state_rank INTEGER NOT NULL,
                owner TEXT,
                adopted_from TEXT,
                create_body TEXT,
                session_id TEXT,
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX kallglot_sessions_by_rank ON kallglot_sessions (state_rank)",
            # A call ticket is good for one media stream: the first to attach claims its leg.
            """CREATE TABLE stream_claims (
                call_id TEXT NOT NULL,
                role TEXT NOT NULL,
                instance TEXT,
                stream_id TEXT,
                claimed_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (call_id, role)
            )""",
            "CREATE INDEX stream_claims_by_time ON stream_claims (claimed_at)",
        ),
    ),
)


def pending(current: int, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[Migration]:
    """The steps after `current`, in order.

    A database ahead of this code (a newer bridge migrated it during a rolling upgrade) gets
    nothing: steps only ever add, so older code keeps working on it.
    """
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError("migrations must have unique, increasing versions")
    return [m for m in migrations if m.version > current]


def latest(migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    return migrations[-1].version if migrations else 0
