"""Each compliance job's parameter namespace, without a database: the jobs' namespaces are distinct
apart from the batches' one, and a step or scope binding another namespace is refused when the job is
defined. (The rendered statements are checked against their golden files in
tests/database/test_compliance_sql.py.)"""

from __future__ import annotations

import pytest
from psycopg import sql

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import (
    JobDefinition,
    check_scope_parameters,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.statements import (
    BATCH,
    JobParams,
    Scope,
    Step,
    row_column,
    user_column,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import JOBS


def test_jobs_have_distinct_parameter_namespaces_apart_from_the_batches():
    prefixes = [definition.params.prefix for definition in JOBS.values()] + [BATCH.prefix]
    assert len(set(prefixes)) == len(prefixes)
    assert JOBS["consent-revocation"].params.name("tenant_id") == "consent_revocation__tenant_id"
    with pytest.raises(ValueError, match="parameter namespace"):
        JobDefinition(name="batch", scope_options=(), validate=None, resolve_scope=None, declare_steps=tuple)


def test_a_step_or_scope_binding_another_namespace_is_refused():
    other = JobParams("other-job")
    definition = JobDefinition(
        name="some-job", scope_options=(), validate=None, resolve_scope=None,
        declare_steps=lambda: (Step("rows", "Notification", where=sql.SQL("{} = {}").format(
            row_column("status"), other("status"))),))
    with pytest.raises(ValueError, match="other_job__status, outside the job's parameters"):
        definition.steps  # pylint: disable=pointless-statement
    handwritten = JobDefinition(
        name="some-job", scope_options=(), validate=None, resolve_scope=None,
        declare_steps=lambda: (Step("rows", "Notification", where=sql.SQL("t.status = %(status)s")),))
    with pytest.raises(ValueError, match="binds status,"):
        handwritten.steps  # pylint: disable=pointless-statement
    scope = Scope(report={}, user_filter=sql.SQL("{} = {}").format(user_column("tenantId"), other("tenant_id")),
                  params=other.values(tenant_id="ten-1"))
    with pytest.raises(ValueError, match="the scope binds other_job__tenant_id"):
        check_scope_parameters(definition, scope)
