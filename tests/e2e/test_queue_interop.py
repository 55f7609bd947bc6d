"""Interoperability with the API's side: real Redis, real Node.js BullMQ (npm ``bullmq``)."""

from __future__ import annotations

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._queue import jobs as job_queue
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import resolve_redis
from queue_testing import REDIS_URL, node_bullmq, queue_prefix  # noqa: F401  pylint: disable=unused-import

# In the collection's terms, as a compliance module passes them: each job with the options it takes.
COMMON = {"triggered_by": "dpo@example.invalid", "reason": "GDPR art. 17 request", "note": None, "batch_size": 500}
OPTIONS = {
    "consent-revocation": dict(COMMON, user=["usr-1", "usr-2"]),
    "data-retention": dict(COMMON, tenant="acme-partners", before="2026-01-01T00:00:00+00:00", retention_months=None),
    "partner-segregation": dict(COMMON, tenant="acme-partners"),
}
PAYLOADS = {
    "consent-revocation": {"scope": {"user": ["usr-1", "usr-2"]}},
    "data-retention": {"scope": {"tenant": "acme-partners"}, "cutoff": "2026-01-01T00:00:00+00:00"},
    "partner-segregation": {"scope": {"tenant": "acme-partners"}},
}


@pytest.mark.parametrize("entry", job_queue.QUEUED_JOBS, ids=lambda entry: entry.job)
def test_job_enqueued_from_python_is_consumed_by_node_worker(entry, queue_prefix, node_bullmq):
    target = job_queue.QueueTarget(resolve_redis(REDIS_URL), queue_prefix)
    request = job_queue.enqueue_request(entry.job, OPTIONS[entry.job], dry_run=False, attempts=4, backoff_seconds=2)
    added = job_queue.enqueue(target, request)
    assert added["changed"] is True and added["state"] == "waiting"

    consumed = node_bullmq.run("consume", queue=entry.queue, prefix=queue_prefix, count=1, timeoutMs=15000)

    assert len(consumed["jobs"]) == 1
    job = consumed["jobs"][0]
    assert job["id"] == request.job_id
    assert job["name"] == entry.name
    assert job["data"] == dict(PAYLOADS[entry.job], triggeredBy="dpo@example.invalid", reason="GDPR art. 17 request",
                               batchSize=500, dryRun=False)
    assert job["opts"]["attempts"] == 4
    assert job["opts"]["backoff"] == {"type": "exponential", "delay": 2000}
    assert job["opts"]["removeOnComplete"] == job_queue.KEEP_COMPLETED
    # Node completed it; the collection reads the Node worker's return value back.
    status = job_queue.queue_status(target, [entry.queue], job_id=request.job_id)
    assert status["job"]["state"] == "completed"
    assert status["job"]["return_value"] == {"consumedBy": "node", "jobName": entry.name}


def test_deterministic_ids_are_accepted_by_node_bullmq(node_bullmq):
    for entry in job_queue.QUEUED_JOBS:
        for dry_run in (True, False):
            job_id = job_queue.enqueue_request(entry.job, OPTIONS[entry.job], dry_run).job_id
            assert node_bullmq.run("validate", jobId=job_id) == {"valid": True}


@pytest.mark.parametrize("job_id", ["12345", "a:b", "consent:revocation:x:y"])
def test_ids_node_bullmq_rejects_are_rejected_before_redis(job_id, node_bullmq):
    assert node_bullmq.run("validate", jobId=job_id)["valid"] is False
    with pytest.raises(job_queue.QueueConfigError):
        job_queue.validate_job_id(job_id)


def test_node_sees_one_job_when_python_enqueues_twice(queue_prefix, node_bullmq):
    target = job_queue.QueueTarget(resolve_redis(REDIS_URL), queue_prefix)
    request = job_queue.enqueue_request("data-retention", OPTIONS["data-retention"], dry_run=True)
    assert job_queue.enqueue(target, request)["changed"] is True
    again = job_queue.enqueue(target, request)
    assert again["changed"] is False and again["state"] == "waiting"

    consumed = node_bullmq.run("consume", queue="data-retention-jobs", prefix=queue_prefix, count=2, timeoutMs=3000)
    assert [job["id"] for job in consumed["jobs"]] == [request.job_id]


# Values whose JSON Python and JavaScript write differently unless the canonical form says how.
CANONICAL_VALUES = [
    {"b": 1, "a": [True, False, None], "nested": {"z": "", "y": {}}},
    [1, 2.5, 0.1, 1e-7, 1.5e-10, 0.000001, 1e21, 1e20, -3.25e-8, 123456789012345680000.0],
    "é ☃ \u2028 \n\r\t\b\f\x01\x1f\x7f \" \\",
    {"\ue000": 1, "z\U0001F600": 2, "Z": 3},
]


def test_canonical_json_is_the_same_in_node_and_python(node_bullmq):
    from ansible_collections.skillforge.dataops.plugins.module_utils._queue.signing import canonical_json
    node = node_bullmq.run("canonical", values=CANONICAL_VALUES)["canonical"]
    assert node == [canonical_json(value) for value in CANONICAL_VALUES]


def test_a_job_signed_by_the_collection_verifies_with_the_node_code(queue_prefix, node_bullmq):
    """The signature the collection stores is the one tests/node/signing.js computes for the same data."""
    from ansible_collections.skillforge.dataops.plugins.module_utils._queue import signing
    key = "interop-key-" + "c3" * 16
    target = job_queue.QueueTarget(resolve_redis(REDIS_URL), queue_prefix)
    request = job_queue.enqueue_request("data-retention", OPTIONS["data-retention"], dry_run=True, signing_keys=(key,))
    job_queue.enqueue(target, request)
    stored = node_bullmq.run("get", queue="data-retention-jobs", prefix=queue_prefix, id=request.job_id)["data"]
    node_bullmq.run("add", queue="data-retention-jobs", prefix=queue_prefix, name="data-retention", signingKey=key,
                    data={k: v for k, v in stored.items() if k != "signature"}, opts={"jobId": "node-copy-1"})
    copy = node_bullmq.run("get", queue="data-retention-jobs", prefix=queue_prefix, id="node-copy-1")["data"]
    assert copy["signature"] == stored["signature"] == request.data["signature"]
    assert signing.verify((key,), "data-retention-jobs", "data-retention", copy) == "verified"
