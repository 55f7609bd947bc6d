-- consent-revocation: a run's first batch of users, by the keyset; scope: tenant.
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
SELECT "u"."id" FROM "User" "u"
WHERE "u"."tenantId" = %(consent_revocation__tenant_id)s
ORDER BY "u"."id"
LIMIT %(batch__size)s
