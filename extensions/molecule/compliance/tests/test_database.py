"""Molecule verify (pytest-testinfra): after converge every job's runbook check finds nothing left, the
sample still has data the jobs must not touch, and each executed run left a succeeded audit row."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REVOKED_TENANT = "acme-partners"
SEGREGATED_TENANT = "initech"

# The "Verify" queries of docs/COMPLIANCE.md's runbooks: each counts what the job should have left.
LEFT_TO_REVOKE = """
SELECT count(*) FROM "User" u JOIN "Tenant" t ON t."id" = u."tenantId"
 WHERE t."slug" = 'acme-partners'
   AND (u."marketingOptIn"
        OR EXISTS (SELECT 1 FROM "NotificationPreference" p WHERE p."userId" = u."id")
        OR EXISTS (SELECT 1 FROM "Assessment" a WHERE a."userId" = u."id" AND a."status" IN ('scheduled', 'processing'))
        OR EXISTS (SELECT 1 FROM "Notification" n WHERE n."userId" = u."id" AND n."status" <> 'archived'))"""
LEFT_TO_PURGE = """
SELECT count(*) FROM "User"
 WHERE NOT "legalHold" AND coalesce("lastActiveAt", "createdAt") < now() AT TIME ZONE 'UTC' - interval '24 months'"""
LEFT_TO_SEGREGATE = """
WITH t AS (SELECT "id", "partnerId", jsonb_build_object('tenantId', "id", 'partnerId', "partnerId") AS stamp
             FROM "Tenant" WHERE "slug" = 'initech')
SELECT (SELECT count(*) FROM "ResumeIngestion" i JOIN "Resume" r ON r."id" = i."resumeId"
          JOIN "User" u ON u."id" = r."userId" JOIN t ON t."id" = u."tenantId"
         WHERE jsonb_typeof(i."ingestionMetadata") = 'object' AND NOT i."ingestionMetadata" @> t.stamp)
     + (SELECT count(*) FROM "Notification" n JOIN "User" u ON u."id" = n."userId" JOIN t ON t."id" = u."tenantId",
               jsonb_array_elements(CASE jsonb_typeof(n."actions") WHEN 'array' THEN n."actions" ELSE '[]' END) a
         WHERE jsonb_typeof(a) = 'object' AND NOT a @> t.stamp)"""


def query(host, statement: str) -> str:
    """One value from the scenario's database, read with psql on the host under test."""
    url = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "database_url").read_text(encoding="utf-8")
    return host.check_output("psql %s -XAtqc %s", url, statement)


@pytest.mark.parametrize("statement", [LEFT_TO_REVOKE, LEFT_TO_PURGE, LEFT_TO_SEGREGATE],
                         ids=["consent-revocation", "data-retention", "partner-segregation"])
def test_nothing_is_left_for_the_job(host, statement):
    assert query(host, statement) == "0"


def test_other_tenants_keep_their_consent(host):
    """Consent was revoked for one tenant only: the others still have opted-in users."""
    assert int(query(host, """SELECT count(*) FROM "User" u JOIN "Tenant" t ON t."id" = u."tenantId"
                               WHERE t."slug" <> 'acme-partners' AND u."marketingOptIn" """)) > 0


def test_legal_holds_survive_the_purge(host):
    assert int(query(host, """SELECT count(*) FROM "User" WHERE "legalHold" """)) > 0


@pytest.mark.parametrize("job", ["consent-revocation", "data-retention", "partner-segregation"])
def test_each_execution_is_audited(host, job):
    row = query(host, """SELECT "outcome" || ' ' || "triggeredBy" || ' ' || coalesce("reason", '')
                           FROM "ComplianceAuditLog" WHERE "job" = '%s' AND "mode" = 'execute'
                          ORDER BY "startedAt" LIMIT 1""" % job)
    assert row == "succeeded molecule@skillforge.com MOLECULE-1"
