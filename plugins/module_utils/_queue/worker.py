# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's BullMQ worker: runs queued compliance jobs with the same code as the modules.

Two ways to run it, one job path:

* ``serve()`` (the ``scripts/skillforge-worker`` service, ``main()`` below) listens on the three
  queues until SIGTERM or SIGINT, then stops taking jobs and lets the jobs in hand finish.
* ``drain()`` (the ``compliance_worker`` module) takes jobs until the queues are empty, a job limit
  or a time budget is reached, and returns each job's outcome.

Each job opens its own database connection and calls the compliance entry point
(``registry.run_job``), which audits the run exactly as an inline run; its summary is
the job's BullMQ return value. A worker with a queue signing key (``signing``) first checks the
job's signature: an unsigned or badly signed job fails at once, before its data is read or the
database opened, logged with ``outcome: rejected``. Bad input (job data failing the JSON Schema, an unknown tenant, ...)
fails the job at once (BullMQ's UnrecoverableError); any other failure (database down, job lock
busy) is retried as the job's attempts and backoff say, and ends in the failed set with a safe
reason. One JSON line per job is logged with ``job``, the counts and any warnings. Besides
bullmq's public API it uses only ``bullmq_compat`` (the internals a drain needs, version-checked).
Nothing here imports Ansible.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field

