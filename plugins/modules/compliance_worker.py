#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: compliance_worker
short_description: Run the queued compliance jobs once, for schedules and CI
version_added: 0.1.0
author: SkillForge Data Operations (@skillforge)
description:
  - Takes jobs from the BullMQ queues C(consent-revocation-jobs), C(data-retention-jobs) and
    C(partner-segregation-jobs) one at a time, queue by queue in turn, and runs each with the same
    code as the inline modules (M(skillforge.dataops.consent_revocation),
    M(skillforge.dataops.data_retention), M(skillforge.dataops.partner_segregation)), including
    their audit record. Stops when no job is waiting, after O(limit) jobs, or when O(time_budget)
    is spent; a job in hand always finishes.
  - A job's summary becomes its BullMQ return value (read it back with
    M(skillforge.dataops.queue_info)). A job with bad input fails at once; any other failure is
    retried with the job's attempts and exponential backoff (V(delayed) until then), and the
    failed set keeps the final failure with its reason.
  - Before taking jobs it runs BullMQ's stalled-job check on the queues (unless a worker ran one
    within its stalled interval, 30 seconds by default). A job that an earlier check found active
    and whose lock has lapsed since (its worker was killed) goes back to its queue and runs again; the first time it stalls it is
    retried, the second time it fails. Where only this module runs the queues (a schedule), the job
    of a killed run is therefore taken again by the second run after the kill; the long-running
    worker checks every 30 seconds.
  - For a long-running worker, use the C(scripts/skillforge-worker) command of the collection
    (see docs/QUEUE.md).
options:
  job:
    description:
      - The compliance jobs whose queues to work on. Default all three.
    type: list
    elements: str
    choices: [consent-revocation, data-retention, partner-segregation]
  limit:
    description:
      - Take at most this many jobs.
    type: int
    default: 100
  time_budget:
    description:
      - Take no new job after this many seconds.
    type: float
    default: 300
  fail_on_failed_jobs:
    description:
      - Fail the task when a job ended in the failed set (its retries used up, or bad input).
        Jobs waiting for a retry do not count. Results are returned either way.
    type: bool
    default: true
extends_documentation_fragment:
  - skillforge.dataops.database
  - skillforge.dataops.redis
  - skillforge.dataops.redis.signing
attributes:
  check_mode:
    support: full
    description:
      - Check mode takes no job and counts the jobs a real run would take (waiting, delayed retries
        that are due, and jobs of dead workers its stalled-job check would return to the queue now),
        up to O(limit); the result says V(changed=true) when there is at least one.
  diff_mode:
    support: none
    description: Runs queued jobs; it returns their summaries, not a diff.
"""

EXAMPLES = r"""
- name: Run what the API queued (nightly AWX schedule)
  skillforge.dataops.compliance_worker:
    env: production
    time_budget: 1800
  register: drained

- name: In CI, run only the data-retention jobs the pipeline queued
  skillforge.dataops.compliance_worker:
    env: ci
    job: [data-retention]
    limit: 10
"""

RETURN = r"""
jobs:
  description: One entry per job taken, in the order they ran.
  returned: always
  type: list
  elements: dict
  contains:
    job:
      description: The compliance job (V(data-retention), ...).
      type: str
    queue:
      description: Its queue.
      type: str
    job_id:
      description: The BullMQ job id.
      type: str
    job_name:
      description: The BullMQ job name.
      type: str
    state:
      description: V(completed), V(delayed) (failed, will be retried) or V(failed) (no retry left, or bad input).
      type: str
    attempt:
      description: Which attempt this was.
      type: int
    attempts:
      description: Attempts allowed.
      type: int
    dry_run:
      description: Whether the job was a dry run.
      type: bool
    counts:
      description: The run's counts (null when it failed).
      type: dict
      sample: {users: 12, notifications: 40, profiles: 12}
    mode:
      description: "V(dry-run) or V(execute) (null when it failed)."
      type: str
    audit_id:
      description: The C(ComplianceAuditLog) row of an executed run.
      type: str
    summary:
      description: The run's summary, as the inline module returns it (null when it failed).
      type: dict
      sample: {job: data-retention, mode: execute, scope: {tenant: globex}, triggered_by: api, changed: true,
               counts: {users: 12}, audit_id: 0b7e1c5d9a8f4e3b2a1c0d9e8f7a6b5c, outcome: succeeded}
    error:
      description: Why the attempt failed (no personal data).
      type: str
      returned: when it failed
    outcome:
      description:
        - V(rejected) when the job was refused for its signature (unsigned or badly signed while this worker has a
          queue signing key); nothing of it ran. It failed for good.
      type: str
      returned: when a job was rejected
    will_retry:
      description: Whether BullMQ will retry it.
      type: bool
      returned: when it failed
    duration_ms:
      description: How long the attempt took.
      type: int
