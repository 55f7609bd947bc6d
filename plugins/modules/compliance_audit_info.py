#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: compliance_audit_info
short_description: Read the compliance audit trail - who ran which job, on what, with what result
version_added: 0.2.0
author: SkillForge Data Operations (@skillforge)
description:
  - Returns the executed runs of the compliance jobs (M(skillforge.dataops.consent_revocation),
    M(skillforge.dataops.data_retention), M(skillforge.dataops.partner_segregation), inline or
    queued) from the C(ComplianceAuditLog) table, newest first, filtered by job, outcome, tenant,
    user, requester and start time. Dry runs write no audit row and are not listed.
  - Each run has a RV(runs[].state). A row whose stored outcome is still V(running) is
    V(interrupted) when no run of that job holds its lock or a later run of the job has started
    (the run was killed; its counts are what it committed), else V(running).
  - Never changes anything and takes no lock.
options:
  audit_id:
    description:
      - Only the run with this audit id (the RV(skillforge.dataops.data_retention#module:summary.audit_id)
        a job module returned).
    type: str
  job:
    description:
      - Only runs of this job.
    type: str
    choices: [consent-revocation, data-retention, partner-segregation]
  outcome:
    description:
      - Only runs with this stored outcome. V(running) includes runs that were killed (their
        C(state) is V(interrupted)); V(interrupted) is a run that stopped itself between two
        batches because the controller that started it was gone.
    type: str
    choices: [running, succeeded, failed, interrupted]
  tenant:
    description:
      - Only runs scoped to this tenant slug.
    type: str
  user:
    description:
      - Only runs scoped to a list of user ids that includes this one (consent revocation by user).
    type: str
  triggered_by:
    description:
      - Only runs requested by this person (the jobs' O(skillforge.dataops.data_retention#module:triggered_by)).
    type: str
  since:
    description:
      - Only runs started at or after this ISO-8601 date or date-time (UTC unless it has an offset).
    type: str
  before:
    description:
      - Only runs started before this ISO-8601 date or date-time (UTC unless it has an offset).
    type: str
  limit:
    description:
      - At most this many runs, the newest (1 to 1000).
    type: int
    default: 20
  covers_user:
    description:
      - A user id to check against the receipt of the run O(audit_id) names (O(audit_id) is required
        with it). RV(covered) says whether that run covered the user (for a purge, erased them),
        recomputed from the run's membership digest of the id (docs/COMPLIANCE.md, "Verified erasure
        and receipts"). The id is neither stored nor logged.
      - A run recorded before the receipts existed (migration V1_7) cannot answer and fails.
    type: str
extends_documentation_fragment:
  - skillforge.dataops.database
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode returns the same.
  diff_mode:
    support: none
    description: Reads only; there is nothing to show as a diff.
seealso:
  - module: skillforge.dataops.data_retention
  - module: skillforge.dataops.consent_revocation
  - module: skillforge.dataops.partner_segregation
"""

EXAMPLES = r"""
- name: What was done to the acme-partners tenant this year
  skillforge.dataops.compliance_audit_info:
    env: production
    tenant: acme-partners
    since: "2026-01-01"
    limit: 100
  register: audit

- name: Fail when a compliance run was interrupted and never re-run
  skillforge.dataops.compliance_audit_info:
    env: production
    outcome: running
  register: unfinished
  failed_when: unfinished.runs | selectattr('state', 'equalto', 'interrupted') | list | length > 0

- name: The record of one run, by its audit id (summary.audit_id in the compliance task's result)
  skillforge.dataops.compliance_audit_info:
    env: production
    audit_id: 77561eb513db42389cc166703bed9fc9

- name: Show that a data subject's erasure request was covered by a purge run
  skillforge.dataops.compliance_audit_info:
    env: production
    audit_id: 77561eb513db42389cc166703bed9fc9
    covers_user: cm1x2y3z40000abcd1234efgh
  register: receipt
  failed_when: not receipt.covered
"""

RETURN = r"""
runs:
  description: The matching runs, newest first.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The audit id.
      type: str
    job:
      description: The compliance job.
      type: str
    mode:
      description: Always V(execute) (dry runs are not recorded).
      type: str
    state:
      description: >-
        V(succeeded), V(failed), V(running) (its job's lock is held and it is the job's latest run,
        so it may still be running - in the seconds before a new run's first batch commits, that new
        run holds the lock), or V(interrupted) (recorded as running, but killed; or stopped between two
        batches when the controller that started it was gone).
      type: str
    outcome:
      description: The outcome as stored - V(running), V(succeeded), V(failed) or V(interrupted).
      type: str
    scope:
      description: What the run covered - tenant slug, user ids, cutoff, as the job's summary reports it.
      type: dict
      sample: {cutoff: "2024-11-26T09:00:00.000Z", retention_months: 24}
    triggered_by:
      description: Who asked for the run.
      type: str
    reason:
      description: Why (a ticket reference).
      type: str
    note:
      description: Free-text note given with the run.
      type: str
    counts:
      description: Rows changed per table, as committed.
      type: dict
      sample: {users: 1204, notifications: 9310, profiles: 1204}
    batches:
      description: Batches committed.
      type: int
    error:
      description: Why a failed run stopped (no personal data).
      type: str
    executed_by:
      description: The database role that ran it.
      type: str
    started_at:
      description: When it started (ISO-8601, UTC).
      type: str
    finished_at:
      description: When it finished (ISO-8601, UTC); null while running or when interrupted.
      type: str
    receipt:
      description: >-
        The run's receipt, no personal data - C(users) (ids covered), C(tables) (rows changed per table),
        C(verification) (C(result) V(passed) or V(failed), C(batches) verified, C(checks) run, C(failed) the
        table and column that still held rows), C(digest) (how a covered id's membership digest is made)
        and C(digests_sha256) (SHA-256 over the sorted membership digests, set when the run ended). Null
        for runs recorded before migration V1_7.
      type: dict
      sample: {format: 1, users: 1204, tables: {User: 1204, Notification: 9310},
               verification: {result: passed, batches: 1, checks: ["public.UserBadge.userId"]},
               digest: "sha256(utf8(audit_id + LF + user_id))",
               digests_sha256: 9f2c0e5b8a0d4c7e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a1b3c5d7e}
    pacing:
      description: >-
        How the run was paced - C(parallel) (the sessions its batches ran on) and C(pauses) (C(count) and
        C(seconds) of its waits for replica lag so far, kept up to date with every batch). Null for runs
        recorded before migration V1_8.
      type: dict
      sample: {parallel: 2, pauses: {count: 1, seconds: 42.5}}
  sample:
    - id: 77561eb513db42389cc166703bed9fc9
      job: data-retention
      mode: execute
      state: succeeded
      outcome: succeeded
      scope: {cutoff: "2024-11-26T09:00:00.000Z", retention_months: 24}
      triggered_by: dpo@skillforge.com
      reason: PRIV-112
      note: null
      counts: {users: 1204, notifications: 9310, resumes: 2388, resumeIngestions: 2390,
               assessments: 3611, notificationPreferences: 1204, profiles: 1204}
      batches: 1
      error: null
      executed_by: skillforge_ops
      started_at: "2026-11-26T09:00:01.120Z"
      finished_at: "2026-11-26T09:00:04.871Z"
covered:
  description: Whether the run O(audit_id) covered the user id O(covers_user).
  returned: when O(covers_user) is set
  type: bool
  sample: true
running_jobs:
  description: The jobs a run is executing right now (their advisory lock is held in this database).
  returned: success
  type: list
  elements: str
  sample: [consent-revocation]
database:
  description: Which database was read, without the password.
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
"""

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.ansible_glue import run_audit_info_module
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.audit import OUTCOMES
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import JOBS


def main():
    run_audit_info_module(dict(
        audit_id=dict(type="str"),
        job=dict(type="str", choices=sorted(JOBS)),
        outcome=dict(type="str", choices=list(OUTCOMES)),
        tenant=dict(type="str"),
        user=dict(type="str"),
        triggered_by=dict(type="str"),
        since=dict(type="str"),
        before=dict(type="str"),
        limit=dict(type="int", default=20),
        covers_user=dict(type="str"),
    ), required_by={"covers_user": "audit_id"})


if __name__ == "__main__":
    main()
