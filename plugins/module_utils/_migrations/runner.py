# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flyway-compatible ``migrate``, ``validate``, ``info``, ``baseline`` and ``repair`` for PostgreSQL.

Every operation takes a psycopg 3 connection and a :class:`MigrationSettings`
and returns a plain dataclass (``as_dict()`` gives JSON-ready data). None of
them needs Ansible. The connection is switched to autocommit for the duration
of the call (an open transaction on it is committed first) because the runner
owns its transactions: one per versioned or repeatable migration, holding the
history row together with the migration's own changes.

The commands sit on top of the engine's parts, split as Flyway splits them
(see docs/MIGRATIONS.md for sources):

* ``files`` / ``checksum`` - the resolver and Flyway's checksums;
* ``schema_history`` - the same history table, DDL and row values as Flyway's;
* ``info`` - ``flyway info``'s states, a pure function of scripts and history rows;
* ``validation`` - Flyway's validation rules over those states, pure too;
* ``lock`` - the same PostgreSQL advisory lock, so a Flyway run and this runner
  exclude each other;
* ``settings`` / ``results`` - settings, results and errors.

The names other code imports from here (settings, errors, commands, lock key) stay importable here.
"""

from __future__ import annotations

import time

from ansible_collections.skillforge.dataops.plugins.module_utils._shared import errors
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.files import (
    MigrationFileError,
    MigrationVersion,
    ResolvedMigration,
    resolve_migrations,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.info import (
    APPLIED_KEYS,
    DELETED,
    HISTORY_ROW_KEYS,
    IGNORED,
    MISSING,
    MISSING_FAILED,
    PENDING,
    PENDING_KEYS,
    MigrationInfo,
    beyond_target,
    build_info,
    current_version,
    migration_dict,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.lock import (
    advisory_lock_key,
    java_string_hash,
    under_session_lock,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.results import (
    BaselineError,
    BaselineResult,
    InfoResult,
    LockTimeoutError,
    MigrateResult,
    MigrationConfigError,
    MigrationError,
    MigrationFailedError,
    MigrationFailure,
    NonEmptySchemaError,
    RepairResult,
    ValidateResult,
    ValidationFailedError,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.settings import MigrationSettings
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.validation import validate_infos
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.schema_history import (
    SYNTHETIC_TYPES,
    AppliedMigration,
    quote_flyway,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.session import (
    Runnable,
    Session,
    open_session,
    placed,
    restore_role,
    runnable,
    schema_first_on_search_path,
    writing,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.sql_script import locate
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.transactions import mixed_statements_message
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import blockers
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

with declare("psycopg"):
    import psycopg

__all__ = [
    "MigrationSettings",
    "MigrationError",
    "MigrationConfigError",
    "MigrationFileError",
    "ValidationFailedError",
    "MigrationFailedError",
    "LockTimeoutError",
    "NonEmptySchemaError",
    "BaselineError",
    "migrate",
    "validate",
    "info",
    "baseline",
    "repair",
    "advisory_lock_key",
    "java_string_hash",
]


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------
def info(conn, settings: MigrationSettings) -> InfoResult:
    """What ``flyway info`` shows. Read-only, takes no lock."""
    resolved = resolve_migrations(settings.locations)
    with open_session(conn, settings) as session:
        resolved = placed(session, resolved)
        exists = session.history.exists()
        infos = build_info(resolved, session.history.all() if exists else [])
        return InfoResult(
            history_table=session.history.flyway_name,
            schema=session.schema,
            history_exists=exists,
            current_version=current_version(infos),
            migrations=[i.as_dict() for i in infos],
            warnings=_file_warnings(resolved),
        )


def validate(conn, settings: MigrationSettings, *, allow_pending: bool = False) -> ValidateResult:
    """``flyway validate``. Pending migrations are errors unless ``allow_pending`` (what migrate uses).

    Returns the result; never raises for validation issues (``valid`` is False).
    """
    resolved = resolve_migrations(settings.locations)
    with open_session(conn, settings) as session:
        resolved = placed(session, resolved)
        infos = build_info(resolved, session.history.all())
        issues, warnings = validate_infos(infos, allow_pending)
        return ValidateResult(
            history_table=session.history.flyway_name,
            schema=session.schema,
            valid=not issues,
            issues=issues,
            validated_count=len(resolved),
            warnings=_file_warnings(resolved) + warnings,
        )


def _ensure_history(session: Session, settings: MigrationSettings, result, *, dry_run: bool,
                    for_baseline: bool = False) -> None:
    """DbSchemas.create + SchemaHistory.create, or Flyway's non-empty-schema refusal."""
    history = session.history
    if history.exists():
        return
    if not history.schema_exists():
        if not settings.create_schemas:
            raise MigrationError(
                "Schema %s does not exist and create_schemas is disabled. Create it first." % quote_flyway(session.schema))
        result.created_schema = True
        result.created_history_table = True
        if not dry_run:
            history.create_schema()
            history.create()
            history.add_schema_marker([session.schema], session.installed_by)
        return
    if not for_baseline and not history.schema_is_empty():
        if not settings.baseline_on_migrate:
            raise NonEmptySchemaError(
                "Found non-empty schema(s) %s but no schema history table %s. Use the baseline command (or set "
                "baseline_on_migrate) to initialize the schema history table, as Flyway requires."
                % (quote_flyway(session.schema), history.flyway_name))
        result.baselined = True
    result.created_history_table = True
    if not dry_run:
        history.create()
        if getattr(result, "baselined", False):
            history.add_baseline_marker(settings.baseline_version, settings.baseline_description, session.installed_by)


