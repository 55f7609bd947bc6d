# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible side of the queues: clean failures, ``queue: true`` for the compliance modules
(documented in the ``skillforge.dataops.redis`` doc fragment; the options themselves are in
``_queue.options``), and the bodies of the ``compliance_worker`` and ``queue_info`` modules."""

from __future__ import annotations

from ansible_collections.skillforge.dataops.plugins.module_utils._queue.jobs import (
    BY_JOB,
    PayloadError,
    QueueTarget,
    enqueue,
    enqueue_request,
    queue_status,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.signing import (
    SigningConfigError,
    resolve_signing_keys,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.worker import (
    WorkerSettings,
    drain,
    ready_jobs,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.ansible_glue import (
    open_database,
    require,
    show_unless_secret,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import QueueError, resolve_redis

# queue_info lists at most this many jobs per state and queue.
QUEUE_INFO_MAX_LIMIT = 1000


def signing_keys(module) -> tuple:
    """The module's signing keys (option, else ``SKILLFORGE_<ENV>_QUEUE_SIGNING_KEY``, else
    ``SKILLFORGE_QUEUE_SIGNING_KEY``; empty: none); fails the task with one line naming the setting."""
    try:
        return resolve_signing_keys(module.params["queue_signing_key"], module.params.get("env"))[0]
    except SigningConfigError as error:
        module.fail_json(msg=str(error))


def queue_target(module) -> QueueTarget:
    """The Redis server and prefix from the module's options; fails the task with one safe line."""
    require(module, "redis", "bullmq", "jsonschema")
    try:
        resolved = resolve_redis(module.params["redis_url"], module.params.get("env"),
                                 timeout=module.params["redis_timeout"])
    except QueueError as error:
        module.fail_json(msg=str(error))
    show_unless_secret(module, "redis_url", resolved.password is not None)
    return QueueTarget(resolved, module.params["queue_prefix"])


def enqueue_for_module(module, job_name: str, options: dict) -> None:
    """Add the compliance job to its queue instead of running it, and exit the module.

    ``options`` are the job's options as ``registry.run_job`` takes them. In check mode
    the job is looked up, not added, and ``changed`` says whether a real run would add it.
    """
    target = queue_target(module)
    keys = signing_keys(module)
    try:
        request = enqueue_request(job_name, options, module.params["queue_dry_run"],
                                  module.params["queue_attempts"], module.params["queue_backoff"], signing_keys=keys)
        result = enqueue(target, request, check_mode=module.check_mode)
    except (QueueError, PayloadError) as error:  # a bad payload fails before anything reaches Redis
        module.fail_json(msg=str(error), redis=target.redis.describe())
    module.exit_json(queued=True, **result)


def _queues(module) -> tuple:
    """The queues of the module's ``job`` option (all of them when it is empty)."""
    return tuple(BY_JOB[job].queue for job in module.params["job"] or BY_JOB)


def run_worker_module(module) -> None:
    """``compliance_worker``: drain the queues once (check mode: count what a drain would take) and
    exit the module; fails the task when a job ended in the failed set and ``fail_on_failed_jobs``."""
    target = queue_target(module)
    queues = _queues(module)
    keys = signing_keys(module)
    conn, database = open_database(module, "compliance_worker")
    conn.close()  # reachable: each job opens its own connection
    settings = WorkerSettings(database=database, connect_timeout=module.params["connect_timeout"],
                              queues=queues, log=module.log, signing_keys=keys)
    common = dict(prefix=target.prefix, database=database.describe(), redis=target.redis.describe())
    try:
        if module.check_mode:
            ready, counts = ready_jobs(target, queues)
            module.exit_json(changed=min(ready, module.params["limit"]) > 0, ready=min(ready, module.params["limit"]),
                             jobs=[], queues=counts, **common)
        result = drain(target, settings, limit=module.params["limit"], time_budget=module.params["time_budget"])
    except QueueError as error:
        module.fail_json(msg=str(error), **common)
    for job in result["jobs"]:
        for warning in job.get("warnings", ()):
            module.warn("%s %s: %s" % (job["queue"], job["job_id"], warning))
    failed = [job for job in result["jobs"] if job["state"] == "failed"]
    if failed and module.params["fail_on_failed_jobs"]:
        module.fail_json(msg="%d of %d job(s) failed: %s" % (len(failed), len(result["jobs"]), "; ".join(
            "%s %s: %s" % (job["queue"], job["job_id"], job["error"]) for job in failed)),
            changed=True, **dict(result, **common))
    module.exit_json(changed=bool(result["jobs"]), **dict(result, **common))


def run_queue_info_module(module) -> None:
    """``queue_info``: counts per state, the jobs in the asked states and the asked job; exit the module."""
    # 0 or less would ask BullMQ for a range that means "all"
    if not 1 <= module.params["limit"] <= QUEUE_INFO_MAX_LIMIT:
        module.fail_json(msg="limit must be a whole number of jobs from 1 to %d" % QUEUE_INFO_MAX_LIMIT)
    target = queue_target(module)
    try:
        result = queue_status(target, list(_queues(module)), job_id=module.params["job_id"],
                              states=module.params["states"], limit=module.params["limit"])
    except QueueError as error:
        module.fail_json(msg=str(error), redis=target.redis.describe())
    module.exit_json(changed=False, **result)
