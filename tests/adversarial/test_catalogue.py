"""The adversarial catalogue cannot rot: at least 150 inputs, every example of issue 12, every
documented module option and every playbook or role variable given a bad value somewhere."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import yaml

import cases as catalogue
from harness import COLLECTIONS_DIR, REPO_ROOT

MODULES = ("migrate", "migrate_info", "consent_revocation", "data_retention", "partner_segregation",
           "compliance_audit_info", "onet_seed", "compliance_worker", "queue_info")
ISSUE_12 = (
    "migrate_info-dsn-bad-percent", "migrate_info-dsn-unencoded-hash", "migrate_info-dsn-bad-ipv6",
    "migrate-failing-detail", "partner-diff-only-changed-keys", "retention-tenant-huge",
    "migrate_info-dsn-without-password", "retention-before-year-1", "retention-before-year-9999",
    "audit-since-year-1", "audit-since-year-9999", "migrate-dangling-symlink", "migrate-fifo",
    "migrate-directory-named-migration", "seed-fixture-dangling", "seed-fixture-fifo", "seed-fixture-directory",
    "migrate-history-table-64-bytes", "migrate-installed-by-101", "seed-manifest-directory",
    "seed-fixture-deep-nesting", "seed-fixture-1e400", "retention-tenant-nul", "consent-user-nul",
    "retention-triggered-by-nul", "retention-note-nul", "data_retention-dsn-missing-schema",
    "retention-lock-timeout-nan", "info-redis-timeout-nan", "queue-redis-timeout-nan",
    "migrate-lock-retry-count-negative", "migrate_info-connect-timeout-zero", "seed-manifest-dev-zero",
    "queue-retention-before-garbage", "queue-retention-batch-size-zero", "seed-fixture-duplicate-key",
    "migrate-non-utf8-warning",
)


def test_at_least_150_inputs():
    ids = [case.id for case in catalogue.ALL_CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert len(ids) >= 150, len(ids)


def test_every_issue_12_example():
    ids = {case.id for case in catalogue.ALL_CASES}
    assert not set(ISSUE_12) - ids
    assert not set(ISSUE_12) - catalogue.THROUGH_ANSIBLE, "issue 12's examples go through ansible-playbook too"


def test_every_module_option():
    """Every option ansible-doc documents for a module (doc fragments included) has an input."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_DIR), ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"))
    completed = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc"), "--json", "-t", "module"]
                               + ["skillforge.dataops.%s" % name for name in MODULES],
                               capture_output=True, text=True, env=env, check=True, timeout=120)
    documented = {name.split(".")[-1]: set(doc["doc"]["options"]) for name, doc in json.loads(completed.stdout).items()}
    covered = {name: set() for name in MODULES}
    for case in catalogue.MODULE_CASES:
        covered[case.target].update(name for name in case.args if name in case.names or case.expect == "ok")
    # Options one helper implements for several modules: an input through any of them covers all.
    shared = {"dsn", "env", "connect_timeout", "redis_url", "redis_timeout", "queue_prefix"}
    jobs = ("consent_revocation", "data_retention", "partner_segregation")  # compliance_module.py, one spec
    job_options = set().union(*(covered[name] for name in jobs))
    for name in MODULES:
        missing = (documented[name] - covered[name] - (shared & set().union(*covered.values()))
                   - (job_options if name in jobs else set()))
        assert not missing, "%s: no adversarial input for %s" % (name, sorted(missing))


def test_every_playbook_variable():
    """Every role variable (meta/argument_specs.yml) and every variable a playbook reads has an input."""
    given = set().union(*(case.args for case in catalogue.PLAYBOOK_CASES))
    expected = set()
    for role in ("compliance", "onet_seed"):
        spec = yaml.safe_load((REPO_ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        expected |= set(spec["argument_specs"]["main"]["options"])
    for playbook in ("migrate.yml", "migrate_info.yml", "compliance_audit.yml", "compliance_queue.yml"):
        text = (REPO_ROOT / "playbooks" / playbook).read_text()
        expected |= set(re.findall(r"\{\{ ((?:audit|queue_worker|skillforge)_\w+)", text))
    expected -= {"skillforge_hosts", "skillforge_migration_locations", "skillforge_migration_info",
                 "skillforge_migration_info_row", "skillforge_migration_info_table", "skillforge_audit",
                 "skillforge_queue_run", "skillforge_migrate"}  # the play's own or registered
    assert not expected - given, "no adversarial input for %s" % sorted(expected - given)
