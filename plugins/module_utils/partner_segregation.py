# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""partner-segregation: a tenant's JSON blobs carry that tenant's own ids and no other's.

For the users of one tenant, the ``tenantId`` and ``partnerId`` keys of every
``ResumeIngestion.ingestionMetadata`` object and of every object in ``Notification.actions`` are
set to the tenant's ``id`` and ``partnerId`` (JSON null when it has none); every other key, and
every non-object array element, stays as it was. Only rows whose JSON changes are updated.
"""

from __future__ import annotations

from ansible_collections.skillforge.dataops.plugins.module_utils.compliance_job import (
    JobDefinition,
    JobSkipped,
    Step,
    tenant_by_slug,
    tenant_scope,
)

try:
    from psycopg.types.json import Jsonb
except ImportError:  # reported by the modules through missing_required_lib()
    Jsonb = None

JOB = "partner-segregation"

# %(stamp)s is the jsonb object {"tenantId": ..., "partnerId": ...}; `@>` containment treats a JSON
# null value as a value, so "NOT blob @> stamp" is exactly "merging the stamp would change blob".
STAMPED_ACTIONS = (
    "(SELECT jsonb_agg(CASE WHEN jsonb_typeof(a.value) = 'object' THEN a.value || %(stamp)s ELSE a.value END"
    " ORDER BY a.ordinality) FROM jsonb_array_elements(t.\"actions\") WITH ORDINALITY AS a(value, ordinality))"
)
ACTIONS_NEED_STAMP = (
    "jsonb_typeof(t.\"actions\") = 'array' AND EXISTS (SELECT 1 FROM jsonb_array_elements(t.\"actions\") AS a(value)"
    " WHERE jsonb_typeof(a.value) = 'object' AND NOT a.value @> %(stamp)s)"
)


def _validate(options: dict) -> None:
    # The runbook: "--tenant is required. Without it the job records a warning and exits."
    if not options.get("tenant"):
        raise JobSkipped("%s: no tenant given, so no tenant's JSON can be stamped; nothing was changed "
                         "(set tenant to the tenant whose users' JSON gets its ids)" % JOB)


def _resolve_scope(conn, options: dict):
    tenant_id, partner_id = tenant_by_slug(conn, JOB, options["tenant"])
    scope = tenant_scope(tenant_id, options["tenant"])
    scope.params["stamp"] = Jsonb({"tenantId": tenant_id, "partnerId": partner_id})
    return scope


DEFINITION = JobDefinition(
    name=JOB,
    scope_options=("tenant",),
    validate=_validate,
    resolve_scope=_resolve_scope,
    steps=(
        Step("resumeUpdates", "ResumeIngestion", owner="resume", sample=True,
             where="jsonb_typeof(t.\"ingestionMetadata\") = 'object' AND NOT t.\"ingestionMetadata\" @> %(stamp)s",
             assignments=(("ingestionMetadata", "t.\"ingestionMetadata\" || %(stamp)s"),)),
        Step("notificationUpdates", "Notification", sample=True, where=ACTIONS_NEED_STAMP,
             assignments=(("actions", STAMPED_ACTIONS),)),
    ),
)
