# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""consent-revocation: a tenant's users (or listed users) stop receiving anything from SkillForge.

Per user in scope: marketing opt-in off, every notification preference removed, scheduled or
processing assessments cancelled with notifications off, and every notification not yet archived
archived so downstream channels stop delivering it. Each step only touches rows that change, so
a second run changes (and counts) nothing.
"""

from __future__ import annotations

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import (
    JobDefinition,
    existing_user_ids,
    require_one_of,
    tenant_by_slug,
    tenant_scope,
    users_scope,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.statements import (
    JobParams,
    Step,
    row_column,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

with declare("psycopg"):
    from psycopg import sql

JOB = "consent-revocation"
PARAMS = JobParams(JOB)


def _validate(options: dict) -> None:
    require_one_of(JOB, options, ("tenant", "user"))


def _resolve_scope(conn, options: dict):
    if options["tenant"]:
        tenant_id, _partner_id = tenant_by_slug(conn, JOB, options["tenant"])
        return tenant_scope(PARAMS, tenant_id, options["tenant"])
    return users_scope(PARAMS, existing_user_ids(conn, JOB, options["user"]))


def _steps() -> tuple:
    return (
        Step("marketingOptOuts", "User", owner="self", where=row_column("marketingOptIn"),
             assignments=(("marketingOptIn", sql.SQL("false")),)),
        Step("notificationPreferencesDeleted", "NotificationPreference"),
        Step("assessmentsCancelled", "Assessment",
             where=sql.SQL("{} IN ('scheduled', 'processing')").format(row_column("status")),
             assignments=(("status", sql.SQL("'cancelled'")), ("notificationsEnabled", sql.SQL("false")))),
        Step("notificationsArchived", "Notification", where=sql.SQL("{} <> 'archived'").format(row_column("status")),
             assignments=(("status", sql.SQL("'archived'")),)),
    )


DEFINITION = JobDefinition(
    name=JOB,
    scope_options=("tenant", "user"),
    validate=_validate,
    resolve_scope=_resolve_scope,
    count_users=True,  # "users": users with at least one change
    user_lock="NO KEY UPDATE",  # updates the user rows (marketingOptIn)
    declare_steps=_steps,
    queue="consent-revocation-jobs",
    payload_scope=("tenant", "user"),
)
