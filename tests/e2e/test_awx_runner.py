"""The job templates of awx/ run the way AWX / Automation Controller runs them: ansible-runner with a
private data directory, the project checkout as working directory (so its ansible.cfg applies), the
inventory synced from the repository, the survey answers as extra vars, and the environment that the
attached credentials' injectors render. The database reaches the play only through the credential."""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import ansible_runner
import jinja2.sandbox
import psycopg
import pytest

from queue_testing import REDIS_URL, queue_prefix  # noqa: F401  pylint: disable=unused-import
from test_awx_job_templates import CONTROLLER, REPO_ROOT  # the awx/ vars files, loaded once

COLLECTIONS_DIR = REPO_ROOT / ".collections"


def template_named(name: str) -> dict:
    [template] = [t for t in CONTROLLER["controller_templates"] if t["name"] == name]
    return template


def injected_environment(template: dict, inputs: dict) -> dict:
    """The environment AWX builds from the template's credentials: each credential type's env
    injectors rendered (sandboxed Jinja, as AWX does) over that credential's inputs."""
    types = {t["name"]: t for t in CONTROLLER["controller_credential_types"]}
    credentials = {c["name"]: c for c in CONTROLLER["controller_credentials"]}
    sandbox = jinja2.sandbox.ImmutableSandboxedEnvironment()
    environment = {}
    for name in template["credentials"]:
        credential_type = types[credentials[name]["credential_type"]]
        fields = {f["id"] for f in credential_type["inputs"]["fields"]}
        values = {key: value for key, value in inputs.items() if key in fields}
        for variable, value in credential_type["injectors"]["env"].items():
            environment[variable] = sandbox.from_string(value).render(**values)
    return environment


@dataclass
class ControllerJob:
    status: str
    rc: int
    events: list
    stdout: str

    def task_results(self, task: str) -> list:
        return [e["event_data"]["res"] for e in self.events
                if "res" in e.get("event_data", {}) and e["event_data"].get("task") == task]


@pytest.fixture
def launch(tmp_path):
    """Launch a job template like the controller: survey answers and credential inputs in, job out."""

    def run(template_name, answers=None, inputs=None, job_type=None) -> ControllerJob:
        template = template_named(template_name)
        private = tmp_path / ("awx_job_%s" % uuid.uuid4().hex[:8])
        # The inventory the controller synced from the repository (hosts.yml and its group_vars).
        [source] = [s for s in CONTROLLER["controller_inventory_sources"] if s["inventory"] == template["inventory"]]
        shutil.copytree(REPO_ROOT / Path(source["source_path"]).parent, private / "inventory")
        extravars = dict(template.get("extra_vars") or {})
        extravars.update(answers or {})
        extravars.update(awx_job_id=4242, awx_job_template_name=template["name"], awx_user_name="operator")
        envvars = {name: "" for name in os.environ if name.endswith(("DATABASE_URL", "REDIS_URL"))}
        envvars.update(PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
                       # In AWX the collection is in the execution environment; here it is the checkout.
                       ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_DIR))
        envvars.pop("ANSIBLE_CONFIG", None)
        envvars.update(injected_environment(template, inputs or {}))
        cmdline = []
        if (job_type or template.get("job_type", "run")) == "check":
            cmdline.append("--check")
        if template.get("diff_mode"):
            cmdline.append("--diff")
        runner = ansible_runner.run(
            private_data_dir=str(private), project_dir=str(REPO_ROOT), playbook=template["playbook"],
            inventory=str(private / "inventory" / Path(source["source_path"]).name),
            extravars=extravars, envvars=envvars, cmdline=" ".join(cmdline) or None, quiet=True, timeout=600)
        return ControllerJob(runner.status, runner.rc, list(runner.events), runner.stdout.read())

    return run


def table_exists(url: str, table: str) -> bool:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]


