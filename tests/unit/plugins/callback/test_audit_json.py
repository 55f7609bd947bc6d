"""The audit_json callback: which results become audit lines, what a line holds, and where it goes."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import stat

import pytest
import yaml

from ansible import constants as C
from ansible.executor.task_result import CallbackTaskResult
from ansible.inventory.host import Host
from ansible.playbook.task import Task

from ansible_collections.skillforge.dataops.plugins.callback.audit_json import (
    DOCUMENTATION,
    CallbackModule,
    audit_record,
    job_summaries,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.audit import AuditRun, BatchRecord, build_summary
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.timestamps import utc_now
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import JOBS


class Unrecorded:
    """A connection that records nothing: the audit row's writes go nowhere, so the summary is
    made by the jobs' own code path (AuditRun) without a database."""

    def execute(self, *args, **kwargs):
        pass

    @contextlib.contextmanager
    def transaction(self):
        yield


def executed_summary(job: str = "data-retention", error: str | None = None) -> dict:
    """The summary an executed run of ``job`` returns: one committed batch, then finished (or
    failed with ``error``)."""
    definition = JOBS[job]
    run = AuditRun(job=job, scope={"tenant": "acme"}, triggered_by="dpo@example.invalid", triggered_by_source="awx",
                   reason="quarterly retention", note=None, started_at=utc_now(),
                   counts=dict.fromkeys(definition.count_names(), 0))
    record = BatchRecord()
    run.add_batch(Unrecorded(), record, {name: 2 for name in definition.count_names()})
    run.committed(record)
    if error:
        run.fail(Unrecorded(), error)
    else:
        run.finish(Unrecorded())
    return run.summary()


def dry_run_summary(job: str = "data-retention") -> dict:
    """The summary a dry run of ``job`` returns (as run_definition builds it)."""
    now = utc_now()
    return build_summary(job, "dry-run", {"tenant": "acme"}, "dpo@example.invalid", "awx", None, None, now, now,
                         dict.fromkeys(JOBS[job].count_names(), 3))


SUMMARY = executed_summary()


class CapturingDisplay:
    """Stands in for ansible's Display: keeps what the callback shows instead of printing it."""

    def __init__(self):
        self.verbosity = 0
        self.lines = []
        self.warnings = []

    def display(self, msg, *args, **kwargs):
        self.lines.append(msg)

    def warning(self, msg, *args, **kwargs):
        self.warnings.append(msg)


def make_callback(path):
    # What the plugin loader does when ansible-playbook loads the callback: register its documented options.
    name = "skillforge.dataops.audit_json"
    C.config.initialize_plugin_configuration_definitions("callback", name, yaml.safe_load(DOCUMENTATION)["options"])
    callback = CallbackModule(display=CapturingDisplay())
    callback._load_name = callback.ansible_name = name
    callback.set_options(direct={"path": path})
    return callback


def task_result(result, name="Purge expired data", check_mode=None):
    task = Task.load({"name": name, "action": "ansible.builtin.debug"})
    if check_mode is not None:
        task.check_mode = check_mode
    return CallbackTaskResult(Host("db1"), task, result, {})


QUEUED = executed_summary()
QUEUED_DRY_RUN = dry_run_summary()
WORKER_RESULT = {"changed": True, "stopped": "empty", "jobs": [
    {"queue": "data-retention-jobs", "job_id": "dr-1", "state": "completed", "summary": QUEUED},
    {"queue": "consent-revocation-jobs", "job_id": "cr-1", "state": "failed", "summary": None},
    {"queue": "data-retention-jobs", "job_id": "dr-2", "state": "completed",
     "summary": QUEUED_DRY_RUN},
]}


@pytest.mark.parametrize("result, expected", [
    ({"summary": SUMMARY}, [(SUMMARY, None)]),
    ({"summary": {"job": ""}}, []),
    ({"summary": {"deleted": 1}}, []),
    ({"summary": "retention_purge"}, []),
    ({"changed": True}, []),
    ({"censored": "the output has been hidden", "summary": SUMMARY}, []),
    ({"censored": "the output has been hidden", "jobs": WORKER_RESULT["jobs"]}, []),
    ({"jobs": "not a list"}, []),
    (WORKER_RESULT, [(QUEUED, {"queue": "data-retention-jobs", "job_id": "dr-1"}),
                     (QUEUED_DRY_RUN, {"queue": "data-retention-jobs", "job_id": "dr-2"})]),
    ("not a dict", []),
])
def test_only_job_summaries_are_audited(result, expected):
    assert job_summaries(result) == expected


