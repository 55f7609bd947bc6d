"""Contract tests of ``_queue/bullmq_compat``: one per bullmq internal it relies on, against the
installed bullmq and the real Redis (SKILLFORGE_TEST_REDIS_URL, default 127.0.0.1:6379).

Each test works under a BullMQ prefix of its own and deletes its keys afterwards. A bullmq upgrade
that renames, re-signs or changes the behaviour of one of these internals fails here."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from bullmq import LockManager, Queue, Worker
from bullmq.job import Job

from ansible_collections.skillforge.dataops.plugins.module_utils._queue import bullmq_compat, worker as queue_worker
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.jobs import BY_QUEUE, QueueTarget
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.bullmq_compat import (
    BullMQVersionError,
    check_version,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.connection import resolve_database
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import resolve_redis

REDIS_URL = os.environ.get("SKILLFORGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REPO_ROOT = Path(__file__).resolve().parents[4]
QUEUE = "compat-jobs"


def run_on_redis(test):
    """Run ``await test(client, prefix)`` with a fresh client and prefix; delete the prefix's keys after."""
    prefix = "sftest-compat-%s" % uuid.uuid4().hex[:12]

    async def main():
        client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=3)
        try:
            return await test(client, prefix)
        finally:
            keys = [key async for key in client.scan_iter(match="%s:*" % prefix, count=500)]
            if keys:
                await client.delete(*keys)
            await client.aclose()

    return asyncio.run(main())


def queue_and_worker(client, prefix, processor=None, **opts):
    queue = Queue(QUEUE, {"connection": client, "prefix": prefix})
    worker = Worker(QUEUE, processor or (lambda job, token: None),
                    dict({"connection": client, "prefix": prefix, "autorun": False}, **opts))
    return queue, worker


# --- the version range ---------------------------------------------------------------------------

def test_supported_range_is_the_requirements_range_and_holds_the_locked_version():
    requirement, = re.findall(r"^bullmq\S*", (REPO_ROOT / "requirements.txt").read_text(), re.M)
    assert requirement == "bullmq" + bullmq_compat.SUPPORTED_TEXT
    low, high = re.fullmatch(r">=([\d.]+),<([\d.]+)", bullmq_compat.SUPPORTED_TEXT).groups()
    assert bullmq_compat.SUPPORTED == (bullmq_compat.version_tuple(low), bullmq_compat.version_tuple(high))
    locked, = re.findall(r"^bullmq==(\S+)$", (REPO_ROOT / "requirements-lock.txt").read_text(), re.M)
    assert check_version(locked) == locked
    assert check_version() == bullmq_compat.INSTALLED_VERSION


@pytest.mark.parametrize("version", ["4.0.0", "3.3.9", "2", "5.1.0rc1", "garbage", "(none)"])
def test_a_version_outside_the_range_fails_in_one_line_naming_both(version):
    with pytest.raises(BullMQVersionError) as refused:
        check_version(version)
    message = str(refused.value)
    assert "\n" not in message
    assert "bullmq %s is installed" % version in message
    assert "bullmq >=3.4,<4" in message


def test_the_worker_refuses_an_unsupported_bullmq_before_it_reaches_redis(monkeypatch):
    monkeypatch.setattr(bullmq_compat, "INSTALLED_VERSION", "4.0.0")
    target = QueueTarget(resolve_redis("redis://127.0.0.1:1/0"))  # nothing listens: must not be reached
    settings = queue_worker.WorkerSettings(database=resolve_database(dsn="postgresql://postgres@127.0.0.1/unused"))
    for call in (lambda: queue_worker.drain(target, settings), lambda: queue_worker.ready_jobs(target, list(BY_QUEUE))):
        with pytest.raises(BullMQVersionError, match=r"^bullmq 4\.0\.0 is installed but the queue worker supports bullmq >=3\.4,<4"):
            call()


# --- the worker's internals ----------------------------------------------------------------------

def test_worker_internals_keep_their_signatures():
    def parameters(function):
        return list(inspect.signature(function).parameters)

    assert inspect.iscoroutinefunction(Worker.moveToActive) and parameters(Worker.moveToActive) == ["self", "token"]
    assert inspect.iscoroutinefunction(Worker.processJob) and parameters(Worker.processJob) == ["self", "job", "token"]
    assert inspect.iscoroutinefunction(Worker.runStalledJobsCheck) and parameters(Worker.runStalledJobsCheck) == ["self"]
    assert not inspect.iscoroutinefunction(LockManager.start) and parameters(LockManager.start) == ["self"]
    assert inspect.iscoroutinefunction(LockManager.close) and parameters(LockManager.close) == ["self"]
    assert inspect.iscoroutinefunction(Job.moveToDelayed) and parameters(Job.moveToDelayed) == ["self", "timestamp", "token"]

    async def test(client, prefix):
        worker = queue_and_worker(client, prefix)[1]
        assert isinstance(worker.lockManager, LockManager)
        assert isinstance(worker.jobs, set) and bullmq_compat.jobs_in_hand(worker) == 0
        assert isinstance(worker.id, str) and worker.id
        await bullmq_compat.stop_lock_renewal(worker)

    run_on_redis(test)


