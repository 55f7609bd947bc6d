# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible side of the queues: shared options, clean failures, and ``queue: true`` for the
compliance modules (documented in the ``skillforge.dataops.redis`` doc fragment)."""

from __future__ import annotations

from ansible_collections.skillforge.dataops.plugins.module_utils._queue.jobs import (
    DEFAULT_ATTEMPTS,
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_PREFIX,
    PayloadError,
    QueueTarget,
    enqueue,
    enqueue_request,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.ansible_glue import require
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import (
    DEFAULT_TIMEOUT,
    QueueError,
    resolve_redis,
)


def redis_argument_spec() -> dict:
    """Where the queues are: every queue-aware module takes these."""
    return dict(
        redis_url=dict(type="str", no_log=True),
        redis_timeout=dict(type="float", default=DEFAULT_TIMEOUT),
        queue_prefix=dict(type="str", default=DEFAULT_PREFIX),
    )


def queue_argument_spec() -> dict:
    """``queue: true`` and its settings, for the compliance modules (with the database options)."""
    spec = redis_argument_spec()
    spec.update(
        queue=dict(type="bool", default=False),
        queue_dry_run=dict(type="bool", default=False),
        queue_attempts=dict(type="int", default=DEFAULT_ATTEMPTS),
        queue_backoff=dict(type="float", default=DEFAULT_BACKOFF_SECONDS),
    )
    return spec


def queue_target(module) -> QueueTarget:
    """The Redis server and prefix from the module's options; fails the task with one safe line."""
    require(module, "redis", "bullmq", "jsonschema")
    try:
        return QueueTarget(resolve_redis(module.params["redis_url"], module.params.get("env"),
                                         timeout=module.params["redis_timeout"]),
                           module.params["queue_prefix"])
    except QueueError as error:
        module.fail_json(msg=str(error))


def enqueue_for_module(module, job_name: str, options: dict) -> None:
    """Add the compliance job to its queue instead of running it, and exit the module.

    ``options`` are the job's options as ``registry.run_job`` takes them. In check mode
    the job is looked up, not added, and ``changed`` says whether a real run would add it.
    """
    target = queue_target(module)
    try:
        request = enqueue_request(job_name, options, module.params["queue_dry_run"],
                                  module.params["queue_attempts"], module.params["queue_backoff"])
        result = enqueue(target, request, check_mode=module.check_mode)
    except (QueueError, PayloadError) as error:  # a bad payload fails before anything reaches Redis
        module.fail_json(msg=str(error), redis=target.redis.describe())
    module.exit_json(queued=True, **result)
