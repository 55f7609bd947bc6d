"""The collection's worker on real Redis and PostgreSQL: same effect as an inline run, audit, retries
with backoff, bad input, Redis down, and SIGTERM while a job is in hand."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
import redis

import sample_data
from conftest import url_for, wait_for
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import job as compliance_job
from ansible_collections.skillforge.dataops.plugins.module_utils._queue import jobs as job_queue
from ansible_collections.skillforge.dataops.plugins.module_utils._queue import worker as queue_worker
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.connection import resolve_database
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import (
    QueueConnectionError,
    resolve_redis,
)
from queue_testing import REDIS_URL, closed_port, node_bullmq, queue_prefix  # noqa: F401  pylint: disable=unused-import

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_TIME = datetime(2026, 1, 1)
CORE_TABLES = sample_data.CORE_TABLES

# One request per job, in the collection's terms (what run_job and the modules take).
REQUESTS = {
    "data-retention": {"tenant": "globex", "before": "2024-06-01T00:00:00Z", "triggered_by": "dpo@example.invalid",
                       "reason": "quarterly retention"},
    "consent-revocation": {"tenant": "initech", "triggered_by": "dpo@example.invalid", "reason": "ticket 7"},
    "partner-segregation": {"tenant": "acme-partners", "triggered_by": "ops@example.invalid"},
}


def seeded(url: str) -> str:
    with psycopg.connect(url) as conn:
        sample_data.generate(conn, seed=11, users_per_tenant=12, reference_time=REFERENCE_TIME)
    return url


@pytest.fixture
def seeded_url(migrated_database_url) -> str:
    return seeded(migrated_database_url)


@pytest.fixture
def twin_urls(database_factory, migrated_template):
    """Two databases with the same sample data: one for the inline run, one for the worker."""
    inline, queued = (database_factory.create(template=migrated_template) for name in ("inline", "queued"))
    return [seeded(url_for(inline)), seeded(url_for(queued))]


def content(url: str) -> dict:
    """Every core table's rows, except the "updatedAt" the jobs set to now()."""
    with psycopg.connect(url) as conn:
        return {table: conn.execute(
            'SELECT count(*), md5(string_agg((to_jsonb(t) - \'updatedAt\')::text, \'|\' ORDER BY t."id"))'
            ' FROM "%s" t' % table).fetchone() for table in CORE_TABLES}


def audit_rows(url: str) -> list:
    with psycopg.connect(url) as conn:
        return conn.execute('SELECT "job", "mode", "triggeredBy", "reason", "outcome", "counts"'
                            ' FROM "ComplianceAuditLog" ORDER BY "startedAt"').fetchall()


def settings_for(url: str, **overrides) -> queue_worker.WorkerSettings:
    lines = []
    settings = queue_worker.WorkerSettings(database=resolve_database(dsn=url), log=lines.append, **overrides)
    settings.lines = lines
    return settings


def target_for(prefix: str) -> job_queue.QueueTarget:
    return job_queue.QueueTarget(resolve_redis(REDIS_URL), prefix)


def now_ms() -> int:
    """The clock BullMQ's delayed times are on (the worker's, in ms)."""
    return int(time.time() * 1000)


