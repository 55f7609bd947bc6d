"""Pacing against the real PostgreSQL without a replica: ``max_runtime`` stops a run at a batch
boundary, resumable, and every batch logs its progress (the replica: test_compliance_replica.py)."""

from __future__ import annotations

import json

import psycopg
import pytest

from ansible_collections.skillforge.dataops.tests import sample_data
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import JobInterrupted
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job

WHO = "dpo@skillforge.com"


@pytest.fixture
def conn(migrated_database_url):
    with psycopg.connect(migrated_database_url, autocommit=True) as connection:
        sample_data.generate(connection, seed=11, users_per_tenant=30)
        yield connection


def test_max_runtime_interrupts_at_a_batch_boundary_and_the_next_run_finishes(conn):
    expected = run_job(conn, "data-retention", {"triggered_by": WHO}, dry_run=True)["counts"]["users"]
    options = {"triggered_by": WHO, "batch_size": 2, "batch_pause": 0.3, "max_runtime": 0.5}
    lines = []

    with pytest.raises(JobInterrupted) as interrupted:
        run_job(conn, "data-retention", options, dry_run=False, log=lines.append)

    summary = interrupted.value.summary
    assert summary["outcome"] == "interrupted" and 1 <= summary["batches"] <= 3
    assert summary["pauses"] == {"count": 0, "seconds": 0.0}
    assert "max_runtime of 0.5 s reached" in str(interrupted.value) and "run the job again" in str(interrupted.value)
    records = [json.loads(line) for line in lines]
    progress = [record for record in records if record.get("event") == "batch-committed"]
    assert [record["batches"] for record in progress] == list(range(1, summary["batches"] + 1))
    assert progress[-1]["counts"] == summary["counts"] and progress[-1]["users_total"] == expected
    assert all(record["audit_id"] == summary["audit_id"] for record in progress)
    assert records[-1]["outcome"] == "interrupted"  # the summary line comes last
    row = conn.execute('SELECT "outcome", "batches" FROM "ComplianceAuditLog" WHERE "id" = %s',
                       (summary["audit_id"],)).fetchone()
    assert row == ("interrupted", summary["batches"])

    second = run_job(conn, "data-retention", dict(options, max_runtime=0, batch_pause=0), dry_run=False)
    assert second["outcome"] == "succeeded" and second["pauses"] == {"count": 0, "seconds": 0.0}
    assert summary["counts"]["users"] + second["counts"]["users"] == expected
