"""Run without an inventory, a SkillForge playbook fails and says what to pass, instead of skipping
every play ("no hosts matched") and exiting 0 having done nothing.

The playbooks run as an installed collection's would: by FQCN (``ansible-playbook
skillforge.dataops.migrate``), found through ANSIBLE_COLLECTIONS_PATH (the checkout's .collections
link), from a directory with no ansible.cfg (the repository's sets an inventory) and no -i. The guard
is playbooks/_require_hosts.yml, which every playbook imports first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_DIR = REPO_ROOT / ".collections"
GUARD = REPO_ROOT / "playbooks" / "_require_hosts.yml"
PLAYBOOKS = sorted(p.stem for p in (REPO_ROOT / "playbooks").glob("*.yml") if not p.name.startswith("_"))
HINT = "No inventory host matches 'skillforge_db'"


def ansible_playbook(*args, cwd: Path) -> subprocess.CompletedProcess:
    """ansible-playbook with nothing from the checkout or the shell but the collections path."""
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith("ANSIBLE_") and not key.endswith(("DATABASE_URL", "REDIS_URL"))}
    environ.update(PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
                   ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_DIR), ANSIBLE_NOCOLOR="1")
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=300, check=False)


def output(completed: subprocess.CompletedProcess) -> str:
    # The message is wrapped by the terminal width in places; compare it on one line.
    return " ".join((completed.stdout + completed.stderr).split())


def test_the_five_playbooks_are_covered():
    assert PLAYBOOKS == ["compliance", "compliance_audit", "compliance_queue", "migrate", "migrate_info", "seed"]


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_without_inventory_fails_saying_what_to_pass(playbook, tmp_path):
    completed = ansible_playbook("skillforge.dataops.%s" % playbook, cwd=tmp_path)
    text = output(completed)
    assert completed.returncode != 0, "exited 0 without an inventory:\n%s" % text
    assert HINT in text, text
    assert "-i %s/inventories/<env>" % COLLECTIONS_DIR.joinpath("ansible_collections", "skillforge", "dataops") in text
    assert "-e skillforge_hosts=localhost -e skillforge_env=<env>" in text


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_imports_the_guard_first(playbook):
    plays = yaml.safe_load((REPO_ROOT / "playbooks" / ("%s.yml" % playbook)).read_text(encoding="utf-8"))
    assert plays[0].get("ansible.builtin.import_playbook") == "_require_hosts.yml", plays[0]


def test_guard_without_inventory_fails_naming_every_inventory(tmp_path):
    environments = sorted(p.name for p in (REPO_ROOT / "inventories").iterdir() if (p / "hosts.yml").is_file())
    [play] = yaml.safe_load(GUARD.read_text(encoding="utf-8"))
    named = play["tasks"][0]["vars"]["skillforge_require_hosts_envs"]
    assert sorted(named) == environments
    completed = ansible_playbook(str(GUARD), cwd=tmp_path)
    text = output(completed)
    assert completed.returncode != 0
    assert HINT in text
    assert "-i %s/inventories/<env> (%s)" % (REPO_ROOT, ", ".join(named)) in text


@pytest.mark.parametrize("args", [
    ["-i", str(REPO_ROOT / "inventories" / "ci")],
    ["-e", "skillforge_hosts=localhost"],                      # the implicit localhost
    ["-i", str(REPO_ROOT / "inventories" / "ci"), "-e", "skillforge_hosts=skillforge_db:&all"],
], ids=["ci-inventory", "implicit-localhost", "pattern"])
def test_guard_passes_when_the_target_matches(args, tmp_path):
    completed = ansible_playbook(*args, str(GUARD), cwd=tmp_path)
    assert completed.returncode == 0, output(completed)


def test_guard_names_the_pattern_that_matched_nothing(tmp_path):
    completed = ansible_playbook("-i", str(REPO_ROOT / "inventories" / "ci"), "-e", "skillforge_hosts=db_eu",
                                 str(GUARD), cwd=tmp_path)
    assert completed.returncode != 0
    assert "No inventory host matches 'db_eu'" in output(completed)
