# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration session: one connection, its schema, history table, lock key and placeholder values.

``open_session`` prepares the connection as Flyway's ``Database``/``Connection`` do (autocommit between
the engine's own transactions, the history schema, the user); ``writing`` is one transaction under
Flyway's lock with the waits bounded; ``prepared`` gives a migration as it runs (placeholders replaced).
"""

from __future__ import annotations

import datetime
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import ContextManager, Iterator

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.files import ResolvedMigration
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.lock import advisory_lock_key, under_lock
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.placeholders import (
    PlaceholderError,
    session_placeholders,
    with_placeholders,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.results import (
    MigrationConfigError,
    MigrationError,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.schema_history import HistoryTable, quote_flyway
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.settings import MigrationSettings
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.transactions import non_transactional_statements
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import blockers, dependencies
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

with declare("psycopg"):
    from psycopg import pq


@dataclass
class Session:
    conn: object
    schema: str
    search_path: str
    current_user: str
    history: HistoryTable
    installed_by: str
    lock_key: int  # Flyway's advisory lock for this history table
    placeholders: dict | None  # Flyway's placeholders and built-ins, None when replacement is off
    runnables: dict = field(default_factory=dict, repr=False)  # (script, checksum) -> Runnable, see runnable()


@dataclass(frozen=True)
class Runnable:
    """A migration as it runs: its placeholders replaced, its statements, and those of them that
    cannot run in a transaction (none: the script runs whole in one)."""

    migration: ResolvedMigration
    statements: list
    outside: list


@contextmanager
def open_session(conn, settings: MigrationSettings) -> Iterator[Session]:
    if dependencies.missing("psycopg"):
        raise MigrationError("psycopg (version 3) is required")
    status = conn.info.transaction_status
    if status == pq.TransactionStatus.INERROR:
        conn.rollback()
    elif status != pq.TransactionStatus.IDLE:
        conn.commit()
    previous_autocommit = conn.autocommit
    conn.autocommit = True
    try:
        current_schema, search_path, current_user = conn.execute(
            "SELECT current_schema(), current_setting('search_path'), current_user"
        ).fetchone()
        schema = settings.schema or current_schema or first_search_path_entry(search_path, current_user)
        if not schema:
            raise MigrationError(
                "Unable to determine the schema for the schema history table: search_path is empty. "
                "Set history_schema, or add ?schema=NAME to the database URL."
            )
        history = HistoryTable(conn, schema, settings.table)
        values = None
        if settings.placeholder_replacement:
            values = dict(session_placeholders(
                schema=schema, user=current_user, database=conn.info.dbname, table=settings.table,
                environment=settings.environment or "default", now=datetime.datetime.now()), **settings.placeholders)
        yield Session(conn, schema, search_path, current_user, history, settings.installed_by or current_user,
                      advisory_lock_key(schema, settings.table), values)
    finally:
        if conn.info.transaction_status == pq.TransactionStatus.IDLE:
            conn.autocommit = previous_autocommit


def split_search_path(search_path: str) -> list[str]:
    entries, current, quoted, i = [], "", False, 0
    while i < len(search_path):
        char = search_path[i]
        if quoted:
            if char == '"' and search_path[i + 1:i + 2] == '"':
                current += '"'
                i += 1
            elif char == '"':
                quoted = False
            else:
                current += char
        elif char == '"':
            quoted = True
        elif char == ",":
            entries.append(current.strip())
            current = ""
        else:
            current += char
        i += 1
    if current.strip():
        entries.append(current.strip())
    return entries


def first_search_path_entry(search_path: str, current_user: str) -> str | None:
    for entry in split_search_path(search_path or ""):
        return current_user if entry == "$user" else entry
    return None


def writing(session: Session, settings: MigrationSettings, *, dry_run: bool = False) -> ContextManager:
    """Where a command writes: one transaction under Flyway's lock, its waits bounded by
    ``db_lock_timeout`` and ``db_statement_timeout``. A dry run writes nothing, so it reads outside both
    (and never waits for a running migration)."""
    if dry_run:
        return nullcontext()
    return bounded_under_lock(session, settings)


@contextmanager
def bounded_under_lock(session: Session, settings: MigrationSettings) -> Iterator[None]:
    with under_lock(session.conn, session.lock_key, settings.lock_retry_count, settings.lock_retry_interval):
        blockers.bounded(session.conn, settings.db_lock_timeout, settings.db_statement_timeout)
        yield


@contextmanager
def schema_first_on_search_path(session: Session) -> Iterator[None]:
    """PostgreSQLConnection.changeCurrentSchemaTo: put the history schema first while migrating."""
    entries = split_search_path(session.search_path or "")
    if entries and entries[0] == session.schema or not session.history.schema_exists():
        yield
        return
    new_path = quote_flyway(session.schema) + ("," + session.search_path if session.search_path else "")
    session.conn.execute("SELECT set_config('search_path', %s, false)", (new_path,))
    try:
        yield
    finally:
        if session.conn.info.transaction_status == pq.TransactionStatus.IDLE:
            session.conn.execute("SELECT set_config('search_path', %s, false)", (session.search_path,))


def placed(session: Session, resolved: list[ResolvedMigration]) -> list[ResolvedMigration]:
    """The repeatable migrations with their placeholders replaced, as Flyway's resolver gives them (their
    checksum depends on the values); versioned ones are replaced when they run (``prepared``)."""
    if session.placeholders is None:
        return resolved
    return [prepared(session, migration) if migration.is_repeatable else migration for migration in resolved]


def prepared(session: Session, migration: ResolvedMigration) -> ResolvedMigration:
    """The migration as it runs: its placeholders replaced (MigrationConfigError names a missing one)."""
    if session.placeholders is None or migration.equivalent_checksum is not None:
        return migration
    try:
        return with_placeholders(migration, session.placeholders)
    except PlaceholderError as error:
        raise MigrationConfigError(str(error)) from None


def runnable(session: Session, migration: ResolvedMigration) -> Runnable:
    """The migration prepared to run, worked out once per script in a session (the pending scripts are
    checked before the first one runs, and each is then run from the same preparation)."""
    key = (migration.script, migration.checksum)
    if key not in session.runnables:
        ready = prepared(session, migration)
        statements, outside = non_transactional_statements(ready.sql, session.conn.info.server_version)
        session.runnables[key] = Runnable(ready, statements, outside)
    return session.runnables[key]


def restore_role(session: Session) -> None:
    """PostgreSQLConnection.doRestoreOriginalState: a script's SET ROLE must not leak."""
    user = session.conn.execute("SELECT current_user").fetchone()[0]
    if user != session.current_user:
        session.conn.execute("SELECT set_config('role', %s, false)", (session.current_user,))
