-- partner-segregation: a batch's users locked in id order, re-checked against the scope; scope: tenant.
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
SELECT "u"."id" FROM "User" "u"
WHERE "u"."id" = ANY(%(batch__candidate_ids)s) AND ("u"."tenantId" = %(partner_segregation__tenant_id)s)
ORDER BY "u"."id"
FOR SHARE OF "u"
