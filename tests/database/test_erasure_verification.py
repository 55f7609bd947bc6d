"""Verified erasure and its receipt, against a real PostgreSQL: each batch checks, before it commits,
that nothing of its users remains (foreign keys to "User" found in the catalog, userId columns, the
job's own steps), rolls back naming the table when something does, and the audit row's receipt
matches what an independent SQL computation says the run did."""

from __future__ import annotations

import psycopg
import pytest

from ansible_collections.skillforge.dataops.tests import sample_data
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import receipt
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import JobInputError, JobRunError
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import audit_history, run_job

DPO = "dpo@skillforge.com"
PURGE = {"tenant": "globex", "triggered_by": DPO, "batch_size": 3}
ELIGIBLE = """
SELECT u."id" FROM "User" u JOIN "Tenant" k ON k."id" = u."tenantId"
 WHERE k."slug" = 'globex' AND NOT u."legalHold"
   AND COALESCE(u."lastActiveAt", u."createdAt") < (now() AT TIME ZONE 'UTC') - interval '24 months'
"""


@pytest.fixture
def conn(migrated_database_url):
    with psycopg.connect(migrated_database_url, autocommit=True) as connection:
        sample_data.generate(connection, seed=3, users_per_tenant=40)
        yield connection


def eligible(conn) -> list:
    return sorted(row[0] for row in conn.execute(ELIGIBLE))


def audit_row(conn, audit_id) -> tuple:
    return conn.execute('SELECT "outcome", "error", "receipt", "batches" FROM "ComplianceAuditLog" WHERE "id" = %s',
                        (audit_id,)).fetchone()


def test_receipt_counts_and_hash_match_an_independent_computation_and_cover_the_erased_ids(conn):
    erased = eligible(conn)
    assert len(erased) > 6  # several batches of 3
    expected_tables = {table: conn.execute(
        'SELECT count(*) FROM "%s" WHERE "userId" = ANY(%%s)' % table, (erased,)).fetchone()[0]
        for table in ("Notification", "Resume", "Assessment", "NotificationPreference", "Profile")}
    expected_tables["ResumeIngestion"] = conn.execute(
        'SELECT count(*) FROM "ResumeIngestion" i JOIN "Resume" r ON r."id" = i."resumeId" WHERE r."userId" = ANY(%s)',
        (erased,)).fetchone()[0]
    expected_tables["User"] = len(erased)
    survivor = conn.execute('SELECT "id" FROM "User" WHERE NOT ("id" = ANY(%s)) LIMIT 1', (erased,)).fetchone()[0]

    summary = run_job(conn, "data-retention", PURGE, dry_run=False)

    outcome, error, stored, batches = audit_row(conn, summary["audit_id"])
    assert (outcome, error) == ("succeeded", None) and batches == summary["batches"] > 2
    assert stored["users"] == len(erased)
    assert stored["tables"] == expected_tables
    assert stored["verification"]["result"] == "passed"
    assert stored["verification"]["batches"] == batches
    assert "User (step users)" in stored["verification"]["checks"]
    assert stored["digest"] == receipt.DIGEST_DEFINITION
    # The hash over the sorted membership digests, computed by SQL from the ids alone (no batches).
    independent = conn.execute(
        """SELECT encode(sha256(convert_to(string_agg(d || E'\\n', '' ORDER BY d COLLATE "C"), 'UTF8')), 'hex')
             FROM (SELECT encode(sha256(convert_to(%(run)s::text || E'\\n' || id, 'UTF8')), 'hex') AS d
                     FROM unnest(%(ids)s::text[]) AS ids(id)) AS digests""",
        dict(run=summary["audit_id"], ids=erased)).fetchone()[0]
    assert stored["digests_sha256"] == independent
    assert receipt.digests_sha256(receipt.membership_digest(summary["audit_id"], i) for i in erased) == independent
    # No id is stored: neither in the receipt nor in the digest table.
    assert not any(user_id in str(stored) for user_id in erased)

    assert audit_history(conn, audit_id=summary["audit_id"], covers_user=erased[0])["covered"] is True
    assert audit_history(conn, audit_id=summary["audit_id"], covers_user=erased[-1])["covered"] is True
    assert audit_history(conn, audit_id=summary["audit_id"], covers_user=survivor)["covered"] is False
    assert audit_history(conn, audit_id=summary["audit_id"], covers_user="never-a-user")["covered"] is False
    with pytest.raises(JobInputError, match="covers_user needs audit_id"):
        audit_history(conn, covers_user=erased[0])
    with pytest.raises(JobInputError, match="no executed run"):
        audit_history(conn, audit_id="0" * 32, covers_user=erased[0])