@pytest.mark.parametrize("job", sorted(REQUESTS))
def test_job_added_from_node_changes_the_database_exactly_as_an_inline_run(job, twin_urls, queue_prefix, node_bullmq):
    inline_url, queued_url = twin_urls
    with psycopg.connect(inline_url) as conn:
        inline = run_job(conn, job, REQUESTS[job], dry_run=False)
    assert inline["changed"] is True

    entry = job_queue.queued_job(job)
    payload = job_queue.build_payload(REQUESTS[job], dry_run=False)
    node_bullmq.run("add", queue=entry.queue, prefix=queue_prefix, name=entry.name, data=payload,
                    opts={"jobId": "api-%s-1" % job, "attempts": 3})
    settings = settings_for(queued_url)
    result = queue_worker.drain(target_for(queue_prefix), settings)

    assert [(o["job_id"], o["state"]) for o in result["jobs"]] == [("api-%s-1" % job, "completed")]
    assert content(queued_url) == content(inline_url)
    summary = result["jobs"][0]["summary"]
    assert summary["counts"] == inline["counts"] and summary["mode"] == "execute"
    # Audited like the inline run, and the summary is the BullMQ return value Node reads back.
    assert [row[:5] for row in audit_rows(queued_url)] == [row[:5] for row in audit_rows(inline_url)]
    seen_by_node = node_bullmq.run("get", queue=entry.queue, prefix=queue_prefix, id="api-%s-1" % job)
    assert seen_by_node["state"] == "completed" and seen_by_node["returnvalue"] == summary
    # One JSON log line for the job, with the job name and the counts; before it, one progress
    # line per committed batch (docs/COMPLIANCE.md, "Throttling").
    records = [json.loads(line) for line in settings.lines]
    progress = [r for r in records if r.get("event") == "batch-committed"]
    assert [(r["job"], r["state"], r["counts"]) for r in records if r not in progress] == [(job, "completed", inline["counts"])]
    assert [r["batches"] for r in progress] == list(range(1, summary["batches"] + 1))
    assert progress[-1]["counts"] == inline["counts"] and progress[-1]["audit_id"] == summary["audit_id"]
    assert all((r["job"], r["queue"], r["job_id"]) == (job, entry.queue, "api-%s-1" % job) for r in progress)


def test_queued_dry_run_counts_like_check_mode_and_changes_nothing(seeded_url, queue_prefix):
    before = content(seeded_url)
    with psycopg.connect(seeded_url) as conn:
        expected = run_job(conn, "data-retention", REQUESTS["data-retention"], dry_run=True)
    target = target_for(queue_prefix)
    job_queue.enqueue(target, job_queue.enqueue_request("data-retention", REQUESTS["data-retention"], dry_run=True))

    result = queue_worker.drain(target, settings_for(seeded_url))

    outcome, = result["jobs"]
    assert outcome["state"] == "completed" and outcome["dry_run"] is True
    assert outcome["summary"]["mode"] == "dry-run" and outcome["counts"] == expected["counts"]
    assert content(seeded_url) == before and audit_rows(seeded_url) == []


def test_bad_input_fails_at_once_without_retry_and_changes_nothing(seeded_url, queue_prefix):
    before = content(seeded_url)
    target = target_for(queue_prefix)
    request = job_queue.enqueue_request("data-retention", dict(REQUESTS["data-retention"], tenant="no-such-tenant"),
                                        dry_run=False, attempts=3, backoff_seconds=0)

    job_queue.enqueue(target, request)
    outcome, = queue_worker.drain(target, settings_for(seeded_url))["jobs"]

    assert (outcome["state"], outcome["will_retry"], outcome["attempt"]) == ("failed", False, 1)
    job = job_queue.queue_status(target, ["data-retention-jobs"], job_id=request.job_id)["job"]
    assert job["state"] == "failed" and job["failed_reason"] == "data-retention: unknown tenant 'no-such-tenant'"
    assert content(seeded_url) == before and audit_rows(seeded_url) == []


@pytest.mark.parametrize("data, reason", [
    ({"tenant": "globex", "triggeredBy": "api"}, "data-retention: job data: unknown field 'tenant'; expected only scope, "),
    ({"scope": {"tenant": "globex"}, "cutoff": "last year"}, "data-retention: job data field cutoff: 'last year' is not "
     "valid; expected an ISO 8601 date or date-time"),
], ids=["top-level tenant", "cutoff"])
def test_data_failing_the_schema_fails_at_once_without_retry(data, reason, queue_prefix, node_bullmq):
    """Refused before any connection: the worker's database does not even exist (a closed port).
    Had it been used, the attempt would have failed to connect and been retried."""
    target = target_for(queue_prefix)
    node_bullmq.run("add", queue="data-retention-jobs", prefix=queue_prefix, name="data-retention", data=data,
                    opts={"jobId": "api-bad-1", "attempts": 3})

    nowhere = "postgresql://postgres@127.0.0.1:%d/skillforge" % closed_port()
    outcome, = queue_worker.drain(target, settings_for(nowhere, connect_timeout=2))["jobs"]

    assert (outcome["state"], outcome["will_retry"], outcome["attempt"]) == ("failed", False, 1)
    job = job_queue.queue_status(target, ["data-retention-jobs"], job_id="api-bad-1")["job"]
    assert job["state"] == "failed" and job["failed_reason"].startswith(reason)


