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

Compatibility with Flyway (see docs/MIGRATIONS.md for sources):

* the same history table, DDL, row values and checksums, so Flyway and this
  runner can take turns on one database;
* the same PostgreSQL advisory lock: ``pg_try_advisory_xact_lock`` on
  ``0x466C79776179 + String.hashCode('"schema"."table"')``, retried every
  second up to 50 times (Flyway's default ``lockRetryCount``), so a Flyway run
  and this runner exclude each other;
* the same validation rules and ``flyway info`` state names.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Iterator

try:
    import psycopg
    from psycopg import pq
except ImportError:  # pragma: no cover - reported by module_support / tests
    psycopg = None
    pq = None

from ansible_collections.skillforge.dataops.plugins.module_utils import errors
from ansible_collections.skillforge.dataops.plugins.module_utils.migration_files import (
    MigrationFileError,
    MigrationVersion,
    ResolvedMigration,
    description_sort_key,
    resolve_migrations,
)
from ansible_collections.skillforge.dataops.plugins.module_utils.schema_history import (
    DEFAULT_BASELINE_DESCRIPTION,
    SYNTHETIC_TYPES,
    AppliedMigration,
    HistoryTable,
    flyway_table_name,
    quote_flyway,
)
from ansible_collections.skillforge.dataops.plugins.module_utils.sql_script import locate

__all__ = [
    "MigrationSettings",
    "MigrationError",
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

# PostgreSQLAdvisoryLockTemplate.LOCK_MAGIC_NUM: the bytes of "Flyway".
LOCK_MAGIC_NUM = (0x46 << 40) + (0x6C << 32) + (0x79 << 24) + (0x77 << 16) + (0x61 << 8) + 0x79

# States as MigrationState.getDisplayName() spells them.
PENDING = "Pending"
BELOW_BASELINE = "Below Baseline"
BASELINE = "Baseline"
IGNORED = "Ignored"
MISSING = "Missing"
MISSING_FAILED = "Failed (Missing)"
SUCCESS = "Success"
FAILED = "Failed"
OUT_OF_ORDER = "Out of Order"
FUTURE = "Future"
FUTURE_FAILED = "Failed (Future)"
OUTDATED = "Outdated"
SUPERSEDED = "Superseded"
DELETED = "Deleted"
FAILED_STATES = (FAILED, MISSING_FAILED, FUTURE_FAILED)


# --------------------------------------------------------------------------------------------
# Settings, results, errors
# --------------------------------------------------------------------------------------------
MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1
MAX_LOCK_RETRY_COUNT = 3600


@dataclass
class MigrationSettings:
    locations: list[str]
    schema: str | None = None  # history table schema; None = current_schema() of the connection
    table: str = "flyway_schema_history"
    installed_by: str | None = None  # None = current_user, as Flyway records it
    baseline_version: str = "1"
    baseline_description: str = DEFAULT_BASELINE_DESCRIPTION
    baseline_on_migrate: bool = False
    create_schemas: bool = True
    lock_retry_count: int = 50  # Flyway's default lockRetryCount
    lock_retry_interval: float = 1.0  # seconds; Flyway waits 1 s between tries

    def __post_init__(self) -> None:
        """Refuse what PostgreSQL would truncate or reject later, after a history table was made,
        and waits without end (Flyway's lockRetryCount -1 retries for ever; not here)."""
        for option, value in (("history_table", self.table), ("history_schema", self.schema)):
            if value is not None and not 1 <= len(value.encode("utf-8")) <= MAX_IDENTIFIER_BYTES:
                raise MigrationConfigError("%s must be 1 to %d bytes long (PostgreSQL truncates longer names), got %d"
                                           % (option, MAX_IDENTIFIER_BYTES, len(value.encode("utf-8"))))
        for option, value, limit in (("installed_by", self.installed_by, 100),
                                     ("baseline_description", self.baseline_description, 200)):
            if value is not None and len(value) > limit:  # the history table's VARCHAR(100) / VARCHAR(200)
                raise MigrationConfigError("%s must be at most %d characters (the history table's column), got %d"
                                           % (option, limit, len(value)))
        for option, value in (("history_table", self.table), ("history_schema", self.schema),
                              ("installed_by", self.installed_by), ("baseline_description", self.baseline_description)):
            if value is not None and "\x00" in value:
                raise MigrationConfigError("%s must not contain a NUL character" % option)
        if self.baseline_version is not None:
            try:
                MigrationVersion(str(self.baseline_version))
            except MigrationFileError:
                raise MigrationConfigError("baseline_version must be a version such as 1 or 1.2 (digits and dots), "
                                           "got %s" % errors.echo(self.baseline_version)) from None
        if isinstance(self.lock_retry_count, bool) or not isinstance(self.lock_retry_count, int) or not (
                0 <= self.lock_retry_count <= MAX_LOCK_RETRY_COUNT):
            raise MigrationConfigError("lock_retry_count must be from 0 to %d (whole tries, %s s apart), got %s"
                                       % (MAX_LOCK_RETRY_COUNT, self.lock_retry_interval,
                                          errors.echo(self.lock_retry_count, 20)))
        if not 0 < self.lock_retry_interval <= 60:  # also refuses NaN
            raise MigrationConfigError("lock_retry_interval must be more than 0 and at most 60 seconds")


class MigrationError(Exception):
    """Base class; ``str()`` is a complete, actionable message."""


class ValidationFailedError(MigrationError):
    def __init__(self, issues: list[dict]) -> None:
        self.issues = issues
        super().__init__(
            "Validate failed: Migrations have failed validation\n" + "\n".join(i["message"] for i in issues)
        )


class MigrationConfigError(MigrationError):
    """A setting that cannot work (too long for PostgreSQL or the history table, unbounded)."""


class LockTimeoutError(MigrationError):
    pass


class NonEmptySchemaError(MigrationError):
    pass


class BaselineError(MigrationError):
    pass


class MigrationFailedError(MigrationError):
    def __init__(self, failure: "MigrationFailure", result: "MigrateResult") -> None:
        self.failure = failure
        self.result = result
        super().__init__(failure.message())


@dataclass
class MigrationFailure:
    script: str
    path: str
    version: str | None
    description: str
    sqlstate: str | None
    error: str
    hint: str | None = None
    context: str | None = None
    position: int | None = None
    line: int | None = None
    column: int | None = None
    statement_number: int | None = None
    statement: str | None = None

    def message(self) -> str:
        what = "version %s (%s)" % (self.version, self.description) if self.version else (
            "repeatable migration '%s'" % self.description
        )
        # One line for the task's msg; the whole statement, hint and context are in ``failure``.
        parts = [
            "Migration %s failed: %s; changes successfully rolled back, nothing was recorded in the schema history"
            % (self.script, what),
            "SQL State: %s" % self.sqlstate,
            "Message: %s" % errors.clip(" ".join(self.error.split()), 120),
        ]
        if self.line is not None:
            parts.append("Location: line %s column %s (statement %s)" % (
                self.line, self.column, self.statement_number or "?"))
        if self.statement:
            parts.append("Statement: %s" % _shorten(" ".join(self.statement.split()), 60))
        parts.append("fix the script and run migrate again (migrations before it stay applied)")
        return "; ".join(parts)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["msg"] = self.message()
        return data


@dataclass
class MigrationInfo:
    category: str  # "Versioned", "Repeatable" or "" for BASELINE/SCHEMA rows
    version: str | None
    description: str
    type: str
    script: str
    checksum: int | None
    installed_rank: int | None
    installed_on: str | None
    installed_by: str | None
    execution_time: int | None
    state: str
    resolved: ResolvedMigration | None = field(default=None, repr=False)
    applied: AppliedMigration | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        return {
            "category": self.category,
            "version": self.version,
            "description": self.description,
            "type": self.type,
            "script": self.script,
            "checksum": self.checksum,
            "installed_rank": self.installed_rank,
            "installed_on": self.installed_on,
            "installed_by": self.installed_by,
            "execution_time": self.execution_time,
            "state": self.state,
        }


class _Result:
    """An operation's result; ``as_dict()`` gives the JSON-ready form the modules return."""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class MigrateResult(_Result):
    history_table: str
    schema: str
    dry_run: bool
    changed: bool = False
    created_schema: bool = False
    created_history_table: bool = False
    baselined: bool = False
    initial_version: str | None = None
    target_version: str | None = None
    applied: list[dict] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ValidateResult(_Result):
    history_table: str
    schema: str
    valid: bool
    issues: list[dict] = field(default_factory=list)
    validated_count: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class InfoResult(_Result):
    history_table: str
    schema: str
    history_exists: bool
    current_version: str | None
    migrations: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class BaselineResult(_Result):
    history_table: str
    schema: str
    dry_run: bool
    changed: bool
    version: str
    description: str
    created_schema: bool = False
    created_history_table: bool = False
    message: str = ""


@dataclass
class RepairResult(_Result):
    history_table: str
    schema: str
    dry_run: bool
    changed: bool = False
    removed_failed: list[dict] = field(default_factory=list)
    marked_deleted: list[dict] = field(default_factory=list)
    aligned: list[dict] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Lock
# --------------------------------------------------------------------------------------------
def java_string_hash(text: str) -> int:
    """``java.lang.String.hashCode()``: s[0]*31^(n-1) + ... over UTF-16 code units, as a signed int."""
    value = 0
    encoded = text.encode("utf-16-be")
    for i in range(0, len(encoded), 2):
        value = (31 * value + int.from_bytes(encoded[i:i + 2], "big")) & 0xFFFFFFFF
    return value - 0x1_0000_0000 if value >= 0x8000_0000 else value


def advisory_lock_key(schema: str, table: str) -> int:
    """The bigint Flyway passes to pg_try_advisory_xact_lock for this history table."""
    return LOCK_MAGIC_NUM + java_string_hash(flyway_table_name(schema, table))


def _acquire_lock(conn, key: int, settings: MigrationSettings) -> None:
    """Inside the current transaction: retry like Flyway's RetryStrategy, then give up."""
    retries = settings.lock_retry_count
    while True:
        if conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (key,)).fetchone()[0]:
            return
        time.sleep(settings.lock_retry_interval)
        if retries == 0:
            raise LockTimeoutError(
                "Number of retries exceeded while attempting to acquire PostgreSQL advisory lock %d "
                "(another migrate, repair or baseline - this collection or Flyway - holds it). "
                "Wait for it to finish, or raise lock_retry_count." % key
            )
        retries -= 1


# --------------------------------------------------------------------------------------------
# Connection handling
# --------------------------------------------------------------------------------------------
@dataclass
class _Session:
    conn: object
    schema: str
    search_path: str
    current_user: str
    history: HistoryTable
    installed_by: str


@contextmanager
def _session(conn, settings: MigrationSettings) -> Iterator[_Session]:
    if psycopg is None:
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
        schema = settings.schema or current_schema or _first_search_path_entry(search_path, current_user)
        if not schema:
            raise MigrationError(
                "Unable to determine the schema for the schema history table: search_path is empty. "
                "Set history_schema, or add ?schema=NAME to the database URL."
            )
        history = HistoryTable(conn, schema, settings.table)
        yield _Session(conn, schema, search_path, current_user, history, settings.installed_by or current_user)
    finally:
        if conn.info.transaction_status == pq.TransactionStatus.IDLE:
            conn.autocommit = previous_autocommit


def _split_search_path(search_path: str) -> list[str]:
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


def _first_search_path_entry(search_path: str, current_user: str) -> str | None:
    for entry in _split_search_path(search_path or ""):
        return current_user if entry == "$user" else entry
    return None


@contextmanager
def _schema_first_on_search_path(session: _Session) -> Iterator[None]:
    """PostgreSQLConnection.changeCurrentSchemaTo: put the history schema first while migrating."""
    entries = _split_search_path(session.search_path or "")
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


# --------------------------------------------------------------------------------------------
# Info: pair resolved and applied migrations, compute Flyway states
# --------------------------------------------------------------------------------------------
def _fmt_time(value) -> str | None:
    return value.isoformat(sep=" ") if value is not None else None


def _info_entry(resolved: ResolvedMigration | None, applied: AppliedMigration | None, state: str) -> MigrationInfo:
    if applied is not None:
        version = applied.version
        category = "" if applied.type in SYNTHETIC_TYPES else ("Repeatable" if version is None else "Versioned")
        return MigrationInfo(
            category=category,
            version=version,
            description=applied.description,
            type=applied.type,
            script=applied.script,
            checksum=applied.checksum,
            installed_rank=applied.installed_rank,
            installed_on=_fmt_time(applied.installed_on),
            installed_by=applied.installed_by,
            execution_time=applied.execution_time,
            state=state,
            resolved=resolved,
            applied=applied,
        )
    return MigrationInfo(
        category=resolved.category,
        version=resolved.version_text,
        description=resolved.description,
        type=resolved.type,
        script=resolved.script,
        checksum=resolved.checksum,
        installed_rank=None,
        installed_on=None,
        installed_by=None,
        execution_time=None,
        state=state,
        resolved=resolved,
        applied=None,
    )


def build_info(resolved: list[ResolvedMigration], applied_rows: list[AppliedMigration]) -> list[MigrationInfo]:
    """Flyway's MigrationInfoServiceImpl, for SQL migrations with default settings
    (no target, outOfOrder=false, ignoreMigrationPatterns=*:future)."""
    resolved_versioned = {m.version: m for m in resolved if m.version is not None}
    resolved_repeatable = {m.description: m for m in resolved if m.version is None}
    last_resolved = max(resolved_versioned) if resolved_versioned else None

    # DELETE rows (repair of a missing migration) hide the rows they delete.
    deleted_ranks: set[int] = set()
    live_rows: list[AppliedMigration] = []
    for row in applied_rows:
        if row.type == "DELETE":
            if row.success:
                for earlier in live_rows:
                    same = (
                        row.version is not None and earlier.version is not None
                        and MigrationVersion(earlier.version) == MigrationVersion(row.version)
                    ) or (row.version is None and earlier.version is None and earlier.description == row.description)
                    if same:
                        deleted_ranks.add(earlier.installed_rank)
            continue
        live_rows.append(row)

    versioned_rows = [r for r in live_rows if r.version is not None]
    baseline_version = None
    for row in versioned_rows:
        if row.type == "BASELINE":
            version = MigrationVersion(row.version)
            if baseline_version is None or version > baseline_version:
                baseline_version = version
    active_versions = [MigrationVersion(r.version) for r in versioned_rows if r.installed_rank not in deleted_ranks]
    last_applied = max(active_versions) if active_versions else None

    infos: list[MigrationInfo] = []
    matched_versions: set[MigrationVersion] = set()
    highest_so_far: MigrationVersion | None = None
    for row in live_rows:
        if row.version is None:
            continue
        version = MigrationVersion(row.version)
        candidate = resolved_versioned.get(version)
        if row.installed_rank in deleted_ranks:
            infos.append(_info_entry(candidate, row, DELETED))
            continue
        if candidate is not None:
            matched_versions.add(version)
        if row.type == "BASELINE":
            state = BASELINE
        elif candidate is None:
            if last_resolved is not None and version < last_resolved:
                state = MISSING if row.success else MISSING_FAILED
            else:
                state = FUTURE if row.success else FUTURE_FAILED
        elif not row.success:
            state = FAILED
        elif highest_so_far is not None and version < highest_so_far:
            state = OUT_OF_ORDER
        else:
            state = SUCCESS
        if row.type != "SCHEMA" and (highest_so_far is None or version > highest_so_far):
            highest_so_far = version
        infos.append(_info_entry(candidate, row, state))

    # Repeatables: the latest row per description decides; older ones are superseded.
    latest_rank: dict[str, int] = {}
    for row in live_rows:
        if row.version is None and row.type not in SYNTHETIC_TYPES and row.installed_rank not in deleted_ranks:
            latest_rank[row.description] = row.installed_rank
    for row in live_rows:
        if row.version is not None:
            continue
        if row.type == "SCHEMA":
            infos.append(_info_entry(None, row, SUCCESS))
            continue
        candidate = resolved_repeatable.get(row.description)
        if row.installed_rank in deleted_ranks:
            state = DELETED
        elif row.installed_rank != latest_rank.get(row.description):
            state = SUPERSEDED
        elif candidate is None:
            state = MISSING if row.success else MISSING_FAILED
        elif not row.success:
            state = FAILED
        elif row.checksum == candidate.checksum:
            state = SUCCESS
        else:
            state = OUTDATED
        infos.append(_info_entry(candidate, row, state))

    # Sort applied entries by installed_rank, as flyway info lists them.
    infos.sort(key=lambda i: i.installed_rank)

    pending: list[MigrationInfo] = []
    for version, migration in sorted(resolved_versioned.items()):
        if version in matched_versions:
            continue
        if baseline_version is not None and version <= baseline_version:
            state = BELOW_BASELINE if version < baseline_version else IGNORED
        elif last_applied is not None and version < last_applied:
            state = IGNORED
        else:
            state = PENDING
        pending.append(_info_entry(migration, None, state))
    latest_rows = {r.installed_rank: r for r in live_rows}
    for description in sorted(resolved_repeatable, key=description_sort_key):
        migration = resolved_repeatable[description]
        rank = latest_rank.get(description)
        latest = latest_rows.get(rank) if rank is not None else None
        if latest is None or latest.checksum != migration.checksum or not latest.success:
            if latest is not None and not latest.success:
                continue  # a failed repeatable blocks; validation reports it
            pending.append(_info_entry(migration, None, PENDING))
    # Below-baseline entries are listed before the baseline row in flyway info.
    below = [p for p in pending if p.state == BELOW_BASELINE]
    rest = [p for p in pending if p.state != BELOW_BASELINE]
    return below + infos + rest


def _current_version(infos: list[MigrationInfo]) -> str | None:
    best = None
    for entry in infos:
        if entry.version is None or entry.applied is None or entry.state in (DELETED,) or entry.state in FAILED_STATES:
            continue
        version = MigrationVersion(entry.version)
        if best is None or version > best:
            best = version
    return str(best) if best is not None else None


# --------------------------------------------------------------------------------------------
# Validation (MigrationInfoImpl.validate with ignoreMigrationPatterns = *:future)
# --------------------------------------------------------------------------------------------
def _issue(kind: str, entry: MigrationInfo, message: str) -> dict:
    return {
        "kind": kind,
        "version": entry.version,
        "description": entry.description,
        "script": entry.script,
        "path": entry.resolved.path if entry.resolved is not None else None,
        "state": entry.state,
        "message": message,
    }


def _validate_infos(infos: list[MigrationInfo], allow_pending: bool) -> tuple[list[dict], list[str]]:
    issues: list[dict] = []
    warnings: list[str] = []
    baseline_version = None
    for entry in infos:
        if entry.state == BASELINE and entry.version is not None:
            version = MigrationVersion(entry.version)
            baseline_version = version if baseline_version is None or version > baseline_version else baseline_version
    for entry in infos:
        state = entry.state
        label = ("version %s" % entry.version) if entry.version else ("repeatable migration '%s'" % entry.description)
        if state == DELETED:
            continue
        if state == FUTURE_FAILED:
            warnings.append("Schema history contains a failed future migration to version %s" % entry.version)
            continue
        if state in (FAILED, MISSING_FAILED):
            issues.append(_issue("failed", entry, (
                "Detected failed migration to %s (%s) in script %s. On PostgreSQL its changes were rolled back; "
                "run the repair command to remove the failed entry, fix the script and migrate again."
            ) % (label, entry.description, entry.script)))
            continue
        if state == FUTURE:
            warnings.append(
                "Schema history has version %s, newer than the latest available migration (%s)."
                % (entry.version, entry.script)
            )
            continue
        if state == MISSING:
            issues.append(_issue("missing", entry, (
                "Detected applied migration not resolved locally: %s (script %s). Restore the file in the "
                "migrations location, or, if you removed this migration intentionally, run repair to mark it "
                "as deleted."
            ) % (label, entry.script)))
            continue
        if state == IGNORED:
            issues.append(_issue("ignored", entry, (
                "Detected resolved migration not applied to database: %s (%s). Its version is lower than the "
                "latest applied version; give it a higher version number."
            ) % (entry.version, entry.script)))
            continue
        if state == PENDING and not allow_pending:
            if entry.version is not None:
                message = "Detected resolved migration not applied to database: %s (%s). Run migrate." % (
                    entry.version, entry.script)
            else:
                message = "Detected resolved repeatable migration not applied to database: %s (%s). Run migrate." % (
                    entry.description, entry.script)
            issues.append(_issue("pending", entry, message))
            continue
        if state == OUTDATED and not allow_pending:
            issues.append(_issue("outdated", entry, (
                "Detected outdated resolved repeatable migration that should be re-applied to database: %s (%s). "
                "Run migrate."
            ) % (entry.description, entry.script)))
            continue
        resolved, applied = entry.resolved, entry.applied
        if resolved is None or applied is None or applied.type in SYNTHETIC_TYPES:
            continue
        if applied.version is not None and baseline_version is not None and \
                MigrationVersion(applied.version) <= baseline_version:
            continue
        identifier = applied.script if applied.version is None else "version %s" % applied.version
        if resolved.type != applied.type:
            issues.append(_issue("type", entry, (
                "Migration type mismatch for migration %s\n-> Applied to database : %s\n-> Resolved locally    : %s"
            ) % (identifier, applied.type, resolved.type)))
            continue
        if resolved.version is not None or (allow_pending and state not in (OUTDATED, SUPERSEDED)):
            if resolved.checksum != applied.checksum:
                issues.append(_issue("checksum", entry, (
                    "Migration checksum mismatch for migration %s\n-> Applied to database : %s\n"
                    "-> Resolved locally    : %s\nThe file %s was changed after it was applied. Either revert the "
                    "changes to the migration (restore the file), or run repair to update the schema history."
                ) % (identifier, applied.checksum, resolved.checksum, resolved.path)))
                continue
        if resolved.description != applied.description:
            issues.append(_issue("description", entry, (
                "Migration description mismatch for migration %s\n-> Applied to database : %s\n"
                "-> Resolved locally    : %s\nRename the file back, or run repair to update the schema history."
            ) % (identifier, applied.description, resolved.description)))
    return issues, warnings


# --------------------------------------------------------------------------------------------
# Public operations
# --------------------------------------------------------------------------------------------
def info(conn, settings: MigrationSettings) -> InfoResult:
    """What ``flyway info`` shows. Read-only, takes no lock."""
    resolved = resolve_migrations(settings.locations)
    with _session(conn, settings) as session:
        exists = session.history.exists()
        infos = build_info(resolved, session.history.all() if exists else [])
        return InfoResult(
            history_table=session.history.flyway_name,
            schema=session.schema,
            history_exists=exists,
            current_version=_current_version(infos),
            migrations=[i.as_dict() for i in infos],
            warnings=_file_warnings(resolved),
        )


def validate(conn, settings: MigrationSettings, *, allow_pending: bool = False) -> ValidateResult:
    """``flyway validate``. Pending migrations are errors unless ``allow_pending`` (what migrate uses).

    Returns the result; never raises for validation issues (``valid`` is False).
    """
    resolved = resolve_migrations(settings.locations)
    with _session(conn, settings) as session:
        infos = build_info(resolved, session.history.all())
        issues, warnings = _validate_infos(infos, allow_pending)
        return ValidateResult(
            history_table=session.history.flyway_name,
            schema=session.schema,
            valid=not issues,
            issues=issues,
            validated_count=len(resolved),
            warnings=_file_warnings(resolved) + warnings,
        )


def _pending_dict(entry: MigrationInfo) -> dict:
    migration = entry.resolved
    return {
        "category": migration.category,
        "version": migration.version_text,
        "description": migration.description,
        "script": migration.script,
        "path": migration.path,
        "checksum": migration.checksum,
        "type": migration.type,
    }


def _ensure_history(session: _Session, settings: MigrationSettings, result, *, dry_run: bool,
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
    """``flyway migrate``: validate, then apply pending versioned and repeatable migrations.

    With ``dry_run`` nothing is written (not even the history table) and the
    result lists exactly what a real run would apply.
    Raises ValidationFailedError / NonEmptySchemaError before changing anything,
    MigrationFailedError (with ``.result`` holding what was applied before) when a
    script fails, LockTimeoutError when another run holds the lock too long.
    """
    resolved = resolve_migrations(settings.locations)
    with _session(conn, settings) as session:
        history = session.history
        result = MigrateResult(history_table=history.flyway_name, schema=session.schema, dry_run=dry_run)

        # 1. Validate before touching anything (validateOnMigrate, pending allowed).
        infos = build_info(resolved, history.all())
        issues, warnings = _validate_infos(infos, allow_pending=True)
        result.warnings.extend(_file_warnings(resolved) + warnings)
        _fail_fast(issues)
        result.initial_version = _current_version(infos)

        if dry_run:
            _ensure_history(session, settings, result, dry_run=True)
            if result.baselined:
                infos = build_info(resolved, [AppliedMigration(
                    1, settings.baseline_version, settings.baseline_description, "BASELINE",
                    settings.baseline_description, None, session.installed_by, None, 0, True)])
            result.pending = [_pending_dict(i) for i in infos if i.state == PENDING]
            result.changed = bool(result.pending) or result.created_history_table
            result.target_version = _predicted_version(result.initial_version, result.pending)
            return result

        key = advisory_lock_key(session.schema, settings.table)
        # 2. Schema / history table, under the lock (Flyway creates them before migrating).
        if not history.exists():
            with conn.transaction():
                _acquire_lock(conn, key, settings)
                _ensure_history(session, settings, result, dry_run=False)

        # 3. One migration per transaction, re-reading the history under the lock each time
        #    (DbMigrate.migrateGroup with group=false).
        with _schema_first_on_search_path(session):
            while True:
                step = _migrate_one(session, resolved, settings, key, result)
                if not step:
                    break
        result.changed = bool(result.applied) or result.created_history_table
        final_infos = build_info(resolved, history.all())
        result.target_version = _current_version(final_infos)
        return result


def _predicted_version(initial: str | None, pending: list[dict]) -> str | None:
    versions = [MigrationVersion(p["version"]) for p in pending if p["version"] is not None]
    if initial is not None:
        versions.append(MigrationVersion(initial))
    return str(max(versions)) if versions else None


def _migrate_one(session: _Session, resolved: list[ResolvedMigration], settings: MigrationSettings,
                 key: int, result: MigrateResult) -> bool:
    conn = session.conn
    history = session.history
    failure = None
    try:
        with conn.transaction():
            _acquire_lock(conn, key, settings)
            infos = build_info(resolved, history.all())
            issues, _warnings = _validate_infos(infos, allow_pending=True)
            _fail_fast(issues)  # another process may have changed the history meanwhile
            pending = [i for i in infos if i.state == PENDING]
            if not pending:
                return False
            migration = pending[0].resolved
            _restore_role(session)
            started = time.monotonic()
            try:
                conn.execute(migration.sql, prepare=False)
            except psycopg.Error as error:
                failure = _describe_failure(migration, error)
                raise
            execution_time = int((time.monotonic() - started) * 1000)
            _restore_role(session)
            rank = history.insert(
                version=migration.version_text,
                description=migration.description,
                type=migration.type,
                script=migration.script,
                checksum=migration.checksum,
                installed_by=session.installed_by,
                execution_time=execution_time,
                success=True,
            )
    except psycopg.Error:
        if failure is None:
            raise
        raise MigrationFailedError(failure, result) from None
    result.applied.append({
        "category": migration.category,
        "version": migration.version_text,
        "description": migration.description,
        "script": migration.script,
        "checksum": migration.checksum,
        "execution_time": execution_time,
        "installed_rank": rank,
    })
    return True


def _restore_role(session: _Session) -> None:
    """PostgreSQLConnection.doRestoreOriginalState: a script's SET ROLE must not leak."""
    user = session.conn.execute("SELECT current_user").fetchone()[0]
    if user != session.current_user:
        session.conn.execute("SELECT set_config('role', %s, false)", (session.current_user,))


def _describe_failure(migration: ResolvedMigration, error: "psycopg.Error") -> MigrationFailure:
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
        failure.position = int(position)
        statement, line, column = locate(migration.sql, int(position))
        failure.line, failure.column = line, column
        if statement is not None:
            failure.statement_number = statement.index
            failure.statement = statement.text
    return failure


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def baseline(conn, settings: MigrationSettings, version: str | None = None, description: str | None = None,
             *, dry_run: bool = False) -> BaselineResult:
    """``flyway baseline``: mark an existing database as being at ``version``.

    Allowed only while the history has no applied (non-synthetic) migration.
    Re-running with the same version and description changes nothing.
    """
    version = str(MigrationVersion(version or settings.baseline_version))
    description = description or settings.baseline_description
    with _session(conn, settings) as session:
        history = session.history
        result = BaselineResult(history_table=history.flyway_name, schema=session.schema, dry_run=dry_run,
                                changed=False, version=version, description=description)
        key = advisory_lock_key(session.schema, settings.table)

        def work(write: bool) -> None:
            rows = history.all()
            for row in rows:
                if row.type == "BASELINE":
                    if MigrationVersion(row.version) == MigrationVersion(version) and row.description == description:
                        result.message = "Schema history table %s already initialized with (%s,%s). Skipping." % (
                            history.flyway_name, version, description)
                        return
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
            _ensure_history(session, settings, result, dry_run=not write, for_baseline=True)
            if write:
                history.add_baseline_marker(version, description, session.installed_by)
            result.changed = True
            result.message = ("Would baseline schema with version: %s (check mode: nothing written)" % version
                              if dry_run else "Successfully baselined schema with version: %s" % version)

        if dry_run:
            work(False)
        else:
            with conn.transaction():
                _acquire_lock(conn, key, settings)
                work(True)
        return result


def repair(conn, settings: MigrationSettings, *, dry_run: bool = False) -> RepairResult:
    """``flyway repair`` (Flyway 9+): remove failed rows, mark missing migrations as deleted
    (a new ``DELETE`` row), realign checksum/description/type of applied versioned migrations."""
    resolved = resolve_migrations(settings.locations)
    with _session(conn, settings) as session:
        history = session.history
        result = RepairResult(history_table=history.flyway_name, schema=session.schema, dry_run=dry_run)
        if not history.exists():
            return result
        key = advisory_lock_key(session.schema, settings.table)

        def work(write: bool) -> None:
            rows = history.all()
            failed = [r for r in rows if not r.success and r.type != "DELETE"]
            result.removed_failed = [r.as_dict() for r in failed]
            if write and failed:
                history.remove_failed()
            remaining = [r for r in rows if r.success or r.type == "DELETE"]
            infos = build_info(resolved, remaining)
            next_rank = (max(r.installed_rank for r in remaining) + 1) if remaining else 1
            for entry in infos:
                applied = entry.applied
                if applied is None or applied.type in SYNTHETIC_TYPES:
                    continue
                if entry.state in (MISSING, MISSING_FAILED):
                    record = applied.as_dict()
                    if write:
                        record["delete_installed_rank"] = history.mark_deleted(applied, session.installed_by)
                    else:
                        record["delete_installed_rank"] = next_rank
                        next_rank += 1
                    result.marked_deleted.append(record)
            for entry in infos:
                resolved_m, applied = entry.resolved, entry.applied
                if resolved_m is None or applied is None or resolved_m.version is None:
                    continue
                if applied.type in SYNTHETIC_TYPES or entry.state in (IGNORED, DELETED):
                    continue
                if (applied.checksum, applied.description, applied.type) == (
                        resolved_m.checksum, resolved_m.description, resolved_m.type):
                    continue
                result.aligned.append({
                    "installed_rank": applied.installed_rank,
                    "version": applied.version,
                    "script": resolved_m.script,
                    "checksum_before": applied.checksum,
                    "checksum_after": resolved_m.checksum,
                    "description_before": applied.description,
                    "description_after": resolved_m.description,
                })
                if write:
                    history.update(applied.installed_rank, description=resolved_m.description,
                                   type=resolved_m.type, checksum=resolved_m.checksum)
            result.changed = bool(result.removed_failed or result.marked_deleted or result.aligned)

        if dry_run:
            work(False)
        else:
            with conn.transaction():
                _acquire_lock(conn, key, settings)
                work(True)
        return result
