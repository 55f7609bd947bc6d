"""playbooks/migrate.yml end to end: ansible-playbook against a throwaway database."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = "playbooks/migrate.yml"
# The collection's own scripts in the order Flyway applies them: versioned by version, then repeatables.
VERSIONED = sorted((p.name for p in (REPO_ROOT / "migrations").glob("V*.sql")),
                   key=lambda name: [int(part) for part in name[1:].split("__")[0].split("_")])
REPEATABLE = sorted(p.name for p in (REPO_ROOT / "migrations").glob("R__*.sql"))
SCRIPTS = VERSIONED + REPEATABLE

pytest.importorskip("ansible_runner")


@pytest.fixture
def migrations(tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(REPO_ROOT / "migrations", directory)
    return directory


@pytest.fixture
def play(run_playbook, empty_database_url, migrations):
    def run(**kwargs):
        return run_playbook(PLAYBOOK, extra_vars={"skillforge_migrations_dir": str(migrations)},
                            env={"SKILLFORGE_LOCAL_DATABASE_URL": empty_database_url}, **kwargs)
    return run


def history(url):
    with psycopg.connect(url) as conn:
        if not conn.execute("SELECT to_regclass('public.flyway_schema_history') IS NOT NULL").fetchone()[0]:
            return None
        return conn.execute("SELECT installed_rank, script, checksum, success FROM flyway_schema_history"
                            " ORDER BY installed_rank").fetchall()


def user_tables(url):
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}


def test_check_mode_lists_pending_and_changes_nothing(play, empty_database_url):
    run = play(check=True, diff=True)
    assert run.status == "successful", run.stdout
    migrate = run.result("Apply pending migrations")
    assert migrate["changed"] is True
    assert [p["script"] for p in migrate["pending"]] == SCRIPTS
    assert migrate["applied"] == [] and migrate["database"]["source"] == "SKILLFORGE_LOCAL_DATABASE_URL"
    assert "V1_0__create_core_app_tables.sql" in migrate["diff"]["after"] and migrate["diff"]["before"] == ""
    assert {m["state"] for m in run.result("Read migration states")["migrations"]} == {"Pending"}
    assert history(empty_database_url) is None and user_tables(empty_database_url) == set()


def test_migrate_then_second_run_is_unchanged(play, empty_database_url):
    first = play()
    assert first.status == "successful", first.stdout
    migrate = first.result("Apply pending migrations")
    assert migrate["changed"] is True
    assert [a["script"] for a in migrate["applied"]] == SCRIPTS
    assert all(isinstance(a["checksum"], int) and a["execution_time"] >= 0 for a in migrate["applied"])
    assert migrate["history_source"] == '"public"."flyway_schema_history"'
    assert "password" not in str(migrate["database"]).lower() or "****" in migrate["database"]["url"]
    assert [(r[0], r[1], r[3]) for r in history(empty_database_url)] == [
        (rank, script, True) for rank, script in enumerate(SCRIPTS, start=1)]
    assert {m["state"] for m in first.result("Read migration states")["migrations"]} == {"Success"}

    second = play()
    assert second.status == "successful", second.stdout
    assert second.result("Apply pending migrations")["changed"] is False
    predicted = play(check=True)
    assert predicted.result("Apply pending migrations")["changed"] is False


def test_tampered_script_fails_validation_before_any_change(play, empty_database_url, migrations):
    assert play().status == "successful"
    with open(migrations / SCRIPTS[0], "a", encoding="utf-8") as handle:
        handle.write("\nCREATE TABLE sneaky_change (id int);\n")
    (migrations / "V2__new_table.sql").write_text("CREATE TABLE brand_new (id int);\n", encoding="utf-8")
    before = history(empty_database_url)
    run = play()
    assert run.status == "failed"
    validate = run.result("Validate applied migrations against the scripts")
    assert "checksum mismatch for migration version 1.0" in validate["msg"]
    assert SCRIPTS[0] in validate["msg"] and "repair" in validate["msg"]
    assert [r["task"] for r in run.results][-1] == "Validate applied migrations against the scripts"
    assert history(empty_database_url) == before
    assert not {"sneaky_change", "brand_new"} & user_tables(empty_database_url)


def test_failing_migration_is_rolled_back_and_reported(play, empty_database_url, migrations):
    (migrations / "V2__broken.sql").write_text(
        "CREATE TABLE half_done (id int);\nSELECT no_such_column FROM half_done;\n", encoding="utf-8")
    run = play()
    assert run.status == "failed"
    migrate = run.result("Apply pending migrations")
    failure = migrate["failure"]
    assert failure["script"] == "V2__broken.sql" and failure["sqlstate"] == "42703"
    assert failure["line"] == 2 and failure["statement"].startswith("SELECT no_such_column")
    assert "V2__broken.sql" in migrate["msg"] and "rolled back" in migrate["msg"]
    # Versions before it applied, it left nothing, and the repeatable after it did not run.
    assert migrate["executed"] == VERSIONED
    assert [r[1] for r in history(empty_database_url)] == VERSIONED
    assert "half_done" not in user_tables(empty_database_url)


def test_info_reports_outdated_repeatable(play, migrations):
    assert play().status == "successful"
    with open(migrations / REPEATABLE[0], "a", encoding="utf-8") as handle:
        handle.write("\n-- changed comment\n")
    run = play(check=True)
    states = {(m["script"], m["state"]) for m in run.result("Read migration states")["migrations"]}
    assert (REPEATABLE[0], "Outdated") in states and (REPEATABLE[0], "Pending") in states
    assert [p["script"] for p in run.result("Apply pending migrations")["pending"]] == [REPEATABLE[0]]


def test_a_release_drill_migrates_up_to_the_target_with_the_inventorys_bounded_waits(run_playbook, empty_database_url,
                                                                                     migrations):
    target = VERSIONED[1].split("__")[0][1:].replace("_", ".")
    extra_vars = {"skillforge_migrations_dir": str(migrations), "skillforge_migration_target": target,
                  "skillforge_db_lock_timeout": 3, "skillforge_db_statement_timeout": 900}
    run = run_playbook(PLAYBOOK, extra_vars=extra_vars, env={"SKILLFORGE_LOCAL_DATABASE_URL": empty_database_url})
    assert run.status == "successful", run.stdout
    migrate = run.result("Apply pending migrations")
    assert [m["script"] for m in migrate["applied"]] == VERSIONED[:2] + REPEATABLE
    assert [m["script"] for m in migrate["above_target"]] == VERSIONED[2:]
    assert "above the target stay pending" in migrate["msg"]
    assert [row[1] for row in history(empty_database_url)][-len(REPEATABLE) - 2:] == VERSIONED[:2] + REPEATABLE
