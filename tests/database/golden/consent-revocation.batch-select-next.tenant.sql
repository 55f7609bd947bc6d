-- consent-revocation: every later batch of users, after the keyset cursor; scope: tenant.
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
SELECT "u"."id" FROM "User" "u"
WHERE ("u"."tenantId" = %(consent_revocation__tenant_id)s) AND ("u"."id") > (%(batch__after_0)s)
ORDER BY "u"."id"
LIMIT %(batch__size)s