def test_a_table_added_later_without_cascade_is_found_in_the_catalog_and_the_batch_rolls_back(conn):
    # The API adds a table the purge steps do not know: a deferred foreign key (PostgreSQL itself
    # would only object at commit) and a userId column with no constraint at all.
    conn.execute('''CREATE TABLE "UserBadge" ("id" TEXT PRIMARY KEY, "userId" TEXT NOT NULL
                    REFERENCES "User"("id") ON DELETE NO ACTION DEFERRABLE INITIALLY DEFERRED)''')
    conn.execute('CREATE INDEX ON "UserBadge"("userId")')
    erased = eligible(conn)
    conn.execute('INSERT INTO "UserBadge" SELECT \'badge-\' || "id", "id" FROM "User" WHERE "id" = %s', (erased[-1],))
    before = sample_data.table_fingerprints(conn)

    with pytest.raises(JobRunError) as failure:
        run_job(conn, "data-retention", PURGE, dry_run=False)

    message = str(failure.value)
    assert "public.UserBadge.userId" in message and "UserBadge_userId_fkey" in message
    assert not any(user_id in message for user_id in erased)
    summary = failure.value.summary
    outcome, error, stored, batches = audit_row(conn, summary["audit_id"])
    assert outcome == "failed" and "public.UserBadge.userId" in error
    assert stored["verification"]["result"] == "failed"
    assert stored["verification"]["failed"] == "public.UserBadge.userId"
    # The batches before the one holding the badge's user committed; that batch rolled back.
    assert conn.execute('SELECT count(*) FROM "User" WHERE "id" = %s', (erased[-1],)).fetchone()[0] == 1
    assert stored["users"] == batches * PURGE["batch_size"] < len(erased)
    assert conn.execute('SELECT count(*) FROM "ComplianceErasureDigest" WHERE "auditId" = %s',
                        (summary["audit_id"],)).fetchone()[0] == stored["users"]
    assert before != sample_data.table_fingerprints(conn)


def test_a_user_id_column_without_a_constraint_is_checked(conn):
    conn.execute('CREATE TABLE "LoginEvent" ("id" SERIAL PRIMARY KEY, "userId" VARCHAR(40))')
    erased = eligible(conn)
    conn.execute('INSERT INTO "LoginEvent" ("userId") VALUES (%s)', (erased[0],))

    with pytest.raises(JobRunError, match=r"public\.LoginEvent\.userId"):
        run_job(conn, "data-retention", PURGE, dry_run=False)

    # The batch holding that user rolled back (earlier batches committed, each verified).
    assert conn.execute('SELECT count(*) FROM "User" WHERE "id" = %s', (erased[0],)).fetchone()[0] == 1


def test_a_cascading_foreign_key_added_later_passes_and_is_listed_as_enforced(conn):
    conn.execute('''CREATE TABLE "Follow" ("id" TEXT PRIMARY KEY, "followerId" TEXT
                    REFERENCES "User"("id") ON DELETE CASCADE)''')
    erased = eligible(conn)
    conn.execute('INSERT INTO "Follow" SELECT \'f-\' || "id", "id" FROM "User" WHERE "id" = ANY(%s)', (erased,))

    summary = run_job(conn, "data-retention", PURGE, dry_run=False)

    stored = audit_row(conn, summary["audit_id"])[2]
    assert stored["verification"]["result"] == "passed"
    assert "public.Follow.followerId by Follow_followerId_fkey" in stored["verification"]["enforced"]
    assert "public.Notification.userId by Notification_userId_fkey" in stored["verification"]["enforced"]
    assert conn.execute('SELECT count(*) FROM "Follow"').fetchone()[0] == 0


def test_consent_revocation_verifies_its_own_postconditions(conn):
    # A trigger (say, a buggy API-side sync) that opts users back in as the job opts them out.
    conn.execute('''CREATE FUNCTION keep_opt_in() RETURNS trigger LANGUAGE plpgsql AS
                    $$ BEGIN NEW."marketingOptIn" := true; RETURN NEW; END $$''')
    conn.execute('CREATE TRIGGER keep_opt_in BEFORE UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION keep_opt_in()')
    before = sample_data.tenant_fingerprints(conn, "acme-partners")

    with pytest.raises(JobRunError, match=r"User \(step marketingOptOuts\)"):
        run_job(conn, "consent-revocation", {"tenant": "acme-partners", "triggered_by": DPO}, dry_run=False)

    assert sample_data.tenant_fingerprints(conn, "acme-partners") == before
    conn.execute('DROP TRIGGER keep_opt_in ON "User"')
    summary = run_job(conn, "consent-revocation", {"tenant": "acme-partners", "triggered_by": DPO}, dry_run=False)
    stored = audit_row(conn, summary["audit_id"])[2]
    assert stored["verification"]["result"] == "passed"
    assert {"User (step marketingOptOuts)", "Notification (step notificationsArchived)"} <= set(
        stored["verification"]["checks"])
    assert not any(check.startswith("public.") for check in stored["verification"]["checks"])  # no catalog checks