def _file_warnings(resolved: list[ResolvedMigration]) -> list[str]:
    """What reading the scripts found worth saying (bytes that are not UTF-8), one line each."""
    return [migration.decode_warning for migration in resolved if migration.decode_warning]


def _fail_fast(issues: list[dict]) -> None:
    if issues:
        raise ValidationFailedError(issues)


def migrate(conn, settings: MigrationSettings, *, dry_run: bool = False) -> MigrateResult:
    """``flyway migrate`` (DbMigrate): validate, then apply pending versioned and repeatable migrations.

    With ``dry_run`` nothing is written (not even the history table) and the
    result lists exactly what a real run would apply.
    Raises ValidationFailedError / NonEmptySchemaError before changing anything,
    MigrationFailedError (with ``.result`` holding what was applied before) when a
    script fails, LockTimeoutError when another run holds the lock too long.
    """
    resolved = resolve_migrations(settings.locations)
    with open_session(conn, settings) as session:
        resolved = placed(session, resolved)
        history = session.history
        result = MigrateResult(history_table=history.flyway_name, schema=session.schema, dry_run=dry_run)

        # 1. Validate before touching anything (validateOnMigrate, pending allowed).
        infos = build_info(resolved, history.all())
        issues, warnings = validate_infos(infos, allow_pending=True)
        result.warnings.extend(_file_warnings(resolved) + warnings)
        _fail_fast(issues)
        _refuse_mixed(session, infos)
        result.initial_version = current_version(infos)
        result.above_target = [migration_dict(i.resolved, PENDING_KEYS) for i in _held_back(infos, settings)]

        if dry_run:
            _ensure_history(session, settings, result, dry_run=True)
            if result.baselined:
                infos = build_info(resolved, [AppliedMigration(
                    1, settings.baseline_version, settings.baseline_description, "BASELINE",
                    settings.baseline_description, None, session.installed_by, None, 0, True)])
            held = {i.script for i in _held_back(infos, settings)}
            result.pending = [migration_dict(i.resolved, PENDING_KEYS) for i in infos
                              if i.state == PENDING and i.script not in held]
            result.changed = bool(result.pending) or result.created_history_table
            result.target_version = _predicted_version(result.initial_version, result.pending)
            return result

        # 2. Schema / history table, under the lock (Flyway creates them before migrating).
        if not history.exists():
            with writing(session, settings):
                _ensure_history(session, settings, result, dry_run=False)

        # 3. One migration per transaction, re-reading the history under the lock each time
        #    (DbMigrate.migrateGroup with group=false).
        with schema_first_on_search_path(session):
            while _migrate_one(session, resolved, settings, result):
                pass
        result.changed = bool(result.applied) or result.created_history_table
        result.target_version = current_version(build_info(resolved, history.all()))
        return result


