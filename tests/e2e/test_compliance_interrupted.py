"""A retention purge killed with SIGKILL in the middle of a batch leaves every user complete or
gone, its audit row says exactly what was committed, and running the job again finishes the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psycopg
import sample_data
from conftest import COLLECTIONS_DIR, wait_for

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job

APPLICATION_NAME = "compliance-kill-test"
BATCH_SIZE = 2
# The job function itself, in a process of its own that the test can kill.
WORKER = """
import sys
import psycopg
sys.path.insert(0, sys.argv[2])
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job
conn = psycopg.connect(sys.argv[1], application_name=%r)
run_job(conn, "data-retention", {"before": sys.argv[3], "triggered_by": "kill-test", "batch_size": %d,
                                 "db_lock_timeout": 0}, dry_run=False)  # blocked until killed
""" % (APPLICATION_NAME, BATCH_SIZE)

PER_USER_ROWS = """
SELECT u."id",
       (SELECT count(*) FROM "Profile" p WHERE p."userId" = u."id"),
       (SELECT count(*) FROM "Resume" r WHERE r."userId" = u."id"),
       (SELECT count(*) FROM "ResumeIngestion" i JOIN "Resume" r ON r."id" = i."resumeId" WHERE r."userId" = u."id"),
       (SELECT count(*) FROM "Assessment" a WHERE a."userId" = u."id"),
       (SELECT count(*) FROM "Notification" n WHERE n."userId" = u."id"),
       (SELECT count(*) FROM "NotificationPreference" p WHERE p."userId" = u."id")
  FROM "User" u
"""
ORPHANS = """
SELECT (SELECT count(*) FROM "Profile" x WHERE NOT EXISTS (SELECT 1 FROM "User" u WHERE u."id" = x."userId"))
     + (SELECT count(*) FROM "Resume" x WHERE NOT EXISTS (SELECT 1 FROM "User" u WHERE u."id" = x."userId"))
     + (SELECT count(*) FROM "ResumeIngestion" x WHERE NOT EXISTS (SELECT 1 FROM "Resume" r WHERE r."id" = x."resumeId"))
     + (SELECT count(*) FROM "Assessment" x WHERE NOT EXISTS (SELECT 1 FROM "User" u WHERE u."id" = x."userId"))
     + (SELECT count(*) FROM "Notification" x WHERE NOT EXISTS (SELECT 1 FROM "User" u WHERE u."id" = x."userId"))
     + (SELECT count(*) FROM "NotificationPreference" x
         WHERE NOT EXISTS (SELECT 1 FROM "User" u WHERE u."id" = x."userId"))
"""


def assert_every_user_complete_or_gone(conn, before: dict) -> set:
    """Users still there have every row they had; users gone left nothing behind."""
    after = {row[0]: row[1:] for row in conn.execute(PER_USER_ROWS)}
    for user_id, rows in after.items():
        assert rows == before[user_id], "user %s is half deleted" % user_id
    assert conn.execute(ORPHANS).fetchone()[0] == 0
    return set(before) - set(after)


def test_killed_purge_leaves_no_user_half_deleted_and_a_rerun_finishes(migrated_database_url):
    conn = psycopg.connect(migrated_database_url, autocommit=True)
    sample_data.generate(conn, seed=5, users_per_tenant=30)
    cutoff = conn.execute("SELECT to_char((now() AT TIME ZONE 'UTC') - interval '24 months',"
                          " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')").fetchone()[0]
    before = {row[0]: row[1:] for row in conn.execute(PER_USER_ROWS)}
    eligible = [row[0] for row in conn.execute(
        'SELECT u."id" FROM "User" u WHERE u."legalHold" = false AND COALESCE(u."lastActiveAt", u."createdAt") < %s'
        ' ORDER BY COALESCE(u."lastActiveAt", u."createdAt"), u."id"', (cutoff,))]
    # Block the job inside its third batch: a user of that batch with a notification, locked here.
    blocked_user = next(u for u in eligible[2 * BATCH_SIZE:3 * BATCH_SIZE] if before[u][4] > 0)
    assert len(eligible) > 4 * BATCH_SIZE

    blocker = psycopg.connect(migrated_database_url)
    blocker.execute('SELECT 1 FROM "Notification" WHERE "userId" = %s FOR UPDATE', (blocked_user,))
    worker = subprocess.Popen([sys.executable, "-c", WORKER, migrated_database_url, str(COLLECTIONS_DIR), cutoff])
    try:
        wait_for(lambda: conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s"
            " AND wait_event_type = 'Lock'",
            (APPLICATION_NAME,)).fetchone()[0], 60, "the job to block in its third batch")
        # Batches 1 and 2 are committed, batch 3 is half way through its statement.
        assert conn.execute('SELECT "batches", "outcome" FROM "ComplianceAuditLog"').fetchone() == (2, "running")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
        blocker.rollback()
        blocker.close()
    # The killed client's backend finishes its statement, finds the client gone and rolls back.
    wait_for(lambda: not conn.execute("SELECT count(*) FROM pg_stat_activity"
                                      " WHERE datname = current_database() AND application_name = %s",
                                      (APPLICATION_NAME,)).fetchone()[0], 60, "the killed run's session to end")

    gone = assert_every_user_complete_or_gone(conn, before)
    assert gone == set(eligible[:2 * BATCH_SIZE])
    counts, batches, outcome = conn.execute('SELECT "counts", "batches", "outcome" FROM "ComplianceAuditLog"').fetchone()
    assert (batches, outcome) == (2, "running")
    assert counts["users"] == len(gone)
    assert counts["notifications"] == sum(before[u][4] for u in gone)
    assert counts["resumeIngestions"] == sum(before[u][2] for u in gone)

    summary = run_job(conn, "data-retention", {"before": cutoff, "triggered_by": "kill-test"}, dry_run=False)
    assert summary["outcome"] == "succeeded"
    gone = assert_every_user_complete_or_gone(conn, before)
    assert gone == set(eligible)
    # Both runs' audit rows together account for every deleted row.
    total = conn.execute('SELECT sum(("counts"->>\'users\')::int), sum(("counts"->>\'profiles\')::int)'
                         ' FROM "ComplianceAuditLog"').fetchone()
    assert total == (len(eligible), sum(before[u][0] for u in eligible))
    conn.close()
