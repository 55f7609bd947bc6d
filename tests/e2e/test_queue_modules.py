"""compliance_worker and queue_info as an operator runs them: ansible-playbook on real Redis and
PostgreSQL."""

from __future__ import annotations

import psycopg
import redis
import yaml

import sample_data
from ansible_collections.skillforge.dataops.plugins.module_utils._queue import jobs as job_queue
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import resolve_redis
from queue_testing import REDIS_URL, closed_port, node_bullmq, queue_prefix  # noqa: F401  pylint: disable=unused-import

RETENTION = {"tenant": "globex", "before": "2024-06-01T00:00:00Z", "triggered_by": "dpo@example.invalid"}


def playbook(tmp_path, *tasks) -> str:
    path = tmp_path / "queue_play.yml"
    path.write_text(yaml.safe_dump([{
        "name": "Queue", "hosts": "{{ skillforge_hosts | default('skillforge_db') }}", "gather_facts": False,
        "module_defaults": {
            "group/skillforge.dataops.database": {"env": "{{ skillforge_env }}"},
            "group/skillforge.dataops.redis": {"env": "{{ skillforge_env }}", "queue_prefix": "{{ prefix }}"}},
        "tasks": list(tasks)}], sort_keys=False))
    return str(path)


def failed_tasks(run) -> list:
    return [entry["task"] for entry in run.results if entry["event"] == "runner_on_failed"]


def task(name, module, check=False, ignore_errors=False, **options):
    entry = {"name": name, "skillforge.dataops." + module: options}
    if check:
        entry["check_mode"] = True
    if ignore_errors:
        entry["ignore_errors"] = True
    return entry


def test_compliance_worker_predicts_runs_and_reports_jobs(tmp_path, run_playbook, migrated_database_url, queue_prefix):
    with psycopg.connect(migrated_database_url) as conn:
        sample_data.generate(conn, seed=3, users_per_tenant=8)
    target = job_queue.QueueTarget(resolve_redis(REDIS_URL), queue_prefix)
    real = job_queue.enqueue_request("data-retention", RETENTION, dry_run=False)
    dry = job_queue.enqueue_request("partner-segregation", {"tenant": "initech", "triggered_by": "ops"}, dry_run=True)
    for request in (real, dry):
        job_queue.enqueue(target, request)

    run = run_playbook(playbook(
        tmp_path,
        task("Predict", "compliance_worker", check=True),
        task("Drain", "compliance_worker"),
        task("Drain again", "compliance_worker"),
        task("Read back", "queue_info", job_id=real.job_id, states=["completed"]),
    ), extra_vars={"prefix": queue_prefix},
        env={"DATABASE_URL": migrated_database_url, "REDIS_URL": REDIS_URL})

    assert run.rc == 0, run.stdout
    predicted, drained, again, info = (run.result(name) for name in ("Predict", "Drain", "Drain again", "Read back"))
    assert (predicted["changed"], predicted["ready"], predicted["jobs"]) == (True, 2, [])
    assert drained["changed"] is True and drained["stopped"] == "empty"
    assert sorted((job["job_id"], job["state"]) for job in drained["jobs"]) == sorted(
        [(real.job_id, "completed"), (dry.job_id, "completed")])
    assert (again["changed"], again["jobs"]) == (False, [])
    executed = next(job for job in drained["jobs"] if job["job_id"] == real.job_id)
    assert info["changed"] is False and info["job"]["state"] == "completed"
    assert info["job"]["return_value"] == executed["summary"] and executed["summary"]["mode"] == "execute"
    assert len(info["queues"]["data-retention-jobs"]["jobs"]) == 1
    assert drained["database"]["url"] and "redis" in drained


def test_compliance_worker_fails_the_task_when_a_job_fails(
        tmp_path, run_playbook, migrated_database_url, queue_prefix):
    target = job_queue.QueueTarget(resolve_redis(REDIS_URL), queue_prefix)
    bad = job_queue.enqueue_request("consent-revocation", {"user": ["usr-missing"], "triggered_by": "dpo"}, False)
    job_queue.enqueue(target, bad)

    run = run_playbook(playbook(tmp_path, task("Drain", "compliance_worker", ignore_errors=True)),
                       extra_vars={"prefix": queue_prefix},
                       env={"DATABASE_URL": migrated_database_url, "REDIS_URL": REDIS_URL})

    result = run.result("Drain")
    assert failed_tasks(run) == ["Drain"]
    assert result["msg"] == "1 of 1 job(s) failed: consent-revocation-jobs %s: consent-revocation: 1 of 1 user ids " \
                            "are unknown: usr-missing" % bad.job_id
    assert result["jobs"][0]["state"] == "failed"


def test_a_redis_url_without_a_password_is_shown_as_given(tmp_path, run_playbook, queue_prefix):
    run = run_playbook(playbook(tmp_path, task("Status", "queue_info", redis_url=REDIS_URL)),
                       extra_vars={"prefix": queue_prefix})

    assert run.rc == 0, run.stdout
    assert run.result("Status")["redis"]["url"] == REDIS_URL  # not VALUE_SPECIFIED_IN_NO_LOG_PARAMETER


