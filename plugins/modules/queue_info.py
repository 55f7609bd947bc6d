#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: queue_info
short_description: Read the state and results of queued compliance jobs
version_added: 0.1.0
author: SkillForge Data Operations (@skillforge)
description:
  - Reads the BullMQ queues of the compliance jobs - C(consent-revocation-jobs),
    C(data-retention-jobs), C(partner-segregation-jobs) - and returns the number of jobs in each
    state, the jobs in the requested states, and one job by id wherever it is.
  - A job's C(return_value) is the summary of its run, as the inline module returns it; a failed
    job's C(failed_reason) says why (no personal data).
  - Read-only; works the same in check mode.
options:
  env:
    description:
      - The SkillForge environment, such as V(local), V(ci), V(staging) or V(production). It selects
        the C(SKILLFORGE_<ENV>_REDIS_URL) variable; only V(local) falls back to the localhost Redis.
    type: str
  job:
    description:
      - The compliance jobs whose queues to read. Default all three.
    type: list
    elements: str
    choices: [consent-revocation, data-retention, partner-segregation]
  job_id:
    description:
      - A job id (as returned by a compliance module with O(skillforge.dataops.data_retention#module:queue=true)).
        The job is looked up in the selected queues and returned as RV(job).
    type: str
  states:
    description:
      - List the jobs in these states (newest first, at most O(limit) per state and queue).
    type: list
    elements: str
    choices: [waiting, active, delayed, prioritized, waiting-children, completed, failed]
    default: []
  limit:
    description:
      - At most this many jobs per state and queue in RV(queues), from 1 to 1000.
    type: int
    default: 20
extends_documentation_fragment:
  - skillforge.dataops.redis
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: Reads only; there is nothing to show as a diff.
"""

EXAMPLES = r"""
- name: Queue a data-retention run
  skillforge.dataops.data_retention:
    env: production
    before: "2024-01-01"
    triggered_by: dpo@skillforge.com
    queue: true
  register: queued

- name: Where is it now?
  skillforge.dataops.queue_info:
    env: production
    job: [data-retention]
    job_id: "{{ queued.job_id }}"
  register: status

- name: Show its summary once the worker has run it
  ansible.builtin.debug:
    var: status.job.return_value.counts
  when: status.job is not none and status.job.state == 'completed'

- name: What failed recently, and why
  skillforge.dataops.queue_info:
    env: production
    states: [failed]
    limit: 10
"""

RETURN = r"""
queues:
  description: One entry per queue read.
  returned: always
  type: dict
  sample:
    data-retention-jobs:
      counts: {waiting: 1, active: 0, delayed: 0, prioritized: 0, waiting-children: 0, completed: 12, failed: 1}
      jobs: []
  contains:
    counts:
      description: Jobs in each state.
      type: dict
      sample: {waiting: 1, active: 0, delayed: 0, prioritized: 0, waiting-children: 0, completed: 12, failed: 1}
    jobs:
      description: The jobs in O(states), each shaped like RV(job).
      type: list
      elements: dict
      sample: [{queue: data-retention-jobs, job_id: data-retention-9a707b5c8ee93d6d18fc4934f63b82be,
                job_name: data-retention, state: failed, attempts: 3, attempts_made: 3,
                failed_reason: "data-retention: unknown tenant 'globex'"}]
job:
  description: The job with id O(job_id), or null when no selected queue has it (or O(job_id) is not set).
  returned: always
  type: dict
  contains:
    queue:
      description: Its queue.
      type: str
    job_id:
      description: Its id.
      type: str
    job_name:
      description: The BullMQ job name (the compliance job).
      type: str
    state:
      description: V(waiting), V(active), V(delayed) (waiting for a retry), V(prioritized), V(completed) or V(failed).
      type: str
    data:
      description: The job payload (docs/QUEUE.md).
      type: dict
      sample: {scope: {tenant: globex}, cutoff: "2024-01-01", triggeredBy: dpo@skillforge.com, dryRun: false}
    signed:
      description: Whether the job data carries a C(signature) (docs/QUEUE.md, Signed jobs); it is not shown in RV(job.data).
      type: bool
    attempts:
      description: Attempts allowed.
      type: int
    attempts_made:
      description: Attempts made so far.
      type: int
    failed_reason:
      description: Why the last attempt failed, or null.
      type: str
    return_value:
      description: The run's summary once completed, or null.
      type: dict
      sample: {job: data-retention, mode: execute, scope: {tenant: globex}, changed: true, counts: {users: 12},
               outcome: succeeded}
    created_at:
      description: When it was added (ISO 8601, UTC, with milliseconds and C(Z), as every time the collection reports).
      type: str
      sample: "2026-11-26T09:00:01.120Z"
    processed_at:
      description: When its last attempt started (as RV(job.created_at)), or null.
      type: str
    finished_at:
      description: When it completed or finally failed (as RV(job.created_at)), or null.
      type: str
prefix:
  description: The BullMQ key prefix used.
  returned: always
  type: str
redis:
  description: Which Redis was read, without the password.
  returned: always
  type: dict
  sample: {source: SKILLFORGE_STAGING_REDIS_URL, url: "redis://:********@redis.internal:6379/0",
           host: redis.internal, port: 6379, db: 0, timeout: 5.0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skillforge.dataops.plugins.module_utils._queue.ansible_glue import run_queue_info_module
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.options import redis_argument_spec
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.jobs import BY_JOB, JOB_STATES


def main():
    argument_spec = redis_argument_spec()
    argument_spec.update(
        env=dict(type="str"),
        job=dict(type="list", elements="str", choices=list(BY_JOB)),
        job_id=dict(type="str"),
        states=dict(type="list", elements="str", choices=list(JOB_STATES), default=[]),
        limit=dict(type="int", default=20),
    )
    run_queue_info_module(AnsibleModule(argument_spec=argument_spec, supports_check_mode=True))


if __name__ == "__main__":
    main()
