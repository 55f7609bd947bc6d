-- partner-segregation: the dry run: every step's count over the whole scope; scope: tenant.
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
WITH scoped_users AS MATERIALIZED (
    SELECT "u"."id" FROM "User" "u"
    WHERE "u"."tenantId" = %(partner_segregation__tenant_id)s
),
"step_0" AS (
    SELECT NULL AS user_id FROM "ResumeIngestion" "t"
    WHERE "t"."resumeId" IN (SELECT "r"."id" FROM "Resume" "r" WHERE "r"."userId" IN (SELECT "id" FROM scoped_users)) AND (jsonb_typeof("t"."ingestionMetadata") = 'object' AND NOT "t"."ingestionMetadata" @> %(partner_segregation__stamp)s)
),
"step_1" AS (
    SELECT NULL AS user_id FROM "Notification" "t"
    WHERE "t"."userId" IN (SELECT "id" FROM scoped_users) AND (jsonb_typeof("t"."actions") = 'array' AND EXISTS (SELECT 1 FROM jsonb_array_elements("t"."actions") AS "a"(value) WHERE jsonb_typeof("a"."value") = 'object' AND NOT "a"."value" @> %(partner_segregation__stamp)s))
)
SELECT
    (SELECT count(*) FROM "step_0"),
    (SELECT count(*) FROM "step_1")