def test_queue_info_with_redis_down_fails_fast_without_the_password(tmp_path, run_playbook, queue_prefix):
    url = "redis://:hunter2-secret@127.0.0.1:%d/0" % closed_port()
    run = run_playbook(playbook(tmp_path, task("Status", "queue_info", ignore_errors=True, redis_url=url,
                                               redis_timeout=2)),
                       extra_vars={"prefix": queue_prefix})

    result = run.result("Status")
    assert failed_tasks(run) == ["Status"] and result["msg"].startswith("cannot connect to Redis at 127.0.0.1:")
    assert "hunter2-secret" not in run.stdout and "hunter2-secret" not in str(result)
    assert result["redis"]["url"].startswith("redis://:********@")


def test_queue_true_adds_one_job_node_consumes_it(tmp_path, run_playbook, queue_prefix, node_bullmq):
    options = {"tenant": "globex", "before": "2024-06-01", "triggered_by": "dpo@example.invalid",
               "reason": "ticket 9", "batch_size": 200, "queue": True, "queue_attempts": 4, "queue_backoff": 5}
    run = run_playbook(playbook(
        tmp_path,
        task("Predict", "data_retention", check=True, **options),
        task("Queue", "data_retention", **options),
        task("Queue again", "data_retention", **options),
        task("Refused", "consent_revocation", ignore_errors=True, tenant="globex", user=["usr-1"], queue=True),
    ), extra_vars={"prefix": queue_prefix},
        # Queueing never touches the database: an unreachable one proves it.
        env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:%d/unused" % closed_port(), "REDIS_URL": REDIS_URL})

    assert run.rc == 0, run.stdout
    predicted, queued, again = (run.result(name) for name in ("Predict", "Queue", "Queue again"))
    assert (predicted["changed"], predicted["state"], predicted["queued"]) == (True, "absent", True)
    assert (queued["changed"], queued["state"], queued["job_id"]) == (True, "waiting", predicted["job_id"])
    assert (again["changed"], again["state"], again["job_id"]) == (False, "waiting", queued["job_id"])
    assert queued["queue"] == "data-retention-jobs" and "summary" not in queued
    # A request an inline run refuses fails the task in the same words before anything is queued (the
    # JSON Schema would refuse its payload too), and nothing is written to Redis.
    refused = run.result("Refused")
    assert failed_tasks(run) == ["Refused"] and refused["msg"] == (
        "consent-revocation: set exactly one of tenant or user (got tenant and user)")
    assert not list(redis.Redis.from_url(REDIS_URL).scan_iter(match="%s:consent-revocation-jobs:*" % queue_prefix))

    consumed = node_bullmq.run("consume", queue="data-retention-jobs", prefix=queue_prefix, count=2, timeoutMs=3000)
    job, = consumed["jobs"]
    assert (job["id"], job["name"]) == (queued["job_id"], "data-retention")
    # retention_months is not set, so the payload has no retentionMonths (the job's default, 24, or
    # here the cutoff applies).
    assert job["data"] == {"scope": {"tenant": "globex"}, "cutoff": "2024-06-01", "triggeredBy": "dpo@example.invalid",
                           "reason": "ticket 9", "batchSize": 200, "lockTimeout": 0, "dryRun": False}
    assert job["opts"]["attempts"] == 4 and job["opts"]["backoff"] == {"type": "exponential", "delay": 5000}


def test_role_queues_a_dry_run_that_the_worker_runs(tmp_path, run_playbook, migrated_database_url, queue_prefix):
    with psycopg.connect(migrated_database_url) as conn:
        sample_data.generate(conn, seed=5, users_per_tenant=8)
    play = tmp_path / "role_play.yml"
    play.write_text(yaml.safe_dump([
        {"name": "Queue", "hosts": "{{ skillforge_hosts | default('skillforge_db') }}", "gather_facts": False,
         "roles": [{"role": "skillforge.dataops.compliance"}]},
        {"name": "Work", "hosts": "{{ skillforge_hosts | default('skillforge_db') }}", "gather_facts": False,
         "tasks": [task("Drain", "compliance_worker", env="{{ skillforge_env }}", queue_prefix="{{ prefix }}")]},
    ], sort_keys=False))
    run = run_playbook(str(play), extra_vars={
        "prefix": queue_prefix, "compliance_queue_prefix": queue_prefix, "compliance_queue": True,
        "compliance_job": "partner-segregation", "compliance_tenant": "initech", "compliance_triggered_by": "ops"},
        env={"DATABASE_URL": migrated_database_url, "REDIS_URL": REDIS_URL})

    assert run.rc == 0, run.stdout
    queued = run.result("Run partner-segregation")
    outcome, = run.result("Drain")["jobs"]
    assert queued["data"]["dryRun"] is True and outcome["job_id"] == queued["job_id"]
    # The role's one set_fact keeps the queued job and leaves compliance_summary undefined.
    kept = run.result("Keep the job summary (the queued job with compliance_queue=true)")["ansible_facts"]
    assert list(kept) == ["compliance_queued_job"] and kept["compliance_queued_job"]["job_id"] == queued["job_id"]
    assert outcome["state"] == "completed" and outcome["summary"]["mode"] == "dry-run"
    assert outcome["counts"] and outcome["summary"]["scope"] == {"tenant": "initech"}
