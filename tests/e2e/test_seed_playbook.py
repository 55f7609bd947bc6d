"""playbooks/seed.yml end to end through ansible-playbook: dry run, seed, re-seed, empty environments
(with and without prune)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from ansible_collections.skillforge.dataops.tests.onet_test_support import FIXTURES, read_records, snapshot

REPO_ROOT = Path(__file__).resolve().parents[2]

TASK = "Seed O*NET reference data"


def reference_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM onet_occupations) + (SELECT count(*) FROM onet_skills)"
                            " + (SELECT count(*) FROM onet_occupation_skills) + (SELECT count(*) FROM onet_tasks)"
                            " + (SELECT count(*) FROM onet_dataset_versions)").fetchone()[0]


def test_dry_run_then_seed_then_reseed(run_playbook, migrated_database_url):
    env = {"DATABASE_URL": migrated_database_url}
    dry = run_playbook("playbooks/seed.yml", check=True, diff=True, env=env)
    assert dry.status == "successful", dry.stdout
    predicted = dry.result(TASK)
    assert predicted["changed"] and predicted["counts"]["onet_occupation_skills"]["inserted"] == len(
        read_records(FIXTURES / "local", "occupation_skills.json"))  # the local inventory's fixture set
    assert "onet_occupations 11-1021.00" in predicted["diff"]["after"]
    assert predicted["database"]["source"] == "DATABASE_URL"
    assert reference_rows(migrated_database_url) == 0  # the dry run changed nothing

    seeded = run_playbook("playbooks/seed.yml", env=env)
    assert seeded.status == "successful", seeded.stdout
    assert seeded.result(TASK)["counts"] == predicted["counts"] and seeded.result(TASK)["changed"]
    assert reference_rows(migrated_database_url) == sum(
        counts["inserted"] for counts in predicted["counts"].values())

    again = run_playbook("playbooks/seed.yml", env=env)
    assert again.status == "successful", again.stdout
    assert not again.result(TASK)["changed"] and again.result(TASK)["rows_written"] == 0
    assert "nothing written" in again.result(TASK)["msg"]


def test_extra_var_chooses_the_environment(run_playbook, migrated_database_url):
    run = run_playbook("playbooks/seed.yml", extra_vars={"skillforge_env": "ci"},
                       env={"SKILLFORGE_CI_DATABASE_URL": migrated_database_url})
    assert run.status == "successful", run.stdout
    assert run.result(TASK)["rows"]["onet_occupations"] == len(read_records(FIXTURES / "ci", "occupations.json"))
    assert run.result(TASK)["database"]["source"] == "SKILLFORGE_CI_DATABASE_URL"


def seed_ci(run_playbook, url: str) -> dict:
    """Seed the ci fixture set into ``url``; return every reference row's key and xmin."""
    seeded = run_playbook("playbooks/seed.yml", extra_vars={"skillforge_env": "ci"},
                          env={"SKILLFORGE_CI_DATABASE_URL": url})
    assert seeded.status == "successful", seeded.stdout
    return snapshot(url)


@pytest.mark.parametrize("inventory", ["staging", "production"])
def test_empty_environments_pass_with_a_warning_and_write_nothing(run_playbook, migrated_database_url, inventory):
    before = seed_ci(run_playbook, migrated_database_url)
    variable = "SKILLFORGE_%s_DATABASE_URL" % inventory.upper()
    for check in (True, False):
        run = run_playbook("playbooks/seed.yml", env={variable: migrated_database_url}, check=check,
                           inventory=REPO_ROOT / "inventories" / inventory)
        assert run.status == "successful", run.stdout
        result = run.result(TASK)
        assert not result["changed"] and result["rows_written"] == 0
        assert result["msg"] == "the dataset (fixtures) has no rows; nothing written"
        assert len(result["warnings"]) == 1 and "has no rows" in result["warnings"][0]
        assert "[WARNING]" in run.stdout and "nothing was seeded" in run.stdout
    assert snapshot(migrated_database_url) == before


@pytest.mark.parametrize("inventory", ["staging", "production"])
def test_empty_environments_with_prune_fail_clearly_and_change_nothing(run_playbook, migrated_database_url, inventory):
    before = seed_ci(run_playbook, migrated_database_url)
    variable = "SKILLFORGE_%s_DATABASE_URL" % inventory.upper()
    run = run_playbook("playbooks/seed.yml", env={variable: migrated_database_url},
                       extra_vars={"onet_seed_prune": True}, inventory=REPO_ROOT / "inventories" / inventory)
    assert run.status == "failed"
    failure = run.result(TASK)
    assert "has no rows" in failure["msg"] and "with prune that would delete every reference row" in failure["msg"]
    assert "allow_empty" in failure["msg"]
    allowed = run_playbook("playbooks/seed.yml", env={variable: migrated_database_url},
                           extra_vars={"onet_seed_prune": True, "onet_seed_allow_empty": True},
                           inventory=REPO_ROOT / "inventories" / inventory)
    assert allowed.status == "successful", allowed.stdout
    assert not allowed.result(TASK)["changed"] and "nothing pruned" in allowed.stdout
    assert snapshot(migrated_database_url) == before
