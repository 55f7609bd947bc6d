"""Every adversarial input of tests/adversarial/cases.py through the real modules and playbooks.

Every module input runs through its module's main() in one process (run_in_process.py); issue 12's
examples and a sample of each family (``cases.THROUGH_ANSIBLE``) also run through ansible-playbook,
as one generated playbook with one task per input, and each playbook's inputs as one run of that
playbook (one inventory host each). The runs are started together. Then, per input: one failed
task whose message is one short line naming the option, no traceback, an answer within
harness.TASK_SECONDS; per batch: every table's digest unchanged and neither the role's password,
nor another secret of its inputs, nor an e-mail address in stdout, the Ansible log, the audit_json
file, "ComplianceAuditLog" or Redis under the batch's prefix.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import yaml

import cases as catalogue
from harness import (  # noqa: F401  pylint: disable=unused-import
    PARALLEL_RUNS,
    REPO_ROOT,
    TASK_SECONDS,
    Placeholders,
    artefacts,
    assert_no_leak,
    audit_rows,
    database_state,
    module_playbook,
    one_clean_failure,
    personal_data,
    playbook_inventory,
    redis_contents,
    run_batch,
    run_database,
    run_in_process,
    sample_template,
    secret_role,
)
from queue_testing import delete_prefix  # on sys.path once harness is imported


MODULE_BATCH_SIZE = 25  # inputs per generated playbook; the batches run PARALLEL_RUNS at a time
ANSIBLE_MODULE_CASES = [case for case in catalogue.MODULE_CASES if case.id in catalogue.THROUGH_ANSIBLE]
BATCH_OF = {case.id: case.target if case.is_playbook else "modules-%d" % (index // MODULE_BATCH_SIZE)
            for index, case in enumerate(ANSIBLE_MODULE_CASES + catalogue.PLAYBOOK_CASES)}
BATCHES = sorted(set(BATCH_OF.values())) + ["in-process"]


def batch_name(case) -> str:
    return BATCH_OF[case.id]


@dataclass
class Batch:
    cases: list
    placeholders: Placeholders
    url: str
    before: dict
    emails: list
    run: object = None
    after: dict = None
    audit_rows: str = ""
    redis: str = ""


@pytest.fixture(scope="module")
def batches(tmp_path_factory, run_database, secret_role, artefacts) -> dict:
    """Every batch, run at the same time; name -> Batch with its run and what it left behind."""
    prepared = {}
    for name in BATCHES:
        database, url = run_database()
        prepared[name] = Batch(cases=catalogue.MODULE_CASES if name == "in-process" else
                               [case for case in catalogue.ALL_CASES if BATCH_OF.get(case.id) == name],
                               placeholders=Placeholders(secret_role, database, "sfadv-%s" % uuid.uuid4().hex[:10],
                                                         artefacts),
                               url=url, before=database_state(url), emails=personal_data(url))

    def execute(name):
        batch = prepared[name]
        workdir = tmp_path_factory.mktemp("batch")
        fill = batch.placeholders.fill
        if name == "in-process":
            return run_in_process(workdir, batch.cases, fill)
        if name.startswith("modules"):
            plays, inventory = module_playbook(batch.cases, batch.placeholders)
            playbook = workdir / "adversarial.yml"
            playbook.write_text(yaml.safe_dump(plays, allow_unicode=False, width=1_000_000))
            return run_batch(workdir / "run", playbook, inventory)
        return run_batch(workdir / "run", REPO_ROOT / name, playbook_inventory(batch.cases, fill),
                         extra_vars={"skillforge_hosts": "adversarial"})

    try:
        with ThreadPoolExecutor(max_workers=PARALLEL_RUNS) as pool:
            runs = dict(zip(prepared, pool.map(execute, prepared)))
        for name, batch in prepared.items():
            batch.run = runs[name]
            batch.after = database_state(batch.url)
            batch.audit_rows = audit_rows(batch.url)
            batch.redis = redis_contents(batch.placeholders.prefix)
        yield prepared
    finally:
        for batch in prepared.values():
            delete_prefix(batch.placeholders.prefix)


def results_of(batch: Batch, case) -> list:
    if case.is_playbook:
        return batch.run.for_host(case.id)
    return batch.run.for_task("case %s" % case.id)


def check_input(batch: Batch, case) -> None:
    """Everything promised of one input: see the module docstring."""
    results = results_of(batch, case)
    if case.expect == "ok":
        OK_CHECKS[case.id](batch, case, the_result(case, results))
    else:
        one_clean_failure(case, results)
    shown = json.dumps([r["res"] for r in results], default=str)
    for secret in batch.placeholders.secrets([case]):
        assert secret not in shown, "%s: its secret is shown" % case.id


def the_result(case, results) -> dict:
    assert [r["event"] for r in results] == ["runner_on_ok"], "%s: %s" % (case.id, [
        (r["event"], r["res"].get("msg")) for r in results])
    assert results[0]["duration"] < TASK_SECONDS
    return results[0]["res"]


def check_dsn_without_password(batch, case, result):
    """A dsn without a password is shown as given: nothing to mask (issue 12)."""
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" not in json.dumps(result["database"])
    assert result["database"]["url"] == batch.placeholders.fill(catalogue.DSN_NO_PASSWORD)


def check_diff_only_changed_keys(batch, case, result):
    """partner_segregation --diff: before and after hold the stamped keys only, and they differ."""
    diff = result["diff"]
    assert diff["before"] and diff["before"].keys() == diff["after"].keys()
    stamped = {"tenantId", "partnerId"}
    for key, before in diff["before"].items():
        after = diff["after"][key]
        assert before != after, key
        for value in (before, after):
            # an object: its changed keys; an array: "[index]" -> the changed keys of that element
            objects = list(value.values()) if isinstance(value, dict) and all(
                name.startswith("[") for name in value) else [value]
            for item in objects:
                assert isinstance(item, dict) and set(item) <= stamped, (key, value)
    assert not result["changed"] or result["summary"]["mode"] == "dry-run"


def check_non_utf8_warning(batch, case, result):
    """A script that is not UTF-8 is a warning naming the file and the line, not an error."""
    warnings = json.dumps([result.get("warnings"), result.get("migration_warnings")])
    assert "V99__adversarial_latin1.sql" in warnings and "line 2" in warnings, warnings


def check_no_runs(batch, case, result):
    """An audit id that names no run is an empty answer, not an error."""
    assert result["runs"] == []


def check_directory_is_not_a_migration(batch, case, result):
    """A directory named like a migration is walked into (as Flyway does), never read as a script."""
    assert not any("V99" in json.dumps(entry) for entry in result["pending"] + result["applied"])


OK_CHECKS = {
    "audit-id-garbage": check_no_runs,
    "migrate-directory-named-migration": check_directory_is_not_a_migration,
    "migrate_info-dsn-without-password": check_dsn_without_password,
    "partner-diff-only-changed-keys": check_diff_only_changed_keys,
    "migrate-non-utf8-warning": check_non_utf8_warning,
}


def params(cases):
    return [pytest.param(case, id=case.id, marks=[pytest.mark.xfail(strict=True, reason=case.xfail)]
                         if case.xfail else []) for case in cases]


@pytest.mark.slow
@pytest.mark.parametrize("case", params(catalogue.MODULE_CASES))
def test_module_input(batches, case):
    check_input(batches["in-process"], case)


@pytest.mark.slow
@pytest.mark.parametrize("case", params(ANSIBLE_MODULE_CASES))
def test_module_input_through_ansible(batches, case):
    check_input(batches[batch_name(case)], case)


@pytest.mark.slow
@pytest.mark.parametrize("case", params(catalogue.PLAYBOOK_CASES))
def test_playbook_variable(batches, case):
    check_input(batches[batch_name(case)], case)


@pytest.mark.slow
@pytest.mark.parametrize("name", BATCHES)
def test_batch_left_no_trace(batches, name):
    batch = batches[name]
    assert batch.run.status in ("successful", "failed"), batch.run.stdout[-3000:]
    assert batch.after == batch.before, "a table changed: %s" % sorted(
        key for key in batch.before if batch.before[key] != batch.after.get(key))
    assert_no_leak({"stdout": batch.run.stdout, "the Ansible log": batch.run.log, "the audit_json file": batch.run.audit,
                    "the task results": json.dumps([e["res"] for e in batch.run.events], default=str),
                    '"ComplianceAuditLog"': batch.audit_rows, "Redis": batch.redis},
                   batch.placeholders.secrets(batch.cases), batch.emails)
    assert "Traceback" not in batch.run.stdout and "Traceback" not in batch.run.log
