"""Versioned schema migrations, the same schema on SQLite and PostgreSQL.

Each migration has a number, a description and its statements; the
``schema_version`` table lists the ones applied. ``apply_migrations`` runs the
missing ones in order, each in its own transaction (both databases have
transactional DDL, so a failed migration leaves the previous version intact),
under a lock so two processes opening the same database at once do not both
migrate it. A database whose version is newer than the code is refused: an
older controller must not write to a schema it does not know.

Statements use type words that each backend spells its own way: ``{pk}``
(auto-increment id), ``{bigint}``, ``{float}``, ``{bool}``, ``{blob}``. A
statement may also be a dict ``{"sqlite": ..., "postgresql": ...}`` where the
two must differ. Never edit a released migration: add the next one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .backends import Backend
from .errors import SchemaError

PG_MIGRATION_LOCK = 0x7467_0001  # pg_advisory_xact_lock key: "tg" 1


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple  # of str or {dialect: str}


V1 = Migration(1, "gates, status history, counters, screenings, alarms, door actions, alerts, calibrations, "
                  "users, audit", (
    """CREATE TABLE gates (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        location TEXT NOT NULL DEFAULT '',
        created_at {float} NOT NULL)""",
    """CREATE TABLE gate_status (
        id {pk},
        gate TEXT NOT NULL REFERENCES gates(id),
        time {float} NOT NULL,
        online {bool} NOT NULL,
        status TEXT NOT NULL)""",
    "CREATE INDEX gate_status_gate_time ON gate_status (gate, time)",
    """CREATE TABLE gate_counters (
        gate TEXT PRIMARY KEY REFERENCES gates(id),
        next_counter {bigint} NOT NULL CHECK (next_counter >= 1))""",
    """CREATE TABLE screenings (
        id {pk},
        uid TEXT NOT NULL UNIQUE,
        gate TEXT NOT NULL REFERENCES gates(id),
        time {float} NOT NULL,
        decision TEXT NOT NULL,
        reason TEXT NOT NULL,
        track {bigint} NOT NULL,
        estimate_c {float},
        face_c {float},
        distance_m {float},
        reduced_accuracy {bool} NOT NULL,
        boot {bigint} NOT NULL,
        sequence {bigint} NOT NULL,
        snapshot {blob})""",
    "CREATE INDEX screenings_time ON screenings (time)",
    "CREATE INDEX screenings_gate_time ON screenings (gate, time)",
    """CREATE TABLE alarms (
        id {pk},
        screening_id {bigint} NOT NULL UNIQUE REFERENCES screenings(id),
        gate TEXT NOT NULL REFERENCES gates(id),
        time {float} NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'disposed')),
        acknowledged_by TEXT,
        acknowledged_at {float},
        recheck_c {float} CHECK (recheck_c IS NULL OR (recheck_c >= 30 AND recheck_c <= 45)),
        outcome TEXT CHECK (outcome IS NULL
                            OR outcome IN ('admitted', 'observation_room', 'sent_home', 'false_alarm')),
        disposed_by TEXT,
        disposed_at {float},
        note TEXT NOT NULL DEFAULT '',
        CHECK ((status = 'disposed') = (outcome IS NOT NULL)))""",
    "CREATE INDEX alarms_time ON alarms (time)",
    "CREATE INDEX alarms_status ON alarms (status)",
    """CREATE TABLE door_actions (
        id {pk},
        gate TEXT NOT NULL REFERENCES gates(id),
        time {float} NOT NULL,
        action TEXT NOT NULL,
        arg {bigint} NOT NULL,
        counter {bigint} NOT NULL,
        cause TEXT NOT NULL CHECK (cause IN ('decision', 'manual')),
        screening_id {bigint} REFERENCES screenings(id),
        user_name TEXT,
        reason TEXT,
        ack_ok {bool},
        ack_reason TEXT,
        applied_ms {bigint},
        acked_at {float},
        UNIQUE (gate, counter))""",
    "CREATE INDEX door_actions_time ON door_actions (time)",
    "CREATE INDEX door_actions_unacked ON door_actions (time) WHERE acked_at IS NULL",
    """CREATE TABLE alerts (
        id {pk},
        gate TEXT REFERENCES gates(id),
        time {float} NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        resolved_at {float})""",
    "CREATE INDEX alerts_open ON alerts (time) WHERE resolved_at IS NULL",
    """CREATE TABLE calibrations (
        id {pk},
        gate TEXT NOT NULL REFERENCES gates(id),
        time {float} NOT NULL,
        offset_c {float} NOT NULL,
        residual_sd_c {float} NOT NULL,
        samples {bigint} NOT NULL,
        details TEXT NOT NULL)""",
    "CREATE INDEX calibrations_gate_time ON calibrations (gate, time)",
    """CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('guard', 'doctor', 'admin')),
        password_hash TEXT NOT NULL,
        created_at {float} NOT NULL,
        updated_at {float} NOT NULL)""",
    """CREATE TABLE audit (
        id {pk},
        user_name TEXT,
        time {float} NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL)""",
    "CREATE INDEX audit_time ON audit (time)",
))

V2 = Migration(2, "user_epochs (sessions end through the store), door_holds (a held-locked door survives a restart)", (
    # One row per user name ever used. The epoch grows when the user is added, removed or given a new
    # password, or when their sessions are ended; a console session is valid only under the epoch it
    # started with. The row outlives the user on purpose: a name removed and added again starts at a
    # new epoch, so the old sessions of that name stay dead.
    """CREATE TABLE user_epochs (
        name TEXT PRIMARY KEY,
        epoch {bigint} NOT NULL)""",
    # One row per gate whose door is held locked from the console until someone releases it.
    """CREATE TABLE door_holds (
        gate TEXT PRIMARY KEY REFERENCES gates(id),
        user_name TEXT NOT NULL,
        reason TEXT NOT NULL,
        time {float} NOT NULL)""",
))

V3 = Migration(3, "people, credentials, visitors, identity_audit; screenings.person_id and visitor_id", (
    # The roster (controller/identity/): one row per student or staff member. No ID numbers, no photos.
    """CREATE TABLE people (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('student', 'staff')),
        class_name TEXT NOT NULL DEFAULT '',
        boarder {bool} NOT NULL,
        guardian_phone TEXT NOT NULL DEFAULT '',
        active {bool} NOT NULL,
        created_at {float} NOT NULL,
        updated_at {float} NOT NULL)""",
    "CREATE INDEX people_class ON people (class_name)",
    # What a gate reads (a QR code's text, a card's UID) and whose it is. The primary key is the index
    # the gate's look-up uses; one credential belongs to one person at most.
    """CREATE TABLE credentials (
        kind TEXT NOT NULL CHECK (kind IN ('qr', 'card')),
        credential TEXT NOT NULL,
        person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        created_at {float} NOT NULL,
        PRIMARY KEY (kind, credential))""",
    "CREATE INDEX credentials_person ON credentials (person_id)",
    # Visitors by real name, with the last 4 characters of the ID card only, and their one-day pass.
    """CREATE TABLE visitors (
        id {pk},
        pass_id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        id_last4 TEXT NOT NULL CHECK (length(id_last4) = 4),
        host TEXT NOT NULL,
        purpose TEXT NOT NULL,
        valid_from {float} NOT NULL,
        valid_until {float} NOT NULL,
        issued_by TEXT NOT NULL,
        issued_at {float} NOT NULL,
        revoked_at {float},
        revoked_by TEXT,
        CHECK (valid_until > valid_from))""",
    "CREATE INDEX visitors_window ON visitors (valid_from, valid_until)",
    # Who read whose file, or exported the roster or the visitor log, when and why.
    """CREATE TABLE identity_audit (
        id {pk},
        time {float} NOT NULL,
        reader TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '{{}}')""",
    "CREATE INDEX identity_audit_time ON identity_audit (time)",
    "CREATE INDEX identity_audit_subject ON identity_audit (subject, time)",
    # Whose screening it was (null: nobody known). A person or visitor removed by retention leaves the
    # screening, unnamed.
    "ALTER TABLE screenings ADD COLUMN person_id TEXT REFERENCES people(id) ON DELETE SET NULL",
    "ALTER TABLE screenings ADD COLUMN visitor_id {bigint} REFERENCES visitors(id) ON DELETE SET NULL",
    "CREATE INDEX screenings_person_time ON screenings (person_id, time)",
    "CREATE INDEX screenings_visitor ON screenings (visitor_id)",
))

V4 = Migration(4, "drills, cases, case_steps (the fever case from the alarm to 复课, drills)", (
    # A drill (演练) on chosen gates: who started it, the scenario, the settings it changed (their values
    # before, as JSON, so ending it restores them), the debrief. ended_at is null while it runs.
    """CREATE TABLE drills (
        id {pk},
        started_by TEXT NOT NULL,
        gates TEXT NOT NULL,
        scenario TEXT NOT NULL,
        started_at {float} NOT NULL,
        ended_at {float},
        debrief TEXT NOT NULL DEFAULT '',
        settings_changed TEXT NOT NULL DEFAULT '{{}}')""",
    # One case per fever alarm (controller/cases/): the person when known, its state, and the decision and
    # clearance (复课) the gate's hold rule reads. An alarm removed by retention leaves its case.
    """CREATE TABLE cases (
        id {pk},
        alarm_id {bigint} UNIQUE REFERENCES alarms(id) ON DELETE SET NULL,
        person_id TEXT REFERENCES people(id) ON DELETE SET NULL,
        gate TEXT NOT NULL REFERENCES gates(id),
        opened_at {float} NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'observation', 'back_in', 'sent_home',
                                             'fever_clinic', 'ambulance', 'cleared', 'closed')),
        drill {bool} NOT NULL,
        drill_id {bigint} REFERENCES drills(id),
        decision TEXT CHECK (decision IS NULL OR decision IN ('back_in', 'sent_home', 'fever_clinic', 'ambulance')),
        decided_at {float},
        cleared_at {float},
        closed_at {float},
        CHECK ((decision IS NULL) = (decided_at IS NULL)),
        CHECK (drill_id IS NULL OR drill))""",
    "CREATE INDEX cases_person ON cases (person_id, decided_at)",
    "CREATE INDEX cases_opened ON cases (opened_at)",
    "CREATE INDEX cases_drill ON cases (drill_id)",
    # The case's timeline: one row per step, who recorded it and when, the step's data as JSON.
    """CREATE TABLE case_steps (
        id {pk},
        case_id {bigint} NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        at {float} NOT NULL,
        by_user TEXT NOT NULL,
        data TEXT NOT NULL)""",
    "CREATE INDEX case_steps_case ON case_steps (case_id, id)",
))

V5 = Migration(5, "notifications (the outbox) and notification_attempts (each attempt's outcome)", (
    # One row per message to the contacts of one channel (controller/notify/): kept before it is sent, so
    # a restart sends what was still pending. event_key names the event ("alarm-12", "case-3").
    """CREATE TABLE notifications (
        id {pk},
        event_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        channel TEXT NOT NULL,
        recipients TEXT NOT NULL,
        message TEXT NOT NULL,
        event TEXT NOT NULL,
        drill {bool} NOT NULL,
        created_at {float} NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
        attempts {bigint} NOT NULL DEFAULT 0,
        done_at {float},
        CHECK ((status = 'pending') = (done_at IS NULL)))""",
    "CREATE INDEX notifications_pending ON notifications (created_at) WHERE status = 'pending'",
    "CREATE INDEX notifications_event ON notifications (event_key)",
    # Every attempt to deliver one: when, whether it went, and why not.
    """CREATE TABLE notification_attempts (
        id {pk},
        notification_id {bigint} NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
        attempt {bigint} NOT NULL,
        channel TEXT NOT NULL,
        recipient TEXT NOT NULL,
        sent_at {float} NOT NULL,
        ok {bool} NOT NULL,
        error TEXT NOT NULL DEFAULT '',
        escalation {bigint} NOT NULL DEFAULT 0)""",
    "CREATE INDEX notification_attempts_notification ON notification_attempts (notification_id, attempt)",
))

V6 = Migration(6, "absences, absence_followups, manual_readings, report_warnings, reports, report_receipts", (
    # The class teacher's mark on someone on the roster not screened by a session's end (controller/reporting/):
    # the reason; the class is kept as it was that day. One row per person, day (local YYYY-MM-DD) and session.
    """CREATE TABLE absences (
        id {pk},
        person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        session TEXT NOT NULL,
        class_name TEXT NOT NULL,
        reason TEXT NOT NULL CHECK (reason IN ('sick_with_symptoms', 'leave', 'other')),
        note TEXT NOT NULL DEFAULT '',
        marked_by TEXT NOT NULL,
        marked_at {float} NOT NULL,
        closed_at {float},
        UNIQUE (person_id, day, session))""",
    "CREATE INDEX absences_day ON absences (day, class_name)",
    # A sick absence's daily follow-up: one row per absence and day.
    """CREATE TABLE absence_followups (
        id {pk},
        absence_id {bigint} NOT NULL REFERENCES absences(id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('still_sick', 'recovering', 'back')),
        note TEXT NOT NULL DEFAULT '',
        by_user TEXT NOT NULL,
        at {float} NOT NULL,
        UNIQUE (absence_id, day))""",
    # A hand-held reading a guard entered for someone a gate could not screen (counts as screened, manual).
    """CREATE TABLE manual_readings (
        id {pk},
        person_id TEXT REFERENCES people(id) ON DELETE SET NULL,
        time {float} NOT NULL,
        value_c {float} NOT NULL CHECK (value_c >= 30 AND value_c <= 45),
        by_user TEXT NOT NULL,
        gate TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX manual_readings_time ON manual_readings (time)",
    "CREATE INDEX manual_readings_person ON manual_readings (person_id, time)",
    # A warning rule crossed, once per day, rule and scope, with its urgent-report draft (疫情快报) as JSON.
    """CREATE TABLE report_warnings (
        id {pk},
        day TEXT NOT NULL,
        rule TEXT NOT NULL,
        scope TEXT NOT NULL,
        scope_key TEXT NOT NULL,
        what TEXT NOT NULL,
        count {float} NOT NULL,
        threshold {float} NOT NULL,
        raised_at {float} NOT NULL,
        draft TEXT NOT NULL,
        UNIQUE (day, rule, scope_key))""",
    # One school's report of one day: its content (JSON), the files' hashes, the confirmation, the send.
    """CREATE TABLE reports (
        school_code TEXT NOT NULL,
        day TEXT NOT NULL,
        built_at {float} NOT NULL,
        verdict TEXT NOT NULL,
        files TEXT NOT NULL,
        reporter TEXT NOT NULL,
        content TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('built', 'sent', 'failed')),
        confirmed_by TEXT,
        confirmed_at {float},
        signed_by TEXT,
        sent_at {float},
        paged_at {float},
        late {bool} NOT NULL,
        PRIMARY KEY (school_code, day))""",
    # Every attempt to deliver a report to one recipient, and the receiver's answer.
    """CREATE TABLE report_receipts (
        id {pk},
        school_code TEXT NOT NULL,
        day TEXT NOT NULL,
        recipient TEXT NOT NULL,
        kind TEXT NOT NULL,
        at {float} NOT NULL,
        ok {bool} NOT NULL,
        attempt {bigint} NOT NULL,
        detail TEXT NOT NULL,
        files TEXT NOT NULL,
        sent_by TEXT NOT NULL,
        late {bool} NOT NULL)""",
    "CREATE INDEX report_receipts_day ON report_receipts (school_code, day, at)",
))

