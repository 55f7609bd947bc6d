-- consent-revocation: a run's first batch of users, by the keyset; scope: users.
-- Rendered by test_compliance_sql.py; regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py
SELECT "u"."id" FROM "User" "u"
WHERE "u"."id" = ANY(%(consent_revocation__user_ids)s)
ORDER BY "u"."id"
LIMIT %(batch__size)s