def test_migrate_template_previews_then_applies(launch, empty_database_url, tmp_path):
    inputs = {"database_url": empty_database_url, "destination": str(tmp_path / "audit.jsonl")}

    preview = launch("SkillForge schema migration (staging)", inputs=inputs, job_type="check")
    assert preview.status == "successful", preview.stdout
    assert not table_exists(empty_database_url, '"User"')

    applied = launch("SkillForge schema migration (staging)", inputs=inputs)
    assert applied.status == "successful", applied.stdout
    assert table_exists(empty_database_url, '"User"') and table_exists(empty_database_url, "onet_occupations")

    again = launch("SkillForge schema migration (staging)", inputs=inputs)
    assert again.status == "successful", again.stdout
    [result] = again.task_results("Apply pending migrations")
    assert result["changed"] is False


def test_staging_template_without_its_credential_fails_closed(launch):
    """Nothing injected: the staging job names the variable it needs instead of falling back to the
    localhost database that only env=local may use."""
    job = launch("SkillForge schema migration (staging)", inputs={})
    assert job.status == "failed"
    assert "SKILLFORGE_STAGING_DATABASE_URL" in job.stdout


def reference_counts(url: str) -> dict:
    with psycopg.connect(url) as conn:
        return {table: conn.execute("SELECT count(*) FROM %s" % table).fetchone()[0]  # fixed names, no input
                for table in ("onet_occupations", "onet_skills", "onet_occupation_skills", "onet_tasks")}


def test_seed_template_with_the_empty_staging_fixtures_writes_nothing(launch, migrated_database_url):
    job = launch("SkillForge reference data seeding (staging)", inputs={"database_url": migrated_database_url},
                 answers={"onet_seed_source_format": "fixtures", "onet_seed_prune": "no"})
    assert job.status == "successful", job.stdout
    assert "has no rows" in job.stdout and "nothing was seeded" in job.stdout
    pruning = launch("SkillForge reference data seeding (staging)", inputs={"database_url": migrated_database_url},
                     answers={"onet_seed_source_format": "fixtures", "onet_seed_prune": "yes"})
    assert pruning.status == "failed"
    assert "with prune that would delete every reference row" in pruning.stdout
    assert set(reference_counts(migrated_database_url).values()) == {0}


def test_seed_template_loads_an_onet_text_release(launch, migrated_database_url, tmp_path):
    from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import dataset as onet_dataset
    from ansible_collections.skillforge.dataops.tests.onet_test_support import (
        FIXTURES, write_onet_text)

    dataset = onet_dataset.load_fixtures(str(FIXTURES / "ci"))
    release = write_onet_text(dataset, tmp_path / "db_29_0_text")
    answers = {"onet_seed_source_format": "onet_text", "onet_seed_onet_text_dir": str(release),
               "onet_seed_release_date": "2024-08-01", "onet_seed_prune": "no"}
    inputs = {"database_url": migrated_database_url}

    dry_run = launch("SkillForge reference data seeding (staging)", answers=answers, inputs=inputs, job_type="check")
    assert dry_run.status == "successful", dry_run.stdout
    assert set(reference_counts(migrated_database_url).values()) == {0}

    seeded = launch("SkillForge reference data seeding (staging)", answers=answers, inputs=inputs)
    assert seeded.status == "successful", seeded.stdout
    counts = reference_counts(migrated_database_url)
    assert counts["onet_occupations"] == len(dataset.rows["onet_occupations"])
    assert counts["onet_occupation_skills"] == len(dataset.rows["onet_occupation_skills"])