V7 = Migration(7, "drill on screenings and alarms; the teacher role and user_classes", (
    # Every record a drill (演练) makes carries drill = true, and no official figure counts it. Rows from
    # before this migration were marked by the screening's reason "drill" or by their case's drill flag.
    "ALTER TABLE screenings ADD COLUMN drill {bool} NOT NULL DEFAULT FALSE",
    "ALTER TABLE alarms ADD COLUMN drill {bool} NOT NULL DEFAULT FALSE",
    "UPDATE screenings SET drill = TRUE WHERE reason = 'drill' OR id IN "
    "(SELECT a.screening_id FROM alarms a JOIN cases c ON c.alarm_id = a.id WHERE c.drill)",
    "UPDATE alarms SET drill = TRUE WHERE screening_id IN (SELECT id FROM screenings WHERE drill) "
    "OR id IN (SELECT alarm_id FROM cases WHERE drill AND alarm_id IS NOT NULL)",
    "CREATE INDEX screenings_drill ON screenings (time) WHERE drill",
    # A class teacher (teacher) sees their own classes only. SQLite cannot change a CHECK in place: the
    # table is rebuilt (nothing references it yet); PostgreSQL swaps the constraint.
    {"sqlite": """CREATE TABLE users_v7 (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('guard', 'doctor', 'admin', 'teacher')),
        password_hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL)""",
     "postgresql": "ALTER TABLE users DROP CONSTRAINT users_role_check"},
    {"sqlite": "INSERT INTO users_v7 (name, role, password_hash, created_at, updated_at) "
               "SELECT name, role, password_hash, created_at, updated_at FROM users",
     "postgresql": "ALTER TABLE users ADD CONSTRAINT users_role_check "
                   "CHECK (role IN ('guard', 'doctor', 'admin', 'teacher'))"},
    {"sqlite": "DROP TABLE users", "postgresql": "SELECT 1"},
    {"sqlite": "ALTER TABLE users_v7 RENAME TO users", "postgresql": "SELECT 1"},
    # The classes a teacher account is limited to (by the roster's class names).
    """CREATE TABLE user_classes (
        user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        class_name TEXT NOT NULL,
        PRIMARY KEY (user_name, class_name))""",
))

