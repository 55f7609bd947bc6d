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
