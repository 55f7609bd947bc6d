"""The README's runbook tables are commands that work: each compliance row of the old CLI's
equivalents is run as written (its ``-e`` arguments parsed by Ansible's own parser) against a
database that has the runbook's tenants and user, and every playbook the README names exists.
"""

from __future__ import annotations

import re
import shlex
import subprocess

import psycopg
import pytest
from ansible.parsing.splitter import parse_kv

import sample_data
from conftest import REPO_ROOT, ansible_environment
from queue_testing import REDIS_URL, queue_prefix  # noqa: F401  pylint: disable=unused-import

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
# The runbook's examples name these tenants and this user.
RUNBOOK_TENANTS = sample_data.DEFAULT_TENANTS + (("orbit-labs", "Orbit Labs", "partner-orbit"),)
RUNBOOK_USER = "user_123"


def compliance_rows() -> list:
    """``(old command, extra vars)`` for every row of the README's compliance table."""
    table = README.split("| Old command (`npm run --workspace @skillforge/api compliance -- ...`)", 1)[1]
    rows = []
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        old, new = re.match(r"^\| `(.+?)` \| `(.+?)`", line).groups()
        if not new.startswith("-e "):
            continue  # --help: ansible-doc, checked below
        words = shlex.split(new)
        extra_vars = {}
        for flag, value in zip(words[::2], words[1::2]):
            assert flag == "-e", line
            extra_vars.update(parse_kv(value))
        rows.append(pytest.param(extra_vars, id=old.split(" ")[0] + ":" + "/".join(sorted(extra_vars))[:60]))
    return rows


ROWS = compliance_rows()


def test_the_table_covers_every_compliance_example_of_the_runbook():
    assert len(ROWS) == 7


@pytest.fixture
def runbook_url(migrated_database_url):
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        sample_data.generate(conn, seed=11, users_per_tenant=5, tenants=RUNBOOK_TENANTS)
        conn.execute('INSERT INTO "User" ("id", "tenantId", "email", "marketingOptIn", "updatedAt")'
                     ' SELECT %s, "id", \'runbook@example.invalid\', true, now() FROM "Tenant" WHERE slug = %s',
                     (RUNBOOK_USER, "globex"))
    return migrated_database_url


@pytest.mark.parametrize("extra_vars", ROWS)
def test_each_runbook_command_runs_as_documented(run_playbook, runbook_url, queue_prefix, extra_vars):  # noqa: F811
    run = run_playbook("playbooks/compliance.yml", env={"DATABASE_URL": runbook_url, "REDIS_URL": REDIS_URL},
                       extra_vars=dict(extra_vars, compliance_queue_prefix=queue_prefix))
    assert run.rc == 0, run.stdout
    job = extra_vars["compliance_job"]
    result = run.result("Run %s" % job)
    executes = extra_vars.get("compliance_execute") == "true" and extra_vars.get("compliance_dry_run") != "true"
    if extra_vars.get("compliance_queue") == "true":
        assert result["queued"] and result["queue"] == "%s-jobs" % job
        assert result["data"]["dryRun"] is not executes
        return
    summary = result["summary"]
    assert summary["job"] == job and summary["mode"] == ("execute" if executes else "dry-run")
    if "compliance_tenant" in extra_vars:
        assert summary["scope"]["tenant"] == extra_vars["compliance_tenant"]
    if "compliance_user" in extra_vars:
        assert summary["scope"]["users"] == [extra_vars["compliance_user"]]
    if "compliance_before" in extra_vars:
        assert summary["scope"]["cutoff"] == extra_vars["compliance_before"].replace("00Z", "00.000Z")
    for name in ("triggered_by", "reason", "note"):
        if "compliance_" + name in extra_vars:
            assert summary[name] == extra_vars["compliance_" + name]


def test_the_help_row_documents_the_role():
    assert "`--help` | `ansible-doc -t role skillforge.dataops.compliance`" in README
    shown = subprocess.run(["ansible-doc", "-t", "role", "skillforge.dataops.compliance"],
                           capture_output=True, text=True, check=False, timeout=120,
                           env=ansible_environment())
    assert shown.returncode == 0, shown.stderr
    for variable in ("compliance_dry_run", "compliance_triggered_by", "skillforge_database_url"):
        assert variable in shown.stdout


def test_every_playbook_the_readme_names_exists():
    named = set(re.findall(r"playbooks/([a-z_]+\.yml)", README))
    assert {"migrate.yml", "migrate_info.yml", "compliance.yml", "seed.yml"} <= named
    assert all((REPO_ROOT / "playbooks" / name).is_file() for name in named), named
