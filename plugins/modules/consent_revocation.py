#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: consent_revocation
short_description: Revoke consent for a tenant's users or for listed users
version_added: 0.1.0
author: SkillForge Data Operations (@skillforge)
description:
  - For every user in scope - forces C(marketingOptIn) to false, removes every
    C(NotificationPreference) row, cancels assessments that are C(scheduled) or C(processing) (and
    turns their notifications off), and archives every notification not yet C(archived) so
    downstream channels stop delivering it.
  - Only rows that actually change are touched and counted, so a second run reports
    C(changed=false) and zero counts.
  - Runs in batches of users; each batch commits whole (the users, their rows, the audit counts).
options:
  tenant:
    description:
      - Slug of the tenant whose users lose consent. Exactly one of O(tenant) and O(user).
    type: str
  user:
    description:
      - One user id or a list of user ids. Exactly one of O(tenant) and O(user). If any id is
        unknown the job fails, naming how many, and changes nothing.
    type: list
    elements: str
extends_documentation_fragment:
  - skillforge.dataops.database
  - skillforge.dataops.compliance
  - skillforge.dataops.redis.queue
  - skillforge.dataops.redis.signing
  - skillforge.dataops.redis
"""

EXAMPLES = r"""
- name: Dry run for a tenant (check mode)
  skillforge.dataops.consent_revocation:
    env: staging
    tenant: acme-partners
    triggered_by: privacy@skillforge.com
    reason: DPA termination, ticket PRIV-1234
  check_mode: true
  register: revocation

- name: Revoke consent for two users
  skillforge.dataops.consent_revocation:
    env: production
    user:
      - usr-2-0000017
      - usr-2-0000018
    triggered_by: privacy@skillforge.com
    reason: Erasure requests PRIV-1240, PRIV-1241
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
    - C(scope) is C(tenant) (a slug) or C(users) (the de-duplicated user ids).
    - C(counts) - rows changed, or in check mode that executing would change - C(users) (users with at least one
      change), C(marketingOptOuts) (users whose flag flipped), C(notificationPreferencesDeleted),
      C(assessmentsCancelled), C(notificationsArchived).
  returned: when the job ran (not with O(queue=true)), also after a failed run
  type: dict
  sample:
    job: consent-revocation
    mode: execute
    scope: {tenant: acme-partners}
    triggered_by: privacy@skillforge.com
    reason: PRIV-1234
    note: null
    started_at: "2026-11-26T15:13:03.434Z"
    finished_at: "2026-11-26T15:13:03.501Z"
    changed: true
    counts: {users: 35, marketingOptOuts: 30, notificationPreferencesDeleted: 43, assessmentsCancelled: 33,
             notificationsArchived: 36}
    audit_id: 77561eb513db42389cc166703bed9fc9
    batches: 1
    outcome: succeeded
    pauses: {count: 0, seconds: 0.0}
    parallel: 1
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
  sample: consent-revocation-jobs
job_name:
  description: The BullMQ job name.
  returned: when O(queue=true)
  type: str
  sample: consent-revocation
job_id:
  description: The deterministic job id (the same request always gets the same id).
  returned: when O(queue=true)
  type: str
  sample: consent-revocation-3c9d0a4f1e2b7c6d5a4f3e2d1c0b9a87
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
  sample: {scope: {user: [usr-2-0000017, usr-2-0000018]}, triggeredBy: privacy@skillforge.com,
           reason: "Erasure requests PRIV-1240, PRIV-1241", lockTimeout: 0.0, dryRun: false}
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
  sample: {jobId: consent-revocation-9a707b5c8ee93d6d18fc4934f63b82be, attempts: 3, backoff: {type: exponential, delay: 30000},
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
    run_compliance_module("consent-revocation", dict(tenant=dict(type="str"), user=dict(type="list", elements="str")))


if __name__ == "__main__":
    main()
