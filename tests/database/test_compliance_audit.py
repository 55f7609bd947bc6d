"""Reading the audit trail back (``compliance_registry.audit_history``, the compliance_audit_info
module's logic) against a real PostgreSQL: filters, order, and the state of a run that is still
executing or was killed."""

from __future__ import annotations

import threading

import psycopg
import pytest

from ansible_collections.skillforge.dataops.tests import sample_data
from ansible_collections.skillforge.dataops.tests.conftest import wait_for
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import (
    JobError,
    JobInputError,
    JobRunError,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import audit_history, run_job

DPO, OPS = "dpo@skillforge.com", "ops@skillforge.com"


@pytest.fixture
def conn(migrated_database_url):
    with psycopg.connect(migrated_database_url, autocommit=True) as connection:
        sample_data.generate(connection, seed=5, users_per_tenant=20)
        yield connection


def ids(history) -> list:
    return [run["id"] for run in history["runs"]]


def test_runs_come_back_newest_first_with_what_each_did_and_filters_narrow_them(conn):
    two_users = [row[0] for row in conn.execute('SELECT "id" FROM "User" ORDER BY "id" LIMIT 2')]
    purge = run_job(conn, "data-retention", {"tenant": "globex", "triggered_by": DPO, "reason": "PRIV-1"}, False)
    revoke = run_job(conn, "consent-revocation", {"user": two_users, "triggered_by": DPO}, False)
    segregate = run_job(conn, "partner-segregation", {"tenant": "initech", "triggered_by": OPS, "note": "drill"},
                        False)
    run_job(conn, "data-retention", {"tenant": "umbrella", "triggered_by": OPS}, True)  # dry run: no record
    before = sample_data.table_fingerprints(conn)

    everything = audit_history(conn)

    assert ids(everything) == [segregate["audit_id"], revoke["audit_id"], purge["audit_id"]]
    assert everything["running_jobs"] == []
    newest = everything["runs"][0]
    assert {key: newest[key] for key in ("job", "mode", "state", "outcome", "scope", "triggered_by", "note",
                                         "counts", "batches", "error", "started_at", "finished_at")} == {
        key: segregate[key] for key in ("job", "mode", "outcome", "scope", "triggered_by", "note", "counts",
                                        "batches", "error", "started_at", "finished_at")
        if key in segregate} | {"state": "succeeded", "error": None}
    assert newest["executed_by"] == conn.execute("SELECT current_user").fetchone()[0]
    assert everything["runs"][2]["reason"] == "PRIV-1"

    assert ids(audit_history(conn, job="data-retention")) == [purge["audit_id"]]
    assert ids(audit_history(conn, tenant="initech")) == [segregate["audit_id"]]
    assert ids(audit_history(conn, user=two_users[1])) == [revoke["audit_id"]]
    assert ids(audit_history(conn, triggered_by=OPS)) == [segregate["audit_id"]]
    assert ids(audit_history(conn, audit_id=revoke["audit_id"])) == [revoke["audit_id"]]
    assert ids(audit_history(conn, outcome="failed")) == []
    assert ids(audit_history(conn, since=revoke["started_at"])) == [segregate["audit_id"], revoke["audit_id"]]
    assert ids(audit_history(conn, before=revoke["started_at"])) == [purge["audit_id"]]
    assert ids(audit_history(conn, since="2000-01-01", before="2000-01-02")) == []
    assert ids(audit_history(conn, limit=1)) == [segregate["audit_id"]]
    assert ids(audit_history(conn, job="data-retention", tenant="initech")) == []  # filters combine
    assert sample_data.table_fingerprints(conn) == before  # reading changes nothing


@pytest.mark.parametrize("filters, message", [
    ({"job": "purge-all"}, "unknown compliance job 'purge-all'"),
    ({"outcome": "done"}, "outcome must be one of running, succeeded, failed"),
    ({"limit": 0}, "limit must be an integer from 1 to 1000"),
    ({"since": "last tuesday"}, "since must be an ISO-8601 date or date-time"),
    ({"before": "2026-13-01"}, "before must be an ISO-8601 date or date-time"),
])
def test_bad_filters_fail_with_a_clear_message(conn, filters, message):
    with pytest.raises(JobInputError, match=message):
        audit_history(conn, **filters)


def test_a_database_without_the_schema_fails_clearly(empty_database_url):
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        with pytest.raises(JobError, match=r"cannot read the audit trail: UndefinedTable .*SQLSTATE 42P01"):
            audit_history(conn)


def test_a_run_in_progress_is_running_and_once_killed_it_is_interrupted(conn, migrated_database_url):
    """A purge in batches of two waits on the third user (a row lock held here) after its first
    batch committed; its backend is then terminated, as when the host running it dies."""
    third_user = conn.execute(
        'SELECT "id" FROM "User" u WHERE u."legalHold" = false AND COALESCE(u."lastActiveAt", u."createdAt")'
        " < (now() AT TIME ZONE 'UTC') - interval '24 months'"
        ' ORDER BY COALESCE(u."lastActiveAt", u."createdAt"), u."id" OFFSET 2 LIMIT 1').fetchone()[0]
    outcome = {}
    with psycopg.connect(migrated_database_url) as blocker, psycopg.connect(migrated_database_url) as job_conn:
        blocker.execute('SELECT 1 FROM "User" WHERE "id" = %s FOR UPDATE', (third_user,))
        job_pid = job_conn.info.backend_pid

        def purge():
            try:
                run_job(job_conn, "data-retention", {"triggered_by": DPO, "batch_size": 2}, False)
            except JobRunError as error:
                outcome["error"] = error
        worker = threading.Thread(target=purge)
        worker.start()
        try:
            wait_for(lambda: conn.execute('SELECT count(*) FROM "ComplianceAuditLog" WHERE "batches" = 1')
                     .fetchone()[0] == 1, 20, "the first batch to commit")
            wait_for(lambda: conn.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                                          (job_pid,)).fetchone()[0] == "Lock", 20, "the second batch to wait")
            live = audit_history(conn)
            assert live["running_jobs"] == ["data-retention"]
            [run] = live["runs"]
            assert (run["state"], run["outcome"], run["batches"], run["counts"]["users"]) == ("running", "running", 1, 2)
            conn.execute("SELECT pg_terminate_backend(%s)", (job_pid,))
        finally:
            worker.join(timeout=30)
    assert "error" in outcome  # the job saw its connection die
    after = audit_history(conn)
    assert after["running_jobs"] == []
    [run] = after["runs"]
    assert (run["state"], run["outcome"], run["batches"], run["counts"]["users"]) == ("interrupted", "running", 1, 2)
    assert run["finished_at"] is None
    assert ids(audit_history(conn, outcome="running")) == [run["id"]]

    # Run again, it finishes the rest; the killed run stays interrupted beside it.
    again = run_job(conn, "data-retention", {"triggered_by": DPO}, False)
    assert [(r["id"], r["state"]) for r in audit_history(conn)["runs"]] == [
        (again["audit_id"], "succeeded"), (run["id"], "interrupted")]
