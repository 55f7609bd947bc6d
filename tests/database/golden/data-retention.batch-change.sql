-- data-retention: one batch's change of every step, with its counts (the same for every scope).
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
WITH "step_0" AS (
    DELETE FROM "User" "t"
    WHERE "t"."id" = ANY(%(batch__user_ids)s)
    RETURNING NULL AS user_id
),
"step_1" AS (
    DELETE FROM "Notification" "t"
    WHERE "t"."userId" = ANY(%(batch__user_ids)s)
    RETURNING NULL AS user_id
),
"step_2" AS (
    DELETE FROM "Resume" "t"
    WHERE "t"."userId" = ANY(%(batch__user_ids)s)
    RETURNING NULL AS user_id
),
"step_3" AS (
    DELETE FROM "ResumeIngestion" "t"
    WHERE "t"."resumeId" = ANY(ARRAY(SELECT "r"."id" FROM "Resume" "r" WHERE "r"."userId" = ANY(%(batch__user_ids)s)))
    RETURNING NULL AS user_id
),
"step_4" AS (
    DELETE FROM "Assessment" "t"
    WHERE "t"."userId" = ANY(%(batch__user_ids)s)
    RETURNING NULL AS user_id
),
"step_5" AS (
    DELETE FROM "NotificationPreference" "t"
    WHERE "t"."userId" = ANY(%(batch__user_ids)s)
    RETURNING NULL AS user_id
),
"step_6" AS (
    DELETE FROM "Profile" "t"
    WHERE "t"."userId" = ANY(%(batch__user_ids)s)
    RETURNING NULL AS user_id
)
SELECT
    (SELECT count(*) FROM "step_0"),
    (SELECT count(*) FROM "step_1"),
    (SELECT count(*) FROM "step_2"),
    (SELECT count(*) FROM "step_3"),
    (SELECT count(*) FROM "step_4"),
    (SELECT count(*) FROM "step_5"),
    (SELECT count(*) FROM "step_6")