V8 = Migration(8, "report_rules: warning rules added in the console", (
    # A warning rule (自动预警) an admin or the reporter added in the console, beside the [[report.warning]] rules
    # of controller.toml (controller/reporting/). Its id is its identity: its warnings are stored under
    # "console:<id>", which an edit keeps. Disabled rules stay, to be enabled again; a deleted one is gone (its
    # warnings and the audit trail remain).
    """CREATE TABLE report_rules (
        id {pk},
        scope TEXT NOT NULL CHECK (scope IN ('class', 'grade', 'school')),
        what TEXT NOT NULL CHECK (what IN ('fevers_confirmed', 'sick_absences', 'alarm_rate')),
        threshold {float} NOT NULL CHECK (threshold >= 1),
        days {bigint} NOT NULL CHECK (days >= 1),
        factor {float} NOT NULL CHECK (factor >= 1),
        min_alarms {bigint} NOT NULL CHECK (min_alarms >= 1),
        baseline_days {bigint} NOT NULL CHECK (baseline_days >= 1),
        enabled {bool} NOT NULL,
        created_by TEXT NOT NULL,
        created_at {float} NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at {float} NOT NULL,
        CHECK (what <> 'alarm_rate' OR scope = 'school'))""",
))

V9 = Migration(9, "door_actions: the cause 'measuring' (the measuring light for the person at the mark)", (
    # SQLite cannot change a CHECK in place: the table is rebuilt (nothing references it) with its indexes;
    # PostgreSQL swaps the constraint.
    {"sqlite": """CREATE TABLE door_actions_v9 (
        id {pk},
        gate TEXT NOT NULL REFERENCES gates(id),
        time {float} NOT NULL,
        action TEXT NOT NULL,
        arg {bigint} NOT NULL,
        counter {bigint} NOT NULL,
        cause TEXT NOT NULL CHECK (cause IN ('decision', 'manual', 'measuring')),
        screening_id {bigint} REFERENCES screenings(id),
        user_name TEXT,
        reason TEXT,
        ack_ok {bool},
        ack_reason TEXT,
        applied_ms {bigint},
        acked_at {float},
        UNIQUE (gate, counter))""",
     "postgresql": "ALTER TABLE door_actions DROP CONSTRAINT door_actions_cause_check"},
    {"sqlite": "INSERT INTO door_actions_v9 SELECT id, gate, time, action, arg, counter, cause, screening_id, "
               "user_name, reason, ack_ok, ack_reason, applied_ms, acked_at FROM door_actions",
     "postgresql": "ALTER TABLE door_actions ADD CONSTRAINT door_actions_cause_check "
                   "CHECK (cause IN ('decision', 'manual', 'measuring'))"},
    # The ids go on from where the old table's left off (AUTOINCREMENT: an id is never reused).
    {"sqlite": "DELETE FROM sqlite_sequence WHERE name = 'door_actions_v9'", "postgresql": "SELECT 1"},
    {"sqlite": "INSERT INTO sqlite_sequence (name, seq) SELECT 'door_actions_v9', seq FROM sqlite_sequence "
               "WHERE name = 'door_actions'", "postgresql": "SELECT 1"},
    {"sqlite": "DROP TABLE door_actions", "postgresql": "SELECT 1"},
    {"sqlite": "ALTER TABLE door_actions_v9 RENAME TO door_actions", "postgresql": "SELECT 1"},
    {"sqlite": "CREATE INDEX door_actions_time ON door_actions (time)", "postgresql": "SELECT 1"},
    {"sqlite": "CREATE INDEX door_actions_unacked ON door_actions (time) WHERE acked_at IS NULL",
     "postgresql": "SELECT 1"},
))