def requesters(url: str) -> list:
    with psycopg.connect(url) as conn:
        return conn.execute('SELECT "triggeredBy", "triggeredBySource" FROM "ComplianceAuditLog" ORDER BY "startedAt"'
                            ).fetchall()


def test_who_asked_is_the_producer_or_else_the_queue(seeded_url, queue_prefix, node_bullmq):
    """The API may queue a job without triggeredBy (the runbook's --triggered-by is optional): the
    queue and job id are recorded as the requester. A producer's triggeredBy is recorded with the
    source it states (a module's triggered_by_source), else ``producer``."""
    entry = job_queue.queued_job("data-retention")
    target = target_for(queue_prefix)
    added_by_node = {
        "api-retention-1": {"scope": {"tenant": "globex"}, "cutoff": "2024-06-01T00:00:00Z", "dryRun": False},
        "api-retention-2": {"scope": {"tenant": "umbrella"}, "cutoff": "2024-06-01", "triggeredBy": "privacy@example.invalid"},
    }
    for job_id, data in added_by_node.items():
        node_bullmq.run("add", queue=entry.queue, prefix=queue_prefix, name=entry.name, data=data,
                        opts={"jobId": job_id, "attempts": 3})
        stored = node_bullmq.run("get", queue=entry.queue, prefix=queue_prefix, id=job_id)["data"]
        assert job_queue.validate_payload(entry, stored) == data  # what Node stored passes the schema
    by_module = job_queue.enqueue_request(
        "data-retention", dict(REQUESTS["data-retention"], tenant="initech", triggered_by_source="awx"), dry_run=False)
    job_queue.enqueue(target, by_module)

    outcomes = queue_worker.drain(target, settings_for(seeded_url))["jobs"]

    assert [(o["job_id"], o["state"]) for o in outcomes] == [
        ("api-retention-1", "completed"), ("api-retention-2", "completed"), (by_module.job_id, "completed")]
    expected = [("queue:data-retention-jobs/api-retention-1", "queue"), ("privacy@example.invalid", "producer"),
                ("dpo@example.invalid", "awx")]
    assert [(o["summary"]["triggered_by"], o["summary"]["triggered_by_source"]) for o in outcomes] == expected
    assert requesters(seeded_url) == expected


def test_partner_segregation_without_a_tenant_completes_with_its_warning(seeded_url, queue_prefix, node_bullmq):
    before = content(seeded_url)
    node_bullmq.run("add", queue="partner-segregation-jobs", prefix=queue_prefix, name="partner-segregation",
                    data={"scope": {}, "triggeredBy": "ops@example.invalid"}, opts={"jobId": "api-segregation-1"})
    settings = settings_for(seeded_url)

    outcome, = queue_worker.drain(target_for(queue_prefix), settings)["jobs"]

    summary = outcome["summary"]
    assert (outcome["state"], summary["changed"], summary["outcome"]) == ("completed", False, "skipped")
    assert summary["warnings"] == ["partner-segregation: no tenant given, so no tenant's JSON can be stamped; nothing "
                                   "was changed (set tenant to the tenant whose users' JSON gets its ids)"]
    assert summary["counts"] == {"resumeUpdates": 0, "notificationUpdates": 0}
    record, = [json.loads(line) for line in settings.lines]  # the worker logs the warning
    assert (record["state"], record["warnings"]) == ("completed", summary["warnings"])
    seen_by_node = node_bullmq.run("get", queue="partner-segregation-jobs", prefix=queue_prefix, id="api-segregation-1")
    assert seen_by_node["state"] == "completed" and seen_by_node["returnvalue"] == summary
    assert content(seeded_url) == before and audit_rows(seeded_url) == []


