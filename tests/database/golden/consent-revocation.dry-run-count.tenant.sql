-- consent-revocation: the dry run: every step's count over the whole scope; scope: tenant.
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
WITH scoped_users AS MATERIALIZED (
    SELECT "u"."id" FROM "User" "u"
    WHERE "u"."tenantId" = %(consent_revocation__tenant_id)s
),
"step_0" AS (
    SELECT "t"."id" AS user_id FROM "User" "t"
    WHERE "t"."id" IN (SELECT "id" FROM scoped_users) AND ("t"."marketingOptIn")
),
"step_1" AS (
    SELECT "t"."userId" AS user_id FROM "NotificationPreference" "t"
    WHERE "t"."userId" IN (SELECT "id" FROM scoped_users)
),
"step_2" AS (
    SELECT "t"."userId" AS user_id FROM "Assessment" "t"
    WHERE "t"."userId" IN (SELECT "id" FROM scoped_users) AND ("t"."status" IN ('scheduled', 'processing'))
),
"step_3" AS (
    SELECT "t"."userId" AS user_id FROM "Notification" "t"
    WHERE "t"."userId" IN (SELECT "id" FROM scoped_users) AND ("t"."status" <> 'archived')
)
SELECT
    (SELECT count(*) FROM (
        SELECT user_id FROM "step_0"
        UNION SELECT user_id FROM "step_1"
        UNION SELECT user_id FROM "step_2"
        UNION SELECT user_id FROM "step_3"
    ) AS changed_users),
    (SELECT count(*) FROM "step_0"),
    (SELECT count(*) FROM "step_1"),
    (SELECT count(*) FROM "step_2"),
    (SELECT count(*) FROM "step_3")