def test_each_queued_job_a_worker_task_ran_is_one_line_with_its_queue_and_mode():
    callback = make_callback("-")
    callback.v2_runner_on_ok(task_result(WORKER_RESULT, name="Run the queued compliance jobs", check_mode=False))
    first, second = (json.loads(line) for line in callback._display.lines)
    assert (first["job"], first["queued"], first["check_mode"], first["summary"]) == (
        "data-retention", {"queue": "data-retention-jobs", "job_id": "dr-1"}, False, QUEUED)
    assert (second["queued"]["job_id"], second["check_mode"]) == ("dr-2", True)  # a queued dry run
    assert first["task"] == "Run the queued compliance jobs"


def test_record_puts_the_job_at_the_top_level():
    now = datetime.datetime(2026, 11, 26, 9, 30, tzinfo=datetime.timezone.utc)
    record = audit_record(SUMMARY, host="db1", task="Purge", play="Compliance", playbook="compliance.yml",
                          status="ok", changed=1, check_mode=False, controller={"awx_job_id": 7}, now=now)
    assert record == {
        "timestamp": "2026-11-26T09:30:00.000Z", "job": "data-retention", "status": "ok", "changed": True,
        "check_mode": False, "host": "db1", "playbook": "compliance.yml", "play": "Compliance",
        "task": "Purge", "summary": SUMMARY, "controller": {"awx_job_id": 7},
    }


def test_each_summary_is_one_json_line_appended_to_the_file(tmp_path):
    log = tmp_path / "audit.jsonl"
    log.write_text('{"job": "earlier"}\n', encoding="utf-8")
    callback = make_callback(str(log))
    callback.v2_runner_on_ok(task_result({"changed": True, "summary": SUMMARY}))
    callback.v2_runner_on_ok(task_result({"changed": False, "msg": "no summary here"}))
    callback.v2_runner_on_failed(task_result({"failed": True, "summary": executed_summary("consent-revocation", error="boom")}))

    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and lines[0] == '{"job": "earlier"}'
    first, second = (json.loads(line) for line in lines[1:])
    assert (first["job"], first["status"], first["changed"], first["host"], first["task"]) == (
        "data-retention", "ok", True, "db1", "Purge expired data")
    assert first["summary"] == SUMMARY
    assert (second["job"], second["status"]) == ("consent-revocation", "failed")
    assert callback._display.lines == []


def test_new_log_file_is_private(tmp_path):
    log = tmp_path / "audit.jsonl"
    make_callback(str(log)).v2_runner_on_ok(task_result({"summary": SUMMARY}))
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600


def test_dash_writes_to_standard_output():
    callback = make_callback("-")
    callback.v2_runner_item_on_ok(task_result({"summary": SUMMARY, "item": "acme"}))
    assert len(callback._display.lines) == 1
    assert json.loads(callback._display.lines[0])["job"] == "data-retention"


@pytest.mark.parametrize("summary, task_check_mode, expected", [
    (dict(SUMMARY, check_mode=False), None, False),          # the job's own word wins
    (dict(SUMMARY, check_mode=True), False, True),
    (SUMMARY, True, True),                                   # else the task's check_mode
    (SUMMARY, None, False),                                  # else the command line (no --check here)
])
def test_check_mode_is_recorded(summary, task_check_mode, expected):
    callback = make_callback("-")
    callback.v2_runner_on_ok(task_result({"summary": summary}, check_mode=task_check_mode))
    assert json.loads(callback._display.lines[0])["check_mode"] is expected


def test_unwritable_path_warns_without_failing(tmp_path):
    callback = make_callback(str(tmp_path / "missing-directory" / "audit.jsonl"))
    callback.v2_runner_on_ok(task_result({"summary": SUMMARY}))
    assert len(callback._display.warnings) == 1
    assert "missing-directory" in callback._display.warnings[0]
    assert callback._display.lines == []