def _held_back(infos: list[MigrationInfo], settings: MigrationSettings) -> list[MigrationInfo]:
    """The pending migrations above Flyway's ``target``, which migrate leaves pending."""
    try:
        return beyond_target(infos, settings.target)
    except ValueError as error:
        raise MigrationConfigError(str(error)) from None


def _predicted_version(initial: str | None, pending: list[dict]) -> str | None:
    versions = [MigrationVersion(p["version"]) for p in pending if p["version"] is not None]
    if initial is not None:
        versions.append(MigrationVersion(initial))
    return str(max(versions)) if versions else None


def _refuse_mixed(session: Session, infos: list[MigrationInfo]) -> None:
    """Flyway's ``mixed=false``: a pending script may not mix statements that cannot run in a
    transaction with statements that must; refused before anything runs."""
    for entry in infos:
        if entry.state == PENDING:  # also: every placeholder of a pending script has a value
            plan = runnable(session, entry.resolved)
            message = mixed_statements_message(entry.script, plan.statements, plan.outside)
            if message:
                raise MigrationFileError(message)


def _next_pending(session: Session, resolved: list[ResolvedMigration], settings: MigrationSettings) -> Runnable | None:
    """The first pending migration as it runs, from the history as it is now (read under the lock), or None."""
    infos = build_info(resolved, session.history.all())
    issues, _warnings = validate_infos(infos, allow_pending=True)
    _fail_fast(issues)  # another process may have changed the history meanwhile
    held = {i.script for i in _held_back(infos, settings)}
    pending = [i for i in infos if i.state == PENDING and i.script not in held]
    return runnable(session, pending[0].resolved) if pending else None


def _migrate_one(session: Session, resolved: list[ResolvedMigration], settings: MigrationSettings,
                 result: MigrateResult) -> bool:
    """Apply the first pending migration with its history row in one locked transaction; False if none.
    A migration that cannot run in a transaction is left to ``_migrate_outside_transaction``."""
    conn = session.conn
    try:
        with writing(session, settings):
            plan = _next_pending(session, resolved, settings)
            if plan is None:
                return False
            migration = None if plan.outside else plan.migration  # None: leaves the transaction (and its lock) first
            if migration is not None:
                restore_role(session)
                started = time.monotonic()
                _run(conn, migration, [None])
                execution_time = int((time.monotonic() - started) * 1000)
                restore_role(session)
                rank = _record(session, migration, execution_time, success=True)
    except _ScriptFailed as failed:  # rolled back with its transaction: nothing recorded
        raise MigrationFailedError(failed.failure, result) from None
    if migration is None:
        return _migrate_outside_transaction(session, resolved, settings, result)
    result.applied.append(migration_dict(migration, APPLIED_KEYS, execution_time=execution_time, installed_rank=rank))
    return True


class _ScriptFailed(Exception):
    """A script's statement failed; ``failure`` says what, where, and who blocked a timed-out wait."""

    def __init__(self, failure: MigrationFailure) -> None:
        super().__init__(failure.error)
        self.failure = failure


def _run(conn, migration: ResolvedMigration, statements: list) -> None:
    """Run the script (``[None]``: whole, in the current transaction) or its statements one at a time
    (autocommit); a database error becomes _ScriptFailed."""
    with blockers.BlockerWatch(conn) as watch:
        for statement in statements:
            try:
                conn.execute(migration.sql if statement is None else statement.text, prepare=False)
            except psycopg.Error as error:
                failure = _describe_failure(migration, error, offset=statement.start if statement else 0)
                if statement is not None and failure.statement is None:  # no position: still the statement
                    failure.statement_number, failure.line, failure.statement = statement.index, statement.line, statement.text
                if blockers.is_timeout(error):
                    failure.timed_out = blockers.describe_timeout(error, watch.blockers)
                    failure.blocked_by = [blocker.as_dict() for blocker in watch.blockers]
                raise _ScriptFailed(failure) from None


