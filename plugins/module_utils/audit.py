# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance audit trail: the run record, the summary object and the JSON log line.

One executed run is one "ComplianceAuditLog" row. It is inserted in the transaction of the run's
first batch and updated in the transaction of every later batch, so at any moment it states
exactly what was committed: a killed run's row stays ``running`` with the committed counts.
Scope holds tenant slugs, user ids and cutoffs only, never emails or other personal data.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timezone

try:
    from psycopg.types.json import Jsonb
except ImportError:  # reported by the modules through missing_required_lib()
    Jsonb = None

LOGGER_NAME = "skillforge.dataops.compliance"

UPSERT_RUN = """
INSERT INTO "ComplianceAuditLog"
    ("id", "job", "mode", "scope", "triggeredBy", "reason", "note", "counts", "batches", "outcome",
     "error", "startedAt", "finishedAt")
VALUES (%(id)s, %(job)s, 'execute', %(scope)s, %(triggered_by)s, %(reason)s, %(note)s, %(counts)s,
        %(batches)s, %(outcome)s, %(error)s, %(started_at)s, %(finished_at)s)
ON CONFLICT ("id") DO UPDATE SET
    "counts" = EXCLUDED."counts", "batches" = EXCLUDED."batches", "outcome" = EXCLUDED."outcome",
    "error" = EXCLUDED."error", "finishedAt" = EXCLUDED."finishedAt"
"""


def utcnow() -> datetime:
    """Now as a naive UTC timestamp, as Prisma stores TIMESTAMP(3) values."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def iso(moment) -> str | None:
    """A naive UTC timestamp as ISO-8601 with milliseconds and ``Z``."""
    return None if moment is None else moment.isoformat(timespec="milliseconds") + "Z"


def build_summary(job, mode, scope, triggered_by, reason, note, started_at, finished_at, counts,
                  audit_id=None, batches=None, outcome=None) -> dict:
    """The audit-friendly summary every job returns (and logs)."""
    summary = {
        "job": job, "mode": mode, "scope": scope, "triggered_by": triggered_by, "reason": reason,
        "note": note, "started_at": iso(started_at), "finished_at": iso(finished_at),
        "counts": dict(counts), "changed": any(value > 0 for value in counts.values()),
    }
    if mode == "execute":
        summary.update(audit_id=audit_id, batches=batches, outcome=outcome)
    return summary


def emit(summary: dict, log=None) -> str:
    """Log the summary as one JSON line carrying ``job`` (``log`` is e.g. ``module.log``)."""
    line = json.dumps(dict(summary, logger=LOGGER_NAME), sort_keys=True, default=str)
    if log is None:
        logging.getLogger(LOGGER_NAME).info(line)
    else:
        log(line)
    return line


class AuditRun:
    """The audit record of one executed run, written inside the caller's transactions."""

    def __init__(self, job, scope, triggered_by, reason, note, started_at, counts):
        self.id = uuid.uuid4().hex
        self.job, self.scope, self.triggered_by = job, scope, triggered_by
        self.reason, self.note, self.started_at = reason, note, started_at
        self.counts = dict(counts)  # committed totals
        self.batches = 0
        self.outcome = "running"
        self.error = None
        self.finished_at = None
        self._pending = None

    def _write(self, conn, counts, batches, outcome, error=None, finished_at=None) -> None:
        conn.execute(UPSERT_RUN, dict(
            id=self.id, job=self.job, scope=Jsonb(self.scope), triggered_by=self.triggered_by,
            reason=self.reason, note=self.note, counts=Jsonb(counts), batches=batches,
            outcome=outcome, error=error, started_at=self.started_at, finished_at=finished_at))

    def add_batch(self, conn, batch_counts: dict) -> None:
        """Record one more batch in the batch's own transaction; ``committed()`` after commit."""
        totals = {name: self.counts.get(name, 0) + batch_counts.get(name, 0) for name in self.counts}
        self._write(conn, totals, self.batches + 1, "running")
        self._pending = totals

    def committed(self) -> None:
        """The batch's transaction committed: its counts are now part of the run."""
        if self._pending is not None:
            self.counts, self._pending = self._pending, None
            self.batches += 1

    def finish(self, conn) -> None:
        finished_at = utcnow()
        self._write(conn, self.counts, self.batches, "succeeded", finished_at=finished_at)
        self.outcome, self.finished_at = "succeeded", finished_at

    def fail(self, conn, error: str) -> None:
        """After the failing batch rolled back: mark the run failed in a transaction of its own."""
        self._pending = None
        finished_at = utcnow()
        with conn.transaction():
            self._write(conn, self.counts, self.batches, "failed", error=error, finished_at=finished_at)
        self.outcome, self.error, self.finished_at = "failed", error, finished_at

    def summary(self) -> dict:
        summary = build_summary(self.job, "execute", self.scope, self.triggered_by, self.reason, self.note,
                                self.started_at, self.finished_at, self.counts, audit_id=self.id,
                                batches=self.batches, outcome=self.outcome)
        if self.error:
            summary["error"] = self.error
        return summary
