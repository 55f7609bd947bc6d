"""Contract tests of ``_queue/bullmq_compat`` that need no Redis: the supported version range (the
one of requirements.txt), its one-line refusal, and the signatures of the bullmq internals it calls.
Their behaviour on the real Redis: tests/database/test_bullmq_compat_redis.py."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from bullmq import LockManager, Worker
from bullmq.job import Job

from ansible_collections.skillforge.dataops.plugins.module_utils._queue import bullmq_compat, worker as queue_worker
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.jobs import BY_QUEUE, QueueTarget
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.bullmq_compat import (
    BullMQVersionError,
    check_version,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.connection import resolve_database
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import resolve_redis

REPO_ROOT = Path(__file__).resolve().parents[5]


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