def test_compliance_template_dry_runs_by_default_then_executes(launch, migrated_database_url, tmp_path):
    import sample_data  # tests/sample_data.py

    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        sample_data.generate(conn, seed=5, users_per_tenant=10)
        before = sample_data.table_fingerprints(conn)
    audit_log = tmp_path / "audit.jsonl"
    inputs = {"database_url": migrated_database_url, "destination": str(audit_log)}
    answers = {"compliance_job": "partner-segregation", "compliance_tenant": "initech",
               "compliance_reason": "PRIV-77", "compliance_triggered_by": "privacy-team", "compliance_execute": "no"}

    dry_run = launch("SkillForge compliance job (staging)", answers=answers, inputs=inputs)
    assert dry_run.status == "successful", dry_run.stdout
    with psycopg.connect(migrated_database_url) as conn:
        assert sample_data.table_fingerprints(conn) == before

    executed = launch("SkillForge compliance job (staging)", answers=dict(answers, compliance_execute="yes"),
                      inputs=inputs)
    assert executed.status == "successful", executed.stdout
    with psycopg.connect(migrated_database_url) as conn:
        assert sample_data.table_fingerprints(conn) != before
        audit_rows = conn.execute('SELECT "job", "triggeredBy", "reason" FROM "ComplianceAuditLog"').fetchall()
    assert audit_rows == [("partner-segregation", "privacy-team", "PRIV-77")]

    # The audit log credential sent both summaries to the file, tagged with the controller's job.
    records = [json.loads(line) for line in audit_log.read_text(encoding="utf-8").splitlines()]
    assert [(r["job"], r["summary"]["mode"], r["check_mode"]) for r in records] == [
        ("partner-segregation", "dry-run", True), ("partner-segregation", "execute", False)]
    assert all(r["controller"] == {"awx_job_id": 4242, "awx_job_template_name": "SkillForge compliance job (staging)",
                                   "awx_user_name": "operator"} for r in records)
    assert records[0]["summary"]["counts"] == records[1]["summary"]["counts"]


def test_queue_template_runs_what_the_api_queued_and_the_audit_template_shows_it(launch, migrated_database_url,
                                                                                 queue_prefix, tmp_path):
    """The scheduled queue template takes a queued purge (check mode first: counted, not taken), the
    audit log credential gets its summary tagged with the BullMQ job, and the audit trail template
    reads the run back from the database."""
    import sample_data  # tests/sample_data.py
    from ansible_collections.skillforge.dataops.plugins.module_utils._queue import jobs as job_queue
    from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import resolve_redis

    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        sample_data.generate(conn, seed=5, users_per_tenant=10)
    target = job_queue.QueueTarget(resolve_redis(REDIS_URL), queue_prefix)
    request = job_queue.enqueue_request("data-retention", {"tenant": "globex", "triggered_by": "api@skillforge.com",
                                                           "reason": "PRIV-88"}, dry_run=False)
    job_queue.enqueue(target, request)
    audit_log = tmp_path / "audit.jsonl"
    inputs = {"database_url": migrated_database_url, "redis_url": REDIS_URL, "destination": str(audit_log)}
    answers = {"queue_worker_prefix": queue_prefix}

    counted = launch("SkillForge queued compliance jobs (staging)", answers=answers, inputs=inputs, job_type="check")
    assert counted.status == "successful", counted.stdout
    [preview] = counted.task_results("Run the queued compliance jobs")
    assert (preview["ready"], preview["jobs"]) == (1, [])

    ran = launch("SkillForge queued compliance jobs (staging)", answers=answers, inputs=inputs)
    assert ran.status == "successful", ran.stdout
    [result] = ran.task_results("Run the queued compliance jobs")
    [job] = result["jobs"]
    assert (job["job_id"], job["state"]) == (request.job_id, "completed")
    [line] = [json.loads(text) for text in audit_log.read_text(encoding="utf-8").splitlines()]
    assert line["queued"] == {"queue": "data-retention-jobs", "job_id": request.job_id}
    assert line["summary"] == job["summary"] and line["check_mode"] is False

    shown = launch("SkillForge compliance audit trail (staging)", inputs=inputs,
                   answers={"audit_tenant": "globex", "audit_fail_on_interrupted": True})
    assert shown.status == "successful", shown.stdout
    [audit] = shown.task_results("Read the audit trail")
    [run] = audit["runs"]
    assert (run["id"], run["state"], run["triggered_by"], run["reason"], run["counts"]) == (
        job["audit_id"], "succeeded", "api@skillforge.com", "PRIV-88", job["counts"])
