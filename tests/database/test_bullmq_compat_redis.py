"""Contract tests of ``_queue/bullmq_compat``: one per bullmq internal it relies on, against the
installed bullmq and the real Redis (SKILLFORGE_TEST_REDIS_URL, default 127.0.0.1:6379); the version
range and the signatures: tests/unit/plugins/module_utils/_queue/test_bullmq_compat.py.

Each test works under a BullMQ prefix of its own and deletes its keys afterwards. A bullmq upgrade
that renames or changes the behaviour of one of these internals fails here."""

from __future__ import annotations

import asyncio
import os
import uuid

import redis.asyncio as aioredis
from bullmq import LockManager, Queue, Worker

from ansible_collections.skillforge.dataops.plugins.module_utils._queue import bullmq_compat

REDIS_URL = os.environ.get("SKILLFORGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
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


# --- the worker's internals ----------------------------------------------------------------------

def test_a_worker_has_its_lock_manager_jobs_in_hand_and_id():
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
