"""The compliance job functions without Ansible, against a real PostgreSQL with sample data.

Contract per job: the dry run changes nothing and predicts exactly what executing changes, the
execution works in batches and audits them, a second run changes nothing, bad input fails clearly
with the database untouched, and a concurrent run of the same job is refused.
"""

from __future__ import annotations

import getpass
import json
import math
import socket
import threading
import time

import psycopg
import pytest
from psycopg import sql

from ansible_collections.skillforge.dataops.tests import sample_data
from ansible_collections.skillforge.dataops.tests.conftest import url_for, wait_for
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import (
    JobBusyError,
    JobInputError,
    JobRunError,
    lock_keys,
    normalize_options,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.statements import (
    BATCH,
    BATCH_PLANNER_SETTINGS,
    batch_query,
    counting_statement,
    lock_query,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import JOBS, run_job

WHO = "privacy@skillforge.com"

JOB_RUNS = {
    "consent-revocation": {"tenant": "acme-partners"},
    "data-retention": {},
    "partner-segregation": {"tenant": "initech"},
}


@pytest.fixture
def conn(migrated_database_url):
    with psycopg.connect(migrated_database_url, autocommit=True) as connection:
        sample_data.generate(connection, seed=11, users_per_tenant=30)
        yield connection


@pytest.fixture(scope="module")
def unchanging_conn(database_factory, migrated_template):
    """One sample database for tests that must leave it unchanged (each asserts that it does)."""
    with psycopg.connect(url_for(database_factory.create(template=migrated_template)), autocommit=True) as connection:
        sample_data.generate(connection, seed=11, users_per_tenant=30)
        yield connection


def audit_rows(conn) -> list:
    return conn.execute('SELECT "job", "mode", "scope", "triggeredBy", "reason", "note", "counts", "batches",'
                        ' "outcome", "error", "finishedAt" IS NOT NULL FROM "ComplianceAuditLog"'
                        ' ORDER BY "startedAt"').fetchall()


@pytest.mark.parametrize("job", sorted(JOB_RUNS))
def test_dry_run_predicts_execution_in_batches_and_second_run_changes_nothing(conn, job):
    before = sample_data.table_fingerprints(conn)
    options = dict(JOB_RUNS[job], triggered_by=WHO, reason="PRIV-1", note="drill", batch_size=4)
    lines = []

    dry = run_job(conn, job, options, dry_run=True, log=lines.append)

    assert sample_data.table_fingerprints(conn) == before, "the dry run changed the database"
    assert dry["mode"] == "dry-run" and dry["job"] == job and dry["changed"]
    assert all(dry["counts"].values()), dry["counts"]  # the sample data exercises every step

    done = run_job(conn, job, options, dry_run=False, log=lines.append)

    assert done["mode"] == "execute" and done["outcome"] == "succeeded"
    assert done["counts"] == dry["counts"]
    # Same scope; a retention window is re-evaluated (moments later) by each run.
    assert {k: v for k, v in done["scope"].items() if k != "cutoff"} == {
        k: v for k, v in dry["scope"].items() if k != "cutoff"}
    [row] = audit_rows(conn)
    assert row == (job, "execute", done["scope"], WHO, "PRIV-1", "drill", done["counts"], done["batches"],
                   "succeeded", None, True)
    records = [json.loads(line) for line in lines]  # the two summaries; between them one progress line a batch
    assert [record["job"] for record in records if "event" not in record] == [job, job]
    assert [record["batches"] for record in records if "event" in record] == list(range(1, done["batches"] + 1))

    again = run_job(conn, job, options, dry_run=True)
    assert not again["changed"] and set(again["counts"].values()) == {0}
    second = run_job(conn, job, options, dry_run=False)
    assert not second["changed"] and set(second["counts"].values()) == {0}


def test_batches_walk_the_scope_in_keyset_order(conn):
    tenant_users = conn.execute('SELECT count(*) FROM "User" u JOIN "Tenant" t ON t."id" = u."tenantId"'
                                " WHERE t.slug = 'globex'").fetchone()[0]
    summary = run_job(conn, "consent-revocation", {"tenant": "globex", "triggered_by": WHO, "batch_size": 7},
                      dry_run=False)
    # Every user of the tenant is visited once: full batches, then the last partial one.
    assert summary["batches"] == math.ceil(tenant_users / 7)
    remaining = conn.execute(
        'SELECT count(*) FROM "User" u JOIN "Tenant" t ON t."id" = u."tenantId"'
        ' WHERE t.slug = %s AND (u."marketingOptIn" OR EXISTS (SELECT 1 FROM "NotificationPreference" p'
        ' WHERE p."userId" = u."id"))', ("globex",)).fetchone()[0]
    assert remaining == 0


def test_consent_revocation_for_listed_users_touches_only_them(conn):
    users = [row[0] for row in conn.execute(
        'SELECT "id" FROM "User" WHERE "marketingOptIn" ORDER BY "id" LIMIT 3')]
    others = conn.execute('SELECT md5(string_agg(u::text, \'|\' ORDER BY u."id")) FROM "User" u'
                          ' WHERE NOT "id" = ANY(%s)', (users,)).fetchone()[0]
    # A duplicate, and the space a comma-separated survey answer leaves, are both ignored.
    listed = users[:2] + [" " + users[2]] + users[:1]
    summary = run_job(conn, "consent-revocation", {"user": listed, "triggered_by": WHO}, dry_run=False)
    assert summary["scope"] == {"users": sorted(users)}
    assert summary["counts"]["marketingOptOuts"] == 3
    assert conn.execute('SELECT count(*) FROM "Notification" WHERE "userId" = ANY(%s) AND "status" <> \'archived\'',
                        (users,)).fetchone()[0] == 0
    assert conn.execute('SELECT count(*) FROM "Assessment" WHERE "userId" = ANY(%s)'
                        " AND \"status\" IN ('scheduled', 'processing')", (users,)).fetchone()[0] == 0
    assert conn.execute('SELECT md5(string_agg(u::text, \'|\' ORDER BY u."id")) FROM "User" u'
                        ' WHERE NOT "id" = ANY(%s)', (users,)).fetchone()[0] == others


def test_retention_keeps_legal_holds_and_recent_users(conn):
    cutoff_rows = 'COALESCE("lastActiveAt", "createdAt") < %s'
    summary = run_job(conn, "data-retention", {"retention_months": 24, "triggered_by": WHO}, dry_run=False)
    cutoff = summary["scope"]["cutoff"]
    assert summary["scope"]["retention_months"] == 24
    left = conn.execute('SELECT count(*) FILTER (WHERE NOT "legalHold"), count(*) FILTER (WHERE "legalHold")'
                        ' FROM "User" WHERE ' + cutoff_rows, (cutoff,)).fetchone()
    assert left[0] == 0 and left[1] > 0  # only legal holds remain before the cutoff
    assert conn.execute('SELECT count(*) FROM "User" WHERE NOT ' + cutoff_rows, (cutoff,)).fetchone()[0] > 0
    orphans = conn.execute('SELECT count(*) FROM "ResumeIngestion" i LEFT JOIN "Resume" r ON r."id" = i."resumeId"'
                           ' WHERE r."id" IS NULL').fetchone()[0]
    assert orphans == 0


def test_retention_before_wins_and_is_reported(conn):
    summary = run_job(conn, "data-retention", {"before": "2024-01-31T12:00:00+02:00", "retention_months": 1,
                                               "tenant": "umbrella", "triggered_by": WHO}, dry_run=True)
    assert summary["scope"] == {"before": "2024-01-31T10:00:00.000Z", "cutoff": "2024-01-31T10:00:00.000Z",
                                "tenant": "umbrella"}


def test_partner_segregation_rewrites_only_the_two_keys(conn):
    tenant_id, partner_id = conn.execute('SELECT "id", "partnerId" FROM "Tenant" WHERE slug = %s',
                                         ("globex",)).fetchone()
    assert partner_id is None
    before = dict(conn.execute(
        'SELECT i."id", i."ingestionMetadata" FROM "ResumeIngestion" i JOIN "Resume" r ON r."id" = i."resumeId"'
        ' JOIN "User" u ON u."id" = r."userId" WHERE u."tenantId" = %s', (tenant_id,)).fetchall())
    run_job(conn, "partner-segregation", {"tenant": "globex", "triggered_by": WHO}, dry_run=False)
    after = dict(conn.execute('SELECT "id", "ingestionMetadata" FROM "ResumeIngestion" WHERE "id" = ANY(%s)',
                              (list(before),)).fetchall())
    for row_id, old in before.items():
        if isinstance(old, dict):
            assert after[row_id] == dict(old, tenantId=tenant_id, partnerId=None)
        else:
            assert after[row_id] == old  # non-object metadata is left alone
    actions = conn.execute('SELECT n."actions" FROM "Notification" n JOIN "User" u ON u."id" = n."userId"'
                           ' WHERE u."tenantId" = %s', (tenant_id,)).fetchall()
    elements = [element for (array,) in actions for element in array]
    assert "dismiss" in elements  # plain strings survive
    assert all(e["tenantId"] == tenant_id and e["partnerId"] is None for e in elements if isinstance(e, dict))


# Bad input only the database can refuse (what exists, the database clock); what is refused before
# the connection is used is in tests/unit/plugins/module_utils/_compliance/test_compliance_input.py.
BAD_INPUT = [
    ("consent-revocation", {"tenant": "no-such-tenant"}, "unknown tenant 'no-such-tenant'"),
    ("consent-revocation", {"user": ["usr-1-0000001", "ghost-1", "ghost-2"]}, "2 of 3 user ids are unknown: ghost-1, ghost-2"),
    ("data-retention", {"before": "2999-01-01"}, "is in the future"),
    ("data-retention", {"tenant": "no-such-tenant"}, "unknown tenant"),
    ("partner-segregation", {"tenant": "no-such-tenant"}, "unknown tenant"),
]


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "execute"])
@pytest.mark.parametrize("job, options, message", BAD_INPUT)
def test_bad_input_fails_clearly_and_changes_nothing(unchanging_conn, job, options, message, dry_run):
    before = sample_data.table_fingerprints(unchanging_conn)
    with pytest.raises(JobInputError) as raised:
        run_job(unchanging_conn, job, dict({"triggered_by": WHO}, **options), dry_run=dry_run)
    assert message in str(raised.value)
    assert "@" not in str(raised.value)
    assert sample_data.table_fingerprints(unchanging_conn) == before


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "execute"])
def test_partner_segregation_without_a_tenant_records_a_warning_and_changes_nothing(unchanging_conn, dry_run):
    """The runbook: "Without it the job records a warning and exits" - not a failure."""
    before = sample_data.table_fingerprints(unchanging_conn)
    summary = run_job(unchanging_conn, "partner-segregation", {"triggered_by": WHO}, dry_run=dry_run)
    assert summary["changed"] is False
    assert summary["counts"] == {"resumeUpdates": 0, "notificationUpdates": 0}
    assert summary["mode"] == ("dry-run" if dry_run else "execute")
    assert summary.get("outcome") == (None if dry_run else "skipped")
    assert len(summary["warnings"]) == 1 and "no tenant given" in summary["warnings"][0]
    assert sample_data.table_fingerprints(unchanging_conn) == before  # no audit row either


