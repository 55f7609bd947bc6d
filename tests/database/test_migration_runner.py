"""migration_runner against a real PostgreSQL: history table, validation, failures, lock, states."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import psycopg
import pytest

from ansible_collections.skillforge.dataops.tests.conftest import wait_for
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations import runner
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.checksum import checksum_of_file
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.runner import MigrationSettings

REPO_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SCRIPT_GATE = 7140  # an advisory lock key a test script waits for


@pytest.fixture
def scripts(tmp_path):
    """A migrations directory with three small scripts; tests add, change or remove files."""
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "V1__create_people.sql").write_text(
        "CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL);\n"
        "INSERT INTO people VALUES (1, 'Zoë');  -- 100% UTF-8\n", encoding="utf-8")
    (directory / "V1_1__add_email.sql").write_text(
        "ALTER TABLE people ADD COLUMN email text;\n", encoding="utf-8")
    (directory / "R__people_view.sql").write_text(
        "CREATE OR REPLACE VIEW people_names AS SELECT name FROM people;\n", encoding="utf-8")
    return directory


@pytest.fixture
def conn(empty_database_url):
    with psycopg.connect(empty_database_url) as connection:
        yield connection


def settings_for(directory, **kwargs) -> MigrationSettings:
    return MigrationSettings(locations=[str(directory)], **kwargs)


def history_rows(conn, table='"public"."flyway_schema_history"'):
    return conn.execute(
        "SELECT installed_rank, version, description, type, script, checksum, installed_by, execution_time, success"
        " FROM %s ORDER BY installed_rank" % table).fetchall()


def table_exists(conn, name, schema="public") -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", ("%s.%s" % (schema, name),)).fetchone()[0]


def states(conn, directory, **kwargs):
    return [(m["script"], m["state"]) for m in runner.info(conn, settings_for(directory, **kwargs)).migrations]


# --- history table ---------------------------------------------------------------------------

def test_history_table_has_flyways_postgresql_ddl(conn, scripts):
    runner.migrate(conn, settings_for(scripts))
    columns = conn.execute(
        """SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
           FROM information_schema.columns WHERE table_name = 'flyway_schema_history' ORDER BY ordinal_position"""
    ).fetchall()
    assert columns == [
        ("installed_rank", "integer", None, "NO", None),
        ("version", "character varying", 50, "YES", None),
        ("description", "character varying", 200, "NO", None),
        ("type", "character varying", 20, "NO", None),
        ("script", "character varying", 1000, "NO", None),
        ("checksum", "integer", None, "YES", None),
        ("installed_by", "character varying", 100, "NO", None),
        ("installed_on", "timestamp without time zone", None, "NO", "now()"),
        ("execution_time", "integer", None, "NO", None),
        ("success", "boolean", None, "NO", None),
    ]
    assert conn.execute(
        "SELECT conname, contype FROM pg_constraint WHERE conrelid = 'flyway_schema_history'::regclass"
    ).fetchall() == [("flyway_schema_history_pk", "p")]
    assert conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'flyway_schema_history' ORDER BY 1"
    ).fetchall() == [
        ("flyway_schema_history_pk",
         "CREATE UNIQUE INDEX flyway_schema_history_pk ON public.flyway_schema_history USING btree (installed_rank)"),
        ("flyway_schema_history_s_idx",
         "CREATE INDEX flyway_schema_history_s_idx ON public.flyway_schema_history USING btree (success)"),
    ]


def test_migrate_applies_in_order_and_writes_rows_as_flyway(conn, scripts):
    result = runner.migrate(conn, settings_for(scripts))
    assert result.changed and result.created_history_table
    assert [m["script"] for m in result.applied] == ["V1__create_people.sql", "V1_1__add_email.sql",
                                                     "R__people_view.sql"]
    user = conn.execute("SELECT current_user").fetchone()[0]
    rows = history_rows(conn)
    assert [r[:6] for r in rows] == [
        (1, "1", "create people", "SQL", "V1__create_people.sql", checksum_of_file(scripts / "V1__create_people.sql")),
        (2, "1.1", "add email", "SQL", "V1_1__add_email.sql", checksum_of_file(scripts / "V1_1__add_email.sql")),
        (3, None, "people view", "SQL", "R__people_view.sql", checksum_of_file(scripts / "R__people_view.sql")),
    ]
    assert all(r[6] == user and r[7] >= 0 and r[8] is True for r in rows)
    assert conn.execute("SELECT name, email FROM people_names JOIN people USING (name)").fetchall() == [("Zoë", None)]
    assert result.target_version == "1.1"


def test_second_run_changes_nothing(conn, scripts):
    runner.migrate(conn, settings_for(scripts))
    before = history_rows(conn)
    result = runner.migrate(conn, settings_for(scripts))
    assert not result.changed and result.applied == []
    assert history_rows(conn) == before


def test_dry_run_predicts_exactly_and_writes_nothing(conn, scripts):
    predicted = runner.migrate(conn, settings_for(scripts), dry_run=True)
    assert not table_exists(conn, "flyway_schema_history")
    assert not table_exists(conn, "people")
    real = runner.migrate(conn, settings_for(scripts))
    assert predicted.changed is True
    assert real.changed is True
    assert [(p["script"], p["checksum"]) for p in predicted.pending] == [
        (a["script"], a["checksum"]) for a in real.applied]
    assert predicted.target_version == real.target_version
    again = runner.migrate(conn, settings_for(scripts), dry_run=True)
    assert again.pending == [] and again.changed is False


def test_the_collections_own_migrations_apply(conn):
    result = runner.migrate(conn, settings_for(REPO_MIGRATIONS))
    assert result.applied and not runner.migrate(conn, settings_for(REPO_MIGRATIONS)).changed
    assert runner.validate(conn, settings_for(REPO_MIGRATIONS)).valid


# --- repeatables -------------------------------------------------------------------------------

def test_changed_repeatable_is_reapplied_with_a_new_row(conn, scripts):
    runner.migrate(conn, settings_for(scripts))
    (scripts / "R__people_view.sql").write_text(
        "CREATE OR REPLACE VIEW people_names AS SELECT name, id FROM people;\n", encoding="utf-8")
    assert ("R__people_view.sql", "Outdated") in states(conn, scripts)
    assert runner.validate(conn, settings_for(scripts)).valid is False  # outdated counts as not applied
    result = runner.migrate(conn, settings_for(scripts))
    assert [m["script"] for m in result.applied] == ["R__people_view.sql"]
    rows = history_rows(conn)
    assert [(r[0], r[1], r[4]) for r in rows][-2:] == [(3, None, "R__people_view.sql"), (4, None, "R__people_view.sql")]
    assert states(conn, scripts)[-2:] == [("R__people_view.sql", "Superseded"), ("R__people_view.sql", "Success")]


def test_repeatables_run_after_versioned_in_description_order(conn, scripts):
    (scripts / "R__a_first.sql").write_text("CREATE TABLE r_order (step text);\n", encoding="utf-8")
    (scripts / "R__b_second.sql").write_text("INSERT INTO r_order VALUES ('b');\n", encoding="utf-8")
    (scripts / "V2__late_version.sql").write_text("CREATE TABLE v2 (id int);\n", encoding="utf-8")
    result = runner.migrate(conn, settings_for(scripts))
    assert [m["script"] for m in result.applied] == [
        "V1__create_people.sql", "V1_1__add_email.sql", "V2__late_version.sql",
        "R__a_first.sql", "R__b_second.sql", "R__people_view.sql"]


# --- validation stops migrate before any change ------------------------------------------------

def test_checksum_mismatch_stops_migrate_before_changing_anything(conn, scripts):
    runner.migrate(conn, settings_for(scripts))
    (scripts / "V1__create_people.sql").write_text("CREATE TABLE people (id bigint);\n", encoding="utf-8")
    (scripts / "V2__new.sql").write_text("CREATE TABLE newer (id int);\n", encoding="utf-8")
    before = history_rows(conn)
    with pytest.raises(runner.ValidationFailedError) as caught:
        runner.migrate(conn, settings_for(scripts))
    message = str(caught.value)
    assert "checksum mismatch for migration version 1" in message
    assert "V1__create_people.sql" in message and "repair" in message
    assert caught.value.issues[0]["kind"] == "checksum"
    assert history_rows(conn) == before and not table_exists(conn, "newer")
    with pytest.raises(runner.ValidationFailedError):
        runner.migrate(conn, settings_for(scripts), dry_run=True)


def test_line_ending_change_is_not_a_mismatch(conn, scripts):
    runner.migrate(conn, settings_for(scripts))
    path = scripts / "V1__create_people.sql"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert runner.migrate(conn, settings_for(scripts)).changed is False


def test_missing_applied_migration_stops_migrate(conn, scripts):
    runner.migrate(conn, settings_for(scripts))
    (scripts / "V1_1__add_email.sql").unlink()
    (scripts / "V2__new.sql").write_text("CREATE TABLE newer (id int);\n", encoding="utf-8")
    with pytest.raises(runner.ValidationFailedError) as caught:
        runner.migrate(conn, settings_for(scripts))
    assert "not resolved locally: version 1.1" in str(caught.value)
    assert "Restore the file" in str(caught.value) and "repair" in str(caught.value)
    assert not table_exists(conn, "newer")


def test_failed_row_in_history_stops_migrate(conn, scripts):
    runner.migrate(conn, settings_for(scripts))
    (scripts / "V2__new.sql").write_text("CREATE TABLE newer (id int);\n", encoding="utf-8")
    # What Flyway leaves for a non-transactional failure.
    conn.execute("""INSERT INTO flyway_schema_history (installed_rank, version, description, type, script,
                    checksum, installed_by, execution_time, success)
                    VALUES (4, '2', 'new', 'SQL', 'V2__new.sql', 1, 'flyway', 5, false)""")
    conn.commit()
    assert ("V2__new.sql", "Failed") in states(conn, scripts)
    with pytest.raises(runner.ValidationFailedError, match="failed migration to version 2"):
        runner.migrate(conn, settings_for(scripts))
    assert not table_exists(conn, "newer")
    repaired = runner.repair(conn, settings_for(scripts))
    assert [r["version"] for r in repaired.removed_failed] == ["2"]
    assert [m["script"] for m in runner.migrate(conn, settings_for(scripts)).applied] == ["V2__new.sql"]


def test_version_below_the_latest_applied_is_ignored_and_blocks(conn, scripts):
    runner.migrate(conn, settings_for(scripts))
    (scripts / "V1_0_5__late.sql").write_text("SELECT 1;\n", encoding="utf-8")
    assert ("V1_0_5__late.sql", "Ignored") in states(conn, scripts)
    with pytest.raises(runner.ValidationFailedError, match="not applied to database: 1.0.5"):
        runner.migrate(conn, settings_for(scripts))


def test_non_empty_schema_without_history_needs_baseline(conn, scripts):
    conn.execute("CREATE TABLE legacy (id int)")
    conn.commit()
    with pytest.raises(runner.NonEmptySchemaError, match="baseline"):
        runner.migrate(conn, settings_for(scripts))
    assert not table_exists(conn, "flyway_schema_history")


# --- a failing migration ------------------------------------------------------------------------

def test_failing_migration_is_rolled_back_whole_and_reported(conn, scripts):
    (scripts / "V2__broken.sql").write_text(
        "CREATE TABLE broken_part (id int);\n"
        "INSERT INTO broken_part VALUES (1);\n"
        "INSERT INTO people (id, name) VALUES ('not a number', 'x');\n", encoding="utf-8")
    (scripts / "V3__after.sql").write_text("CREATE TABLE after_broken (id int);\n", encoding="utf-8")
    with pytest.raises(runner.MigrationFailedError) as caught:
        runner.migrate(conn, settings_for(scripts))
    failure = caught.value.failure
    assert failure.script == "V2__broken.sql" and failure.version == "2"
    assert failure.sqlstate == "22P02"
    assert failure.line == 3 and failure.statement_number == 3
    assert failure.statement.startswith("INSERT INTO people (id, name) VALUES ('not a number'")
    message = str(caught.value)
    assert "V2__broken.sql" in message and "invalid input syntax for type integer" in message
    assert "rolled back" in message
    # Before it: applied and committed. It: nothing left. After it: not run.
    assert [m["script"] for m in caught.value.result.applied] == ["V1__create_people.sql", "V1_1__add_email.sql"]
    assert not table_exists(conn, "broken_part") and not table_exists(conn, "after_broken")
    assert [r[4] for r in history_rows(conn)] == ["V1__create_people.sql", "V1_1__add_email.sql"]
    assert ("V2__broken.sql", "Pending") in states(conn, scripts)


@pytest.mark.parametrize("statement, sqlstate, named", [
    ("UPDATE people SET name = NULL;", "23502", 'column "name" of relation "people"'),  # DETAIL: Failing row contains
    ("UPDATE people SET id = email::int WHERE email IS NOT NULL;", "22P02", "invalid input syntax for type integer"),  # quotes the value
    ("CREATE UNIQUE INDEX one_domain ON people ((split_part(email, '@', 2)));", "23505", "one_domain"),
])
def test_a_failing_migration_never_shows_row_values(conn, scripts, statement, sqlstate, named):
    """Errors may name tables, columns, constraints and SQLSTATE: never the rows (personal data)."""
    runner.migrate(conn, settings_for(scripts))
    conn.execute("INSERT INTO people VALUES (2, 'Ann', 'someone@example.com'), (3, 'Bob', 'other@example.com')")
    conn.commit()
    (scripts / "V2__breaks_on_data.sql").write_text(statement + "\n", encoding="utf-8")
    with pytest.raises(runner.MigrationFailedError) as caught:
        runner.migrate(conn, settings_for(scripts))
    failure = caught.value.failure
    assert failure.sqlstate == sqlstate and named in str(caught.value)
    shown = str(caught.value) + repr(failure.as_dict())
    assert "example.com" not in shown and "Ann" not in shown


def test_error_without_position_still_names_file_and_context(conn, scripts):
    (scripts / "V2__plpgsql.sql").write_text(
        "DO $$ BEGIN PERFORM no_such_function(); END $$;\n", encoding="utf-8")
    with pytest.raises(runner.MigrationFailedError) as caught:
        runner.migrate(conn, settings_for(scripts))
    failure = caught.value.failure
    assert failure.sqlstate == "42883" and "no_such_function" in failure.error
    assert "PL/pgSQL" in failure.context and failure.path.endswith("V2__plpgsql.sql")


# --- Prisma ?schema= ------------------------------------------------------------------------------

def test_missing_search_path_schema_is_created_with_flyways_schema_marker(empty_database_url, scripts):
    with psycopg.connect(empty_database_url) as connection:
        connection.execute('SET search_path TO "App Schema"')
        connection.commit()
        result = runner.migrate(connection, settings_for(scripts))
        assert result.created_schema and result.schema == "App Schema"
        rows = history_rows(connection, '"App Schema"."flyway_schema_history"')
        assert rows[0][:5] == (0, None, "<< Flyway Schema Creation >>", "SCHEMA", '"App Schema"')
        assert [r[4] for r in rows[1:]] == ["V1__create_people.sql", "V1_1__add_email.sql", "R__people_view.sql"]
        assert table_exists(connection, "people", '"App Schema"')
        assert not table_exists(connection, "people", "public")
        assert ('<< Flyway Schema Creation >>', "Success") in [
            (m["description"], m["state"]) for m in runner.info(connection, settings_for(scripts)).migrations]


def test_dry_run_does_not_create_the_schema(empty_database_url, scripts):
    with psycopg.connect(empty_database_url) as connection:
        connection.execute("SET search_path TO app")
        connection.commit()
        result = runner.migrate(connection, settings_for(scripts), dry_run=True)
        assert result.created_schema and result.changed and len(result.pending) == 3
        assert connection.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'app'").fetchone()[0] == 0


# --- baseline ----------------------------------------------------------------------------------

def test_baseline_then_migrate_applies_only_later_versions(conn, scripts):
    conn.execute("CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL, email text)")
    conn.commit()
    result = runner.baseline(conn, settings_for(scripts), "1.1", "existing schema")
    assert result.changed
    rows = history_rows(conn)
    assert rows[0][:6] == (1, "1.1", "existing schema", "BASELINE", "existing schema", None)
    assert states(conn, scripts)[:3] == [("V1__create_people.sql", "Below Baseline"),
                                         ("existing schema", "Baseline"), ("R__people_view.sql", "Pending")]
    applied = runner.migrate(conn, settings_for(scripts)).applied
    assert [m["script"] for m in applied] == ["R__people_view.sql"]
    again = runner.baseline(conn, settings_for(scripts), "1.1", "existing schema")
    assert not again.changed
    with pytest.raises(runner.BaselineError, match="already"):
        runner.baseline(conn, settings_for(scripts), "2", "other")


def test_baseline_refused_after_migrations(conn, scripts):
    runner.migrate(conn, settings_for(scripts))
    with pytest.raises(runner.BaselineError, match="already contains migrations"):
        runner.baseline(conn, settings_for(scripts), "5")


def test_baseline_dry_run_writes_nothing(conn, scripts):
    result = runner.baseline(conn, settings_for(scripts), "1", dry_run=True)
    assert result.changed and result.created_history_table
    assert not table_exists(conn, "flyway_schema_history")


# --- repair ------------------------------------------------------------------------------------

def test_repair_realigns_checksum_and_marks_missing_as_deleted(conn, scripts):
    runner.migrate(conn, settings_for(scripts))
    (scripts / "V1_1__add_email.sql").write_text(
        "-- reformatted\nALTER TABLE people ADD COLUMN email text;\n", encoding="utf-8")
    (scripts / "V1__create_people.sql").unlink()  # lower than the latest script: Missing
    before = history_rows(conn)

    preview = runner.repair(conn, settings_for(scripts), dry_run=True)
    assert preview.changed and history_rows(conn) == before
    assert [a["version"] for a in preview.aligned] == ["1.1"]
    assert [d["version"] for d in preview.marked_deleted] == ["1"]

    result = runner.repair(conn, settings_for(scripts))
    assert (result.aligned, result.marked_deleted) == (preview.aligned, preview.marked_deleted)
    rows = history_rows(conn)
    assert rows[1][5] == checksum_of_file(scripts / "V1_1__add_email.sql")
    assert rows[-1][:5] == (4, "1", "create people", "DELETE", "V1__create_people.sql") and rows[-1][7] == 0
    assert ("V1__create_people.sql", "Deleted") in states(conn, scripts)
    assert runner.validate(conn, settings_for(scripts)).valid
    assert not runner.repair(conn, settings_for(scripts)).changed


def test_repair_leaves_future_migrations_alone_as_flyway_does(conn, scripts):
    # Flyway's default ignoreMigrationPatterns (*:future) keeps repair from deleting them.
    runner.migrate(conn, settings_for(scripts))
    (scripts / "V1_1__add_email.sql").unlink()
    assert ("V1_1__add_email.sql", "Future") in states(conn, scripts)
    assert not runner.repair(conn, settings_for(scripts)).changed


# --- lock ---------------------------------------------------------------------------------------

# The lock key and the bounded retries: test_migration_lock.py (no database needed).


def test_held_flyway_lock_blocks_migrate(empty_database_url, scripts):
    key = runner.advisory_lock_key("public", "flyway_schema_history")
    with psycopg.connect(empty_database_url) as holder, psycopg.connect(empty_database_url) as conn:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (key,))  # what a running Flyway holds
        started = time.monotonic()
        with pytest.raises(runner.LockTimeoutError, match="advisory lock"):
            runner.migrate(conn, settings_for(scripts, lock_retry_count=2, lock_retry_interval=0.2))
        assert time.monotonic() - started >= 0.4
        assert not table_exists(conn, "people")
        holder.rollback()  # Flyway finished: now it goes through
        assert runner.migrate(conn, settings_for(scripts, lock_retry_interval=0.2)).changed


def test_migrate_holds_the_lock_while_a_script_runs(empty_database_url, scripts):
    # The script waits for a lock this test holds, so it runs for exactly as long as the test wants.
    (scripts / "V2__slow.sql").write_text("SELECT pg_advisory_xact_lock(%d);\n" % SCRIPT_GATE, encoding="utf-8")
    key = runner.advisory_lock_key("public", "flyway_schema_history")
    errors = []

    def run():
        try:
            with psycopg.connect(empty_database_url) as conn:
                runner.migrate(conn, settings_for(scripts))
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)

    with psycopg.connect(empty_database_url) as gate, psycopg.connect(empty_database_url, autocommit=True) as observer:
        gate.execute("SELECT pg_advisory_xact_lock(%s)", (SCRIPT_GATE,))
        worker = threading.Thread(target=run)
        worker.start()
        try:
            wait_for(lambda: observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'"
                " AND wait_event_type = 'Lock' AND query LIKE %s", ("SELECT pg_advisory_xact_lock(%d)%%" % SCRIPT_GATE,)
            ).fetchone()[0], 10, "the slow script to run")
            # A second runner (or Flyway) cannot take the lock while the slow script runs.
            with observer.transaction():
                got = observer.execute("SELECT pg_try_advisory_xact_lock(%s)", (key,)).fetchone()[0]
        finally:
            gate.rollback()  # the script finishes
            worker.join()
    assert not errors and not got


def test_two_concurrent_runs_apply_each_migration_once(empty_database_url, scripts):
    (scripts / "V2__slowish.sql").write_text("SELECT pg_sleep(0.5);\nCREATE TABLE once (id int);\n",
                                             encoding="utf-8")
    results, errors = [], []

    def run():
        try:
            with psycopg.connect(empty_database_url) as conn:
                results.append(runner.migrate(conn, settings_for(scripts, lock_retry_interval=0.1)))
        except Exception as error:
            errors.append(error)

    workers = [threading.Thread(target=run), threading.Thread(target=run)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    applied = sorted(m["script"] for r in results for m in r.applied)
    assert applied == sorted(["V1__create_people.sql", "V1_1__add_email.sql", "V2__slowish.sql",
                              "R__people_view.sql"])
    with psycopg.connect(empty_database_url) as conn:
        assert len(history_rows(conn)) == 4


# --- info ---------------------------------------------------------------------------------------

def test_info_states_missing_future_and_pending(conn, scripts, tmp_path):
    runner.migrate(conn, settings_for(scripts))
    other = tmp_path / "older_checkout"
    shutil.copytree(scripts, other)
    (other / "V1__create_people.sql").unlink()  # applied, gone, lower than the latest script: Missing
    (other / "V0_5__early.sql").write_text("SELECT 1;\n", encoding="utf-8")  # below applied versions
    found = dict(states(conn, other))
    assert found["V1__create_people.sql"] == "Missing"
    assert found["V0_5__early.sql"] == "Ignored"
    (other / "V1_1__add_email.sql").unlink()  # now applied 1.1 is higher than any script: Future
    assert dict(states(conn, other))["V1_1__add_email.sql"] == "Future"
    info = runner.info(conn, settings_for(scripts))
    assert info.current_version == "1.1" and info.history_exists
    entry = info.migrations[0]
    assert entry["category"] == "Versioned" and entry["type"] == "SQL" and entry["installed_on"]
    (scripts / "V2__next.sql").write_text("SELECT 1;\n", encoding="utf-8")
    assert runner.info(conn, settings_for(scripts)).migrations[-1]["state"] == "Pending"


def test_check_mode_of_baseline_says_what_would_happen(conn, scripts):
    result = runner.baseline(conn, settings_for(scripts), "5", dry_run=True)
    assert result.changed and result.message.startswith("Would baseline schema with version: 5")
    assert not table_exists(conn, "flyway_schema_history")


def test_info_names_a_script_that_is_not_utf8(conn, scripts):
    (scripts / "V2__latin1.sql").write_bytes(b"-- caf\xe9\nSELECT 1;\n")
    [warning] = runner.info(conn, settings_for(scripts)).warnings
    assert "V2__latin1.sql" in warning and "line 1" in warning


# --- bounded waits: db_lock_timeout / db_statement_timeout -----------------------------------

def test_a_migration_blocked_by_a_long_transaction_gives_up_and_names_the_blocker(empty_database_url, scripts):
    with psycopg.connect(empty_database_url) as conn:
        runner.migrate(conn, settings_for(scripts))
    (scripts / "V2__add_phone.sql").write_text("ALTER TABLE people ADD COLUMN phone text;\n", encoding="utf-8")
    with psycopg.connect(empty_database_url, application_name="report-export") as blocker:
        # An open transaction that read a row: its ACCESS SHARE lock blocks the ALTER's ACCESS EXCLUSIVE.
        blocker.execute("SELECT name FROM people WHERE name = 'jane.doe@example.invalid' OR id = 1").fetchall()
        blocker_pid = blocker.info.backend_pid
        with psycopg.connect(empty_database_url) as conn, \
                pytest.raises(runner.MigrationFailedError) as failed:
            runner.migrate(conn, settings_for(scripts, db_lock_timeout=0.5))
        failure = failed.value.failure
        assert failure.sqlstate == "55P03" and failure.timed_out.startswith("lock_timeout ran out (SQLSTATE 55P03)")
        [seen] = failure.blocked_by
        assert seen["pid"] == blocker_pid and seen["application_name"] == "report-export"
        assert seen["state"] == "idle in transaction" and seen["statement_type"] == "SELECT"
        assert seen["user"] == blocker.execute("SELECT current_user").fetchone()[0]
        assert 0 <= seen["transaction_seconds"] < 60
        message = str(failed.value)
        assert "pid %d" % blocker_pid in message and "application report-export" in message
        assert "jane.doe" not in message and "jane.doe" not in repr(failure.as_dict())  # never the statement text
        assert "run migrate again once the blocking sessions have finished" in message
        assert failed.value.result.applied == []
    with psycopg.connect(empty_database_url) as conn:  # rolled back whole, nothing recorded; then it applies
        assert [row[4] for row in history_rows(conn)] == ["V1__create_people.sql", "V1_1__add_email.sql",
                                                          "R__people_view.sql"]
        assert [m["script"] for m in runner.migrate(conn, settings_for(scripts, db_lock_timeout=0.5)).applied] == [
            "V2__add_phone.sql"]


def test_a_statement_over_db_statement_timeout_is_stopped(conn, scripts):
    (scripts / "V2__slow.sql").write_text("SELECT pg_sleep(5);\n", encoding="utf-8")
    with pytest.raises(runner.MigrationFailedError) as failed:
        runner.migrate(conn, settings_for(scripts, db_statement_timeout=0.3))
    failure = failed.value.failure
    assert failure.sqlstate == "57014" and failure.blocked_by == []
    assert failure.timed_out == "statement_timeout ran out (SQLSTATE 57014); no blocking session was seen"
    assert [m["script"] for m in failed.value.result.applied] == ["V1__create_people.sql", "V1_1__add_email.sql"]
    assert "V2__slow.sql" not in [row[4] for row in history_rows(conn)]


def test_the_timeouts_hold_inside_each_migration_only(conn, scripts):
    (scripts / "V2__show.sql").write_text(
        "CREATE TABLE seen AS SELECT current_setting('lock_timeout') AS lock_timeout,"
        " current_setting('statement_timeout') AS statement_timeout;\n", encoding="utf-8")
    runner.migrate(conn, settings_for(scripts, db_lock_timeout=2, db_statement_timeout=0))
    assert conn.execute("SELECT * FROM seen").fetchone() == ("2s", "0")
    assert conn.execute("SELECT current_setting('lock_timeout')").fetchone()[0] == "0"  # the session's own


# --- Flyway's target -------------------------------------------------------------------------

def test_target_migrates_up_to_a_version_and_the_next_run_goes_on(conn, scripts):
    (scripts / "V2__add_phone.sql").write_text("ALTER TABLE people ADD COLUMN phone text;\n", encoding="utf-8")
    preview = runner.migrate(conn, settings_for(scripts, target="1.1"), dry_run=True)
    assert [m["script"] for m in preview.pending] == ["V1__create_people.sql", "V1_1__add_email.sql",
                                                      "R__people_view.sql"]
    assert [m["script"] for m in preview.above_target] == ["V2__add_phone.sql"]
    result = runner.migrate(conn, settings_for(scripts, target="1.1"))
    assert [m["script"] for m in result.applied] == [m["script"] for m in preview.pending]
    assert [m["script"] for m in result.above_target] == ["V2__add_phone.sql"] and result.target_version == "1.1"
    assert ("V2__add_phone.sql", "Pending") in states(conn, scripts)
    assert not runner.migrate(conn, settings_for(scripts, target="current")).applied
    assert [m["script"] for m in runner.migrate(conn, settings_for(scripts)).applied] == ["V2__add_phone.sql"]


def test_a_target_no_script_has_fails_before_anything_is_written(conn, scripts):
    with pytest.raises(runner.MigrationConfigError, match="No migration with a target version 7 could be found"):
        runner.migrate(conn, settings_for(scripts, target="7"))
    assert not table_exists(conn, "people") and not table_exists(conn, "flyway_schema_history")


# --- migrations that cannot run in a transaction ----------------------------------------------

def index_validity(conn, name):
    row = conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", (name,)).fetchone()
    return None if row is None else row[0]


def test_create_index_concurrently_runs_outside_a_transaction_under_the_session_lock(empty_database_url, scripts):
    (scripts / "V2__index_names.sql").write_text(
        "-- online: writes to people go on while it builds\n"
        "CREATE INDEX CONCURRENTLY people_name ON people (name);\n"
        "CREATE UNIQUE INDEX CONCURRENTLY people_email ON people (email);\n", encoding="utf-8")
    (scripts / "V3__more.sql").write_text("ALTER TABLE people ADD COLUMN phone text;\n", encoding="utf-8")
    with psycopg.connect(empty_database_url) as conn:
        preview = runner.migrate(conn, settings_for(scripts), dry_run=True)
        assert "V2__index_names.sql" in [m["script"] for m in preview.pending]
        result = runner.migrate(conn, settings_for(scripts))
        assert [m["script"] for m in result.applied] == ["V1__create_people.sql", "V1_1__add_email.sql",
                                                         "V2__index_names.sql", "V3__more.sql", "R__people_view.sql"]
        assert index_validity(conn, "people_name") is True and index_validity(conn, "people_email") is True
        assert [row[4:] for row in history_rows(conn) if row[4] == "V2__index_names.sql"] == [
            ("V2__index_names.sql", checksum_of_file(scripts / "V2__index_names.sql"), row_user(conn), ANY_TIME, True)]
        # The session lock is released: Flyway (or another run) can take the transactional lock now.
        key = runner.advisory_lock_key("public", "flyway_schema_history")
        with psycopg.connect(empty_database_url) as other:
            assert other.execute("SELECT pg_try_advisory_xact_lock(%s)", (key,)).fetchone()[0]
        assert not runner.migrate(conn, settings_for(scripts)).applied


class _AnyTime:
    def __eq__(self, other):
        return isinstance(other, int) and other >= 0


ANY_TIME = _AnyTime()


def row_user(conn):
    return conn.execute("SELECT current_user").fetchone()[0]


def test_a_script_mixing_both_kinds_is_refused_before_anything_runs(conn, scripts):
    (scripts / "V2__mixed.sql").write_text(
        "ALTER TABLE people ADD COLUMN phone text;\nCREATE INDEX CONCURRENTLY people_phone ON people (phone);\n",
        encoding="utf-8")
    mixed = "V2__mixed.sql .mixed is not supported.: outside a transaction: line 2: CREATE INDEX CONCURRENTLY"
    with pytest.raises(runner.MigrationFileError, match=mixed):
        runner.migrate(conn, settings_for(scripts))
    assert not table_exists(conn, "people") and not table_exists(conn, "flyway_schema_history")


def test_a_failing_non_transactional_script_leaves_a_failed_row_that_repair_removes(conn, scripts):
    (scripts / "V2__index.sql").write_text(
        "CREATE INDEX CONCURRENTLY people_name ON people (name);\n"
        "CREATE INDEX CONCURRENTLY people_nick ON people (nickname);\n", encoding="utf-8")
    with pytest.raises(runner.MigrationFailedError) as failed:
        runner.migrate(conn, settings_for(scripts))
    failure = failed.value.failure
    assert failure.transactional is False and failure.sqlstate == "42703"
    assert (failure.line, failure.statement_number) == (2, 2)  # the position counts from the script
    message = str(failed.value)
    assert "ran outside a transaction (non-transactional), so the statements before the failing one stay applied" \
        in message and "run command=repair to remove the failed row" in message
    assert index_validity(conn, "people_name") is True  # the first statement stays, as Flyway leaves it
    assert history_rows(conn)[-1][4:] == ("V2__index.sql", checksum_of_file(scripts / "V2__index.sql"),
                                          row_user(conn), ANY_TIME, False)
    assert ("V2__index.sql", "Failed") in states(conn, scripts)
    with pytest.raises(runner.ValidationFailedError, match="V2__index.sql|2"):
        runner.migrate(conn, settings_for(scripts))
    # The operator fixes script and database, repairs, and migrates again.
    conn.execute("DROP INDEX people_name")
    conn.commit()
    (scripts / "V2__index.sql").write_text(
        "CREATE INDEX CONCURRENTLY people_name ON people (name);\n", encoding="utf-8")
    assert runner.repair(conn, settings_for(scripts)).changed
    applied = runner.migrate(conn, settings_for(scripts)).applied
    assert [m["script"] for m in applied] == ["V2__index.sql", "R__people_view.sql"]


def test_an_index_build_waiting_behind_a_writer_gives_up_and_names_it(empty_database_url, scripts):
    with psycopg.connect(empty_database_url) as conn:
        runner.migrate(conn, settings_for(scripts))
    (scripts / "V2__index.sql").write_text("CREATE INDEX CONCURRENTLY people_name ON people (name);\n",
                                           encoding="utf-8")
    with psycopg.connect(empty_database_url, application_name="bulk-import") as writer:
        writer.execute("INSERT INTO people VALUES (2, 'someone')")  # an open writing transaction
        with psycopg.connect(empty_database_url) as conn, pytest.raises(runner.MigrationFailedError) as failed:
            runner.migrate(conn, settings_for(scripts, db_lock_timeout=0.5))
        failure = failed.value.failure
        assert failure.transactional is False and failure.sqlstate == "55P03"
        assert [(b["pid"], b["application_name"], b["statement_type"]) for b in failure.blocked_by] == [
            (writer.info.backend_pid, "bulk-import", "INSERT")]
        assert "someone" not in str(failed.value)
    with psycopg.connect(empty_database_url) as conn:  # the session's own timeouts are back
        assert conn.execute("SELECT current_setting('lock_timeout')").fetchone()[0] == "0"
        assert history_rows(conn)[-1][8] is False


# --- Flyway's placeholders -------------------------------------------------------------------

def test_placeholders_are_replaced_before_a_script_runs(conn, scripts):
    (scripts / "V2__owner.sql").write_text(
        "CREATE TABLE audit_${suffix} (who text DEFAULT '${flyway:user}', db text DEFAULT '${flyway:database}',"
        " schema text DEFAULT '${flyway:defaultSchema}', env text DEFAULT '${flyway:environment}',"
        " file text DEFAULT '${flyway:filename}');\n", encoding="utf-8")
    result = runner.migrate(conn, settings_for(scripts, placeholders={"SUFFIX": "log"}, environment="ci"))
    assert "V2__owner.sql" in [m["script"] for m in result.applied]
    conn.execute("INSERT INTO audit_log DEFAULT VALUES")
    assert conn.execute("SELECT who, db, schema, env, file FROM audit_log").fetchone() == (
        row_user(conn), conn.info.dbname, "public", "ci", "V2__owner.sql")
    # A versioned script's checksum is over its text as written, so a new value changes nothing.
    assert history_rows(conn)[2][5] == checksum_of_file(scripts / "V2__owner.sql")
    assert runner.validate(conn, settings_for(scripts, placeholders={"suffix": "other"})).valid


def test_a_repeatable_is_re_applied_when_a_placeholder_value_changes(conn, scripts):
    (scripts / "R__people_view.sql").write_text(
        "CREATE OR REPLACE VIEW people_names AS SELECT name, '${label}' AS label FROM people;\n", encoding="utf-8")
    runner.migrate(conn, settings_for(scripts, placeholders={"label": "first"}))
    assert not runner.migrate(conn, settings_for(scripts, placeholders={"label": "first"})).applied
    again = runner.migrate(conn, settings_for(scripts, placeholders={"label": "second"}))
    assert [m["script"] for m in again.applied] == ["R__people_view.sql"]
    assert conn.execute("SELECT DISTINCT label FROM people_names").fetchone() == ("second",)
    # A row Flyway wrote without replacement (the checksum as written) still counts as applied.
    conn.execute("UPDATE flyway_schema_history SET checksum = %s WHERE installed_rank = (SELECT max(installed_rank)"
                 " FROM flyway_schema_history)", (checksum_of_file(scripts / "R__people_view.sql"),))
    conn.commit()
    assert ("R__people_view.sql", "Success") in states(conn, scripts, placeholders={"label": "third"})


def test_a_placeholder_without_a_value_fails_before_anything_runs(conn, scripts):
    (scripts / "V2__grant.sql").write_text("GRANT SELECT ON people TO ${reader};\n", encoding="utf-8")
    with pytest.raises(runner.MigrationConfigError,
                       match=r"No value provided for placeholder: \$\{reader\}.*\(in V2__grant.sql\)"):
        runner.migrate(conn, settings_for(scripts))
    assert not table_exists(conn, "people")


def test_without_replacement_a_script_runs_as_written(conn, scripts):
    (scripts / "V2__literal.sql").write_text("CREATE TABLE t AS SELECT '${not_a_placeholder}' AS v;\n",
                                             encoding="utf-8")
    runner.migrate(conn, settings_for(scripts, placeholder_replacement=False))
    assert conn.execute("SELECT v FROM t").fetchone() == ("${not_a_placeholder}",)