def test_database_down_is_retried_with_exponential_backoff_then_kept_in_failed(queue_prefix):
    target = target_for(queue_prefix)
    down = "postgresql://postgres@127.0.0.1:%d/skillforge" % closed_port()
    request = job_queue.enqueue_request("partner-segregation", REQUESTS["partner-segregation"], dry_run=False,
                                        attempts=3, backoff_seconds=1)
    job_queue.enqueue(target, request)
    settings = settings_for(down, connect_timeout=2)

    def due_ms():  # when BullMQ runs the delayed job: its delayed-set score is (due ms) * 0x1000 + a counter
        with redis.Redis.from_url(REDIS_URL) as client:
            score = client.zscore("%s:partner-segregation-jobs:delayed" % queue_prefix, request.job_id)
        return int(score) // 0x1000

    def drain_before_due(due: int) -> list:
        """A drain that ends before ``due``: the job is not due yet, so it takes nothing."""
        jobs = queue_worker.drain(target, settings)["jobs"]
        late = now_ms() - due
        assert late < 0, "the drain ended %d ms after the job was due: it proves nothing" % late
        assert due_ms() == due  # still delayed, for the same time
        return jobs

    def retried_after(backoff_ms: int):
        """Drain once; the failed attempt is due again ``backoff_ms`` after it failed: ``(outcome, due)``."""
        started = now_ms()
        outcome, = queue_worker.drain(target, settings)["jobs"]
        due = due_ms()
        ended = now_ms()
        assert started + backoff_ms <= due <= ended + backoff_ms, (started, due, ended)
        return outcome, due

    first, due = retried_after(1000)
    assert (first["state"], first["attempt"], first["will_retry"]) == ("delayed", 1, True)
    assert drain_before_due(due) == []  # backoff: not due yet
    wait_for(lambda: now_ms() >= due, 10, "the first retry to be due (1 s after the first attempt)")
    second, due = retried_after(2000)  # exponential: the second wait is 2 s
    assert (second["state"], second["attempt"]) == ("delayed", 2)
    assert drain_before_due(due) == []
    wait_for(lambda: now_ms() >= due, 10, "the second retry to be due")
    third, = queue_worker.drain(target, settings)["jobs"]
    assert (third["state"], third["attempt"], third["will_retry"]) == ("failed", 3, False)

    job = job_queue.queue_status(target, ["partner-segregation-jobs"], job_id=request.job_id)["job"]
    assert job["state"] == "failed" and job["attempts_made"] == 3
    assert job["failed_reason"].startswith("DatabaseConnectionError: cannot connect to database 'skillforge'")


def test_drain_stops_at_the_limit_and_leaves_the_rest_waiting(seeded_url, queue_prefix):
    target = target_for(queue_prefix)
    for job, options in sorted(REQUESTS.items()):
        job_queue.enqueue(target, job_queue.enqueue_request(job, options, dry_run=True))

    result = queue_worker.drain(target, settings_for(seeded_url), limit=2)

    assert result["stopped"] == "limit" and len(result["jobs"]) == 2
    assert sum(counts["waiting"] for counts in result["queues"].values()) == 1
    assert queue_worker.ready_jobs(target, list(job_queue.BY_QUEUE))[0] == 1


def test_redis_down_fails_the_drain_at_once():
    target = job_queue.QueueTarget(resolve_redis("redis://127.0.0.1:%d/0" % closed_port(), timeout=2))
    started = time.monotonic()
    with pytest.raises(QueueConnectionError, match="cannot connect to Redis"):
        queue_worker.drain(target, settings_for("postgresql://postgres@127.0.0.1:%d/unused" % closed_port()))
    assert time.monotonic() - started < 3