def _record(session: Session, migration: ResolvedMigration, execution_time: int, *, success: bool) -> int:
    return session.history.insert(
        version=migration.version_text,
        description=migration.description,
        type=migration.type,
        script=migration.script,
        checksum=migration.checksum,
        installed_by=session.installed_by,
        execution_time=execution_time,
        success=success,
    )


def _migrate_outside_transaction(session: Session, resolved: list[ResolvedMigration], settings: MigrationSettings,
                                 result: MigrateResult) -> bool:
    """A migration PostgreSQL will not run in a transaction block: under the session lock, each
    statement on its own (autocommit), then its history row. A failure cannot be rolled back: the
    statements before it stay, and a ``success = false`` row records it, as Flyway writes it (repair
    removes it). The timeouts are set for the session while it runs and restored afterwards."""
    conn = session.conn
    with under_session_lock(conn, session.lock_key, settings.lock_retry_count, settings.lock_retry_interval):
        plan = _next_pending(session, resolved, settings)
        if plan is None:
            return False
        migration, statements = plan.migration, plan.statements if plan.outside else [None]
        restore_role(session)
        previous = conn.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')").fetchone()
        blockers.bounded(conn, settings.db_lock_timeout, settings.db_statement_timeout, local=False)
        started = time.monotonic()
        failure = None
        try:
            _run(conn, migration, statements)
        except _ScriptFailed as failed:
            failure = failed.failure
        finally:
            execution_time = int((time.monotonic() - started) * 1000)
            conn.execute("SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
                         previous)
            restore_role(session)
        if failure is not None:
            failure.transactional = False
            failure.recorded_rank = _record(session, migration, execution_time, success=False)
            raise MigrationFailedError(failure, result)
        rank = _record(session, migration, execution_time, success=True)
    result.applied.append(migration_dict(migration, APPLIED_KEYS, execution_time=execution_time, installed_rank=rank))
    return True


def _describe_failure(migration: ResolvedMigration, error: "psycopg.Error", offset: int = 0) -> MigrationFailure:
    """The failure of ``migration``; ``offset``: where in the script the failing statement starts when
    it ran on its own (PostgreSQL's position counts from the text it was sent)."""
    diag = error.diag
    failure = MigrationFailure(
        script=migration.script,
        path=migration.path,
        version=migration.version_text,
        description=migration.description,
        sqlstate=error.sqlstate,
        **errors.server_message(error),  # never DETAIL: it quotes the failing row
    )
    position = diag.statement_position
    if position:
        failure.position = int(position) + offset
        statement, line, column = locate(migration.sql, failure.position)
        failure.line, failure.column = line, column
        if statement is not None:
            failure.statement_number = statement.index
            failure.statement = statement.text
    return failure


def baseline(conn, settings: MigrationSettings, version: str | None = None, description: str | None = None,
             *, dry_run: bool = False) -> BaselineResult:
    """``flyway baseline`` (DbBaseline): mark an existing database as being at ``version``.

    Allowed only while the history has no applied (non-synthetic) migration.
    Re-running with the same version and description changes nothing.
    """
    version = str(MigrationVersion(version or settings.baseline_version))
    description = description or settings.baseline_description
    with open_session(conn, settings) as session:
        history = session.history
        result = BaselineResult(history_table=history.flyway_name, schema=session.schema, dry_run=dry_run,
                                changed=False, version=version, description=description)
        with writing(session, settings, dry_run=dry_run):
            rows = history.all()
            for row in rows:
                if row.type == "BASELINE":
                    if MigrationVersion(row.version) == MigrationVersion(version) and row.description == description:
                        result.message = "Schema history table %s already initialized with (%s,%s). Skipping." % (
                            history.flyway_name, version, description)
                        return result
                    raise BaselineError(
                        "Unable to baseline schema history table %s with (%s,%s) as it has already been "
                        "baselined with (%s,%s)" % (history.flyway_name, version, description, row.version,
                                                    row.description))
            if any(r.type == "SCHEMA" for r in rows) and MigrationVersion(version) == MigrationVersion("0"):
                raise BaselineError("Unable to baseline schema history table %s with version 0 as this version "
                                    "was used for schema creation" % history.flyway_name)
            if any(r.type not in SYNTHETIC_TYPES for r in rows):
                raise BaselineError(
                    "Unable to baseline schema history table %s as it already contains migrations. Baseline is "
                    "only for a database without applied migrations; use migrate or repair instead."
                    % history.flyway_name)
            _ensure_history(session, settings, result, dry_run=dry_run, for_baseline=True)
            if not dry_run:
                history.add_baseline_marker(version, description, session.installed_by)
            result.changed = True
            result.message = ("Would baseline schema with version: %s (check mode: nothing written)" % version
                              if dry_run else "Successfully baselined schema with version: %s" % version)
        return result


