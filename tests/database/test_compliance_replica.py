"""Throttling a purge by a real streaming replica's lag (issue 15).

A second PostgreSQL cluster made with ``pg_basebackup`` replays from the primary (tests/replica.py:
the shared test server when it accepts replication connections, else a private primary made for
the test, the shared one left alone). Lag is induced by pausing the replica's replay
(``pg_wal_replay_pause()``); the purge must pause while the lag is above ``max_replica_lag`` and
finish once replay resumes, or stop as ``interrupted`` after ``max_lag_pause``, keeping what it
committed, for a second run to finish. Every wait is bounded.
"""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from psycopg import sql

from ansible_collections.skillforge.dataops.tests import databases, sample_data
from ansible_collections.skillforge.dataops.tests.conftest import ADMIN_URL, url_for, wait_for
from ansible_collections.skillforge.dataops.tests.replica import ReplicaUnavailable, start_replication
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import JobInterrupted
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job

pytestmark = pytest.mark.slow

WHO = "dpo@skillforge.com"
LAG_LIMIT = 1.0  # seconds: small, so that a paused replay passes it within a second or two


@pytest.fixture(scope="module")
def replication():
    try:
        replicated = start_replication(ADMIN_URL, databases.migrate)
    except ReplicaUnavailable as error:
        pytest.skip("no streaming replica on this machine: %s" % error)
    try:
        yield replicated
    finally:
        replicated.close()


@pytest.fixture
def primary(replication, request):
    """A connection to a fresh migrated database with sample data on the replicated primary."""
    if replication.private_primary is not None:
        name = "pacing_%s" % uuid.uuid4().hex[:10]
        with psycopg.connect(replication.url("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE pacing").format(sql.Identifier(name)))
        url = replication.url(name)
    else:
        template = request.getfixturevalue("migrated_template")
        url = url_for(request.getfixturevalue("database_factory").create(template=template))
    with psycopg.connect(url, autocommit=True) as connection:
        sample_data.generate(connection, seed=11, users_per_tenant=30)
        yield connection


@pytest.fixture
def replica(replication):
    """A connection to the replica; replay is resumed at the end whatever the test did."""
    with psycopg.connect(replication.replica_url(), autocommit=True, connect_timeout=5) as connection:
        try:
            yield connection
        finally:
            connection.execute("SELECT pg_wal_replay_resume()")


def replay_lag(primary) -> float:
    row = primary.execute("SELECT COALESCE(max(EXTRACT(epoch FROM replay_lag)), 0)::float8 "
                          "FROM pg_stat_replication").fetchone()
    return row[0]


def induce_lag(primary, replica, above: float) -> None:
    """Pause the replica's replay and write on the primary until its lag is above ``above``."""
    replica.execute("SELECT pg_wal_replay_pause()")
    primary.execute("CREATE TABLE IF NOT EXISTS pacing_scratch (n int)")

    def lagging():
        primary.execute("INSERT INTO pacing_scratch VALUES (1)")
        time.sleep(0.2)
        return replay_lag(primary) > above
    wait_for(lagging, 30, "the replica's replay_lag to pass %s s" % above)


def users_to_purge(primary) -> int:
    return run_job(primary, "data-retention", {"triggered_by": WHO}, dry_run=True)["counts"]["users"]


def resume_replay_later(replica_url: str, delay: float) -> threading.Timer:
    def resume():
        with psycopg.connect(replica_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute("SELECT pg_wal_replay_resume()")
    return threading.Timer(delay, resume)


def test_purge_pauses_for_replica_lag_then_finishes_when_replay_resumes(replication, primary, replica):
    expected = users_to_purge(primary)
    assert expected >= 6, "the sample data must give several batches"
    induce_lag(primary, replica, 2 * LAG_LIMIT)
    resumer = resume_replay_later(replication.replica_url(), 2.0)
    records = []
    started = time.monotonic()
    resumer.start()
    try:
        summary = run_job(primary, "data-retention",
                          {"triggered_by": WHO, "batch_size": 3, "max_replica_lag": LAG_LIMIT, "max_lag_pause": 60},
                          dry_run=False, progress=records.append)
    finally:
        resumer.cancel()
    elapsed = time.monotonic() - started

    assert summary["outcome"] == "succeeded" and summary["counts"]["users"] == expected
    assert summary["pauses"]["count"] >= 1 and summary["pauses"]["seconds"] >= 1.0, summary["pauses"]
    assert elapsed >= 2.0, "the run did not wait for replay to resume"
    events = [record["event"] for record in records]
    assert "lag-pause-started" in events and "lag-pause-ended" in events
    started_record = records[events.index("lag-pause-started")]
    assert started_record["replica_lag"]["seconds"] > LAG_LIMIT and started_record["replica_lag"]["bytes"] > 0
    committed = [record for record in records if record["event"] == "batch-committed"]
    assert [record["batches"] for record in committed] == list(range(1, summary["batches"] + 1))
    assert committed[-1]["users_total"] == expected and committed[0]["eta_seconds"] is not None
    assert users_to_purge(primary) == 0


def test_lag_that_does_not_clear_stops_the_run_interrupted_and_a_second_run_finishes(primary, replica):
    expected = users_to_purge(primary)
    induce_lag(primary, replica, 2 * LAG_LIMIT)
    options = {"triggered_by": WHO, "batch_size": 3, "max_replica_lag": LAG_LIMIT, "max_lag_pause": 2}

    started = time.monotonic()
    with pytest.raises(JobInterrupted) as interrupted:
        run_job(primary, "data-retention", options, dry_run=False, progress=lambda record: None)
    assert time.monotonic() - started < 30

    summary = interrupted.value.summary
    assert summary["outcome"] == "interrupted" and summary["batches"] == 1
    assert summary["pauses"]["count"] == 1 and summary["pauses"]["seconds"] >= 2.0
    assert "max_lag_pause" in str(interrupted.value) and "run the job again" in str(interrupted.value)
    row = primary.execute('SELECT "outcome", "batches", "counts" FROM "ComplianceAuditLog" WHERE "id" = %s',
                          (summary["audit_id"],)).fetchone()
    assert row == ("interrupted", 1, summary["counts"])
    assert users_to_purge(primary) == expected - summary["counts"]["users"], "the committed batch was not kept"

    replica.execute("SELECT pg_wal_replay_resume()")
    wait_for(lambda: replay_lag(primary) <= LAG_LIMIT / 2, 30, "the replica to catch up")
    second = run_job(primary, "data-retention", options, dry_run=False, progress=lambda record: None)
    assert second["outcome"] == "succeeded"
    assert summary["counts"]["users"] + second["counts"]["users"] == expected
    assert users_to_purge(primary) == 0
