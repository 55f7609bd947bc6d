# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The queue options of the modules (``queue: true`` of the compliance jobs, the Redis options of
``compliance_worker`` and ``queue_info``) and their defaults.

Apart from the queue code on purpose: every compliance module takes these options, but only a
run with ``queue: true`` needs ``bullmq``, ``redis`` and ``jsonschema``; importing them cost about a
third of the CPU of a job module run on an empty scope (docs/PERFORMANCE.md, "A compliance
playbook's own overhead"). So this file imports nothing, and ``_compliance.ansible_glue`` imports the queue code
only when a task queues its job. Nothing here imports Ansible.
"""

from __future__ import annotations

DEFAULT_PREFIX = "bull"
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_SECONDS = 30
DEFAULT_REDIS_TIMEOUT = 5  # seconds per Redis command


def redis_argument_spec() -> dict:
    """Where the queues are: every queue-aware module takes these."""
    return dict(
        redis_url=dict(type="str", no_log=True),
        redis_timeout=dict(type="float", default=DEFAULT_REDIS_TIMEOUT),
        queue_prefix=dict(type="str", default=DEFAULT_PREFIX),
    )


def signing_argument_spec() -> dict:
    """The queue signing key(s) (``signing``): the compliance modules sign, the worker verifies."""
    return dict(queue_signing_key=dict(type="str", no_log=True))


def queue_argument_spec() -> dict:
    """``queue: true`` and its settings, for the compliance modules (with the database options)."""
    spec = redis_argument_spec()
    spec.update(
        queue=dict(type="bool", default=False),
        queue_dry_run=dict(type="bool", default=False),
        queue_attempts=dict(type="int", default=DEFAULT_ATTEMPTS),
        queue_backoff=dict(type="float", default=DEFAULT_BACKOFF_SECONDS),
    )
    spec.update(signing_argument_spec())
    return spec
