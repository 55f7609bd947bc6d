#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: SkillForge Data Operations; Apache License 2.0 (see LICENSE)

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
  description: The audit-friendly summary of the run (also logged as one JSON line).
  returned: when the job ran (not with O(queue=true)), also after a failed run
  type: dict
  contains:
    job: {description: Always V(consent-revocation)., type: str, returned: always}
    mode: {description: V(dry-run) in check mode, else V(execute)., type: str, returned: always}
    scope: {description: "V(tenant) (a slug) or V(users) (the de-duplicated user ids).", type: dict, returned: always}
    triggered_by: {description: The O(triggered_by) option., type: str, returned: always}
    reason: {description: The O(reason) option., type: str, returned: always}
    note: {description: The O(note) option., type: str, returned: always}
    started_at: {description: Start time, ISO-8601 UTC., type: str, returned: always}
    finished_at: {description: End time, ISO-8601 UTC (null while a run is unfinished)., type: str, returned: always}
    changed: {description: Whether any count is above zero., type: bool, returned: always}
    counts:
      description:
        - Rows changed (or, in check mode, that executing would change) - V(users) (users with at
          least one change), V(marketingOptOuts) (users whose flag flipped),
          V(notificationPreferencesDeleted), V(assessmentsCancelled), V(notificationsArchived).
      type: dict
      returned: always
      sample: {users: 35, marketingOptOuts: 30, notificationPreferencesDeleted: 43, assessmentsCancelled: 33,
               notificationsArchived: 36}
    audit_id: {description: Id of the C(ComplianceAuditLog) row., type: str, returned: when executed}
    batches: {description: Batches committed., type: int, returned: when executed}
    outcome: {description: "V(succeeded), V(failed) (or V(running))", type: str, returned: when executed}
    error: {description: What failed (no personal data)., type: str, returned: when the run failed}
database:
  description: Where the database URL came from and which database it is, password redacted.
  returned: always
  type: dict
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
opts:
  description: The BullMQ job options (jobId, attempts, backoff, removeOnComplete, removeOnFail).
  returned: when O(queue=true)
  type: dict
prefix:
  description: The BullMQ key prefix.
  returned: when O(queue=true)
  type: str
redis:
  description: Which Redis was used, without the password.
  returned: when O(queue=true)
  type: dict
"""

from ansible_collections.skillforge.dataops.plugins.module_utils.compliance_module import run_compliance_module


def main():
    run_compliance_module("consent-revocation", dict(tenant=dict(type="str"), user=dict(type="list", elements="str")))


if __name__ == "__main__":
    main()
