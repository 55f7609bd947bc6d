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

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import (
    JobDefinition,
    JobSkipped,
    tenant_by_slug,
    tenant_scope,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.statements import (
    JobParams,
    Step,
    row_column,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

with declare("psycopg"):
    from psycopg import sql
    from psycopg.types.json import Jsonb

JOB = "partner-segregation"
PARAMS = JobParams(JOB)
# The alias of jsonb_array_elements over "actions" in the two expressions below.
ELEMENT_ALIAS = "a"


# PARAMS("stamp") is the jsonb object {"tenantId": ..., "partnerId": ...}; `@>` containment treats a
# JSON null value as a value, so "NOT blob @> stamp" is exactly "merging the stamp would change blob".
def _stamped_actions() -> "sql.Composable":
    return sql.SQL(
        "(SELECT jsonb_agg(CASE WHEN jsonb_typeof({value}) = 'object' THEN {value} || {stamp} ELSE {value} END"
        " ORDER BY {ordinality}) FROM jsonb_array_elements({actions}) WITH ORDINALITY AS {element}(value, ordinality))"
    ).format(value=sql.Identifier(ELEMENT_ALIAS, "value"), ordinality=sql.Identifier(ELEMENT_ALIAS, "ordinality"),
             stamp=PARAMS("stamp"), actions=row_column("actions"), element=sql.Identifier(ELEMENT_ALIAS))


def _actions_need_stamp() -> "sql.Composable":
    return sql.SQL(
        "jsonb_typeof({actions}) = 'array' AND EXISTS (SELECT 1 FROM jsonb_array_elements({actions}) AS {element}(value)"
        " WHERE jsonb_typeof({value}) = 'object' AND NOT {value} @> {stamp})"
    ).format(actions=row_column("actions"), element=sql.Identifier(ELEMENT_ALIAS),
             value=sql.Identifier(ELEMENT_ALIAS, "value"), stamp=PARAMS("stamp"))


def _validate(options: dict) -> None:
    # The runbook: "--tenant is required. Without it the job records a warning and exits."
    if not options.get("tenant"):
        raise JobSkipped("%s: no tenant given, so no tenant's JSON can be stamped; nothing was changed "
                         "(set tenant to the tenant whose users' JSON gets its ids)" % JOB)


def _resolve_scope(conn, options: dict):
    tenant_id, partner_id = tenant_by_slug(conn, JOB, options["tenant"])
    scope = tenant_scope(PARAMS, tenant_id, options["tenant"])
    scope.params.update(PARAMS.values(stamp=Jsonb({"tenantId": tenant_id, "partnerId": partner_id})))
    return scope


def _steps() -> tuple:
    metadata = row_column("ingestionMetadata")
    return (
        Step("resumeUpdates", "ResumeIngestion", owner="resume", sample=True,
             where=sql.SQL("jsonb_typeof({metadata}) = 'object' AND NOT {metadata} @> {stamp}").format(
                 metadata=metadata, stamp=PARAMS("stamp")),
             assignments=(("ingestionMetadata", sql.SQL("{} || {}").format(metadata, PARAMS("stamp"))),)),
        Step("notificationUpdates", "Notification", sample=True, where=_actions_need_stamp(),
             assignments=(("actions", _stamped_actions()),)),
    )


DEFINITION = JobDefinition(
    name=JOB,
    scope_options=("tenant",),
    validate=_validate,
    resolve_scope=_resolve_scope,
    declare_steps=_steps,
    queue="partner-segregation-jobs",
    payload_scope=("tenant",),
)
