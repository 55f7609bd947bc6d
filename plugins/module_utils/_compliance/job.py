# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared mechanics of the compliance jobs: options, batching, locking, dry-run counts, audit.

A job is declared as data (a ``JobDefinition``): how to resolve its scope into a SQL predicate on
the users it covers, and the ``Step`` list of rows it changes, each with the one predicate saying
which rows change. From that single declaration this module builds both

* the dry run: one read-only statement counting, per step, the rows the predicate matches over the
  whole scope (no locks, no writes, no run-then-rollback), and
* the execution: keyset pagination over the users in scope; each batch of users (locked with
  ``FOR UPDATE`` where the job needs it) is changed by ONE statement of data-modifying CTEs that
  reach every row by index lookups on the batch's user ids, and the batch, its child rows and the
  audit record's counts commit in one transaction (``batches``: one session, or ``parallel``).

so dry-run counts and executed counts come from the same predicates. A second run of the same
job waits for or fails on a session advisory lock (one per job name). Nothing here imports
Ansible: ``registry.run_job`` is the entry point for modules and workers alike.

Every statement is composed from ``psycopg.sql`` objects in ``statements`` (parameter namespaces,
table aliases, the statement builders); the statements each job runs are rendered in
tests/database/golden/.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
import time
import zlib
from dataclasses import dataclass, field
from functools import cached_property

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import audit
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import batches
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import pacing
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import safety
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import verification
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.statements import (
    BATCH,
    MECHANICS_NAMESPACE,
    JobParams,
    Scope,
    dry_run_statement,
    placeholder_names,
    sample_query,
    users_in_scope_query,
    user_column,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import blockers, errors
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.timestamps import utc_now

with declare("psycopg"):
    import psycopg
    from psycopg import sql

DEFAULT_BATCH_SIZE = 5000
MAX_BATCH_SIZE = 100000
COMMON_OPTIONS = ("triggered_by", "triggered_by_source", "reason", "note", "batch_size", "lock_timeout", "parallel",
                  *pacing.PACING_OPTIONS, *safety.SAFETY_OPTIONS)
# Where a run's triggered_by came from, recorded beside it: given explicitly, the AWX user who
# launched the job, the queued job's producer, the queue itself, or the OS user and host running it.
TRIGGERED_BY_SOURCES = ("option", "awx", "producer", "queue", "os-user")
# The sources a caller may state with triggered_by (a module's triggered_by_source, a queued job's
# triggeredBySource); the others are what a run records when nobody states one.
STATED_SOURCES = ("option", "awx")

# First key of every compliance advisory lock; the second is derived from the job name.
LOCK_NAMESPACE = "skillforge.dataops.compliance"
LOCK_POLL_SECONDS = 0.2
MAX_LOCK_TIMEOUT = 86400
# Row locks a batch may take on its users (see JobDefinition.user_lock), strongest first.
USER_LOCKS = ("UPDATE", "NO KEY UPDATE", "SHARE")
# Every user in the database, for max_users_percent (an index-only count of the primary key).
ALL_USERS = 'SELECT count(*) FROM "User"'


class JobError(Exception):
    """A job did not run to completion. ``summary`` says what was committed (None if nothing ran)."""

    def __init__(self, message, summary=None):
        super().__init__(message)
        self.summary = summary


class JobInputError(JobError):
    """Bad input (unknown tenant or user, malformed date, conflicting options): nothing changed."""


class JobSkipped(Exception):
    """The request cannot select anything and the runbook says so is a warning, not a failure (a
    partner segregation without a tenant): the run records the warning, changes nothing, succeeds."""


class JobBusyError(JobError):
    """Another run of the same job holds its lock: nothing changed."""


class JobRunError(JobError):
    """The database failed mid-run: committed batches stay, the failing batch was rolled back."""


class JobInterrupted(JobError):
    """The run stopped between two batches (``should_stop`` said why): committed batches stay,
    the audit row says ``interrupted``, and running the job again finishes the rest."""


@dataclass(frozen=True)
class JobDefinition:
    """A compliance job: its name, accepted scope options, scope resolver and steps.

    ``validate(options)`` checks options without the database; ``resolve_scope(conn, options)``
    turns them into a ``Scope`` (raising ``JobInputError`` for unknown tenants or users).
    ``count_users`` adds a ``users`` count of distinct users with at least one changed row.
    ``user_lock`` is the row lock each batch takes on its users, in id order, before it changes
    anything, and holds to commit (the batch's users are re-checked against the scope once locked,
    so a purge never deletes a user who just became active). Every job locks its users in the same
    order and the locks of different jobs conflict (``UPDATE`` for a delete, ``NO KEY UPDATE`` for
    a job that updates user rows, ``SHARE`` for one that only changes their rows elsewhere), so two
    jobs on the same users take turns batch by batch and never deadlock on their rows.
    ``default_batch_size`` is the batch size when the run does not set one: it trades how long a
    batch holds its row locks against how often a batch revisits the same table pages.
    ``declare_steps()`` returns the steps; it is called on first use of ``steps``, because steps
    are ``psycopg.sql`` objects and the modules import every job before they can report that
    psycopg is missing. Their placeholders must be the job's own (``params``).

    The job on BullMQ (docs/QUEUE.md; ``_queue.jobs`` reads it from here): ``queue`` is the queue
    the API's workers take it from (its BullMQ job name is ``name``; None: never queued); in the
    job data, the options in ``payload_scope`` go in the ``scope`` object, the others at the top
    level in camelCase, except the ``payload_names`` pairs ``(option, field)`` (``before`` is
    ``cutoff``)."""

    name: str
    scope_options: tuple
    validate: object
    resolve_scope: object
    declare_steps: object
    count_users: bool = False
    user_lock: str = "SHARE"
    default_batch_size: int = DEFAULT_BATCH_SIZE
    queue: str | None = None
    payload_scope: tuple = ()
    payload_names: tuple = ()

    def __post_init__(self) -> None:
        if self.user_lock not in USER_LOCKS:
            raise ValueError("user_lock must be one of %s" % ", ".join(USER_LOCKS))
        outside = sorted(set(self.payload_scope).union(option for option, _field in self.payload_names)
                         - set(self.scope_options) - set(COMMON_OPTIONS))
        if outside:
            raise ValueError("%s: the payload mapping names options the job does not take: %s"
                             % (self.name, ", ".join(outside)))
        if not _JOB_NAME.fullmatch(self.name) or self.params.prefix == BATCH.prefix:
            raise ValueError("a job name is lower-case words joined by '-' and not %r: it names the job's "
                             "parameter namespace" % MECHANICS_NAMESPACE)

    @property
    def params(self) -> "JobParams":
        """The job's own parameter namespace: ``consent-revocation`` binds ``consent_revocation__*``."""
        return JobParams(self.name)

    @cached_property
    def steps(self) -> tuple:
        steps = tuple(self.declare_steps())
        for step in steps:
            parts = ([step.where] if step.where is not None else []) + [expression for _c, expression in step.assignments]
            foreign = sorted(name for part in parts for name in placeholder_names(part) if not self.params.owns(name))
            if foreign:
                raise ValueError("%s: step %s binds %s, outside the job's parameters (%s*)"
                                 % (self.name, step.count, ", ".join(foreign), self.params.prefix))
        return steps

    def count_names(self) -> list:
        return (["users"] if self.count_users else []) + [step.count for step in self.steps]

    def verify(self, conn, params: dict, counts: dict, run: "audit.AuditRun", record: "audit.BatchRecord") -> None:
        """After a batch's change, in its transaction: check nothing of the batch's users remains
        that the job should have changed, and stage the batch's receipt (``verification``)."""
        verification.verify_batch(conn, self, params, counts, run, record)


_JOB_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


@dataclass
class JobOutcome:
    summary: dict
    sample: list = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Options


def normalize_options(definition: JobDefinition, options: dict) -> dict:
    """Common and job options with defaults applied; unknown or malformed ones raise (a request
    the job skips with a warning raises ``JobSkipped``)."""
    options = common_options(definition, options)
    definition.validate(options)
    return options


def common_options(definition: JobDefinition, options: dict) -> dict:
    """The options with defaults applied and every common one checked; the job's own ``validate``
    is left to the caller."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(COMMON_OPTIONS) - set(definition.scope_options))
    if unknown:
        shown = ", ".join(errors.clip(name, 40) for name in unknown[:10])
        raise JobInputError("%s: unknown option(s): %s" % (definition.name, shown))
    for name, value in options.items():  # PostgreSQL text cannot hold NUL; psycopg would refuse it mid-run
        if any("\x00" in item for item in (value if isinstance(value, (list, tuple)) else [value])
               if isinstance(item, str)):
            raise JobInputError("%s: %s must not contain a NUL character" % (definition.name, name))
    triggered_by, source = requester(definition.name, options.get("triggered_by"), options.get("triggered_by_source"))
    for name in ("reason", "note"):
        if options.get(name) is not None and not isinstance(options[name], str):
            raise JobInputError("%s: %s must be a string" % (definition.name, name))
    batch_size = options.get("batch_size")
    batch_size = definition.default_batch_size if batch_size is None else batch_size
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise JobInputError("%s: batch_size must be an integer from 1 to %d" % (definition.name, MAX_BATCH_SIZE))
    lock_timeout = options.get("lock_timeout")
    lock_timeout = 0 if lock_timeout is None else lock_timeout
    if isinstance(lock_timeout, bool) or not isinstance(lock_timeout, (int, float)) or not (
            0 <= lock_timeout <= MAX_LOCK_TIMEOUT):  # NaN fails every comparison: refused too
        raise JobInputError("%s: lock_timeout must be a number of seconds from 0 to %d"
                            % (definition.name, MAX_LOCK_TIMEOUT))
    try:
        options.update(safety.safety_options(options))
    except ValueError as error:
        raise JobInputError("%s: %s" % (definition.name, error)) from None
    options.update(triggered_by=triggered_by, triggered_by_source=source, batch_size=batch_size,
                   lock_timeout=lock_timeout)
    try:
        options.update(pacing.pacing_options(definition.name, options))
        options["parallel"] = batches.parallel_option(definition.name, options.get("parallel"))
    except ValueError as error:
        raise JobInputError(str(error)) from None
    for name in definition.scope_options:
        options.setdefault(name, None)
    return options


def requester(job: str, triggered_by, source) -> tuple:
    """``(triggered_by, triggered_by_source)``: who asked, as given, else the identity running the
    job (``user@host`` of the OS): the runbook's ``--triggered-by`` is optional, the record is not."""
    if source is not None and source not in TRIGGERED_BY_SOURCES:
        raise JobInputError("%s: triggered_by_source must be one of %s" % (job, ", ".join(TRIGGERED_BY_SOURCES)))
    if triggered_by is None:
        if source not in (None, "os-user"):
            raise JobInputError("%s: triggered_by_source %s needs triggered_by" % (job, source))
        return "%s@%s" % (_os_user(), socket.gethostname()), "os-user"
    if not isinstance(triggered_by, str) or not triggered_by.strip():
        raise JobInputError("%s: triggered_by is required to be a non-blank string when set (who asked for "
                            "this run; leave it unset to record the identity running the job)" % job)
    return triggered_by.strip(), source or "option"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid without a passwd entry (containers)
        return "uid-%d" % os.getuid()


def require_one_of(job: str, options: dict, names: tuple) -> str:
    """The one option of ``names`` that is set; none or several is a conflict."""
    given = [name for name in names if options.get(name) not in (None, "", [])]
    if len(given) != 1:
        raise JobInputError("%s: set exactly one of %s (got %s)"
                            % (job, " or ".join(names), " and ".join(given) or "none"))
    return given[0]


# ---------------------------------------------------------------------------------------------
# Scope helpers shared by the jobs


def tenant_by_slug(conn, job: str, slug) -> tuple:
    """``(id, partnerId)`` of the tenant with that slug, or ``JobInputError``."""
    if not isinstance(slug, str) or not slug.strip():
        raise JobInputError("%s: tenant must be a tenant slug" % job)
    row = conn.execute('SELECT "id", "partnerId" FROM "Tenant" WHERE "slug" = %s', (slug,)).fetchone()
    if row is None:
        raise JobInputError("%s: unknown tenant %s" % (job, errors.echo(slug)))
    return row


def existing_user_ids(conn, job: str, user_ids) -> list:
    """The sorted, de-duplicated ids, all known; unknown ones fail naming how many (ids only)."""
    if isinstance(user_ids, str):
        user_ids = [user_ids]
    if not isinstance(user_ids, (list, tuple)) or not all(isinstance(u, str) and u.strip() for u in user_ids):
        raise JobInputError("%s: user must be a user id or a list of user ids" % job)
    wanted = sorted({user_id.strip() for user_id in user_ids})  # "u1, u2" from a survey field
    found = {row[0] for row in conn.execute('SELECT "id" FROM "User" WHERE "id" = ANY(%s)', (wanted,))}
    unknown = [user_id for user_id in wanted if user_id not in found]
    if unknown:
        shown = ", ".join(errors.clip(user_id) for user_id in unknown[:10]) + (", ..." if len(unknown) > 10 else "")
        raise JobInputError("%s: %d of %d user ids are unknown: %s" % (job, len(unknown), len(wanted), shown))
    return wanted


def tenant_scope(params: JobParams, tenant_id: str, slug: str) -> Scope:
    """Every user of one tenant, walked by the ("tenantId", "id") index; ``params`` is the job's."""
    return Scope(report={"tenant": slug},
                 user_filter=sql.SQL("{} = {}").format(user_column("tenantId"), params("tenant_id")),
                 params=params.values(tenant_id=tenant_id))


def users_scope(params: JobParams, user_ids: list) -> Scope:
    """A list of users by id, walked by the primary key; ``params`` is the job's."""
    return Scope(report={"users": user_ids},
                 user_filter=sql.SQL("{} = ANY({})").format(user_column("id"), params("user_ids")),
                 params=params.values(user_ids=user_ids))


def check_scope_parameters(definition: JobDefinition, scope: Scope) -> None:
    """A scope binds the job's own parameters only (a job definition's mistake, not the input's)."""
    names = set(scope.params) | placeholder_names(scope.user_filter)
    names.update(*(placeholder_names(key) for key in scope.order))
    foreign = sorted(name for name in names if not definition.params.owns(name))
    if foreign:
        raise ValueError("%s: the scope binds %s, outside the job's parameters (%s*)"
                         % (definition.name, ", ".join(foreign), definition.params.prefix))


# ---------------------------------------------------------------------------------------------
# Running


def lock_keys(job: str) -> tuple:
    """The two int4 keys of a job's advisory lock: a collection namespace and the job name."""
    def signed(value):
        return value - (1 << 32) if value >= (1 << 31) else value
    return signed(zlib.crc32(LOCK_NAMESPACE.encode())), signed(zlib.crc32(job.encode()))


def acquire_job_lock(conn, job: str, timeout: float) -> None:
    """Take the job's session advisory lock, polling up to ``timeout`` seconds; else ``JobBusyError``."""
    keys = lock_keys(job)
    deadline = time.monotonic() + timeout
    while True:
        if conn.execute("SELECT pg_try_advisory_lock(%s, %s)", keys).fetchone()[0]:
            return
        if time.monotonic() >= deadline:
            raise JobBusyError(
                "%s: another %s run holds the job lock (advisory lock %d,%d)%s; nothing was changed"
                % (job, job, keys[0], keys[1], "" if timeout else "; set lock_timeout to wait for it"))
        time.sleep(min(LOCK_POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def release_job_lock(conn, job: str) -> None:
    if not conn.closed:
        conn.execute("SELECT pg_advisory_unlock(%s, %s)", lock_keys(job))


def safe_error(error: Exception) -> str:
    """One line for the audit row and the task (``errors.database_error_summary``)."""
    return errors.database_error_summary(error)


def _run_dry(conn, definition: JobDefinition, scope: Scope) -> dict:
    row = conn.execute(dry_run_statement(definition, scope), scope.params).fetchone()
    return dict(zip(definition.count_names(), row))


def _sample(conn, definition: JobDefinition, scope: Scope, limit: int) -> list:
    sample = []
    for step in definition.steps:
        if not (step.sample and limit):
            continue
        column = step.assignments[0][0]
        for row_id, before, after in conn.execute(sample_query(step, scope, limit), scope.params):
            before, after = changed_parts(before, after)
            sample.append({"table": step.table, "column": column, "id": row_id, "before": before, "after": after})
    return sample


def changed_parts(before, after) -> tuple:
    """Only what changes between two values, for a diff: the keys of an object whose values differ
    (a JSON blob can hold personal data the job never touches, and diffs end up in job logs), and
    for an array the elements that differ by index, each reduced the same way."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = [key for key in sorted(set(before) | set(after)) if before.get(key, _ABSENT) != after.get(key, _ABSENT)]
        pairs = {key: changed_parts(before.get(key, _ABSENT), after.get(key, _ABSENT)) for key in keys}
        return ({key: old for key, (old, _new) in pairs.items() if old is not _ABSENT},
                {key: new for key, (_old, new) in pairs.items() if new is not _ABSENT})
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        pairs = {"[%d]" % index: changed_parts(old, new)
                 for index, (old, new) in enumerate(zip(before, after)) if old != new}
        return ({index: old for index, (old, _new) in pairs.items()},
                {index: new for index, (_old, new) in pairs.items()})
    return before, after


_ABSENT = object()


def _run_batches(conn, plan: batches.BatchPlan, run: audit.AuditRun, pacer: pacing.Pacer) -> None:
    """Execute batch after batch (``parallel`` at a time); each commits its users, their rows and
    the audit counts. ``pacer.after_batch`` is asked after every batch (progress, pauses,
    ``should_stop``); a reason stops the run there (JobInterrupted)."""
    workers = plan.options["parallel"]
    if workers > 1:
        reason = batches.run_parallel(conn, plan, run, pacer, workers)
    else:
        reason = batches.run_serial(conn, plan, run, pacer)
    if reason:
        message = ("%s: stopped after %d committed batch(es): %s; run the job again to finish the rest"
                   % (plan.definition.name, run.batches, reason))
        run.fail(conn, message, outcome="interrupted")
        raise JobInterrupted(message, run.summary())


def _record_failure(conn, run: audit.AuditRun, message: str) -> None:
    try:
        run.fail(conn, message)
    except psycopg.Error:  # connection lost: the row stays 'running' with the committed counts
        pass


def _users_in_scope(conn, scope: Scope) -> int:
    """How many users the scope covers now, once at the start: the ``max_users`` check and the
    estimated time left (the scope's own index, as the batches walk it)."""
    return conn.execute(users_in_scope_query(scope), scope.params).fetchone()[0]


def _check_blast_radius(conn, definition: JobDefinition, users: int, options: dict, dry_run: bool,
                        summary=None) -> None:
    """``max_users`` / ``max_users_percent``: refuse a run over a limit before it changes anything
    (``JobInputError``; ``summary``: the dry run's, for check mode)."""
    all_users = conn.execute(ALL_USERS).fetchone()[0] if options["max_users_percent"] else None
    refusal = safety.over_limit(definition.name, users, options, all_users, dry_run)
    if refusal:
        raise JobInputError(refusal, summary)


def run_definition(conn, definition: JobDefinition, options: dict, dry_run: bool,
                   log=None, sample_size: int = 0, should_stop=None, progress=None) -> JobOutcome:
    """Run one job on an idle connection: validate, resolve the scope once, then count (dry run)
    or lock and execute in batches. Raises ``JobError``s; the connection is left idle.
    ``should_stop`` (executions only): asked between batches, a reason stops the run there.
    ``progress`` takes each batch's progress record (``pacing.Pacer``; None: logged via ``log``)."""
    started_at = utc_now()
    options = common_options(definition, options)
    base = dict(job=definition.name, triggered_by=options["triggered_by"],
                triggered_by_source=options["triggered_by_source"], reason=options.get("reason"),
                note=options.get("note"), started_at=started_at)
    try:
        definition.validate(options)
    except JobSkipped as warning:
        summary = audit.build_summary(mode="dry-run" if dry_run else "execute", scope={},
                                      counts=dict.fromkeys(definition.count_names(), 0),
                                      finished_at=utc_now(), outcome="skipped", batches=0,
                                      warnings=[str(warning)], **base)
        audit.emit(summary, log)
        return JobOutcome(summary=summary)
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise JobInputError("%s: the connection has a transaction in progress; commit it first" % definition.name)
    previous_autocommit = conn.autocommit
    conn.autocommit = True  # every batch is an explicit transaction; nothing else holds one open
    locked = False
    summary = None
    try:
        with safety.bounded_transaction(conn, options):
            scope = definition.resolve_scope(conn, options)
        check_scope_parameters(definition, scope)
        base["scope"] = scope.report
        if dry_run:
            with safety.bounded_transaction(conn, options):
                sample = _sample(conn, definition, scope, sample_size)
                counts = _run_dry(conn, definition, scope)
                summary = audit.build_summary(mode="dry-run", counts=counts, finished_at=utc_now(), **base)
                if options["max_users"] or options["max_users_percent"]:
                    _check_blast_radius(conn, definition, _users_in_scope(conn, scope), options, dry_run, summary)
            audit.emit(summary, log)
            return JobOutcome(summary=summary, sample=sample)
        acquire_job_lock(conn, definition.name, options["lock_timeout"])
        locked = True
        with safety.bounded_transaction(conn, options):
            total_users = _users_in_scope(conn, scope)
            _check_blast_radius(conn, definition, total_users, options, dry_run)
            sample = _sample(conn, definition, scope, sample_size)
        pacer = pacing.Pacer(conn, definition.name, options, should_stop=should_stop, log=log, progress=progress,
                             total_users=total_users)
        try:
            pacer.check()
        except pacing.PacingError as error:
            raise JobInputError("%s; nothing was changed" % error) from None
        run = audit.AuditRun(counts=dict.fromkeys(definition.count_names(), 0), parallel=options["parallel"], **base)
        try:
            _run_batches(conn, batches.BatchPlan.build(definition, scope, options, total_users), run, pacer)
        except JobInterrupted as interrupted:
            audit.emit(interrupted.summary, log)
            raise
        except safety.BatchTimedOut as timed_out:
            run.blocked_by = safety.blocked_by(timed_out)
            message = safety.timeout_message(definition.name, timed_out, run.batches, options)
            _record_failure(conn, run, message)
            summary = run.summary()
            audit.emit(summary, log)
            raise JobRunError(message, summary) from None
        except psycopg.Error as error:
            message = "%s: failed after %d committed batch(es): %s" % (definition.name, run.batches, safe_error(error))
            _record_failure(conn, run, message)
            summary = run.summary()
            audit.emit(summary, log)
            raise JobRunError(message, summary) from None
        summary = run.summary()
        audit.emit(summary, log)
        return JobOutcome(summary=summary, sample=sample)
    except psycopg.Error as error:  # scope resolution, counting or locking: nothing was changed
        if blockers.is_timeout(error):
            raise JobError(safety.timeout_before_first_batch_message(definition.name, error, options), summary) from None
        raise JobError("%s: %s; nothing was changed" % (definition.name, safe_error(error)), summary) from None
    finally:
        if locked and not conn.broken:
            release_job_lock(conn, definition.name)
        if not conn.closed and not conn.broken:
            conn.autocommit = previous_autocommit