def test_triggered_by_defaults_to_the_identity_running_the_job_and_says_so(conn):
    summary = run_job(conn, "consent-revocation", {"tenant": "globex"}, dry_run=False)
    expected = "%s@%s" % (getpass.getuser(), socket.gethostname())
    assert (summary["triggered_by"], summary["triggered_by_source"]) == (expected, "os-user")
    row = conn.execute('SELECT "triggeredBy", "triggeredBySource" FROM "ComplianceAuditLog" WHERE "id" = %s',
                       (summary["audit_id"],)).fetchone()
    assert row == (expected, "os-user")
    given = run_job(conn, "consent-revocation", {"tenant": "globex", "triggered_by": WHO,
                                                 "triggered_by_source": "awx"}, dry_run=True)
    assert (given["triggered_by"], given["triggered_by_source"]) == (WHO, "awx")
    explicit = run_job(conn, "consent-revocation", {"tenant": "globex", "triggered_by": WHO}, dry_run=True)
    assert explicit["triggered_by_source"] == "option"


def test_a_second_run_of_the_same_job_is_refused_or_waits(conn, migrated_database_url):
    before = sample_data.table_fingerprints(conn)
    options = {"tenant": "globex", "triggered_by": WHO}
    with psycopg.connect(migrated_database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s, %s)", lock_keys("consent-revocation"))
        with pytest.raises(JobBusyError, match="another consent-revocation run holds the job lock"):
            run_job(conn, "consent-revocation", options, dry_run=False)
        assert sample_data.table_fingerprints(conn) == before
        # Other jobs have their own lock, and dry runs take none.
        run_job(conn, "partner-segregation", dict(options), dry_run=False)
        assert run_job(conn, "consent-revocation", options, dry_run=True)["changed"]
        # With lock_timeout the run waits for the holder to finish.
        release = threading.Timer(0.5, lambda: holder.execute("SELECT pg_advisory_unlock_all()"))
        release.start()
        started = time.monotonic()
        summary = run_job(conn, "consent-revocation", dict(options, lock_timeout=10), dry_run=False)
        release.join()
        assert time.monotonic() - started >= 0.4
        assert summary["outcome"] == "succeeded" and summary["changed"]
    # The lock was released at the end of the run.
    assert conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database ="
                        " (SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()[0] == 0


