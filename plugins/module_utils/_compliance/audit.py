# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance audit trail: the run record, the summary object and the JSON log line.

One executed run is one "ComplianceAuditLog" row. It is inserted in the transaction of the run's
first batch and updated in the transaction of every later batch, so at any moment it states
exactly what was committed: a killed run's row stays ``running`` with the committed counts.
With ``parallel`` sessions, the batches record themselves one at a time: a batch takes the run's
lock when it adds itself to the row and releases it once its transaction has committed or rolled
back, so the row's totals are always the sum of the committed batches.
Scope holds tenant slugs, user ids and cutoffs only, never emails or other personal data.
``read_runs`` reads the rows back for the ``compliance_audit_info`` module.
"""

from __future__ import annotations

import threading
import uuid

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import receipt
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import errors
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import log_line
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.timestamps import (
    parse_utc,
    utc_now,
    utc_timestamp,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

with declare("psycopg"):
    from psycopg.types.json import Jsonb

LOGGER_NAME = "skillforge.dataops.compliance"

UPSERT_RUN = """
INSERT INTO "ComplianceAuditLog"
    ("id", "job", "mode", "scope", "triggeredBy", "triggeredBySource", "reason", "note", "counts", "batches",
     "outcome", "error", "startedAt", "finishedAt", "receipt", "pacing")
VALUES (%(id)s, %(job)s, 'execute', %(scope)s, %(triggered_by)s, %(triggered_by_source)s, %(reason)s, %(note)s, %(counts)s,
        %(batches)s, %(outcome)s, %(error)s, %(started_at)s, %(finished_at)s, %(receipt)s, %(pacing)s)
ON CONFLICT ("id") DO UPDATE SET
    "counts" = EXCLUDED."counts", "batches" = EXCLUDED."batches", "outcome" = EXCLUDED."outcome",
    "error" = EXCLUDED."error", "finishedAt" = EXCLUDED."finishedAt", "receipt" = EXCLUDED."receipt",
    "pacing" = EXCLUDED."pacing"
"""

# One membership digest per user id a batch covered (receipt.membership_digest, computed here by
# the server from the batch's id array), in the batch's transaction.
INSERT_DIGESTS = """
INSERT INTO "ComplianceErasureDigest" ("auditId", "digest")
SELECT %(id)s, digest FROM (
    SELECT sha256(convert_to(%(id)s::text || E'\\n' || user_id, 'UTF8')) AS digest FROM unnest(%(user_ids)s::text[]) AS ids(user_id)
) AS digests ORDER BY digest
"""

# The run's digests in byte order (the primary key's), for receipt.DigestHasher.
RUN_DIGESTS = 'SELECT "digest" FROM "ComplianceErasureDigest" WHERE "auditId" = %(id)s ORDER BY "digest"'

# Is this user id one a run covered: its membership digest among the run's.
COVERS_USER = """
SELECT EXISTS (SELECT 1 FROM "ComplianceErasureDigest"
                WHERE "auditId" = %(id)s AND "digest" = sha256(convert_to(%(id)s::text || E'\\n' || %(user)s::text, 'UTF8')))
"""


# Rows of the audit trail, newest first. Every filter is a bound value (NULL: not filtered).
READ_RUNS = """
SELECT a."id", a."job", a."mode", a."scope", a."triggeredBy", a."triggeredBySource", a."reason", a."note", a."counts",
       a."batches", a."outcome", a."error", a."executedBy", a."startedAt", a."finishedAt", a."receipt", a."pacing",
       NOT EXISTS (SELECT 1 FROM "ComplianceAuditLog" later WHERE later."job" = a."job"
                    AND (later."startedAt", later."id") > (a."startedAt", a."id")) AS newest_of_its_job
  FROM "ComplianceAuditLog" a
 WHERE (%(audit_id)s::text IS NULL OR a."id" = %(audit_id)s)
   AND (%(job)s::text IS NULL OR a."job" = %(job)s)
   AND (%(outcome)s::text IS NULL OR a."outcome" = %(outcome)s)
   AND (%(tenant)s::text IS NULL OR a."scope"->>'tenant' = %(tenant)s)
   AND (%(user)s::text IS NULL OR a."scope"->'users' ? %(user)s)
   AND (%(triggered_by)s::text IS NULL OR a."triggeredBy" = %(triggered_by)s)
   AND (%(since)s::timestamp IS NULL OR a."startedAt" >= %(since)s)
   AND (%(before)s::timestamp IS NULL OR a."startedAt" < %(before)s)
 ORDER BY a."startedAt" DESC, a."id" DESC
 LIMIT %(limit)s
