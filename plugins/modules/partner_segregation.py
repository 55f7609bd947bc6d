#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: partner_segregation
short_description: Make a tenant's JSON blobs carry that tenant's ids and no other's
version_added: 0.1.0
author: SkillForge Data Operations (@skillforge)
description:
  - For the users of one tenant, sets the C(tenantId) and C(partnerId) keys of every
    C(ResumeIngestion.ingestionMetadata) object and of every object in C(Notification.actions) to
    the tenant's C(id) and C(partnerId) (JSON null when the tenant has none). Every other key, and
    array elements that are not objects, stay as they were.
  - Only rows whose JSON actually changes are updated and counted.
  - With C(--diff), shows a sample of before and after values - only the keys the job changes,
    never the rest of a blob (which can hold personal data).
options:
  tenant:
    description:
      - Slug of the tenant. Without it, as the runbook says, the job records a warning (in the
        summary's C(warnings) and as an Ansible warning), changes nothing and does not fail.
    type: str
extends_documentation_fragment:
  - skillforge.dataops.database
  - skillforge.dataops.compliance
  - skillforge.dataops.redis.queue
  - skillforge.dataops.redis.signing
  - skillforge.dataops.redis
"""

EXAMPLES = r"""
- name: Segregate a partner tenant's JSON
  skillforge.dataops.partner_segregation:
    env: staging
    tenant: acme-partners
    triggered_by: privacy@skillforge.com
    reason: Partner audit PA-2025-07
"""

RETURN = r"""
summary:
  description:
    - The run's audit-friendly summary, also logged as one JSON line and, when executed, kept in C(ComplianceAuditLog).
    - Keys - C(job), C(mode) (V(dry-run) in check mode, else V(execute)), C(scope), C(triggered_by), C(reason),
      C(note), C(started_at) and C(finished_at) (ISO-8601 UTC), C(changed) (any count above zero) and C(counts);
      after an execution also C(audit_id) (the audit row), C(batches) (committed), C(outcome) (V(succeeded),
      V(failed), or V(interrupted) when it stopped at a batch boundary - O(max_runtime), O(max_lag_pause) - and
      the next run finishes the rest), C(pauses) (C(count) and C(seconds) of the waits for replica lag, see
      O(max_replica_lag)), C(parallel) (the sessions its batches ran on, O(parallel)) and, for a failed or interrupted run, C(error) (no personal data).
    - C(blocked_by), after a batch ran out of O(db_lock_timeout) or O(db_statement_timeout) - the sessions seen
      blocking it (up to 5), each with C(pid), C(application_name), C(user), C(state), C(transaction_seconds)
      (how long its transaction had been open) and C(statement_type) (the first keyword, never the statement's
      text); empty when no blocking session was seen. C(error) says the same in one line.
    - C(scope) is C(tenant) (the slug).
    - C(counts) - C(resumeUpdates) and C(notificationUpdates), rows whose JSON changed (or, in check mode, would).
  returned: when the job ran (not with O(queue=true)), also after a failed run
  type: dict
  sample:
    job: partner-segregation
    mode: execute
    scope: {tenant: acme-partners}
    triggered_by: privacy@skillforge.com
    reason: Partner audit PA-2025-07
    note: null
    started_at: "2026-11-26T15:13:03.607Z"
    finished_at: "2026-11-26T15:13:03.642Z"
    changed: true
    counts: {resumeUpdates: 28, notificationUpdates: 29}
    audit_id: 4006a5f2706f4a2a8cc7a816904a6531
    batches: 1
    outcome: succeeded
database:
  description: Where the database URL came from and which database it is, password redacted.
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
queued:
  description: Whether the job was queued (O(queue=true)) rather than run; the keys below come with it.
  returned: when O(queue=true)
  type: bool
queue:
  description: The BullMQ queue.
  returned: when O(queue=true)
  type: str
  sample: partner-segregation-jobs
job_name:
  description: The BullMQ job name.
  returned: when O(queue=true)
  type: str
  sample: partner-segregation
job_id:
  description: The deterministic job id (the same request always gets the same id).
  returned: when O(queue=true)
  type: str
  sample: partner-segregation-3c9d0a4f1e2b7c6d5a4f3e2d1c0b9a87
state:
  description:
    - The job's BullMQ state after the task - V(waiting) when just added, or the state of the job
      already there (V(active), V(completed), V(failed), ...). V(absent) in check mode when the job
      would be added.
  returned: when O(queue=true)
  type: str
data:
  description: The job payload (docs/QUEUE.md).
  returned: when O(queue=true)
  type: dict
  sample: {scope: {tenant: acme-partners}, triggeredBy: privacy@skillforge.com, reason: Partner audit PA-2025-07,
           lockTimeout: 0.0, dryRun: false}
signed:
  description:
    - Whether the job was signed with the queue signing key (O(queue_signing_key)); its C(signature) field is not
      shown in RV(data).
  returned: when O(queue=true)
  type: bool
opts:
  description: The BullMQ job options (jobId, attempts, backoff, removeOnComplete, removeOnFail).
  returned: when O(queue=true)
  type: dict
  sample: {jobId: partner-segregation-9a707b5c8ee93d6d18fc4934f63b82be, attempts: 3, backoff: {type: exponential, delay: 30000},
           removeOnComplete: {age: 604800, count: 1000}, removeOnFail: false}
prefix:
  description: The BullMQ key prefix.
  returned: when O(queue=true)
  type: str
redis:
  description: Which Redis was used, without the password.
  returned: when O(queue=true)
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

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.ansible_glue import run_compliance_module


def main():
    run_compliance_module("partner-segregation", dict(tenant=dict(type="str")))


if __name__ == "__main__":
    main()