def test_a_failing_batch_rolls_back_whole_and_the_audit_row_says_failed(conn):
    # The fourth user in keyset order cannot be deleted: its batch fails, earlier batches stay.
    victim = conn.execute('SELECT "id" FROM "User" u WHERE u."legalHold" = false AND'
                          ' COALESCE(u."lastActiveAt", u."createdAt") < (now() AT TIME ZONE \'UTC\') - interval \'24 months\''
                          ' ORDER BY COALESCE(u."lastActiveAt", u."createdAt"), u."id" OFFSET 3 LIMIT 1').fetchone()[0]
    conn.execute("""
        CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused for %', OLD."email" USING DETAIL = OLD."email"; END $$;
        CREATE TRIGGER refuse BEFORE DELETE ON "User" FOR EACH ROW WHEN (OLD."id" = %s)
        EXECUTE FUNCTION refuse_delete()""".replace("%s", "'%s'" % victim))
    dry = run_job(conn, "data-retention", {"triggered_by": WHO}, dry_run=True)

    with pytest.raises(JobRunError) as raised:
        run_job(conn, "data-retention", {"triggered_by": WHO, "batch_size": 2}, dry_run=False)

    summary = raised.value.summary
    assert summary["outcome"] == "failed" and summary["batches"] == 1
    assert summary["counts"]["users"] == 2
    [row] = audit_rows(conn)
    assert row[6] == summary["counts"] and row[7] == 1 and row[8] == "failed"
    assert "@" not in row[9] and "SQLSTATE P0001" in row[9]
    # What the audit row says was committed is what is gone: the failing batch left nothing half done.
    assert conn.execute('SELECT count(*) FROM "User" WHERE "id" = %s', (victim,)).fetchone()[0] == 1
    remaining = run_job(conn, "data-retention", {"triggered_by": WHO, "before": dry["scope"]["cutoff"]}, dry_run=True)
    assert remaining["counts"]["users"] == dry["counts"]["users"] - 2
    for name, value in summary["counts"].items():
        assert remaining["counts"][name] == dry["counts"][name] - value, name


