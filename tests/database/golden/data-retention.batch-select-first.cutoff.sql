-- data-retention: a run's first batch of users, by the keyset; scope: cutoff.
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
SELECT COALESCE("u"."lastActiveAt", "u"."createdAt"), "u"."id" FROM "User" "u"
WHERE "u"."legalHold" = false AND COALESCE("u"."lastActiveAt", "u"."createdAt") < %(data_retention__cutoff)s
ORDER BY COALESCE("u"."lastActiveAt", "u"."createdAt"), "u"."id"
LIMIT %(batch__size)s