def repair(conn, settings: MigrationSettings, *, dry_run: bool = False) -> RepairResult:
    """``flyway repair`` (DbRepair, Flyway 9+): remove failed rows, mark missing migrations as deleted
    (a new ``DELETE`` row), realign checksum/description/type of applied versioned migrations."""
    resolved = resolve_migrations(settings.locations)
    with open_session(conn, settings) as session:
        resolved = placed(session, resolved)
        history = session.history
        result = RepairResult(history_table=history.flyway_name, schema=session.schema, dry_run=dry_run)
        if not history.exists():
            return result
        with writing(session, settings, dry_run=dry_run):
            rows = history.all()
            failed = [r for r in rows if not r.success and r.type != "DELETE"]
            result.removed_failed = [migration_dict(r, HISTORY_ROW_KEYS) for r in failed]
            if failed and not dry_run:
                history.remove_failed()
            remaining = [r for r in rows if r.success or r.type == "DELETE"]
            infos = build_info(resolved, remaining)
            result.marked_deleted = _mark_missing_deleted(session, infos, remaining, dry_run=dry_run)
            result.aligned = _align_with_scripts(session, infos, dry_run=dry_run)
            result.changed = bool(result.removed_failed or result.marked_deleted or result.aligned)
        return result


def _mark_missing_deleted(session: Session, infos: list[MigrationInfo], remaining: list[AppliedMigration], *,
                          dry_run: bool) -> list[dict]:
    """JdbcTableSchemaHistory.delete for each Missing migration; a dry run predicts the new rows' ranks."""
    marked = []
    next_rank = (max(r.installed_rank for r in remaining) + 1) if remaining else 1
    for entry in infos:
        applied = entry.applied
        if applied is None or applied.type in SYNTHETIC_TYPES or entry.state not in (MISSING, MISSING_FAILED):
            continue
        if dry_run:
            rank, next_rank = next_rank, next_rank + 1
        else:
            rank = session.history.mark_deleted(applied, session.installed_by)
        marked.append(migration_dict(applied, HISTORY_ROW_KEYS + ("delete_installed_rank",),
                                     delete_installed_rank=rank))
    return marked


def _align_with_scripts(session: Session, infos: list[MigrationInfo], *, dry_run: bool) -> list[dict]:
    """JdbcTableSchemaHistory.update: applied versioned migrations take their script's description,
    type and checksum."""
    aligned = []
    for entry in infos:
        resolved, applied = entry.resolved, entry.applied
        if resolved is None or applied is None or resolved.version is None:
            continue
        if applied.type in SYNTHETIC_TYPES or entry.state in (IGNORED, DELETED):
            continue
        if (applied.checksum, applied.description, applied.type) == (
                resolved.checksum, resolved.description, resolved.type):
            continue
        aligned.append({
            "installed_rank": applied.installed_rank,
            "version": applied.version,
            "script": resolved.script,
            "checksum_before": applied.checksum,
            "checksum_after": resolved.checksum,
            "description_before": applied.description,
            "description_after": resolved.description,
        })
        if not dry_run:
            session.history.update(applied.installed_rank, description=resolved.description,
                                   type=resolved.type, checksum=resolved.checksum)
    return aligned
