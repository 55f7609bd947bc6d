-- data-retention: every later batch of users, after the keyset cursor; scope: cutoff.
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
SELECT COALESCE("u"."lastActiveAt", "u"."createdAt"), "u"."id" FROM "User" "u"
WHERE ("u"."legalHold" = false AND COALESCE("u"."lastActiveAt", "u"."createdAt") < %(data_retention__cutoff)s) AND (COALESCE("u"."lastActiveAt", "u"."createdAt"), "u"."id") > (%(batch__after_0)s, %(batch__after_1)s)
ORDER BY COALESCE("u"."lastActiveAt", "u"."createdAt"), "u"."id"
LIMIT %(batch__size)s