@pytest.mark.parametrize("job", sorted(JOB_RUNS))
def test_a_batch_is_index_lookups_only(unchanging_conn, job):
    """Each batch reads its users' rows by index; a sequential scan or a hash join over a child
    table per batch would make a run over millions of users quadratic."""
    conn = unchanging_conn
    definition = JOBS[job]
    options = normalize_options(definition, dict(JOB_RUNS[job], triggered_by=WHO))
    scope = definition.resolve_scope(conn, options)
    conn.autocommit = False
    try:
        conn.execute(BATCH_PLANNER_SETTINGS)
        assert conn.execute("SELECT current_setting('enable_seqscan'), current_setting('jit')").fetchone() == ("off", "off")
        params = dict(scope.params, **BATCH.values(size=50))
        keys = conn.execute(batch_query(scope, None), params).fetchall()
        params[BATCH.name("candidate_ids")] = [row[-1] for row in keys]
        params[BATCH.name("user_ids")] = [row[0] for row in conn.execute(lock_query(scope, definition.user_lock),
                                                                         params)]
        plan = "\n".join(row[0] for row in conn.execute(
            sql.SQL("EXPLAIN ") + counting_statement(definition, dry_run=False), params))
    finally:
        conn.rollback()
        conn.autocommit = True
    assert not [line for line in plan.splitlines() if "Seq Scan" in line or " Join" in line], plan


def test_an_unknown_tenant_of_100_kb_is_named_in_a_short_line(unchanging_conn):
    with pytest.raises(JobInputError, match=r"unknown tenant 'aaaa.*\(100000 characters\)") as raised:
        run_job(unchanging_conn, "consent-revocation", {"tenant": "a" * 100000, "triggered_by": WHO}, dry_run=True)
    assert len(str(raised.value)) < 200


