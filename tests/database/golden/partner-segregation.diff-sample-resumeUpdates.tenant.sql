-- partner-segregation: diff mode: up to 5 ResumeIngestion rows before and after (step resumeUpdates); scope: tenant.
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
WITH scoped_users AS MATERIALIZED (
    SELECT "u"."id" FROM "User" "u"
    WHERE "u"."tenantId" = %(partner_segregation__tenant_id)s
)
SELECT "t"."id", "t"."ingestionMetadata", "t"."ingestionMetadata" || %(partner_segregation__stamp)s FROM "ResumeIngestion" "t"
WHERE "t"."resumeId" IN (SELECT "r"."id" FROM "Resume" "r" WHERE "r"."userId" IN (SELECT "id" FROM scoped_users)) AND (jsonb_typeof("t"."ingestionMetadata") = 'object' AND NOT "t"."ingestionMetadata" @> %(partner_segregation__stamp)s)
ORDER BY "t"."id"
LIMIT 5
