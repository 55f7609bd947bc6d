# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_json
type: notification
short_description: Write every compliance job summary as one JSON line for a log shipper
description:
  - Writes one JSON object per line for each task result that carries a C(summary) dictionary with a C(job)
    key, which is what the compliance jobs of this collection return, and for each queued job that a
    M(skillforge.dataops.compliance_worker) task ran (its result's C(jobs) entries with a C(summary)); those
    lines also have C(queued) with the BullMQ C(queue) and C(job_id).
  - Each line has the C(job) name at the top level, the time (UTC, as C(2026-11-26T09:30:00.000Z)), the host,
    playbook, play and task names, whether the run was a dry run (check mode), the task status and the whole
    C(summary).
  - Lines go to a file (opened for appending and created with mode C(0600)) or to standard output, so a log
    shipper (Filebeat, Fluent Bit, Vector, the AWX job event stream...) can forward them.
  - Results hidden with C(no_log) are never written. The summaries of this collection's jobs carry counts and
    identifiers, never personal data.
  - Enable it with C(callbacks_enabled = skillforge.dataops.audit_json) in C(ansible.cfg) or
    E(ANSIBLE_CALLBACKS_ENABLED).
version_added: 0.1.0
author: SkillForge Data Operations (@skillforge)
requirements:
  - enabled in C(callbacks_enabled)
options:
  path:
    description:
      - File the JSON lines are appended to; C(-) writes them to standard output instead.
      - The directory must exist. If the file cannot be written, a warning is shown and the line is lost.
    type: str
    default: "-"
    ini:
      - section: callback_audit_json
        key: path
    env:
      - name: SKILLFORGE_AUDIT_LOG
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = skillforge.dataops.audit_json
#
# [callback_audit_json]
# path = /var/log/skillforge/compliance-audit.jsonl

# or, for one run:
# SKILLFORGE_AUDIT_LOG=/var/log/skillforge/compliance-audit.jsonl ansible-playbook skillforge.dataops.compliance
"""

import datetime
import os

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.log_line import json_line
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.timestamps import utc_timestamp

STDOUT = "-"
# Extra vars AWX / Automation Controller sets on every job: they tie a line to the controller's job record.
CONTROLLER_VARIABLES = ("awx_job_id", "awx_job_template_name", "awx_user_name")


def audit_record(summary, *, host, task, play, playbook, status, changed, check_mode, controller=None, now=None,
                 queued=None):
    """The JSON-ready record written for one job summary (``queued``: the BullMQ queue and job id
    of a queued job that a compliance_worker task ran)."""
    record = {
        "timestamp": utc_timestamp(now or datetime.datetime.now(datetime.timezone.utc)),
        "job": summary["job"],
        "status": status,
        "changed": bool(changed),
        "check_mode": bool(check_mode),
        "host": host,
        "playbook": playbook,
        "play": play,
        "task": task,
        "summary": summary,
    }
    if controller:
        record["controller"] = controller
    if queued:
        record["queued"] = queued
    return record


def _is_job_summary(summary):
    return isinstance(summary, dict) and bool(summary.get("job"))


def job_summaries(result):
    """``[(summary, queued), ...]``: the result's own job summary (a dict with a ``job`` key, as a
    compliance job module returns it; ``queued`` None), or the summary of each queued job a
    compliance_worker task ran (its ``jobs`` entries; ``queued`` their queue and job id)."""
    if not isinstance(result, dict) or result.get("censored"):
        return []
    if _is_job_summary(result.get("summary")):
        return [(result["summary"], None)]
    jobs = result.get("jobs") if isinstance(result.get("jobs"), list) else []
    return [(job["summary"], {"queue": job.get("queue"), "job_id": job.get("job_id")})
            for job in jobs if isinstance(job, dict) and _is_job_summary(job.get("summary"))]


class CallbackModule(CallbackBase):
    """Writes each compliance job summary as one JSON line to a file or to standard output."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "skillforge.dataops.audit_json"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._playbook = None
        self._play = None
        self._controller = {}

    def v2_playbook_on_start(self, playbook):
        self._playbook = os.path.basename(getattr(playbook, "_file_name", "") or "") or None

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()
        extra_vars = play.get_variable_manager().extra_vars if play.get_variable_manager() else {}
        self._controller = {name: extra_vars[name] for name in CONTROLLER_VARIABLES if name in extra_vars}

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_item_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_item_on_failed(self, result):
        self._record(result, "failed")

    def _record(self, result, status):
        # ansible-core 2.19 renamed the callback result's attributes; 2.16-2.18 only have the private ones.
        data = getattr(result, "result", None)
        if data is None:
            data = result._result
        summaries = job_summaries(data)
        if not summaries:
            return
        task = getattr(result, "task", None) or result._task
        host = getattr(result, "host", None) or result._host
        for summary, queued in summaries:
            record = audit_record(
                summary,
                host=host.get_name(),
                task=task.get_name(),
                play=self._play,
                playbook=self._playbook,
                status=status,
                changed=data.get("changed", False),
                check_mode=self._check_mode(task, summary, queued),
                controller=self._controller,
                queued=queued,
            )
            self._write(json_line(record))

    @staticmethod
    def _check_mode(task, summary, queued):
        """Whether the run was a dry run: a queued job says so itself (a worker runs what was queued,
        whatever the worker task's mode); otherwise the summary's or the task's check mode."""
        if queued:
            return summary.get("mode") == "dry-run"
        if "check_mode" in summary:
            return summary["check_mode"]
        if isinstance(task.check_mode, bool):
            return task.check_mode
        return bool(context.CLIARGS.get("check", False))

    def _write(self, line):
        path = self.get_option("path") or STDOUT
        if path == STDOUT:
            self._display.display(line)
            return
        path = os.path.expanduser(path)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "a", encoding="utf-8") as stream:
                stream.write(line + "\n")
        except OSError as error:
            self._display.warning("audit_json: cannot append to %s (%s); this summary is not logged"
                                  % (path, error.strerror or error))
