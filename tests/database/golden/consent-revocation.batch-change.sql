-- consent-revocation: one batch's change of every step, with its counts (the same for every scope).
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
WITH "step_0" AS (
    UPDATE "User" "t"
    SET "marketingOptIn" = false, "updatedAt" = (now() AT TIME ZONE 'UTC')
    WHERE "t"."id" = ANY(%(batch__user_ids)s) AND ("t"."marketingOptIn")
    RETURNING "t"."id" AS user_id
),
"step_1" AS (
    DELETE FROM "NotificationPreference" "t"
    WHERE "t"."userId" = ANY(%(batch__user_ids)s)
    RETURNING "t"."userId" AS user_id
),
"step_2" AS (
    UPDATE "Assessment" "t"
    SET "status" = 'cancelled', "notificationsEnabled" = false, "updatedAt" = (now() AT TIME ZONE 'UTC')
    WHERE "t"."userId" = ANY(%(batch__user_ids)s) AND ("t"."status" IN ('scheduled', 'processing'))
    RETURNING "t"."userId" AS user_id
),
"step_3" AS (
    UPDATE "Notification" "t"
    SET "status" = 'archived', "updatedAt" = (now() AT TIME ZONE 'UTC')
    WHERE "t"."userId" = ANY(%(batch__user_ids)s) AND ("t"."status" <> 'archived')
    RETURNING "t"."userId" AS user_id
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
