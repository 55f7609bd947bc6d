# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pacing a compliance run between its batches, so that a purge on a live primary goes unnoticed.

After every committed batch ``job._run_batches`` asks ``Pacer.after_batch``, which

* logs a progress record (batches, committed counts, users done, estimated time left, lag pauses)
  as one JSON line;
* stops the run at that boundary (``interrupted``, resumable by the next run) when ``max_runtime``
  has passed or the caller's ``should_stop`` gives a reason;
* waits ``batch_pause`` seconds;
* when ``max_replica_lag`` is set, reads the replication lag of the standbys connected to the
  primary (``pg_stat_replication``) and, while the largest is above the limit, waits, polling,
  until it is at most half the limit (the resume mark), or stops the run at that boundary once it
  has waited ``max_lag_pause`` seconds in one pause.

A standby's lag is ``replay_lag`` as the primary reports it, in seconds (NULL once the standby has
replayed everything and said so: 0). Measured on PostgreSQL 15 with replay paused on the standby
(``pg_wal_replay_pause()``, tests/database/test_compliance_replica.py): ``replay_lag`` keeps growing
while replay is stuck, with or without new WAL, because the primary extrapolates from each status
message of the standby (every ``wal_receiver_status_interval``, 10 s by default, and on WAL
receipt); after replay resumes it shows the last measured lag until the next status message, then
NULL. So the reading is at most one status interval stale, and ``max_replica_lag`` should be well
above that interval. The WAL bytes a standby has still to replay
(``pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)``) go in the progress records for information
only: bytes say nothing about how long they take to replay. Reading the lag needs a superuser or
the ``pg_read_all_stats`` role (otherwise ``pg_stat_replication`` hides it): without, the run stops
before its first batch, saying so. Nothing here imports Ansible.
"""

from __future__ import annotations

import time

from ansible_collections.skillforge.dataops.plugins.module_utils._shared import errors
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import log_line

PACING_OPTIONS = ("batch_pause", "max_runtime", "max_replica_lag", "max_lag_pause")
DEFAULTS = {"batch_pause": 0, "max_runtime": 0, "max_replica_lag": 0, "max_lag_pause": 300}
# Upper bounds, in seconds: an hour between batches, a week of runtime, a day of lag or of pausing.
LIMITS = {"batch_pause": 3600, "max_runtime": 7 * 86400, "max_replica_lag": 86400, "max_lag_pause": 86400}
LAG_POLL_SECONDS = 1.0
# A paused run resumes once the lag is at most this fraction of max_replica_lag (no flapping).
RESUME_FRACTION = 0.5
PROGRESS_LOGGER = "skillforge.dataops.compliance.progress"

# One row per connected standby: its name, whether its statistics are visible to us, the lag the
# primary measured (NULL: caught up) and how many WAL bytes it has still to replay.
STANDBY_LAG = """
SELECT pid, application_name, state IS NOT NULL AS visible,
       COALESCE(EXTRACT(epoch FROM replay_lag), 0)::float8 AS replay_lag,
       COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::float8 AS pending_bytes
  FROM pg_stat_replication
