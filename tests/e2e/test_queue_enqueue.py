"""Enqueueing against the real Redis: check mode, dedup, and Redis unreachable, silent or refusing."""

from __future__ import annotations

import json
import time

import pytest
import redis

from ansible_collections.skillforge.dataops.plugins.module_utils._queue import jobs as job_queue
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import (
    QueueConnectionError,
    resolve_redis,
)
from queue_testing import REDIS_URL, closed_port, queue_prefix, silent_redis  # noqa: F401  pylint: disable=unused-import

OPTIONS = {"tenant": "globex", "before": "2024-01-01", "triggered_by": "dpo@example.invalid", "reason": "ticket 42"}


def keys_under(prefix: str) -> list:
    return sorted(redis.Redis.from_url(REDIS_URL, decode_responses=True).scan_iter(match="%s:*" % prefix))


def test_check_mode_reports_the_job_and_adds_nothing_then_run_adds_it_once(queue_prefix):
    target = job_queue.QueueTarget(resolve_redis(REDIS_URL), queue_prefix)
    request = job_queue.enqueue_request("data-retention", OPTIONS, dry_run=False)

    predicted = job_queue.enqueue(target, request, check_mode=True)
    assert predicted["changed"] is True and predicted["state"] == "absent"
    assert predicted["job_id"] == request.job_id and predicted["queue"] == "data-retention-jobs"
    assert keys_under(queue_prefix) == []

    added = job_queue.enqueue(target, request)
    assert (added["changed"], added["state"], added["job_id"]) == (True, "waiting", predicted["job_id"])

    for check_mode in (True, False):
        again = job_queue.enqueue(target, request, check_mode=check_mode)
        assert (again["changed"], again["state"]) == (False, "waiting")
    counts = job_queue.queue_status(target, ["data-retention-jobs"])["queues"]["data-retention-jobs"]["counts"]
    assert counts["waiting"] == 1


def test_job_is_stored_with_its_payload_and_retry_options(queue_prefix):
    target = job_queue.QueueTarget(resolve_redis(REDIS_URL), queue_prefix)
    request = job_queue.enqueue_request("consent-revocation", {"user": ["usr-1"], "triggered_by": "api"}, dry_run=True,
                                        attempts=5, backoff_seconds=10)
    job_queue.enqueue(target, request)
    job = job_queue.queue_status(target, ["consent-revocation-jobs"], job_id=request.job_id)["job"]
    assert job["job_name"] == "consent-revocation" and job["attempts"] == 5
    assert job["data"] == {"scope": {"user": ["usr-1"]}, "triggeredBy": "api", "dryRun": True}
    stored = redis.Redis.from_url(REDIS_URL, decode_responses=True).hget(
        "%s:consent-revocation-jobs:%s" % (queue_prefix, request.job_id), "opts")
    assert json.loads(stored)["backoff"] == {"type": "exponential", "delay": 10000}


def test_redis_refusing_connections_fails_at_once_with_a_clear_message(queue_prefix):
    port = closed_port()
    target = job_queue.QueueTarget(resolve_redis("redis://:pw-not-shown@127.0.0.1:%d/0" % port, timeout=5),
                                   queue_prefix)
    started = time.monotonic()
    with pytest.raises(QueueConnectionError) as failure:
        job_queue.enqueue(target, job_queue.enqueue_request("data-retention", OPTIONS, False))
    assert time.monotonic() - started < 3
    assert "cannot connect to Redis at 127.0.0.1:%d (URL from option redis_url)" % port in str(failure.value)
    assert "pw-not-shown" not in str(failure.value)


@pytest.mark.parametrize("timeout", [0.5, 1.5])
def test_silent_redis_fails_within_the_configured_timeout(silent_redis, timeout):
    target = job_queue.QueueTarget(resolve_redis(silent_redis, timeout=timeout))
    started = time.monotonic()
    with pytest.raises(QueueConnectionError, match="did not answer within %g seconds" % timeout):
        job_queue.enqueue(target, job_queue.enqueue_request("data-retention", OPTIONS, False))
    elapsed = time.monotonic() - started
    assert timeout * 0.9 <= elapsed < timeout + 1.5


def test_redis_refusing_the_password_names_the_problem_not_the_password(queue_prefix):
    url = REDIS_URL.replace("redis://", "redis://nobody:wrong-secret-123@", 1)
    target = job_queue.QueueTarget(resolve_redis(url, timeout=3), queue_prefix)
    with pytest.raises(QueueConnectionError) as failure:
        job_queue.enqueue(target, job_queue.enqueue_request("data-retention", OPTIONS, False))
    assert "refused the credentials" in str(failure.value)
    assert "wrong-secret-123" not in str(failure.value)
    assert keys_under(queue_prefix) == []


def test_simultaneous_enqueues_of_one_request_make_one_job_and_one_change(queue_prefix):
    """Four callers at once: one job, and exactly one of them reports changed (the look and the add
    are one step)."""
    import threading  # pylint: disable=import-outside-toplevel

    target = job_queue.QueueTarget(resolve_redis(REDIS_URL), queue_prefix)
    request = job_queue.enqueue_request("data-retention", OPTIONS, dry_run=False)
    start, results = threading.Barrier(4), []

    def enqueue():
        start.wait()
        results.append(job_queue.enqueue(target, request)["changed"])

    callers = [threading.Thread(target=enqueue) for _caller in range(4)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=30)
    assert sorted(results) == [False, False, False, True]
    counts = job_queue.queue_status(target, ["data-retention-jobs"])["queues"]["data-retention-jobs"]["counts"]
    assert counts["waiting"] == 1
    assert not [key for key in keys_under(queue_prefix) if "skillforge-enqueue" in key]  # the guard is gone
