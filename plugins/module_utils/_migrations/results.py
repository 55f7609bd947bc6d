# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the migration commands return and raise: plain dataclasses (``as_dict()`` gives JSON-ready
data, the form the modules return) and errors whose ``str()`` is a complete, actionable message."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ansible_collections.skillforge.dataops.plugins.module_utils._shared import errors

__all__ = [
    "MigrationError",
    "ValidationFailedError",
    "MigrationConfigError",
    "LockTimeoutError",
    "NonEmptySchemaError",
    "BaselineError",
    "MigrationFailedError",
    "MigrationFailure",
    "MigrateResult",
    "ValidateResult",
    "InfoResult",
    "BaselineResult",
    "RepairResult",
]


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
    timed_out: str | None = None  # which timeout ran out, and who was blocking (blockers.describe_timeout)
    blocked_by: list | None = None  # the blocking sessions: pid, application, user, state, ages, statement type
    transactional: bool = True  # False: it ran a statement at a time outside a transaction
    recorded_rank: int | None = None  # the success = false history row of a non-transactional failure

    def message(self) -> str:
        what = "version %s (%s)" % (self.version, self.description) if self.version else (
            "repeatable migration '%s'" % self.description
        )
        if self.transactional:
            outcome = "changes successfully rolled back, nothing was recorded in the schema history"
        else:
            outcome = ("it ran outside a transaction (non-transactional), so the statements before the failing one "
                       "stay applied and a failed row (success = false) was recorded in the schema history")
        # One line for the task's msg; the whole statement, hint and context are in ``failure``.
        parts = [
            "Migration %s failed: %s; %s" % (self.script, what, outcome),
            "SQL State: %s" % self.sqlstate,
            "Message: %s" % errors.clip(" ".join(self.error.split()), 120),
        ]
        if self.line is not None:
            parts.append("Location: line %s column %s (statement %s)" % (
                self.line, self.column, self.statement_number or "?"))
        if self.statement:
            parts.append("Statement: %s" % _shorten(" ".join(self.statement.split()), 60))
        if self.timed_out:
            parts.append(self.timed_out)
        if not self.transactional:
            parts.append("undo what it did by hand (a failed CREATE INDEX CONCURRENTLY leaves an INVALID index: drop "
                         "it), run command=repair to remove the failed row, then migrate again")
        elif self.timed_out:
            parts.append("run migrate again once the blocking sessions have finished, or raise db_lock_timeout / "
                         "db_statement_timeout (migrations before it stay applied)")
        else:
            parts.append("fix the script and run migrate again (migrations before it stay applied)")
        return "; ".join(parts)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["msg"] = self.message()
        return data


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
    above_target: list[dict] = field(default_factory=list)  # pending, held back by ``target``
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