def hold_job_lock(url: str, job: str) -> psycopg.Connection:
    """Take the job's advisory lock as another run would, so a queued run waits for it."""
    conn = psycopg.connect(url, autocommit=True)
    compliance_job.acquire_job_lock(conn, job, 0)
    return conn


def read_lines(stream, lines: list) -> None:
    for line in stream:
        lines.append(line)


def start_service(database_url: str, redis_url: str, prefix: str, *arguments) -> subprocess.Popen:
    """scripts/skillforge-worker as systemd runs it: URLs from the environment, JSON lines on stdout."""
    environment = dict(os.environ, SKILLFORGE_CI_DATABASE_URL=database_url, SKILLFORGE_CI_REDIS_URL=redis_url,
                       PYTHONUNBUFFERED="1")
    worker = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, str(REPO_ROOT / "scripts" / "skillforge-worker"), "--env", "ci", "--prefix", prefix]
        + list(arguments), env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Its output is read as it comes, so a test can wait for a log record (an event, not a delay).
    worker.output = {"stdout": [], "stderr": []}
    worker.readers = [threading.Thread(target=read_lines, args=(getattr(worker, name), worker.output[name]), daemon=True)
                      for name in ("stdout", "stderr")]
    for reader in worker.readers:
        reader.start()
    return worker


def records_so_far(worker: subprocess.Popen) -> list:
    return [json.loads(line) for line in list(worker.output["stdout"])]


def wait_for_event(worker: subprocess.Popen, event: str, timeout: float = 20) -> dict:
    """The worker's first log record of ``event``, once it has written it."""
    return wait_for(lambda: next((r for r in records_so_far(worker) if r.get("event") == event), None), timeout,
                    "the worker to log %r" % event)


def exited(worker: subprocess.Popen, timeout: float) -> tuple:
    """Wait for the worker to exit: ``(stdout, stderr)``."""
    worker.wait(timeout=timeout)
    for reader in worker.readers:
        reader.join(timeout=10)
    return "".join(worker.output["stdout"]), "".join(worker.output["stderr"])


@contextlib.contextmanager
def service(*arguments):
    worker = start_service(*arguments)
    try:
        yield worker
    finally:
        if worker.poll() is None:  # the test failed before stopping it
            worker.kill()
            exited(worker, 30)


def finish(worker: subprocess.Popen) -> list:
    """Wait for the worker to exit cleanly; its JSON log records."""
    stdout, stderr = exited(worker, 30)
    assert worker.returncode == 0, stderr
    return [json.loads(line) for line in stdout.splitlines()]


def test_sigterm_lets_the_job_in_hand_finish_and_takes_no_new_job(twin_urls, queue_prefix):
    inline_url, queued_url = twin_urls
    with psycopg.connect(inline_url) as conn:
        inline = run_job(conn, "data-retention", REQUESTS["data-retention"], dry_run=False)
    target = target_for(queue_prefix)
    held = job_queue.enqueue_request("data-retention", dict(REQUESTS["data-retention"], lock_timeout=60), dry_run=False)
    later = job_queue.enqueue_request("data-retention", dict(REQUESTS["data-retention"], tenant="umbrella"),
                                      dry_run=False)
    job_queue.enqueue(target, held)

    def status(request):
        return job_queue.queue_status(target, ["data-retention-jobs"], job_id=request.job_id)["job"]

    with hold_job_lock(queued_url, "data-retention") as lock, \
            service(queued_url, REDIS_URL, queue_prefix, "--queue", "data-retention-jobs") as worker:
        wait_for(lambda: status(held)["state"] == "active", 20, "the worker to take the job")
        job_queue.enqueue(target, later)  # arrives while the job is in hand; must stay waiting
        worker.send_signal(signal.SIGTERM)
        # It says it is stopping with the job in hand, and then waits for that job (up to 60 s here).
        assert wait_for_event(worker, "stopping")["jobs_in_hand"] == 1
        assert worker.poll() is None, "the worker exited with a job in hand"
        assert status(held)["state"] == "active"
        lock.close()  # the other run ends: the job in hand can proceed
        records = finish(worker)
    progress = [r for r in records if r.get("event") == "batch-committed"]  # the job in hand's batches
    assert progress and [r["batches"] for r in progress] == list(range(1, len(progress) + 1))
    records = [r for r in records if r not in progress]
    events = [r.get("event") or r.get("state") for r in records]
    assert events == ["started", "stopping", "completed", "stopped"]
    assert records[1]["jobs_in_hand"] == 1
    assert records[2]["job"] == "data-retention" and records[2]["counts"] == inline["counts"]
    assert status(held)["state"] == "completed" and status(later)["state"] == "waiting"
    assert content(queued_url) == content(inline_url)
    assert [row[4] for row in audit_rows(queued_url)] == ["succeeded"]


