-- partner-segregation: one batch's change of every step, with its counts (the same for every scope).
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
WITH "step_0" AS (
    UPDATE "ResumeIngestion" "t"
    SET "ingestionMetadata" = "t"."ingestionMetadata" || %(partner_segregation__stamp)s, "updatedAt" = (now() AT TIME ZONE 'UTC')
    WHERE "t"."resumeId" = ANY(ARRAY(SELECT "r"."id" FROM "Resume" "r" WHERE "r"."userId" = ANY(%(batch__user_ids)s))) AND (jsonb_typeof("t"."ingestionMetadata") = 'object' AND NOT "t"."ingestionMetadata" @> %(partner_segregation__stamp)s)
    RETURNING NULL AS user_id
),
"step_1" AS (
    UPDATE "Notification" "t"
    SET "actions" = (SELECT jsonb_agg(CASE WHEN jsonb_typeof("a"."value") = 'object' THEN "a"."value" || %(partner_segregation__stamp)s ELSE "a"."value" END ORDER BY "a"."ordinality") FROM jsonb_array_elements("t"."actions") WITH ORDINALITY AS "a"(value, ordinality)), "updatedAt" = (now() AT TIME ZONE 'UTC')
    WHERE "t"."userId" = ANY(%(batch__user_ids)s) AND (jsonb_typeof("t"."actions") = 'array' AND EXISTS (SELECT 1 FROM jsonb_array_elements("t"."actions") AS "a"(value) WHERE jsonb_typeof("a"."value") = 'object' AND NOT "a"."value" @> %(partner_segregation__stamp)s))
    RETURNING NULL AS user_id
)
SELECT
    (SELECT count(*) FROM "step_0"),
    (SELECT count(*) FROM "step_1")
