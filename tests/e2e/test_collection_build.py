"""`ansible-galaxy collection build` makes an artifact without test or build clutter, and the collection
installed from it into an empty collections path runs on its own: `ansible-playbook
skillforge.dataops.compliance` (and migrate) from there, with the audit callback loaded from it too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import psycopg
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text(encoding="utf-8"))

# Never in the artifact: tests, tooling, controller configuration, caches, local state.
CLUTTER_PREFIXES = ("tests/", "extensions/", "awx/", ".venv/", ".collections/", ".git", ".ci/",
                    ".pytest_cache/", ".ansible/", "changelogs/fragments/", "node_modules/")
CLUTTER_FILES = {"Makefile", "pytest.ini", "requirements-test.txt", "requirements-lock.txt", ".ansible-lint",
                 ".gitignore", "changelogs/.plugin-cache.yaml", "scripts/demo.py", "scripts/ansible_test_offline.py",
                 "scripts/get_pip_offline.py",
                 # The checkout's ansible.cfg (its collections path, AWX's callback) is meaningless in an
                 # installed collection; requirements-bench.txt is bench/'s and includes requirements-test.txt.
                 "ansible.cfg", "requirements-bench.txt"}
# Everything at the artifact's top level: a new file or directory in the repository root has to be
# added here (or to build_ignore) on purpose.
TOP_LEVEL = {"MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.md", "LICENSE", "requirements.txt",
             "bindep.txt", "changelogs", "docs", "fixtures", "inventories", "meta", "migrations", "playbooks",
             "plugins", "roles", "scripts"}
ESSENTIAL = {"MANIFEST.json", "FILES.json", "README.md", "LICENSE", "meta/runtime.yml",
             "meta/execution-environment.yml", "requirements.txt", "bindep.txt", "changelogs/changelog.yaml",
             "plugins/callback/audit_json.py", "plugins/module_utils/_shared/connection.py",
             "migrations/V1_0__create_core_app_tables.sql", "playbooks/compliance.yml", "playbooks/migrate.yml",
             "roles/compliance/meta/argument_specs.yml", "inventories/ci/hosts.yml",
             "scripts/skillforge-worker"}  # the queue worker service runs from the installed collection


def run(*command, cwd, env=None, check=True):
    """Run a command outside the checkout: no ansible.cfg, no collections path but the one given."""
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith("ANSIBLE_") and not key.endswith(("DATABASE_URL", "REDIS_URL"))}
    environ.update(PATH=str(BIN) + os.pathsep + os.environ.get("PATH", ""), **(env or {}))
    completed = subprocess.run(command, cwd=cwd, env=environ, capture_output=True, text=True, timeout=600, check=False)
    if check:
        assert completed.returncode == 0, "%s failed:\n%s\n%s" % (command, completed.stdout, completed.stderr)
    return completed


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    run(str(BIN / "ansible-galaxy"), "collection", "build", str(REPO_ROOT), "--output-path", str(out), cwd=out)
    path = out / ("%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"]))
    assert path.is_file()
    return path


@pytest.fixture(scope="module")
def installed(artifact, tmp_path_factory):
    """An empty collections path with only the artifact installed; returns (collections path, collection dir)."""
    collections = tmp_path_factory.mktemp("collections")
    run(str(BIN / "ansible-galaxy"), "collection", "install", "-p", str(collections), str(artifact),
        cwd=collections, env={"ANSIBLE_COLLECTIONS_PATH": str(collections)})
    collection = collections / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    assert (collection / "MANIFEST.json").is_file()
    return collections, collection


def test_artifact_has_the_collection_and_no_clutter(artifact):
    with tarfile.open(artifact) as tar:
        members = {m.name.lstrip("./") for m in tar.getmembers() if m.isfile()}
    assert ESSENTIAL <= members, sorted(ESSENTIAL - members)
    clutter = sorted(m for m in members if m.startswith(CLUTTER_PREFIXES) or m in CLUTTER_FILES
                     or "__pycache__" in m or m.endswith((".pyc", ".tar.gz", ".retry")))
    assert clutter == []
    manifest = json.loads(tarfile.open(artifact).extractfile("MANIFEST.json").read())
    assert manifest["collection_info"]["version"] == GALAXY["version"]


def test_artifact_top_level_is_exactly_the_collection(artifact):
    with tarfile.open(artifact) as tar:
        top_level = {m.name.lstrip("./").split("/", 1)[0] for m in tar.getmembers()} - {""}
        scripts = {m.name for m in tar.getmembers() if m.isfile() and m.name.startswith("scripts/")}
    assert top_level == TOP_LEVEL, {"unexpected": sorted(top_level - TOP_LEVEL),
                                    "missing": sorted(TOP_LEVEL - top_level)}
    assert scripts == {"scripts/skillforge-worker"}


def test_shipped_requirements_files_include_only_shipped_files(artifact):
    """A requirements file's ``-r``/``-c`` lines name files the artifact ships too (requirements-bench.txt
    shipped with ``-r requirements-test.txt``, which it does not)."""
    with tarfile.open(artifact) as tar:
        members = {m.name.lstrip("./"): m for m in tar.getmembers() if m.isfile()}
        for name in (n for n in members if Path(n).name.startswith("requirements") and n.endswith(".txt")):
            for line in tar.extractfile(members[name]).read().decode("utf-8").splitlines():
                words = line.split()
                if words and words[0] in ("-r", "-c", "--requirement", "--constraint"):
                    included = str(Path(name).parent / words[1]).lstrip("./")
                    assert included in members, "%s includes %s, which the artifact does not ship" % (name, included)


def test_galaxy_metadata_has_no_placeholder():
    # An optional key with an invented value is worse than none: ansible-galaxy and Galaxy show it as a link.
    for key in ("repository", "documentation", "homepage", "issues"):
        assert "example" not in str(GALAXY.get(key, "")), (key, GALAXY[key])


def test_installed_collection_migrates_a_database(installed, empty_database_url, tmp_path):
    collections, collection = installed
    job = run(str(BIN / "ansible-playbook"), "-i", str(collection / "inventories" / "ci"),
              "skillforge.dataops.migrate", cwd=tmp_path,
              env={"ANSIBLE_COLLECTIONS_PATH": str(collections), "SKILLFORGE_CI_DATABASE_URL": empty_database_url})
    assert "failed=0" in job.stdout
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("""SELECT to_regclass('"User"') IS NOT NULL""").fetchone()[0]


def test_installed_collection_runs_the_compliance_playbook(installed, migrated_database_url, tmp_path):
    collections, collection = installed
    audit_log = tmp_path / "audit.jsonl"
    job = run(str(BIN / "ansible-playbook"), "-i", str(collection / "inventories" / "ci"),
              "skillforge.dataops.compliance",
              "-e", "compliance_job=data-retention", "-e", "compliance_triggered_by=collection-build-test",
              "-e", "compliance_reason=TEST-1", cwd=tmp_path,
              env={"ANSIBLE_COLLECTIONS_PATH": str(collections),
                   "SKILLFORGE_CI_DATABASE_URL": migrated_database_url,
                   "ANSIBLE_CALLBACKS_ENABLED": "skillforge.dataops.audit_json",
                   "SKILLFORGE_AUDIT_LOG": str(audit_log)})
    assert "failed=0" in job.stdout
    # The callback came from the installed collection too, and saw the job's summary.
    [record] = [json.loads(line) for line in audit_log.read_text(encoding="utf-8").splitlines()]
    assert record["job"] == "data-retention" and record["check_mode"] is True
    assert record["summary"]["triggered_by"] == "collection-build-test"


def test_every_role_declares_the_collection_licence():
    for meta in sorted(REPO_ROOT.glob("roles/*/meta/main.yml")):
        license_ = yaml.safe_load(meta.read_text(encoding="utf-8"))["galaxy_info"]["license"]
        assert [license_] == GALAXY["license"], "%s: %s" % (meta.relative_to(REPO_ROOT), license_)