def _retention_users(conn, tenant: str) -> int:
    return conn.execute('SELECT count(*) FROM "User" u JOIN "Tenant" k ON k."id" = u."tenantId" WHERE k.slug = %s'
                        ' AND u."legalHold" = false AND COALESCE(u."lastActiveAt", u."createdAt")'
                        " < (now() AT TIME ZONE 'UTC') - interval '24 months'", (tenant,)).fetchone()[0]


@pytest.mark.slow
@pytest.mark.parametrize("round_, parallel", [(0, 1), (1, 1), (2, 1), (3, 1), (4, 3), (5, 3)])
def test_three_jobs_started_together_on_one_tenant_all_finish_exactly(migrated_database_url, round_, parallel):
    """Purge, consent revocation and partner segregation at once on one tenant, small batches, each
    run on one session or on three (``parallel``): none fails (they deadlocked before: their row
    locks were taken in different orders), the purge deletes exactly the eligible users, and
    afterwards none of the three has anything left to do."""
    tenant = "initech"
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        sample_data.generate(conn, seed=20 + round_, users_per_tenant=120)
        eligible = _retention_users(conn, tenant)
        dry = {job: run_job(conn, job, {"tenant": tenant, "triggered_by": WHO}, dry_run=True)["counts"]
               for job in JOB_RUNS}
    assert eligible and all(any(counts.values()) for counts in dry.values())

    start, summaries, failures = threading.Barrier(3), {}, []

    def run(job):
        with psycopg.connect(migrated_database_url, autocommit=True) as own:
            start.wait()
            try:
                summaries[job] = run_job(own, job, {"tenant": tenant, "triggered_by": WHO, "batch_size": 3,
                                                    "parallel": parallel}, dry_run=False)
            except Exception as error:  # pylint: disable=broad-except  # reported below
                failures.append("%s: %s" % (job, error))

    threads = [threading.Thread(target=run, args=(job,)) for job in JOB_RUNS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures and len(summaries) == 3, failures
    assert {summary["outcome"] for summary in summaries.values()} == {"succeeded"}
    assert {summary["parallel"] for summary in summaries.values()} == {parallel}
    assert summaries["data-retention"]["counts"]["users"] == eligible
    for job, counts in dry.items():  # the others may have found some of their users already purged
        assert all(summaries[job]["counts"][name] <= counts[name] for name in counts), (job, summaries[job], counts)
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        for job in JOB_RUNS:
            assert not run_job(conn, job, {"tenant": tenant, "triggered_by": WHO}, dry_run=True)["changed"], job


def test_a_batch_that_loses_a_deadlock_is_run_again(conn, migrated_database_url):
    """The retry itself, forced: a second session holds a lock on the first batch's users and then
    waits for a lock the job's batch holds, so PostgreSQL aborts one of the two."""
    users = [row[0] for row in conn.execute(
        'SELECT u."id" FROM "User" u JOIN "Tenant" k ON k."id" = u."tenantId" WHERE k.slug = \'globex\''
        ' ORDER BY u."id" LIMIT 2')]
    with psycopg.connect(migrated_database_url) as other:
        other.execute("SET deadlock_timeout = '50ms'")
        other.execute('SELECT 1 FROM "User" WHERE "id" = %s FOR UPDATE', (users[1],))
        conn.execute("SET deadlock_timeout = '5s'")  # the other session is the one PostgreSQL aborts first
        job_pid, other_pid = conn.info.backend_pid, other.info.backend_pid

        def close_the_cycle():
            try:
                # Once the job's batch waits for users[1] (held here), it holds users[0].
                wait_for(lambda: other.execute("SELECT %s = ANY(pg_blocking_pids(%s))", (other_pid, job_pid))
                         .fetchone()[0], 30, "the job's batch to wait for the user held here")
                other.execute('SELECT 1 FROM "User" WHERE "id" = %s FOR UPDATE', (users[0],))
            except psycopg.errors.DeadlockDetected:
                pass
            except AssertionError as error:  # surfaced below; the rollback lets the job go on
                failures.append(error)
            finally:
                other.rollback()

        failures = []
        closer = threading.Thread(target=close_the_cycle)
        closer.start()
        summary = run_job(conn, "partner-segregation", {"tenant": "globex", "triggered_by": WHO, "batch_size": 2},
                          dry_run=False)
        closer.join()
    assert not failures
    assert summary["outcome"] == "succeeded" and summary["changed"]
    assert not run_job(conn, "partner-segregation", {"tenant": "globex", "triggered_by": WHO}, dry_run=True)["changed"]