from ansible_collections.skillforge.dataops.plugins.module_utils._shared import errors
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import log_line
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import (
    JobBusyError,
    JobError,
    JobInputError,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.connection import (
    DatabaseConfigError,
    ResolvedDatabase,
    application_name,
    connect,
    resolve_database,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._queue import bullmq_compat
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.jobs import (
    BY_QUEUE,
    DEFAULT_PREFIX,
    PayloadError,
    QueuedJob,
    QueueTarget,
    parse_payload,
    validate_prefix,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.signing import (
    SignatureError,
    SigningConfigError,
    resolve_signing_keys,
    verify,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import (
    DEFAULT_TIMEOUT,
    QueueConfigError,
    QueueError,
    describe_redis_error,
    open_client,
    resolve_redis,
    run_bounded,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import dependencies
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

DelayedError = UnrecoverableError = Exception  # stand-ins for the except clauses below
with declare("bullmq"):
    from bullmq import DelayedError, UnrecoverableError, Worker
with declare("psycopg"):
    import psycopg

# BullMQ blocks up to 10 s waiting for a job; a reply can take that long on the worker's sockets.
BLOCKING_READ_SECONDS = 10
LOGGER_NAME = "skillforge.dataops.queue_worker"
MAX_DRAIN_LIMIT = 100000
MAX_TIME_BUDGET = 86400


class JobFailed(Exception):
    """A job attempt failed for a reason worth retrying; the message is the job's failedReason."""


class JobRejected(UnrecoverableError):
    """A job refused for its signature: failed for good, nothing of it ran."""


def run_compliance_job(conn, job: str, options: dict, dry_run: bool, log=None, progress=None) -> dict:
    """The compliance entry point shared with the modules (``progress``: each batch's record)."""
    return run_job(conn, job, options, dry_run, log=log, progress=progress)


@dataclass
class WorkerSettings:
    """Everything a worker run needs besides Redis: the database and how jobs are run."""

    database: ResolvedDatabase  # resolved once, up front: a wrong URL stops the worker, not the jobs
    connect_timeout: int = 10
    queues: tuple = tuple(BY_QUEUE)
    concurrency: int = 1
    run_job: object = run_compliance_job
    log: object = None  # called with each JSON log line; None: print to stdout
    # BullMQ's defaults: a job's lock lasts lock_duration_ms unless its worker renews it; the
    # stalled-job check (the service every stalled_interval_ms, a drain once as it starts) returns
    # a job whose lock lapsed (its worker died) to the queue once, failing it the second time.
    lock_duration_ms: int = 30000
    stalled_interval_ms: int = 30000
    # A job that finds another run holding its job lock waits this long (plus up to as much again,
    # at random) in BullMQ's delayed set, without spending an attempt, then runs again.
    busy_delay_ms: int = 5000
    # Queue signing keys (``signing``): with any, only jobs signed with one of them run. Never shown.
    signing_keys: tuple = field(default=(), repr=False)

    def emit(self, record: dict) -> None:
        _emit(record, self.log)


def _emit(record: dict, log=None) -> None:
    """One JSON log line; to stdout (the journal, for the service) unless ``log`` takes it."""
    log_line.emit(record, LOGGER_NAME, log or _print_line)


def _print_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def failure_reason(error: BaseException) -> tuple:
    """``(reason, retry)`` for a failed attempt: a message safe to store in Redis and show. Bad input
    (the payload or the request) is permanent; anything else may pass on a later attempt."""
    if isinstance(error, (PayloadError, JobInputError, SignatureError)):
        return str(error), False
    if isinstance(error, JobError):
        return str(error), True
    if isinstance(error, psycopg.Error):
        return "database error %s" % errors.database_error_summary(error), True
    return "%s: %s" % (type(error).__name__, errors.clip(str(error).strip().splitlines()[0] if str(error).strip()
                                                         else "", 500)), True


def execute_job(settings: WorkerSettings, entry: QueuedJob, data, job_id: str) -> dict:
    """Run one queued job against the database (blocking; the worker calls it in a thread). Its
    signature is checked first: a rejected job has not been read nor the database opened."""
    try:
        verify(settings.signing_keys, entry.queue, entry.name, data)
    except SignatureError as error:
        raise SignatureError("%s: %s" % (entry.name, error)) from None
    options, dry_run = parse_payload(entry, data, job_id)
    conn = connect(settings.database, application_name=application_name("queue-worker"),
                   connect_timeout=settings.connect_timeout)
    try:
        # The worker logs the summary itself; each batch's progress record (pacing.Pacer) as it comes.
        summary = settings.run_job(conn, entry.job, options, dry_run, log=lambda line: None,
                                   progress=lambda record: settings.emit(dict(record, queue=entry.queue, job_id=job_id)))
    finally:
        conn.close()
    # The return value is stored as JSON: make sure it is plain JSON.
    return json.loads(json.dumps(summary, default=str))


def _processor(settings: WorkerSettings, queue: str, events: dict):
    """The job function of a worker on ``queue``; ``events["worker"]`` is that worker, told of a
    job delayed because another run held the job lock (its ``busy`` event)."""
    entry = BY_QUEUE[queue]

    async def process(job, token):
        if job.name != entry.name:
            raise UnrecoverableError("queue %s runs %s jobs, not %r" % (queue, entry.name, job.name))
        try:
            return await asyncio.to_thread(execute_job, settings, entry, job.data, job.id)
        except Exception as error:
            if isinstance(error, JobBusyError):
                # Another run holds the job lock (another worker slot, a drain, an operator): try
                # again later without spending one of the job's attempts; it changed nothing.
                delay_ms = int(settings.busy_delay_ms * (1 + random.random()))  # nosec B311 - jitter
                await job.moveToDelayed(int(time.time() * 1000) + delay_ms, token)
                events["worker"].emit("busy", job, delay_ms)
                raise DelayedError() from None
            reason, retry = failure_reason(error)
            if isinstance(error, SignatureError):
                raise JobRejected(reason) from None
            raise (JobFailed(reason) if retry else UnrecoverableError(reason)) from None

    return process


@dataclass
class JobLog:
    """Turns a worker's events into one JSON line and one outcome per job."""

    settings: WorkerSettings
    queue: str
    outcomes: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    started: dict = field(default_factory=dict)

    def attach(self, worker) -> None:
        worker.on("active", lambda job, _previous: self.started.__setitem__(job.id, time.monotonic()))
        worker.on("completed", self.completed)
        worker.on("failed", self.failed)
        worker.on("busy", self.busy)
        worker.on("error", lambda error, job=None: self.errors.append(error))

    def _base(self, job) -> dict:
        entry = BY_QUEUE[self.queue]
        started = self.started.pop(job.id, None)
        return {"job": entry.job, "queue": self.queue, "job_id": job.id, "job_name": job.name,
                "attempt": job.attemptsMade if job.attemptsMade else 1, "attempts": job.opts.get("attempts"),
                "dry_run": (job.data or {}).get("dryRun") if isinstance(job.data, dict) else None,
                "duration_ms": int((time.monotonic() - started) * 1000) if started else None}

    def completed(self, job, summary) -> None:
        record = dict(self._base(job), state="completed", counts=(summary or {}).get("counts"),
                      mode=(summary or {}).get("mode"), audit_id=(summary or {}).get("audit_id"))
        warnings = (summary or {}).get("warnings")
        if warnings:  # a partner segregation without a tenant: completed, nothing changed
            record["warnings"] = warnings
        self.settings.emit(record)
        self.outcomes.append(dict(record, summary=summary))

    def busy(self, job, delay_ms) -> None:
        record = dict(self._base(job), state="delayed", counts=None, will_retry=True,
                      error="another run of the job holds its lock: delayed %d ms, no attempt spent" % delay_ms)
        self.settings.emit(record)
        self.outcomes.append(dict(record, summary=None))

    def failed(self, job, error) -> None:
        record = self._base(job)  # BullMQ has counted this attempt already
        retry = not isinstance(error, UnrecoverableError) and job.attemptsMade < (job.opts.get("attempts") or 1)
        record.update(state="delayed" if retry else "failed", error=str(error), counts=None, will_retry=retry)
        if isinstance(error, JobRejected):
            record["outcome"] = "rejected"
        self.settings.emit(record)
        self.outcomes.append(dict(record, summary=None))


def _worker(settings: WorkerSettings, target: QueueTarget, queue: str, connection, autorun: bool, stalled=None):
    """A BullMQ worker on one queue; each job it returns to the queue as stalled is logged (and
    appended to ``stalled`` when given)."""
    events = {}
    worker = events["worker"] = Worker(queue, _processor(settings, queue, events), {
        "connection": connection, "prefix": target.prefix, "concurrency": settings.concurrency,
        "autorun": autorun, "lockDuration": settings.lock_duration_ms, "stalledInterval": settings.stalled_interval_ms,
        "name": "skillforge-dataops",
    })

    def returned(job_id, *_previous):  # a job whose worker died, back in the queue to run again
        record = {"event": "stalled", "queue": queue, "job_id": job_id}
        settings.emit(record)
        if stalled is not None:
            stalled.append({"queue": queue, "job_id": job_id})
    worker.on("stalled", returned)
    return worker


# --- drain once (the compliance_worker module) ---------------------------------------------------

def drain(target: QueueTarget, settings: WorkerSettings, limit: int = 100, time_budget: float = 300) -> dict:
    """Process waiting jobs one at a time, queue by queue in turn, until none is waiting, ``limit``
    jobs were taken or ``time_budget`` seconds have passed (a job in hand always finishes).

    First it runs BullMQ's stalled-job check on each queue (skipped by BullMQ when any worker ran
    one less than ``stalled_interval_ms`` ago): jobs an earlier check found active and whose lock
    has lapsed since (their worker died) go back to the queue, and the jobs active now are marked
    for the next check. So where only scheduled drains run, the job of a killed drain runs again
    in the second drain that starts after its lock lapsed.

    Returns ``{"jobs": [outcome, ...], "stopped": "empty"|"limit"|"time_budget", "stalled": [...],
    "queues": ...}``.
    """
    validate_prefix(target.prefix)
    bullmq_compat.check_version()
    unknown = [queue for queue in settings.queues if queue not in BY_QUEUE]
    if unknown:
        raise QueueConfigError("unknown queue(s): %s" % ", ".join(unknown))
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_DRAIN_LIMIT:
        raise QueueConfigError("limit must be a whole number of jobs from 1 to %d" % MAX_DRAIN_LIMIT)
    if isinstance(time_budget, bool) or not isinstance(time_budget, (int, float)) or not (
            0 < time_budget <= MAX_TIME_BUDGET):  # NaN too: it would never run out
        raise QueueConfigError("time_budget must be a number of seconds above 0 and at most %d" % MAX_TIME_BUDGET)

    async def operation(client):
        logs, workers, outcomes, stalled = [], [], [], []
        for queue in settings.queues:
            worker = _worker(settings, target, queue, client, autorun=False, stalled=stalled)
            log = JobLog(settings, queue, outcomes)
            log.attach(worker)
            bullmq_compat.start_lock_renewal(worker)  # renews the lock of a long job while it runs
            workers.append(worker)
            logs.append(log)
        deadline = time.monotonic() + time_budget
        taken, stopped = 0, "empty"
        try:
            for worker, log in zip(workers, logs):
                await bullmq_compat.run_stalled_check(worker)  # reports a Redis failure as an "error" event
                if log.errors:
                    raise log.errors[0]
            while True:
                progress = False
                for worker, log in zip(workers, logs):
                    if taken >= limit:
                        stopped = "limit"
                        break
                    if time.monotonic() >= deadline:
                        stopped = "time_budget"
                        break
                    taken_job = await bullmq_compat.take_next_job(worker)
                    if taken_job is None:
                        continue
                    await bullmq_compat.process_job(worker, *taken_job)
                    if log.errors:  # BullMQ could not record the outcome: Redis failed mid-job
                        raise log.errors[0]
                    taken += 1
                    progress = True
                if stopped != "empty" or not progress:
                    break
            counts = {}
            for worker in workers:
                counts[worker.name] = await target.queue(client, worker.name).getJobCounts(
                    "waiting", "active", "delayed", "prioritized", "completed", "failed")
        finally:
            for worker in workers:
                await bullmq_compat.stop_lock_renewal(worker)
        return {"jobs": outcomes, "stopped": stopped, "stalled": stalled, "queues": counts}

    # The time budget only stops new jobs; Redis commands stay bounded by the socket timeouts.
    return run_bounded(operation, target.redis, deadline=math.inf)


def ready_jobs(target: QueueTarget, queues) -> tuple:
    """``(ready, counts)``: how many jobs ``drain`` would find now (waiting, prioritized, delayed
    retries that are due, and jobs of dead workers its stalled-job check would return), and the
    jobs per state of each queue. Reads only."""
    validate_prefix(target.prefix)
    bullmq_compat.check_version()

    async def operation(client):
        ready, counts = 0, {}
        now_ms = int(time.time() * 1000)
        for name in queues:
            queue = target.queue(client, name)
            counts[name] = await queue.getJobCounts("waiting", "active", "delayed", "prioritized", "completed", "failed")
            ready += counts[name]["waiting"] + counts[name]["prioritized"]
            ready += await bullmq_compat.due_delayed_jobs(client, queue, now_ms)
            ready += await bullmq_compat.returnable_stalled_jobs(client, queue)
        return ready, counts

    return run_bounded(operation, target.redis)


# --- long-running service ------------------------------------------------------------------------

async def serve(target: QueueTarget, settings: WorkerSettings, stop: asyncio.Event) -> None:
    """Run workers on every queue until ``stop`` is set, then close them gracefully: no new job is
    taken, the jobs in hand finish and record their outcome."""
    bullmq_compat.check_version()
    client = open_client(target.redis, retries=10,
                         socket_timeout=target.redis.timeout + BLOCKING_READ_SECONDS)
    workers = []
    try:
        for queue in settings.queues:
            worker = _worker(settings, target, queue, client, autorun=True)
            log = JobLog(settings, queue)
            log.attach(worker)
            worker.on("error", lambda error, job=None, queue=queue: settings.emit(
                {"event": "error", "queue": queue, "error": str(describe_redis_error(error, target.redis))}))
            workers.append(worker)
        settings.emit({"event": "started", "queues": list(settings.queues), "prefix": target.prefix,
                       "concurrency": settings.concurrency, "redis": target.redis.describe(),
                       "signed_jobs_only": bool(settings.signing_keys)})
        await stop.wait()
        in_hand = sum(bullmq_compat.jobs_in_hand(worker) for worker in workers)
        settings.emit({"event": "stopping", "jobs_in_hand": in_hand})
        await asyncio.gather(*(worker.close() for worker in workers), return_exceptions=True)
    finally:
        try:
            await client.aclose()
        except Exception:
            pass
    settings.emit({"event": "stopped"})


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="skillforge-worker",
        description="Run queued SkillForge compliance jobs (consent revocation, data retention, partner "
                    "segregation) from their BullMQ queues until SIGTERM. Redis and the database are "
                    "taken from SKILLFORGE_<ENV>_REDIS_URL / REDIS_URL and SKILLFORGE_<ENV>_DATABASE_URL / "
                    "DATABASE_URL (never from the command line: it is visible to every user); the queue "
                    "signing key(s), when set, from SKILLFORGE_<ENV>_QUEUE_SIGNING_KEY / "
                    "SKILLFORGE_QUEUE_SIGNING_KEY: then only signed jobs run.")
    parser.add_argument("--env", default=os.environ.get("SKILLFORGE_ENV"),
                        help="SkillForge environment (local, ci, staging, production); default $SKILLFORGE_ENV")
    parser.add_argument("--queue", action="append", choices=sorted(BY_QUEUE), dest="queues",
                        help="a queue to work on (repeatable); default all three")
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("SKILLFORGE_WORKER_CONCURRENCY", 1)),
                        help="jobs run at once per queue (default 1)")
    parser.add_argument("--prefix", default=os.environ.get("SKILLFORGE_QUEUE_PREFIX", DEFAULT_PREFIX),
                        help="BullMQ key prefix, as the API uses (default bull)")
    parser.add_argument("--lock-duration", type=float, default=30,
                        help="seconds a job's lock lasts without renewal: how long the job of a worker that "
                             "died stays active before another worker may take it again (default 30)")
    parser.add_argument("--stalled-interval", type=float, default=30,
                        help="seconds between checks for such stalled jobs (default 30)")
    parser.add_argument("--busy-delay", type=float, default=5,
                        help="seconds a job waits, without spending an attempt, when another run of the same "
                             "job holds its lock (plus up to as much again at random; default 5)")
    parser.add_argument("--redis-timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds to wait for Redis to connect or answer (default 5)")
    parser.add_argument("--once", action="store_true",
                        help="drain the queues once and exit (as the compliance_worker module does)")
    parser.add_argument("--limit", type=int, default=100, help="with --once: at most this many jobs")
    parser.add_argument("--time-budget", type=float, default=300,
                        help="with --once: take no new job after this many seconds")
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    for option, value in (("--lock-duration", args.lock_duration), ("--stalled-interval", args.stalled_interval),
                          ("--busy-delay", args.busy_delay)):
        if not 0.1 <= value <= 3600:  # NaN too
            parser.error("%s must be from 0.1 to 3600 seconds" % option)
    return args


def main(argv=None) -> int:
    """Entry point of ``scripts/skillforge-worker``; exit status 0 after a clean stop."""
    args = _parse_args(argv)
    missing = dependencies.missing("redis", "bullmq", "jsonschema", "psycopg")
    if missing:
        _emit({"event": "fatal", "error": "missing Python package(s): %s" % dependencies.describe(missing)})
        return 2
    try:
        keys = resolve_signing_keys(env=args.env)[0]
        settings = WorkerSettings(database=resolve_database(env=args.env), queues=tuple(args.queues or BY_QUEUE),
                                  signing_keys=keys,
                                  concurrency=args.concurrency, lock_duration_ms=int(args.lock_duration * 1000),
                                  stalled_interval_ms=int(args.stalled_interval * 1000),
                                  busy_delay_ms=int(args.busy_delay * 1000))
        target = QueueTarget(resolve_redis(env=args.env, timeout=args.redis_timeout), validate_prefix(args.prefix))
        if args.once:
            result = drain(target, settings, limit=args.limit, time_budget=args.time_budget)
            settings.emit({"event": "drained", "stopped": result["stopped"], "jobs": len(result["jobs"]),
                           "stalled": len(result["stalled"])})
            return 0
        bullmq_compat.check_version()
        run_bounded(lambda client: client.ping(), target.redis)  # fail fast on a wrong URL or password
    except (QueueError, DatabaseConfigError, SigningConfigError) as error:
        _emit({"event": "fatal", "error": str(error)})
        return 1

    async def run():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(target, settings, stop)

    asyncio.run(run())
    return 0
