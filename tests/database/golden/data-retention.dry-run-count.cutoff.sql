-- data-retention: the dry run: every step's count over the whole scope; scope: cutoff.
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
WITH scoped_users AS MATERIALIZED (
    SELECT "u"."id" FROM "User" "u"
    WHERE "u"."legalHold" = false AND COALESCE("u"."lastActiveAt", "u"."createdAt") < %(data_retention__cutoff)s
),
"step_0" AS (
    SELECT NULL AS user_id FROM "User" "t"
    WHERE "t"."id" IN (SELECT "id" FROM scoped_users)
),
"step_1" AS (
    SELECT NULL AS user_id FROM "Notification" "t"
    WHERE "t"."userId" IN (SELECT "id" FROM scoped_users)
),
"step_2" AS (
    SELECT NULL AS user_id FROM "Resume" "t"
    WHERE "t"."userId" IN (SELECT "id" FROM scoped_users)
),
"step_3" AS (
    SELECT NULL AS user_id FROM "ResumeIngestion" "t"
    WHERE "t"."resumeId" IN (SELECT "r"."id" FROM "Resume" "r" WHERE "r"."userId" IN (SELECT "id" FROM scoped_users))
),
"step_4" AS (
    SELECT NULL AS user_id FROM "Assessment" "t"
    WHERE "t"."userId" IN (SELECT "id" FROM scoped_users)
),
"step_5" AS (
    SELECT NULL AS user_id FROM "NotificationPreference" "t"
    WHERE "t"."userId" IN (SELECT "id" FROM scoped_users)
),
"step_6" AS (
    SELECT NULL AS user_id FROM "Profile" "t"
    WHERE "t"."userId" IN (SELECT "id" FROM scoped_users)
)
SELECT
    (SELECT count(*) FROM "step_0"),
    (SELECT count(*) FROM "step_1"),
    (SELECT count(*) FROM "step_2"),
    (SELECT count(*) FROM "step_3"),
    (SELECT count(*) FROM "step_4"),
    (SELECT count(*) FROM "step_5"),
    (SELECT count(*) FROM "step_6")