"""

# The jobs whose session advisory lock (two int4 keys, see job.lock_keys) someone holds
# in this database right now: a run of that job is in progress.
HELD_JOB_LOCKS = """
SELECT wanted.job
  FROM unnest(%(jobs)s::text[], %(first_keys)s::int4[], %(second_keys)s::int4[]) AS wanted(job, first_key, second_key)
 WHERE EXISTS (SELECT 1 FROM pg_locks l
                WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND l.classid = wanted.first_key::oid AND l.objid = wanted.second_key::oid)
 ORDER BY wanted.job
"""

OUTCOMES = ("running", "succeeded", "failed", "interrupted")
MAX_READ_LIMIT = 1000


def read_runs(conn, job_locks: dict, audit_id=None, job=None, outcome=None, tenant=None, user=None,
              triggered_by=None, since=None, before=None, limit=20, covers_user=None) -> dict:
    """The executed runs matching every given filter, newest first, at most ``limit``, and the
    jobs running now. ``job_locks`` maps each job name to its advisory lock keys.

    Each run's ``state`` is its ``outcome``, except that a ``running`` row is ``interrupted`` when
    nobody holds its job's lock or a later run of the job started: only one run of a job holds the
    lock at a time, so such a run was killed and its row keeps the counts it committed.
    Bad filters raise ``ValueError`` naming the filter.

    ``covers_user`` (with ``audit_id``): the result's ``covered`` says whether that run covered
    this user id, by its membership digest among the run's (receipt.py); a run recorded without a
    receipt raises ``ValueError``.
    """
    for name, value in (("covers_user", covers_user), ("audit_id", audit_id), ("job", job), ("tenant", tenant), ("user", user),
                        ("triggered_by", triggered_by), ("since", since), ("before", before)):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("%s must not contain a NUL character" % name)
    if outcome is not None and outcome not in OUTCOMES:
        raise ValueError("outcome must be one of %s" % ", ".join(OUTCOMES))
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_READ_LIMIT:
        raise ValueError("limit must be an integer from 1 to %d" % MAX_READ_LIMIT)
    bounds = {}
    for name, value in (("since", since), ("before", before)):
        try:
            bounds[name] = None if value in (None, "") else parse_utc(value)
        except ValueError:
            raise ValueError("%s must be an ISO-8601 date or date-time such as 2026-01-31 or "
                             "2026-01-31T08:00:00Z (year 1 to 9999 in UTC), got %s"
                             % (name, errors.echo(str(value)))) from None
    if covers_user is not None and (audit_id is None or not isinstance(covers_user, str) or not covers_user.strip()):
        raise ValueError("covers_user needs audit_id (the run to check the user id against) and a non-blank user id")
    names = sorted(job_locks)
    running_jobs = [row[0] for row in conn.execute(HELD_JOB_LOCKS, dict(
        jobs=names, first_keys=[job_locks[name][0] for name in names],
        second_keys=[job_locks[name][1] for name in names]))]
    rows = conn.execute(READ_RUNS, dict(audit_id=audit_id, job=job, outcome=outcome, tenant=tenant, user=user,
                                        triggered_by=triggered_by, limit=limit, **bounds)).fetchall()
    runs = []
    for (run_id, run_job, mode, scope, by, by_source, reason, note, counts, batches, run_outcome, error, executed_by,
         started_at, finished_at, run_receipt, pacing, newest) in rows:
        state = run_outcome
        if run_outcome == "running" and not (newest and run_job in running_jobs):
            state = "interrupted"
        runs.append({"id": run_id, "job": run_job, "mode": mode, "state": state, "outcome": run_outcome,
                     "scope": scope, "triggered_by": by, "triggered_by_source": by_source, "reason": reason, "note": note, "counts": counts,
                     "batches": batches, "error": error, "executed_by": executed_by,
                     "started_at": utc_timestamp(started_at), "finished_at": utc_timestamp(finished_at),
                     "receipt": run_receipt, "pacing": pacing})
    result = {"runs": runs, "running_jobs": running_jobs}
    if covers_user is not None:
        result["covered"] = covered(conn, runs, audit_id, covers_user.strip())
    return result


def covered(conn, runs: list, audit_id: str, user_id: str) -> bool:
    """Whether the run ``audit_id`` (the one row of ``runs``) covered ``user_id``."""
    if not runs:
        raise ValueError("audit_id names no executed run, so covers_user cannot be checked")
    if runs[0]["receipt"] is None:
        raise ValueError("the run was recorded without a receipt (before V1_7), so covers_user cannot be checked")
    return bool(conn.execute(COVERS_USER, dict(id=audit_id, user=user_id)).fetchone()[0])


def build_summary(job, mode, scope, triggered_by, triggered_by_source, reason, note, started_at, finished_at,
                  counts, audit_id=None, batches=None, outcome=None, warnings=None) -> dict:
    """The audit-friendly summary every job returns (and logs). ``warnings`` (a run skipped as
    the runbook says, e.g. partner segregation without a tenant) are kept in it."""
    summary = {
        "job": job, "mode": mode, "scope": scope, "triggered_by": triggered_by,
        "triggered_by_source": triggered_by_source, "reason": reason,
        "note": note, "started_at": utc_timestamp(started_at), "finished_at": utc_timestamp(finished_at),
        "counts": dict(counts), "changed": any(value > 0 for value in counts.values()),
    }
    if mode == "execute":
        summary.update(audit_id=audit_id, batches=batches, outcome=outcome)
    if warnings:
        summary["warnings"] = list(warnings)
    return summary


def emit(summary: dict, log=None) -> str:
    """Log the summary as one JSON line carrying ``job`` (``log`` is e.g. ``module.log``)."""
    return log_line.emit(summary, LOGGER_NAME, log)


class BatchRecord:
    """What one batch being run adds to its run, until its transaction ends: the receipt part
    verification staged (``stage``: None until then) and the user ids it covered."""

    def __init__(self):
        self.staged = None  # (tables, checks, enforced) of the verified batch
        self.user_ids: list = []
        self.pending = None  # (totals, receipt) written to the row, applied once committed
        self.holds_run_lock = False

    def stage(self, tables: dict, checks: list, enforced, user_ids) -> None:
        self.staged = (dict(tables), list(checks), list(enforced))
        self.user_ids = list(user_ids)


class AuditRun:
    """The audit record of one executed run, written inside the caller's transactions (each
    batch's own; with several sessions, one batch at a time, see the module's docstring)."""

    def __init__(self, job, scope, triggered_by, triggered_by_source, reason, note, started_at, counts, parallel=1):
        self.id = uuid.uuid4().hex
        self.job, self.scope, self.triggered_by = job, scope, triggered_by
        self.triggered_by_source = triggered_by_source
        self.reason, self.note, self.started_at = reason, note, started_at
        self.counts = dict(counts)  # committed totals
        self.batches = 0
        self.outcome = "running"
        self.error = None
        self.finished_at = None
        self.blocked_by = None  # the sessions blocking the batch whose wait ran out (safety.blocked_by)
        self.parallel = parallel
        self.pauses = {"count": 0, "seconds": 0.0}  # waits for replica lag (pacing.Pacer keeps it)
        # The receipt as committed (receipt.py); a failed verification's label, kept through the rollback.
        self.receipt = receipt.empty_receipt()
        self._failed_check = None
        self._lock = threading.Lock()  # held by the batch recording itself, until its transaction ends
        self._memo = {}  # per-run values computed once (verification's catalog lookup)
        self._memo_lock = threading.Lock()

    def memoized(self, key: str, compute):
        """``compute()`` once per run (by the first batch to need it, whatever its session)."""
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]

    def pacing(self) -> dict:
        """The row's ``pacing``: the sessions the batches ran on and the waits for replica lag."""
        return {"parallel": self.parallel, "pauses": dict(self.pauses)}

    def _write(self, conn, counts, batches, outcome, error=None, finished_at=None, receipt_=None) -> None:
        conn.execute(UPSERT_RUN, dict(
            id=self.id, job=self.job, scope=Jsonb(self.scope), triggered_by=self.triggered_by,
            triggered_by_source=self.triggered_by_source,
            reason=self.reason, note=self.note, counts=Jsonb(counts), batches=batches,
            outcome=outcome, error=error, started_at=self.started_at, finished_at=finished_at,
            receipt=Jsonb(receipt_ or self.receipt), pacing=Jsonb(self.pacing())))

    def verification_failed(self, label: str) -> None:
        """The batch being run failed its verification at ``label``; ``fail`` records it."""
        self._failed_check = label

    def add_batch(self, conn, record: BatchRecord, batch_counts: dict) -> None:
        """Record one more batch in the batch's own transaction, as its last statements; the run's
        lock is held from here until ``committed`` or ``rolled_back``."""
        if record.user_ids:  # no lock needed: each id's digest is its own key
            conn.execute(INSERT_DIGESTS, dict(id=self.id, user_ids=record.user_ids))
        self._lock.acquire()  # pylint: disable=consider-using-with  # released by committed/rolled_back
        record.holds_run_lock = True
        totals = {name: self.counts.get(name, 0) + batch_counts.get(name, 0) for name in self.counts}
        staged = (receipt.add_batch(self.receipt, len(record.user_ids), *record.staged)
                  if record.staged is not None else self.receipt)
        self._write(conn, totals, self.batches + 1, "running", receipt_=staged)
        record.pending = (totals, staged)

    def rolled_back(self, record: BatchRecord) -> None:
        """The batch's transaction rolled back: its counts are not part of the run."""
        record.pending = None
        self._release(record)

    def committed(self, record: BatchRecord) -> None:
        """The batch's transaction committed: its counts are now part of the run."""
        if record.pending is not None:
            (self.counts, self.receipt), record.pending = record.pending, None
            self.batches += 1
        self._release(record)

    def _release(self, record: BatchRecord) -> None:
        if record.holds_run_lock:
            record.holds_run_lock = False
            self._lock.release()

    def _sealed(self, conn) -> dict:
        """The receipt with ``digests_sha256`` over the run's committed digests (read in the
        caller's transaction, in index order, a page at a time)."""
        hasher = receipt.DigestHasher()
        if self.receipt["users"]:  # else the run wrote no digest row
            with conn.cursor(name="receipt_digests") as cursor:
                cursor.itersize = 10000
                for (digest,) in cursor.execute(RUN_DIGESTS, dict(id=self.id)):
                    hasher.update(bytes(digest))
        current = receipt.failed(self.receipt, self._failed_check) if self._failed_check else self.receipt
        return receipt.sealed(current, hasher.hexdigest())

    def finish(self, conn) -> None:
        finished_at = utc_now()
        sealed = self._sealed(conn)
        self._write(conn, self.counts, self.batches, "succeeded", finished_at=finished_at, receipt_=sealed)
        self.outcome, self.finished_at, self.receipt = "succeeded", finished_at, sealed

    def fail(self, conn, error: str, outcome: str = "failed") -> None:
        """After the failing batch rolled back (or, ``interrupted``, between two batches): record
        the outcome in a transaction of its own."""
        finished_at = utc_now()
        with conn.transaction():
            sealed = self._sealed(conn)
            self._write(conn, self.counts, self.batches, outcome, error=error, finished_at=finished_at, receipt_=sealed)
        self.outcome, self.error, self.finished_at, self.receipt = outcome, error, finished_at, sealed

    def summary(self) -> dict:
        summary = build_summary(self.job, "execute", self.scope, self.triggered_by, self.triggered_by_source,
                                self.reason, self.note,
                                self.started_at, self.finished_at, self.counts, audit_id=self.id,
                                batches=self.batches, outcome=self.outcome)
        summary["pauses"] = dict(self.pauses)
        summary["parallel"] = self.parallel
        if self.error:
            summary["error"] = self.error
        if self.blocked_by is not None:
            summary["blocked_by"] = self.blocked_by
        return summary