def retention_run_inline_and_queued(twin_urls, prefix: str) -> tuple:
    """The retention request run inline on the first twin, and queued (waiting up to 60 s for the
    job lock) for a worker on the second: ``(inline summary, queue target, queued request)``."""
    with psycopg.connect(twin_urls[0]) as conn:
        inline = run_job(conn, "data-retention", REQUESTS["data-retention"], dry_run=False)
    target = target_for(prefix)
    request = job_queue.enqueue_request("data-retention", dict(REQUESTS["data-retention"], lock_timeout=60),
                                        dry_run=False)
    job_queue.enqueue(target, request)
    return inline, target, request


def test_the_job_of_a_killed_worker_is_taken_again_by_another_and_finishes(twin_urls, queue_prefix):
    """SIGKILL leaves the job active in BullMQ with nobody renewing its lock; once the lock lapses,
    a running worker's stalled check returns it to the queue and that worker runs it."""
    inline_url, queued_url = twin_urls
    inline, target, request = retention_run_inline_and_queued(twin_urls, queue_prefix)
    quick = ("--queue", "data-retention-jobs", "--lock-duration", "2", "--stalled-interval", "1")

    def status():
        return job_queue.queue_status(target, ["data-retention-jobs"], job_id=request.job_id)["job"]

    def attempts_started():  # BullMQ's count of workers that took the job ("ats" in its hash)
        key = "%s:data-retention-jobs:%s" % (queue_prefix, request.job_id)
        return int(redis.Redis.from_url(REDIS_URL).hget(key, "ats") or 0)

    with hold_job_lock(queued_url, "data-retention") as lock:
        with service(queued_url, REDIS_URL, queue_prefix, *quick) as killed:
            wait_for(lambda: status()["state"] == "active", 20, "the first worker to take the job")
            killed.kill()  # SIGKILL: no outcome recorded, the lock is no longer renewed
            exited(killed, 10)
        assert status()["state"] == "active" and attempts_started() == 1
        with service(queued_url, REDIS_URL, queue_prefix, *quick) as worker:
            # The lock lapses (2 s), a stalled check returns the job to the queue, the worker takes it
            # and waits for the job lock held here.
            wait_for(lambda: attempts_started() == 2, 30, "the second worker to take the stalled job")
            assert status()["state"] == "active"
            lock.close()
            wait_for(lambda: status()["state"] == "completed", 30, "the job to complete")
            worker.send_signal(signal.SIGTERM)
            records = finish(worker)
    events = [(record.get("event") or record.get("state"), record.get("job_id")) for record in records]
    assert ("stalled", request.job_id) in events
    assert events.index(("stalled", request.job_id)) < events.index(("completed", request.job_id))
    completed = [record for record in records if record.get("state") == "completed"]
    assert len(completed) == 1 and completed[0]["job_id"] == request.job_id
    assert completed[0]["counts"] == inline["counts"]
    assert content(queued_url) == content(inline_url)
    assert [row[4] for row in audit_rows(queued_url)] == ["succeeded"]  # the killed attempt wrote nothing


