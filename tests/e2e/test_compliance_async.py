"""A compliance module run as an ``async`` task: ``async_status`` shows each batch's progress while
the run goes on (``_shared/async_progress.py``), then the module's result as usual."""

from __future__ import annotations

import psycopg
import sample_data

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Revoke in batches of one user, paced
      skillforge.dataops.consent_revocation:
        tenant: acme-partners
        batch_size: 1
        batch_pause: 0.2
        parallel: %(parallel)d
        triggered_by: async-progress-test
      async: 300
      poll: 0
      register: started
    - name: Poll until a batch has committed
      ansible.builtin.async_status:
        jid: "{{ started.ansible_job_id }}"
      register: running
      until: (running.progress.batches | default(0)) >= 2 or running.finished
      retries: 600
      delay: 0.2
    - name: Poll until the end
      ansible.builtin.async_status:
        jid: "{{ started.ansible_job_id }}"
      register: finished
      until: finished.finished
      retries: 600
      delay: 0.2
"""


def test_async_status_shows_progress_while_the_run_goes_on(migrated_database_url, run_playbook, tmp_path):
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        sample_data.generate(conn, seed=9, users_per_tenant=15)
    for parallel in (1, 2):
        playbook = tmp_path / ("async-%d.yml" % parallel)
        playbook.write_text(PLAYBOOK % {"parallel": parallel}, encoding="utf-8")
        with psycopg.connect(migrated_database_url, autocommit=True) as conn:  # something to revoke again
            conn.execute('UPDATE "User" SET "marketingOptIn" = true')

        result = run_playbook(playbook, env={"DATABASE_URL": migrated_database_url})

        assert not result.failed(), result.failed()
        running = result.result("Poll until a batch has committed")
        final = result.result("Poll until the end")["summary"]
        assert running["finished"] is False and running["started"] is True, running
        progress = running["progress"]
        assert progress["event"] == "batch-committed" and progress["audit_id"] == final["audit_id"]
        assert 2 <= progress["batches"] < final["batches"] == progress["users_total"] == 15
        assert progress["counts"]["marketingOptOuts"] <= final["counts"]["marketingOptOuts"] == 15
        assert final["outcome"] == "succeeded" and final["parallel"] == parallel