def test_take_next_job_makes_it_active_under_the_token_and_process_job_completes_it():
    async def test(client, prefix):
        seen = {}

        async def processor(job, token):
            seen["in_hand"] = bullmq_compat.jobs_in_hand(worker)
            seen["token"] = token
            return {"done": job.data["n"]}

        queue, worker = queue_and_worker(client, prefix, processor)
        events = []
        for event in ("active", "completed", "failed", "error"):
            worker.on(event, lambda *args, event=event: events.append((event,) + args))
        added = await queue.add("compat", {"n": 7}, {"jobId": "compat-1"})
        job, token = await bullmq_compat.take_next_job(worker)
        assert job.id == added.id and job.data == {"n": 7}
        assert await queue.getJobState(added.id) == "active"
        assert token.startswith(worker.id + ":")
        assert await client.get(queue.toKey(added.id) + ":lock") == token
        assert [(event[0], event[1].id, event[2]) for event in events] == [("active", "compat-1", "waiting")]
        await bullmq_compat.process_job(worker, job, token)
        assert seen == {"in_hand": 1, "token": token}
        assert bullmq_compat.jobs_in_hand(worker) == 0
        assert [event[0] for event in events] == ["active", "completed"]
        assert await queue.getJobState(added.id) == "completed"
        assert (await queue.getJob(added.id)).returnvalue == {"done": 7}
        assert await bullmq_compat.take_next_job(worker) is None  # nothing waiting: no blocking wait
        await bullmq_compat.stop_lock_renewal(worker)

    run_on_redis(test)


def test_lock_renewal_keeps_the_lock_of_a_job_longer_than_its_lock_duration():
    async def test(client, prefix):
        seen = {}

        async def processor(job, token):
            await asyncio.sleep(1.5)  # the lock lasts 1 s unless renewed (every 0.5 s)
            seen["lock"] = await client.get(queue.toKey(job.id) + ":lock")
            seen["token"] = token

        queue, worker = queue_and_worker(client, prefix, processor, lockDuration=1000)
        await queue.add("compat", {}, {"jobId": "compat-long"})
        bullmq_compat.start_lock_renewal(worker)
        try:
            await bullmq_compat.process_job(worker, *await bullmq_compat.take_next_job(worker))
        finally:
            await bullmq_compat.stop_lock_renewal(worker)
        assert seen["lock"] == seen["token"]
        assert await queue.getJobState("compat-long") == "completed"

    run_on_redis(test)


# --- the Redis layout ----------------------------------------------------------------------------

def test_stalled_check_returns_exactly_the_jobs_returnable_stalled_jobs_counts():
    """BullMQ's moveStalledJobsToWait, and its read-only re-statement: two passes (mark, then return
    a marked job still active without a lock), skipped while ``stalled-check`` exists, and "0:..."
    placeholder ids dropped from the active list, never returned."""
    async def test(client, prefix):
        queue, worker = queue_and_worker(client, prefix)
        stalled = []
        worker.on("stalled", lambda job_id, *previous: stalled.append(job_id))
        await queue.add("compat", {}, {"jobId": "compat-stalls"})
        job, token = await bullmq_compat.take_next_job(worker)
        active, lock, check = queue.toKey("active"), queue.toKey(job.id) + ":lock", queue.toKey("stalled-check")
        assert await client.get(lock) == token
        await client.rpush(active, "0:placeholder")

        assert await bullmq_compat.returnable_stalled_jobs(client, queue) == 0  # nothing marked yet
        await bullmq_compat.run_stalled_check(worker)  # marks what is active
        assert stalled == []
        assert await client.smembers(queue.toKey("stalled")) == {job.id, "0:placeholder"}
        assert await client.exists(check)
        await client.delete(lock)
        assert await bullmq_compat.returnable_stalled_jobs(client, queue) == 0  # the check is not due

        await client.delete(check)
        await client.set(lock, token)
        assert await bullmq_compat.returnable_stalled_jobs(client, queue) == 0  # still locked
        await bullmq_compat.run_stalled_check(worker)
        assert stalled == []
        assert await client.lrange(active, 0, -1) == [job.id]  # the placeholder dropped, not returned

        await client.delete(check, lock)
        assert await bullmq_compat.returnable_stalled_jobs(client, queue) == 1
        await bullmq_compat.run_stalled_check(worker)
        assert stalled == [job.id]
        assert await queue.getJobState(job.id) == "waiting"
        assert await bullmq_compat.returnable_stalled_jobs(client, queue) == 0
        await bullmq_compat.stop_lock_renewal(worker)

    run_on_redis(test)


def test_delayed_score_is_the_due_time_times_0x1000_for_added_and_moved_jobs():
    async def test(client, prefix):
        queue, worker = queue_and_worker(client, prefix)
        added = await queue.add("compat", {}, {"jobId": "compat-later", "delay": 60000})
        due = added.timestamp + 60000
        score = await client.zscore(queue.toKey("delayed"), added.id)
        assert bullmq_compat.delayed_score(due) <= score < bullmq_compat.delayed_score(due + 1)
        assert await bullmq_compat.due_delayed_jobs(client, queue, due - 1) == 0
        assert await bullmq_compat.due_delayed_jobs(client, queue, due) == 1

        await queue.add("compat", {}, {"jobId": "compat-busy"})
        job, token = await bullmq_compat.take_next_job(worker)
        await job.moveToDelayed(due + 5000, token)  # the worker's busy delay
        score = await client.zscore(queue.toKey("delayed"), job.id)
        assert bullmq_compat.delayed_score(due + 5000) <= score < bullmq_compat.delayed_score(due + 5001)
        assert await bullmq_compat.due_delayed_jobs(client, queue, due + 4999) == 1
        assert await bullmq_compat.due_delayed_jobs(client, queue, due + 5000) == 2
        await bullmq_compat.stop_lock_renewal(worker)

    run_on_redis(test)
