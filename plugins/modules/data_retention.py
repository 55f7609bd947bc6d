#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: data_retention
short_description: Purge users inactive past the retention window, with everything they own
version_added: 0.1.0
author: SkillForge Data Operations (@skillforge)
description:
  - A user is eligible when C(coalesce(lastActiveAt, createdAt)) is before the cutoff and
    C(legalHold) is false. For each eligible user the job deletes notifications, resume
    ingestions, resumes, assessments, notification preferences and the profile, then the user.
  - The cutoff is computed once at the start (by the database clock) and reported in the summary's
    scope; the dry run and the execution use the same predicate.
  - Runs in batches of users; each batch commits whole, so an interrupted purge leaves every user
    either complete or gone, and running it again finishes the rest.
options:
  retention_months:
    description:
      - The retention window - users inactive for longer are purged. Ignored when O(before) is set.
      - When not set, 24 months.
    type: int
  before:
    description:
      - An explicit ISO-8601 cutoff (date or date-time; without a zone it is UTC). Wins over
        O(retention_months). A cutoff in the future is refused.
    type: str
  tenant:
    description:
      - Only purge users of the tenant with this slug.
    type: str
  retention_floor_months:
    description:
      - The policy's minimum - the cutoff (from O(before) or O(retention_months)) must be at least this
        many months ago. A more recent cutoff (a one-year typo in O(before)) is refused before anything
        changes, naming both dates, unless O(allow_recent_cutoff=true). From 1 to 1200.
      - When not set, 24 months. Inventories may set another policy (C(compliance_retention_floor_months)).
    type: int
  allow_recent_cutoff:
    description:
      - Allow a cutoff more recent than O(retention_floor_months). The summary's and audit row's scope then
        records C(allow_recent_cutoff=true).
      - When not set, V(false).
    type: bool
extends_documentation_fragment:
  - skillforge.dataops.database
  - skillforge.dataops.compliance
  - skillforge.dataops.redis.queue
  - skillforge.dataops.redis.signing
  - skillforge.dataops.redis
"""

EXAMPLES = r"""
- name: What would the 24-month purge delete? (check mode)
  skillforge.dataops.data_retention:
    env: production
    triggered_by: dpo@skillforge.com
  check_mode: true

- name: Purge one tenant's users inactive since before 2024
  skillforge.dataops.data_retention:
    env: production
    tenant: globex
    before: "2024-01-01T00:00:00Z"
    triggered_by: dpo@skillforge.com
    reason: Quarterly retention run
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
    - C(scope) has C(cutoff) (ISO-8601 UTC, computed once at the start), C(before) or C(retention_months),
      C(tenant) when set, and C(allow_recent_cutoff=true) when the cutoff is more recent than
      O(retention_floor_months) and O(allow_recent_cutoff) allowed it.
    - C(counts) - rows deleted, or in check mode that executing would delete - C(users), C(notifications),
      C(resumes), C(resumeIngestions), C(assessments), C(notificationPreferences), C(profiles).
  returned: when the job ran (not with O(queue=true)), also after a failed run
  type: dict
  sample:
    job: data-retention
    mode: dry-run
    scope: {cutoff: "2024-11-26T15:13:03.352Z", retention_months: 24}
    triggered_by: dpo@skillforge.com
    reason: null
    note: null
    started_at: "2026-11-26T15:13:03.350Z"
    finished_at: "2026-11-26T15:13:03.416Z"
    changed: true
    counts: {users: 28, notifications: 34, resumes: 26, resumeIngestions: 40, assessments: 41,
             notificationPreferences: 40, profiles: 25}
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
  sample: data-retention-jobs
job_name:
  description: The BullMQ job name.
  returned: when O(queue=true)
  type: str
  sample: data-retention
job_id:
  description: The deterministic job id (the same request always gets the same id).
  returned: when O(queue=true)
  type: str
  sample: data-retention-3c9d0a4f1e2b7c6d5a4f3e2d1c0b9a87
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
  sample: {scope: {tenant: globex}, cutoff: "2024-01-01", retentionMonths: 24, triggeredBy: dpo@skillforge.com,
           reason: PRIV-112, lockTimeout: 0.0, dryRun: false}
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
  sample: {jobId: data-retention-9a707b5c8ee93d6d18fc4934f63b82be, attempts: 3, backoff: {type: exponential, delay: 30000},
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
    run_compliance_module("data-retention", dict(
        retention_months=dict(type="int"), before=dict(type="str"), tenant=dict(type="str"),
        retention_floor_months=dict(type="int"), allow_recent_cutoff=dict(type="bool")))


if __name__ == "__main__":
    main()
