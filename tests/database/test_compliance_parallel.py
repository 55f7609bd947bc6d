"""``parallel``: a compliance run's batches on several sessions at once, against a real PostgreSQL
(issue 16).

* The same result as one session: a parallel purge leaves every table exactly as a serial purge of
  an identical copy does; every job's parallel run changes what its dry run predicted, audits it in
  one row (counts, batches, receipt, digests, ``pacing.parallel``) and leaves nothing for a second run.
* No deadlock: one job's batches never wait on each other (disjoint users; the audit row is updated
  by one batch at a time): PostgreSQL counts no deadlock. Three jobs with parallel batches on one
  tenant at once all finish exactly: test_compliance_jobs.py, three jobs started together.
* A scope of fewer than ``parallel`` full batches is cut into ``parallel`` batches.
* A failing batch: the batches in flight finish on their own, the audit row holds exactly what
  committed, and running again finishes with the serial run's totals.
"""

from __future__ import annotations

import psycopg
import pytest

from ansible_collections.skillforge.dataops.tests import sample_data
from ansible_collections.skillforge.dataops.tests.database.test_compliance_safety import (
    WHO,
    cutoff,
    sample_database,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import JobInputError, JobRunError
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job

JOB_RUNS = {
    "consent-revocation": {"tenant": "acme-partners"},
    "data-retention": {},
    "partner-segregation": {"tenant": "initech"},
}


def options_for(conn, job: str, **extra) -> dict:
    options = dict(JOB_RUNS[job], triggered_by=WHO, batch_size=3)
    options.update(extra)
    if job == "data-retention":
        options["before"] = cutoff(conn)
    return options


def deadlocks(conn) -> int:
    return conn.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").fetchone()[0]


def batch_sessions(conn) -> int:
    return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND application_name LIKE 'skillforge.dataops/%-batch'").fetchone()[0]


def audit_row(conn, audit_id: str) -> tuple:
    return conn.execute('SELECT "outcome", "counts", "batches", "receipt", "pacing" FROM "ComplianceAuditLog"'
                        ' WHERE "id" = %s', (audit_id,)).fetchone()


def digests(conn, audit_id: str) -> int:
    return conn.execute('SELECT count(*) FROM "ComplianceErasureDigest" WHERE "auditId" = %s', (audit_id,)).fetchone()[0]


@pytest.fixture
def conn(database_factory, migrated_template):
    with psycopg.connect(sample_database(database_factory, migrated_template), autocommit=True) as connection:
        yield connection


def test_a_parallel_purge_leaves_every_table_as_a_serial_purge_does(database_factory, migrated_template):
    serial_url = sample_database(database_factory, migrated_template)
    parallel_url = sample_database(database_factory, migrated_template)
    results = {}
    for url, parallel in ((serial_url, 1), (parallel_url, 4)):
        with psycopg.connect(url, autocommit=True) as conn:
            before = deadlocks(conn)
            results[parallel] = run_job(conn, "data-retention", options_for(conn, "data-retention", parallel=parallel),
                                        dry_run=False)
            assert deadlocks(conn) == before and batch_sessions(conn) == 0
            tables = sample_data.table_fingerprints(conn)
            del tables["ComplianceAuditLog"]  # ids and times differ; compared below
            results[parallel]["tables"] = tables
    serial, parallel = results[1], results[4]
    assert parallel["tables"] == serial["tables"]
    assert parallel["counts"] == serial["counts"] and parallel["counts"]["users"] > 12  # several batches each
    assert parallel["batches"] == serial["batches"] and (parallel["parallel"], serial["parallel"]) == (4, 1)


@pytest.mark.parametrize("job", sorted(JOB_RUNS))
def test_a_parallel_run_changes_what_its_dry_run_predicted_and_audits_it_in_one_row(conn, job):
    options = options_for(conn, job, parallel=3)
    other_tenants = sample_data.tenant_fingerprints(conn, "globex")
    dry = run_job(conn, job, options, dry_run=True)
    assert all(dry["counts"].values()), dry["counts"]

    done = run_job(conn, job, options, dry_run=False)

    assert done["outcome"] == "succeeded" and done["counts"] == dry["counts"] and done["parallel"] == 3
    outcome, counts, batches, receipt, pacing = audit_row(conn, done["audit_id"])
    assert (outcome, counts, batches) == ("succeeded", done["counts"], done["batches"]) and batches > 3
    assert pacing == {"parallel": 3, "pauses": {"count": 0, "seconds": 0.0}}
    assert receipt["verification"] == dict(receipt["verification"], result="passed", batches=batches)
    assert digests(conn, done["audit_id"]) == receipt["users"] > 0
    if job != "data-retention":  # the purge's other tenants' eligible users go too
        assert sample_data.tenant_fingerprints(conn, "globex") == other_tenants
    assert not run_job(conn, job, options, dry_run=True)["changed"]
    assert not run_job(conn, job, options, dry_run=False)["changed"]


@pytest.mark.parametrize("parallel", [2, 3])
def test_a_scope_smaller_than_parallel_full_batches_is_split_so_that_no_session_idles(conn, parallel):
    options = options_for(conn, "data-retention", parallel=parallel, batch_size=10000)
    dry = run_job(conn, "data-retention", options, dry_run=True)
    users = dry["counts"]["users"]
    assert users >= 2 * parallel  # so that the split is visible in the number of batches

    done = run_job(conn, "data-retention", options, dry_run=False)

    assert done["counts"] == dry["counts"] and done["batches"] == parallel  # ceil(users / parallel) each
    assert audit_row(conn, done["audit_id"])[2] == parallel


def test_parallel_is_validated_before_anything_runs(conn):
    before = sample_data.table_fingerprints(conn)
    for value in (0, 17, True, 2.5, "2"):
        with pytest.raises(JobInputError, match="parallel must be a whole number of sessions from 1 to 16"):
            run_job(conn, "data-retention", options_for(conn, "data-retention", parallel=value), dry_run=False)
    assert sample_data.table_fingerprints(conn) == before


def test_a_parallel_batch_that_times_out_leaves_the_audit_row_exact_and_a_rerun_finishes(
        database_factory, migrated_template):
    urls = [sample_database(database_factory, migrated_template), sample_database(database_factory, migrated_template)]
    with psycopg.connect(urls[1], autocommit=True) as reference:
        serial = run_job(reference, "data-retention", options_for(reference, "data-retention"), dry_run=False)
    with psycopg.connect(urls[0], autocommit=True) as conn, psycopg.connect(urls[0]) as blocker:
        options = options_for(conn, "data-retention", parallel=2, db_lock_timeout=0.5)
        users_before = conn.execute('SELECT count(*) FROM "User"').fetchone()[0]
        order = [row[0] for row in conn.execute(
            'SELECT "id" FROM "User" WHERE NOT "legalHold" AND COALESCE("lastActiveAt", "createdAt") < %s::timestamptz'
            ' ORDER BY COALESCE("lastActiveAt", "createdAt"), "id"', (options["before"],))]
        blocker.execute('SELECT 1 FROM "User" WHERE "id" = %s FOR UPDATE', (order[len(order) // 2],))

        with pytest.raises(JobRunError, match="db_lock_timeout") as failed:
            run_job(conn, "data-retention", options, dry_run=False)

        summary = failed.value.summary
        outcome, counts, batches, receipt, _pacing = audit_row(conn, summary["audit_id"])
        deleted = users_before - conn.execute('SELECT count(*) FROM "User"').fetchone()[0]
        assert outcome == "failed" and counts == summary["counts"] and batches == summary["batches"]
        assert counts["users"] == deleted == receipt["users"] == digests(conn, summary["audit_id"]) > 0
        assert deleted < len(order) and summary["blocked_by"]
        blocker.rollback()
        rerun = run_job(conn, "data-retention", options, dry_run=False)
        assert rerun["outcome"] == "succeeded" and batch_sessions(conn) == 0
        assert {name: counts[name] + rerun["counts"][name] for name in counts} == serial["counts"]
