-- consent-revocation: the users in scope, counted once before the first batch (max_users, progress); scope: tenant.
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
SELECT count(*) FROM "User" "u"
WHERE "u"."tenantId" = %(consent_revocation__tenant_id)s