stopped:
  description: Why the run stopped - V(empty) (nothing waiting), V(limit) or V(time_budget).
  returned: when not in check mode
  type: str
stalled:
  description:
    - Jobs the stalled-job check returned to their queue (their worker died), each with C(queue)
      and C(job_id). They are in RV(jobs) too when this run took them again.
  returned: when not in check mode
  type: list
  elements: dict
  sample: [{queue: data-retention-jobs, job_id: data-retention-0b7e1c}]
ready:
  description: Jobs a real run would take (check mode only).
  returned: in check mode
  type: int
queues:
  description: Jobs per state in each queue after the run.
  returned: always
  type: dict
  sample: {data-retention-jobs: {waiting: 0, active: 0, delayed: 0, prioritized: 0, completed: 3, failed: 0}}
prefix:
  description: The BullMQ key prefix used.
  returned: always
  type: str
database:
  description: Which database the jobs ran against, without the password.
  returned: always
  type: dict
  contains:
    source: {description: "Where the URL came from - V(option) (O(dsn)), the environment variable's name, or
             V(local fallback).", type: str}
    url: {description: The URL with its password replaced by C(********)., type: str}
    host: {description: The server's host., type: str}
    port: {description: The server's port., type: str}
    database: {description: The database name., type: str}
    user: {description: The user name., type: str}
    schema: {description: "The schema from the URL's C(?schema=) parameter (Prisma's), or null.", type: str}
  sample: {source: SKILLFORGE_PRODUCTION_DATABASE_URL, url: "postgresql://skillforge:********@db.internal:5432/skillforge",
           host: db.internal, port: "5432", database: skillforge, user: skillforge, schema: null}
redis:
  description: Which Redis was used, without the password.
  returned: always
  type: dict
  contains:
    source: {description: "Where the URL came from - V(option) (O(redis_url)) or the environment variable's name.",
             type: str}
    url: {description: The URL with its password replaced by C(********)., type: str}
    host: {description: The server's host., type: str}
    port: {description: The server's port., type: int}
    db: {description: The Redis database number., type: int}
    timeout: {description: Seconds allowed per Redis command., type: float}
  sample: {source: SKILLFORGE_PRODUCTION_REDIS_URL, url: "redis://:********@redis.internal:6379/0",
           host: redis.internal, port: 6379, db: 0, timeout: 5.0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skillforge.dataops.plugins.module_utils._queue.ansible_glue import run_worker_module
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.options import (
    redis_argument_spec,
    signing_argument_spec,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.jobs import BY_JOB
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.ansible_glue import database_argument_spec


def main():
    argument_spec = database_argument_spec()
    argument_spec.update(redis_argument_spec())
    argument_spec.update(signing_argument_spec())
    argument_spec.update(
        job=dict(type="list", elements="str", choices=list(BY_JOB)),
        limit=dict(type="int", default=100),
        time_budget=dict(type="float", default=300),
        fail_on_failed_jobs=dict(type="bool", default=True),
    )
    run_worker_module(AnsibleModule(argument_spec=argument_spec, supports_check_mode=True))


if __name__ == "__main__":
    main()