def test_the_job_of_a_killed_drain_runs_again_in_the_second_drain_after_its_lock_lapsed(twin_urls, queue_prefix):
    """Where only scheduled drains (the compliance_worker module) run the queues: each drain starts
    with BullMQ's stalled-job check, which marks the jobs active now and returns to the queue those
    a previous check marked whose lock has lapsed since. The job of a killed drain is marked by the
    next drain and taken again by the one after."""
    inline_url, queued_url = twin_urls
    inline, target, request = retention_run_inline_and_queued(twin_urls, queue_prefix)
    client = redis.Redis.from_url(REDIS_URL)
    job_key = "%s:data-retention-jobs:%s" % (queue_prefix, request.job_id)
    check_key = "%s:data-retention-jobs:stalled-check" % queue_prefix  # set for stalledInterval by each check
    settings = settings_for(queued_url, queues=("data-retention-jobs",), lock_duration_ms=2000,
                            stalled_interval_ms=1000)

    def status():
        return job_queue.queue_status(target, ["data-retention-jobs"], job_id=request.job_id)["job"]

    with hold_job_lock(queued_url, "data-retention") as lock:
        with service(queued_url, REDIS_URL, queue_prefix, "--once", "--queue", "data-retention-jobs",
                     "--lock-duration", "2", "--stalled-interval", "1") as killed:
            wait_for(lambda: status()["state"] == "active", 20, "the first drain to take the job")
            killed.kill()  # SIGKILL: no outcome recorded, the lock is no longer renewed
            exited(killed, 10)
        wait_for(lambda: not client.exists(check_key), 5, "the killed drain's stalled check to expire")
        marking = queue_worker.drain(target, settings)
        assert (marking["jobs"], marking["stalled"], marking["stopped"]) == ([], [], "empty")
        assert status()["state"] == "active"  # marked, not yet returned: the next check decides
    wait_for(lambda: not client.exists(job_key + ":lock") and not client.exists(check_key), 10,
             "the killed drain's job lock to lapse")
    ready, counts = queue_worker.ready_jobs(target, ["data-retention-jobs"])  # what check mode reports
    assert (ready, counts["data-retention-jobs"]["active"]) == (1, 1)
    recovering = queue_worker.drain(target, settings)
    assert recovering["stalled"] == [{"queue": "data-retention-jobs", "job_id": request.job_id}]
    outcome, = recovering["jobs"]
    assert (outcome["job_id"], outcome["state"], outcome["counts"]) == (request.job_id, "completed", inline["counts"])
    assert status()["state"] == "completed"
    stalled_lines = [json.loads(line) for line in settings.lines if '"stalled"' in line]
    assert [(line["event"], line["job_id"]) for line in stalled_lines] == [("stalled", request.job_id)]
    assert content(queued_url) == content(inline_url)
    assert [row[4] for row in audit_rows(queued_url)] == ["succeeded"]  # the killed attempt wrote nothing


def test_service_takes_as_many_jobs_at_once_as_its_concurrency(seeded_url, queue_prefix):
    target = target_for(queue_prefix)
    requests = [job_queue.enqueue_request("data-retention", dict(REQUESTS["data-retention"], tenant=tenant,
                                                                 lock_timeout=60), dry_run=False)
                for tenant in ("globex", "umbrella", "initech")]
    for request in requests:
        job_queue.enqueue(target, request)

    def counts():
        return job_queue.queue_status(target, ["data-retention-jobs"])["queues"]["data-retention-jobs"]["counts"]

    # Every job waits for the job lock once started.
    with hold_job_lock(seeded_url, "data-retention") as lock, \
            service(seeded_url, REDIS_URL, queue_prefix, "--queue", "data-retention-jobs", "--concurrency", "2") as worker:
        wait_for(lambda: counts()["active"] == 2, 20, "two jobs in hand")
        assert (counts()["active"], counts()["waiting"]) == (2, 1)
        lock.close()
        wait_for(lambda: counts()["completed"] == 3, 60, "all three jobs to complete")
        worker.send_signal(signal.SIGTERM)
        records = finish(worker)
    completed = [record for record in records if record.get("state") == "completed"]
    assert sorted(record["job_id"] for record in completed) == sorted(request.job_id for request in requests)
    assert [row[4] for row in audit_rows(seeded_url)] == ["succeeded"] * 3
    # Never more than the concurrency in hand, over the whole run: BullMQ's own times of each job.
    assert most_in_hand_at_once(queue_prefix, "data-retention-jobs", [request.job_id for request in requests]) == 2


