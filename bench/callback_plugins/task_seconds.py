# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a playbook's seconds go, for python -m bench.playbook_overhead --profile (not part of the
collection: ansible-core has no profile_tasks and the bench must not need community collections).

Appends one JSON line per step to the file named by BENCH_TASK_SECONDS: the seconds from the
process start (BENCH_PROCESS_START, a Unix time the harness sets just before it starts
ansible-playbook) to the callback's loading, then for each play and task the seconds since the
previous event (a task's line covers its worker, its module and the result's return).
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_seconds"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get("BENCH_TASK_SECONDS")
        self._last = time.monotonic()
        self._step = None
        started = os.environ.get("BENCH_PROCESS_START")
        if started:
            self._write("start-up", time.time() - float(started))

    def _write(self, step, seconds):
        if self._path:
            with open(self._path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": step, "seconds": round(seconds, 4)}) + "\n")

    def _close(self, next_step):
        now = time.monotonic()
        self._write(self._step or "until the first play", now - self._last)
        self._last, self._step = now, next_step

    def v2_playbook_on_play_start(self, play):
        self._close("play set-up: %s" % play.get_name())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close("task: %s" % task.get_name())

    def v2_playbook_on_include(self, included_file):
        self._close("include processed")

    def v2_playbook_on_stats(self, stats):
        self._close(None)
