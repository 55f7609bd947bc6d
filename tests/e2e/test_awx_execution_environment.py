"""The execution environment: awx/execution-environment.yml becomes a build context with `ansible-builder
create` (no container engine needed), and the collection's meta/execution-environment.yml hands its
Python and system requirements to ansible-builder's introspection, as it does inside an image build."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text(encoding="utf-8"))
ARTIFACT = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])


def run(*command, cwd, env=None):
    """Run a command outside the checkout (so the repository's ansible.cfg does not apply)."""
    environ = dict(os.environ, PATH=str(BIN) + os.pathsep + os.environ.get("PATH", ""), **(env or {}))
    environ.pop("ANSIBLE_CONFIG", None)
    completed = subprocess.run(command, cwd=cwd, env=environ, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, "%s failed:\n%s\n%s" % (command, completed.stdout, completed.stderr)
    return completed.stdout


def requirement_lines(path):
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory):
    """A directory laid out like the checkout: the built collection beside awx/execution-environment.yml."""
    root = tmp_path_factory.mktemp("ee")
    run(str(BIN / "ansible-galaxy"), "collection", "build", str(REPO_ROOT), "--output-path", str(root), cwd=root)
    (root / "awx").mkdir()
    shutil.copy(REPO_ROOT / "awx" / "execution-environment.yml", root / "awx")
    return root


def test_builder_creates_the_build_context(artifact_dir):
    context = artifact_dir / "context"
    run(str(BIN / "ansible-builder"), "create", "-f", "awx/execution-environment.yml", "--context", str(context),
        cwd=artifact_dir)

    containerfile = next(context / name for name in ("Containerfile", "Dockerfile") if (context / name).exists())
    text = containerfile.read_text(encoding="utf-8")
    assert "ansible-galaxy collection install" in text
    assert "introspect.py introspect" in text  # the collection's requirements are resolved during the build
    assert 'ANSIBLE_INSTALL_REFS="ansible-core>=2.19,<2.20 ansible-runner' in text

    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    [collection] = requirements["collections"]
    # The galaxy requirement names the artifact of galaxy.yml's version, and the context carries that file.
    assert collection == {"name": "/build/collections/%s" % ARTIFACT, "type": "file"}
    assert (context / "_build" / "collections" / ARTIFACT).is_file()


def test_collection_metadata_feeds_builder_introspection(artifact_dir):
    collections = artifact_dir / "collections"
    run(str(BIN / "ansible-galaxy"), "collection", "install", "-p", str(collections), str(artifact_dir / ARTIFACT),
        cwd=artifact_dir)
    found = yaml.safe_load(run(str(BIN / "ansible-builder"), "introspect", str(collections), cwd=artifact_dir))

    suffix = "  # from collection skillforge.dataops"
    for kind, source in (("python", "requirements.txt"), ("system", "bindep.txt")):
        assert all(line.endswith(suffix) for line in found[kind]), found
        assert [line[:-len(suffix)] for line in found[kind]] == requirement_lines(REPO_ROOT / source)
    assert any(line.startswith("psycopg") for line in found["python"])
