"""The audit_json callback as operators use it: enabled by the repository's ansible.cfg, loaded by
ansible-playbook from the collection, configured through SKILLFORGE_AUDIT_LOG or standard output."""

from __future__ import annotations

import json
import os
import stat
import textwrap

import pytest

# Two job summaries (one of them from a loop), a result without a summary and a no_log one.
PROBE_PLAYBOOK = textwrap.dedent("""\
    - name: Audit probe
      hosts: localhost
      gather_facts: false
      vars:
        summary: {job: retention_purge, tenant: acme, deleted: {User: 2}}
      tasks:
        - name: Report a job summary
          ansible.builtin.debug:
            var: summary
        - name: Report one summary per tenant
          ansible.builtin.debug:
            var: summary
          loop: [acme, globex]
        - name: Report something else
          ansible.builtin.debug:
            msg: no summary in this result
        - name: Report a hidden summary
          ansible.builtin.debug:
            var: summary
          no_log: true
    """)


@pytest.fixture
def probe(tmp_path):
    path = tmp_path / "audit_probe.yml"
    path.write_text(PROBE_PLAYBOOK, encoding="utf-8")
    return path


def audit_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{") and '"job"' in line]


def test_summaries_are_appended_to_the_configured_file(run_playbook, probe, tmp_path):
    log = tmp_path / "audit.jsonl"
    run = run_playbook(probe, extra_vars={"awx_job_id": 1234}, env={"SKILLFORGE_AUDIT_LOG": str(log)})
    assert run.status == "successful", run.stdout

    records = audit_lines(log.read_text(encoding="utf-8"))
    assert [(r["job"], r["task"]) for r in records] == [
        ("retention_purge", "Report a job summary"),
        ("retention_purge", "Report one summary per tenant"),
        ("retention_purge", "Report one summary per tenant"),
    ]
    first = records[0]
    assert first["summary"] == {"job": "retention_purge", "tenant": "acme", "deleted": {"User": 2}}
    assert (first["host"], first["play"], first["playbook"], first["status"]) == (
        "localhost", "Audit probe", "audit_probe.yml", "ok")
    assert first["check_mode"] is False
    assert first["controller"] == {"awx_job_id": 1234}
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    assert audit_lines(run.stdout) == []  # a file was configured: nothing on standard output


def test_check_mode_runs_are_marked(run_playbook, probe, tmp_path):
    log = tmp_path / "audit.jsonl"
    run = run_playbook(probe, check=True, env={"SKILLFORGE_AUDIT_LOG": str(log)})
    assert run.status == "successful", run.stdout
    records = audit_lines(log.read_text(encoding="utf-8"))
    assert len(records) == 3 and all(r["check_mode"] is True for r in records)


def test_default_is_standard_output(run_playbook, probe, monkeypatch):
    monkeypatch.delenv("SKILLFORGE_AUDIT_LOG", raising=False)  # the ini default of ansible.cfg: "-"
    run = run_playbook(probe)
    assert run.status == "successful", run.stdout
    assert [r["task"] for r in audit_lines(run.stdout)] == [
        "Report a job summary", "Report one summary per tenant", "Report one summary per tenant"]
