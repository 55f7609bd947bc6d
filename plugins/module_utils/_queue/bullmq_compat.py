# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every use of the ``bullmq`` package's internals, in one place, for the versions it was written for.

The public Python API runs a worker only as ``Worker.run()``: it blocks on the queue until closed.
``drain`` (the ``compliance_worker`` module, ``skillforge-worker --once``) must instead take jobs
one at a time and stop when none is waiting, and ``ready_jobs`` (its check mode) must predict what
a drain would take without taking it. Both need parts of BullMQ that are not its API:

* the worker's ``lockManager`` (renews the locks of the jobs in hand), ``runStalledJobsCheck()``,
  ``moveToActive(token)``, ``processJob(job, token)`` and its set of jobs in hand, ``jobs``;
* the token format ``<worker id>:<suffix>`` and the ``active`` event ``Worker.getNextJob`` emits;
* the Redis layout the Lua scripts keep: key names (``delayed``, ``active``, ``stalled``,
  ``stalled-check``, ``<job id>:lock``), the delayed set's score (due time in ms * 0x1000 + a
  counter), and the ``0:...`` placeholder ids the stalled-jobs script drops;
* ``moveStalledJobsToWait``'s conditions, re-stated read-only by ``returnable_stalled_jobs``.

``check_version`` refuses a bullmq outside ``SUPPORTED`` (requirements.txt's range) in one line.
Contract tests pin each of the parts above against the installed bullmq, so an upgrade that
changes one fails there first: tests/unit/plugins/module_utils/_queue/test_bullmq_compat.py (the
range, the signatures) and tests/database/test_bullmq_compat_redis.py (behaviour on a real Redis).
Nothing here imports Ansible.
"""

from __future__ import annotations

import re
import uuid

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import QueueConfigError
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

INSTALLED_VERSION = None  # stand-in while bullmq is missing (the caller reports it first)
with declare("bullmq"):
    from bullmq import __version__ as INSTALLED_VERSION

# The range of requirements.txt (``bullmq>=3.4,<4``): lowest supported, first unsupported.
SUPPORTED = ((3, 4), (4,))
SUPPORTED_TEXT = ">=3.4,<4"
# BullMQ scores a delayed job by its due time in ms * DELAY_SCORE_FACTOR + a counter (up to
# 4096 jobs due in the same millisecond keep their order).
DELAY_SCORE_FACTOR = 0x1000
# Ids in the active list and the stalled set that are markers, not jobs (the stalled-jobs script
# removes them without returning anything to the queue).
PLACEHOLDER_ID_PREFIX = "0:"


class BullMQVersionError(QueueConfigError):
    """The installed bullmq is not a version this module was written for."""


def version_tuple(version: str) -> tuple:
    """``"3.4.4"`` -> ``(3, 4, 4)``; a pre-release or local suffix is ignored."""
    match = re.match(r"^(\d+(?:\.\d+)*)", str(version).strip())
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def check_version(version: str | None = None) -> str:
    """The installed (or given) bullmq version if it is in ``SUPPORTED``, else BullMQVersionError."""
    if version is None:
        version = INSTALLED_VERSION or "(none)"
    parsed = version_tuple(version)
    if not parsed or not SUPPORTED[0] <= parsed < SUPPORTED[1]:
        raise BullMQVersionError("bullmq %s is installed but the queue worker supports bullmq %s (requirements.txt): "
                                 "install a supported version" % (version, SUPPORTED_TEXT))
    return version


# --- the worker's internals ----------------------------------------------------------------------

def start_lock_renewal(worker) -> None:
    """Renew the locks of the jobs ``process_job`` runs (``Worker.run()`` starts it itself)."""
    worker.lockManager.start()


async def stop_lock_renewal(worker) -> None:
    await worker.lockManager.close()


async def run_stalled_check(worker) -> None:
    """BullMQ's stalled-jobs check once (moveStalledJobsToWait): emits ``stalled`` per job returned
    to the queue and ``error`` on a Redis failure; a no-op when a check ran within the interval."""
    await worker.runStalledJobsCheck()


async def take_next_job(worker):
    """``(job, token)`` for the next waiting job, now active and locked for this worker, or ``None``
    when none is waiting (no blocking wait). Emits ``active`` as ``Worker.getNextJob`` does."""
    token = "%s:%s" % (worker.id, uuid.uuid4().hex)
    job = await worker.moveToActive(token)
    if job is None:
        return None
    worker.emit("active", job, "waiting")
    return job, token


async def process_job(worker, job, token) -> None:
    """Run the worker's processor on a job ``take_next_job`` gave, record the outcome in Redis and
    emit ``completed`` or ``failed`` (or ``error`` when the outcome could not be recorded)."""
    await worker.processJob(job, token)


def jobs_in_hand(worker) -> int:
    """How many jobs the worker is processing now."""
    return len(worker.jobs)


# --- the Redis layout ----------------------------------------------------------------------------

def delayed_score(due_ms: int, counter: int = 0) -> int:
    """The score of a job due at ``due_ms`` in the delayed set."""
    return int(due_ms) * DELAY_SCORE_FACTOR + counter


async def due_delayed_jobs(client, queue, now_ms: int) -> int:
    """How many delayed jobs (retries waiting out their backoff, ...) are due at ``now_ms``."""
    return await client.zcount(queue.toKey("delayed"), 0, delayed_score(now_ms + 1) - 1)


async def returnable_stalled_jobs(client, queue) -> int:
    """How many jobs the stalled-jobs check would return to the queue if it ran now: the check is
    due (no ``stalled-check`` key), and a job a previous check marked is still active with no lock
    (the same conditions as BullMQ's moveStalledJobsToWait script, which only drops the "0:..."
    placeholder ids from the active list). Reads only."""
    if await client.exists(queue.toKey("stalled-check")):
        return 0
    active = set(await client.lrange(queue.toKey("active"), 0, -1))
    returnable = 0
    for job_id in await client.smembers(queue.toKey("stalled")):
        if job_id.startswith(PLACEHOLDER_ID_PREFIX) or job_id not in active:
            continue
        if not await client.exists(queue.toKey(job_id) + ":lock"):
            returnable += 1
    return returnable
