"""Molecule verify (pytest-testinfra): after converge the reference tables hold exactly the ci fixture set."""

from __future__ import annotations

import json
import os
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[4] / "fixtures" / "onet" / "ci"


def query(host, statement: str) -> str:
    """One value from the scenario's database, read with psql on the host under test."""
    url = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "database_url").read_text(encoding="utf-8")
    return host.check_output("psql %s -XAtqc %s", url, statement)


def fixture_count(name: str) -> int:
    return len(json.loads((FIXTURES / ("%s.json" % name)).read_text(encoding="utf-8")))


def test_every_fixture_row_is_loaded(host):
    for table, fixture in (("onet_occupations", "occupations"), ("onet_skills", "skills"),
                           ("onet_tasks", "tasks"), ("onet_occupation_skills", "occupation_skills")):
        assert int(query(host, "SELECT count(*) FROM %s" % table)) == fixture_count(fixture), table


def test_dataset_versions_are_recorded(host):
    manifest = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
    recorded = query(host, "SELECT string_agg(dataset || ' ' || version, ',' ORDER BY dataset) "
                           "FROM onet_dataset_versions")
    expected = ",".join(sorted("%s %s" % (d["dataset"], d["version"]) for d in manifest["datasets"]))
    assert recorded == expected


def test_reporting_views_answer(host):
    assert int(query(host, "SELECT count(*) FROM reporting.onet_source_versions")) >= 1