def most_in_hand_at_once(prefix: str, queue: str, job_ids: list) -> int:
    """The most jobs that were active at the same time, from each job's processedOn and finishedOn
    (ms, the worker's clock); a job finishing frees its slot for one taken at the same ms."""
    changes = []
    with redis.Redis.from_url(REDIS_URL, decode_responses=True) as client:
        for job_id in job_ids:
            taken, finished = client.hmget("%s:%s:%s" % (prefix, queue, job_id), "processedOn", "finishedOn")
            changes += [(int(taken), 1), (int(finished), -1)]
    in_hand = most = 0
    for _moment, change in sorted(changes):  # at the same ms, -1 sorts before +1
        in_hand += change
        most = max(most, in_hand)
    return most


def test_service_with_redis_down_exits_at_once_with_a_clear_message(queue_prefix):
    port = closed_port()
    worker = start_service("postgresql://postgres@127.0.0.1:%d/unused" % closed_port(),
                           "redis://:service-secret@127.0.0.1:%d/0" % port, queue_prefix)
    stdout, stderr = exited(worker, 15)
    assert worker.returncode == 1, stderr
    record = json.loads(stdout.strip().splitlines()[-1])
    assert record["event"] == "fatal"
    assert record["error"].startswith("cannot connect to Redis at 127.0.0.1:%d (URL from SKILLFORGE_CI_REDIS_URL)" % port)
    assert "service-secret" not in stdout + stderr


@pytest.mark.slow
def test_many_workers_and_a_drain_on_one_queue_lose_no_job(seeded_url, queue_prefix):
    """Two services with two slots each and a drain, all on one queue: jobs that find another run
    holding the job lock wait in the delayed set without spending an attempt, and every job
    completes once (before, each collision burnt an attempt and half the jobs ended failed)."""
    target = target_for(queue_prefix)
    requests = [job_queue.enqueue_request("data-retention", dict(REQUESTS["data-retention"], tenant=tenant,
                                                                 before=before), dry_run=False)
                for tenant in ("globex", "umbrella", "initech", "acme-partners")
                for before in ("2024-06-01T00:00:00Z", "2024-07-01T00:00:00Z")]
    for request in requests:
        job_queue.enqueue(target, request)

    def counts():
        return job_queue.queue_status(target, ["data-retention-jobs"])["queues"]["data-retention-jobs"]["counts"]

    arguments = (seeded_url, REDIS_URL, queue_prefix, "--queue", "data-retention-jobs", "--concurrency", "2",
                 "--busy-delay", "0.2")
    # An operator's run holds the job lock at first: every job taken then must wait, not fail.
    with hold_job_lock(seeded_url, "data-retention") as lock, \
            service(*arguments) as first, service(*arguments) as second:
        drained = queue_worker.drain(target, settings_for(seeded_url, queues=("data-retention-jobs",),
                                                          busy_delay_ms=200), limit=len(requests), time_budget=60)
        assert drained["jobs"] and {job["state"] for job in drained["jobs"]} == {"delayed"}
        lock.close()
        wait_for(lambda: counts()["completed"] == len(requests), 120, "every job to complete")
        for worker in (first, second):
            worker.send_signal(signal.SIGTERM)
        records = finish(first) + finish(second)
    assert counts()["failed"] == 0
    outcomes = records + drained["jobs"]
    completed = [record["job_id"] for record in outcomes if record.get("state") == "completed"]
    assert sorted(completed) == sorted(request.job_id for request in requests)  # each exactly once
    busy = [record for record in outcomes if record.get("state") == "delayed"]
    assert busy and all("no attempt spent" in record["error"] for record in busy)
    assert [row[4] for row in audit_rows(seeded_url)] == ["succeeded"] * len(requests)
