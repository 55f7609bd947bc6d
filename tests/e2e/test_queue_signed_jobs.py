"""Signed jobs on real Redis and PostgreSQL, from the collection and from Node.js BullMQ: a worker with a
key runs the jobs signed with it and rejects unsigned, tampered or foreign-signed ones for good, before
anything runs (the database unchanged, no audit row)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._queue import jobs as job_queue
from ansible_collections.skillforge.dataops.plugins.module_utils._queue import worker as queue_worker
from queue_testing import node_bullmq, queue_prefix  # noqa: F401  pylint: disable=unused-import
from test_queue_worker import REQUESTS, audit_rows, content, seeded, settings_for, target_for

KEY = "e2e-signing-key-" + "a1" * 16
OLD_KEY = "e2e-retired-key-" + "b2" * 16
ENTRY = job_queue.queued_job("data-retention")


@pytest.fixture
def seeded_url(migrated_database_url) -> str:
    return seeded(migrated_database_url)


def assert_rejected(outcome: dict, job_id: str, target, reason: str) -> None:
    assert (outcome["job_id"], outcome["state"], outcome["will_retry"], outcome["attempt"], outcome["outcome"]) == (
        job_id, "failed", False, 1, "rejected")
    job = job_queue.queue_status(target, [ENTRY.queue], job_id=job_id)["job"]
    assert job["state"] == "failed" and job["failed_reason"].startswith("data-retention: " + reason)
    assert KEY not in job["failed_reason"] and "sha256=" not in job["failed_reason"]


def test_a_worker_with_a_key_runs_signed_jobs_and_rejects_the_others(seeded_url, queue_prefix, node_bullmq):
    target = target_for(queue_prefix)
    before = content(seeded_url)
    request = dict(REQUESTS["data-retention"])
    unsigned = job_queue.enqueue_request("data-retention", request, dry_run=False, attempts=3)
    job_queue.enqueue(target, unsigned)
    node_bullmq.run("add", queue=ENTRY.queue, prefix=queue_prefix, name=ENTRY.name, signingKey=KEY,
                    data=job_queue.build_payload(request, dry_run=True), tamper={"dryRun": False},
                    opts={"jobId": "api-tampered-1", "attempts": 3})
    node_bullmq.run("add", queue=ENTRY.queue, prefix=queue_prefix, name=ENTRY.name, signingKey=OLD_KEY,
                    data=job_queue.build_payload(request, dry_run=False), opts={"jobId": "api-old-key-1", "attempts": 3})
    # signed for the partner segregation queue, replayed on the data retention one
    node_bullmq.run("add", queue=ENTRY.queue, prefix=queue_prefix, name=ENTRY.name, signingKey=KEY,
                    signedFor=["partner-segregation-jobs", "partner-segregation"],
                    data={"scope": {"tenant": "globex"}, "dryRun": False}, opts={"jobId": "api-replayed-1"})
    settings = settings_for(seeded_url, signing_keys=(KEY,))

    outcomes = queue_worker.drain(target, settings)["jobs"]

    assert len(outcomes) == 4
    by_id = {outcome["job_id"]: outcome for outcome in outcomes}
    assert_rejected(by_id[unsigned.job_id], unsigned.job_id, target, "job data is not signed")
    for job_id in ("api-tampered-1", "api-old-key-1", "api-replayed-1"):
        assert_rejected(by_id[job_id], job_id, target, "job data signature does not match")
    assert content(seeded_url) == before and audit_rows(seeded_url) == []
    records = [json.loads(line) for line in settings.lines]
    assert sorted(r["outcome"] for r in records) == ["rejected"] * 4
    assert not any(KEY in line or OLD_KEY in line for line in settings.lines)

    # The same request signed by the collection (the old key retired, the new one first) runs.
    signed = job_queue.enqueue_request("data-retention", request, dry_run=False, signing_keys=(KEY, OLD_KEY))
    assert signed.job_id == unsigned.job_id  # so it is added again only because that one failed: remove it
    job_queue.run_bounded(lambda client: target.queue(client, ENTRY.queue).remove(signed.job_id), target.redis)
    added = job_queue.enqueue(target, signed)
    assert added["changed"] is True and added["signed"] is True and "signature" not in added["data"]
    outcome, = queue_worker.drain(target, settings_for(seeded_url, signing_keys=(KEY, OLD_KEY)))["jobs"]
    assert outcome["state"] == "completed" and outcome["summary"]["mode"] == "execute"
    assert content(seeded_url) != before and len(audit_rows(seeded_url)) == 1
    shown = job_queue.queue_status(target, [ENTRY.queue], job_id=signed.job_id)["job"]
    assert shown["signed"] is True and "signature" not in shown["data"]


@pytest.mark.parametrize("job", sorted(REQUESTS))
def test_a_job_signed_in_node_runs_on_the_collections_worker(job, seeded_url, queue_prefix, node_bullmq):
    entry = job_queue.queued_job(job)
    data = job_queue.build_payload(dict(REQUESTS[job], lock_timeout=0.5), dry_run=True)
    node_bullmq.run("add", queue=entry.queue, prefix=queue_prefix, name=entry.name, data=data, signingKey=KEY,
                    opts={"jobId": "api-signed-%s" % job})
    outcome, = queue_worker.drain(target_for(queue_prefix), settings_for(seeded_url, signing_keys=(OLD_KEY, KEY)))["jobs"]
    assert (outcome["job_id"], outcome["state"]) == ("api-signed-%s" % job, "completed")


def test_a_worker_without_a_key_runs_unsigned_and_signed_jobs(seeded_url, queue_prefix):
    target = target_for(queue_prefix)
    for keys in ((), (KEY,)):
        job_queue.enqueue(target, job_queue.enqueue_request(
            "partner-segregation", dict(REQUESTS["partner-segregation"], reason="keys %d" % len(keys)), dry_run=True,
            signing_keys=keys))
    outcomes = queue_worker.drain(target, settings_for(seeded_url))["jobs"]
    assert [outcome["state"] for outcome in outcomes] == ["completed", "completed"]