"""


class PacingError(Exception):
    """The run cannot be paced as asked (the replication lag cannot be read): nothing ran."""


def pacing_options(job: str, options: dict) -> dict:
    """The four pacing options with defaults applied; a bad one raises ``ValueError`` naming it."""
    values = {}
    for name in PACING_OPTIONS:
        value = options.get(name)
        value = DEFAULTS[name] if value is None else value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= LIMITS[name]:
            raise ValueError("%s: %s must be a number of seconds from 0 to %d" % (job, name, LIMITS[name]))
        values[name] = value  # NaN fails every comparison and inf the upper bound: refused above
    return values


def _round(seconds: float) -> float:
    return round(seconds, 1)


class Pacer:
    """The pacing of one executed run. ``clock`` and ``sleep`` are ``time.monotonic`` and
    ``time.sleep`` unless a test gives others; ``progress`` takes each progress record (a dict;
    None: a JSON line through ``log``, else the Python logger ``PROGRESS_LOGGER``)."""

    def __init__(self, conn, job: str, options: dict, should_stop=None, log=None, progress=None,
                 total_users=None, clock=time.monotonic, sleep=time.sleep):
        self.conn, self.job, self.should_stop = conn, job, should_stop
        self.options = pacing_options(job, options)
        self.log, self.progress = log, progress
        self.total_users = total_users
        self.clock, self.sleep = clock, sleep
        self.started = clock()
        self.users_done = 0
        self.pauses = 0
        self.paused_seconds = 0.0
        self.lag = {"seconds": 0.0, "bytes": 0}  # the largest lag last read

    def check(self) -> None:
        """Before the first batch: the lag can be read where ``max_replica_lag`` needs it."""
        if self.options["max_replica_lag"]:
            self.replica_lag()

    def pauses_record(self) -> dict:
        """What the summary and its RETURN call ``pauses``."""
        return {"count": self.pauses, "seconds": _round(self.paused_seconds)}

    def replica_lag(self) -> float:
        """The largest lag in seconds of the standbys connected now (0 without any)."""
        seconds, pending_bytes = 0.0, 0.0
        for pid, name, visible, replay_lag, pending in self.conn.execute(STANDBY_LAG).fetchall():
            if not visible:
                raise PacingError(
                    "%s: max_replica_lag needs the replication lag of standby %s, which pg_stat_replication "
                    "hides from this user: grant it pg_read_all_stats or set max_replica_lag to 0"
                    % (self.job, errors.clip(name or str(pid), 63)))
            seconds, pending_bytes = max(seconds, replay_lag), max(pending_bytes, pending)
        self.lag = {"seconds": _round(seconds), "bytes": int(pending_bytes)}
        return seconds

    def after_batch(self, run, users: int) -> str | None:
        """After a committed batch of ``users`` users: log progress, then pause as the options say.
        A reason (str) means stop here; None, go on."""
        self.users_done += users
        self._report(run)
        reason = self._stop_reason()
        if reason:
            return reason
        if self.options["batch_pause"]:
            self.sleep(self.options["batch_pause"])
        limit = self.options["max_replica_lag"]
        if limit and self.replica_lag() > limit:
            return self._wait_for_standbys(run, limit)
        return None

    def _stop_reason(self) -> str | None:
        runtime = self.options["max_runtime"]
        if runtime and self.clock() - self.started >= runtime:
            return "max_runtime of %s s reached" % runtime
        return self.should_stop() if self.should_stop is not None else None

    def _wait_for_standbys(self, run, limit: float) -> str | None:
        self.pauses += 1
        self._report(run, event="lag-pause-started")
        started = self.clock()
        resume_at = limit * RESUME_FRACTION
        try:
            while True:
                lag = self.replica_lag()
                waited = self.clock() - started
                if lag <= resume_at:
                    return None
                if waited >= self.options["max_lag_pause"]:
                    return ("replica lag %.1f s stayed above the resume mark of %.1f s (max_replica_lag %s s) for "
                            "max_lag_pause of %s s" % (lag, resume_at, limit, self.options["max_lag_pause"]))
                reason = self._stop_reason()
                if reason:
                    return reason
                self.sleep(max(0.01, min(LAG_POLL_SECONDS, self.options["max_lag_pause"] - waited)))
        finally:
            self.paused_seconds += self.clock() - started
            run.pauses = self.pauses_record()
            self._report(run, event="lag-pause-ended")

    def _report(self, run, event: str = "batch-committed") -> dict:
        elapsed = self.clock() - self.started
        record = {"job": self.job, "event": event, "audit_id": run.id, "batches": run.batches,
                  "counts": dict(run.counts), "users_done": self.users_done, "users_total": self.total_users,
                  "elapsed_seconds": _round(elapsed), "eta_seconds": None, "pauses": self.pauses_record()}
        if self.options["max_replica_lag"]:
            record["replica_lag"] = dict(self.lag)
        if self.total_users and self.users_done:
            left = max(0, self.total_users - self.users_done)
            record["eta_seconds"] = _round(elapsed / self.users_done * left)
        if self.progress is not None:
            self.progress(record)
        else:
            log_line.emit(record, PROGRESS_LOGGER, self.log)
        return record
