-- data-retention: the users in scope, counted once before the first batch (max_users, progress); scope: cutoff-and-tenant.
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
SELECT count(*) FROM "User" "u"
WHERE "u"."legalHold" = false AND COALESCE("u"."lastActiveAt", "u"."createdAt") < %(data_retention__cutoff)s AND "u"."tenantId" = %(data_retention__tenant_id)s
