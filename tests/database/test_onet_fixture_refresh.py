"""fixtures/onet/refresh_manifest.py run as an operator runs it, on a copy of the fixture tree,
then seeded into the real PostgreSQL: a refreshed manifest makes an edited fixture set seed."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from ansible_collections.skillforge.dataops.tests.onet_test_support import (
    copy_fixture_tree,
    populate_staging,
    read_records,
    run_script,
)

from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import dataset as onet_dataset
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import source as onet_source
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.source import SourceSpec


@pytest.fixture
def tree(tmp_path) -> Path:
    return copy_fixture_tree(tmp_path)


def seed(url: str, directory: Path, **options):
    with psycopg.connect(url, autocommit=True) as conn:
        return onet_source.seed_source(conn, SourceSpec("fixtures", fixtures_dir=str(directory)), **options)


def test_refresh_after_an_edit_makes_the_seed_pass(migrated_database_url, tree):
    populate_staging(tree)
    with pytest.raises(onet_dataset.DatasetValidationError, match="checksum does not match manifest.json"):
        seed(migrated_database_url, tree / "staging", check_mode=True)
    datasets = json.loads((tree / "staging" / "manifest.json").read_text(encoding="utf-8"))["datasets"]

    refreshed = run_script(tree / "refresh_manifest.py", "staging")
    assert refreshed.returncode == 0, refreshed.stderr
    assert refreshed.stdout == "staging/manifest.json refreshed: occupations.json, skills.json, " \
                               "occupation_skills.json, tasks.json\n"
    manifest = json.loads((tree / "staging" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["datasets"] == datasets and manifest["environment"] == "staging"
    pairs = len(read_records(tree / "staging", "occupation_skills.json"))
    assert manifest["files"]["occupation_skills.json"]["rows"] == pairs

    predicted = seed(migrated_database_url, tree / "staging", check_mode=True)
    seeded = seed(migrated_database_url, tree / "staging")
    assert seeded.changed and seeded.counts == predicted.counts
    assert seeded.counts["onet_occupation_skills"]["inserted"] == pairs
    assert [version["version"] for version in seeded.datasets] == ["29.0"]
