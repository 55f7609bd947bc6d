-- consent-revocation: max_users: the users in scope, counted before the first batch; scope: tenant.
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
SELECT count(*) FROM "User" "u"
WHERE "u"."tenantId" = %(consent_revocation__tenant_id)s
