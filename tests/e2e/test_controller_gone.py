"""When the ansible-playbook that started a purge is killed, the module does not run on unseen to
the end: it stops at the next batch boundary, and its audit row says ``interrupted``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import psycopg
import pytest

import sample_data
from conftest import REPO_ROOT, ansible_environment, wait_for

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job

pytest.importorskip("ansible_runner")

APPLICATION_NAME = "skillforge.dataops/data-retention"
BATCH_SIZE = 2
HELD_POSITION = 4  # the first user of the third batch, in the purge's keyset order
ELIGIBLE = """
SELECT u."id" FROM "User" u
 WHERE u."legalHold" = false
   AND COALESCE(u."lastActiveAt", u."createdAt") < (now() AT TIME ZONE 'UTC') - interval '24 months'
 ORDER BY COALESCE(u."lastActiveAt", u."createdAt"), u."id"
"""


def module_backends(conn) -> list:
    return [row[0] for row in conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
        (APPLICATION_NAME,))]


@pytest.mark.slow
def test_killing_ansible_playbook_stops_the_purge_at_the_next_batch(migrated_database_url):
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        sample_data.generate(conn, seed=13, users_per_tenant=20)
        eligible = [row[0] for row in conn.execute(ELIGIBLE)]
    assert len(eligible) > HELD_POSITION + 2 * BATCH_SIZE

    env = dict(os.environ, **ansible_environment())
    with psycopg.connect(migrated_database_url) as holder, \
            psycopg.connect(migrated_database_url, autocommit=True) as observer:
        # The third batch waits for this lock, so the playbook is killed while the purge is running.
        holder.execute('SELECT 1 FROM "User" WHERE "id" = %s FOR UPDATE', (eligible[HELD_POSITION],))
        playbook = subprocess.Popen(  # pylint: disable=consider-using-with
            [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(REPO_ROOT / "inventories" / "local"),
             str(REPO_ROOT / "playbooks" / "compliance.yml"), "-e", "compliance_job=data-retention",
             "-e", "compliance_execute=true", "-e", "compliance_batch_size=%d" % BATCH_SIZE,
             "-e", json.dumps({"skillforge_database_url": migrated_database_url})],
            env=env, cwd=str(REPO_ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        try:
            wait_for(lambda: observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s"
                " AND wait_event_type = 'Lock'",
                (APPLICATION_NAME,)).fetchone()[0], 120, "the purge to wait for the held user")
            os.kill(playbook.pid, signal.SIGKILL)  # the controller only: its worker and the module live on
            playbook.wait(timeout=30)
            holder.rollback()  # the third batch can commit now; the module must stop after it
            wait_for(lambda: not module_backends(observer), 60, "the module to stop and disconnect")
        finally:
            try:
                os.killpg(playbook.pid, signal.SIGKILL)  # whatever is left of the run
            except ProcessLookupError:
                pass

        row = observer.execute('SELECT "outcome", "batches", "counts"->>\'users\', "error" FROM "ComplianceAuditLog"'
                               ).fetchone()
    outcome, batches, users, error = row
    assert (outcome, batches, int(users)) == ("interrupted", 3, 3 * BATCH_SIZE), row
    assert "controller that started it" in error and "run the job again" in error
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        left = [row[0] for row in conn.execute(ELIGIBLE)]
        assert left == eligible[3 * BATCH_SIZE:]  # the batches after the third were never run
        finished = run_job(conn, "data-retention", {"triggered_by": "ops@example.invalid"}, dry_run=False)
        assert finished["counts"]["users"] == len(left)
