-- partner-segregation: diff mode: up to 5 Notification rows before and after (step notificationUpdates); scope: tenant.
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
WITH scoped_users AS MATERIALIZED (
    SELECT "u"."id" FROM "User" "u"
    WHERE "u"."tenantId" = %(partner_segregation__tenant_id)s
)
SELECT "t"."id", "t"."actions", (SELECT jsonb_agg(CASE WHEN jsonb_typeof("a"."value") = 'object' THEN "a"."value" || %(partner_segregation__stamp)s ELSE "a"."value" END ORDER BY "a"."ordinality") FROM jsonb_array_elements("t"."actions") WITH ORDINALITY AS "a"(value, ordinality)) FROM "Notification" "t"
WHERE "t"."userId" IN (SELECT "id" FROM scoped_users) AND (jsonb_typeof("t"."actions") = 'array' AND EXISTS (SELECT 1 FROM jsonb_array_elements("t"."actions") AS "a"(value) WHERE jsonb_typeof("a"."value") = 'object' AND NOT "a"."value" @> %(partner_segregation__stamp)s))
ORDER BY "t"."id"
LIMIT 5