MIGRATIONS: tuple[Migration, ...] = (V1, V2, V3, V4, V5, V6, V7, V8, V9)
LATEST_VERSION = MIGRATIONS[-1].version

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at {float} NOT NULL)"""


def _render(statement, backend: Backend) -> str:
    if isinstance(statement, dict):
        statement = statement[backend.dialect]
    return statement.format(**backend.types)


def _lock_and_read_version(run, backend: Backend) -> int:
    if backend.dialect == "postgresql":
        run("SELECT pg_advisory_xact_lock(?)", (PG_MIGRATION_LOCK,))
    # (SQLite: the transaction's BEGIN IMMEDIATE already excludes other writers.)
    run(_render(_VERSION_TABLE, backend))
    return int(run("SELECT MAX(version) AS v FROM schema_version").fetchone()["v"] or 0)


def current_version(backend: Backend) -> int:
    """The highest migration applied, 0 on an empty database."""
    with backend.transaction() as run:
        return _lock_and_read_version(run, backend)


def apply_migrations(backend: Backend, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Bring the database up to the last of ``migrations``; the versions applied now (often none)."""
    numbers = [m.version for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise SchemaError(f"internal: migrations must be numbered 1..n in order, got {numbers}")
    latest = numbers[-1] if numbers else 0
    applied: list[int] = []
    while True:
        with backend.transaction() as run:
            have = _lock_and_read_version(run, backend)
            if have > latest:
                raise SchemaError(
                    f"{backend.description} has schema version {have}, newer than this thermogate "
                    f"knows (up to {latest}): upgrade thermogate, or point it at another database")
            if have == latest:
                return applied
            migration = migrations[have]  # version have + 1
            for statement in migration.statements:
                run(_render(statement, backend))
            run("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, time.time()))
            applied.append(migration.version)
