# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A long module run's progress, readable with ``async_status`` while an ``async`` task runs.

How ansible-core runs an ``async`` task (``ansible/modules/async_wrapper.py``, read for 2.19):
``async_wrapper <jid> <time limit> <module> <args>`` names the job ``<jid>.<its pid>``, writes the
job's status file ``<ANSIBLE_ASYNC_DIR>/<job>`` as ``{"started": true, "finished": false,
"ansible_job_id": "<job>"}`` (to ``<file>.tmp``, then renamed), forks and daemonizes, and runs the
module as a child of a forked copy of itself; only when the module has exited does it write the
module's result to the same file. ``async_status`` returns the file's keys as they are while
``finished`` is false (and sets it false when it is absent).

So while the module runs, nobody else writes that file, and a module that finds it may replace
it, atomically, with the same three keys and a ``progress`` key: ``async_status`` then shows
``progress`` to the playbook polling the job, and the module's result replaces it all at the end.
The file is found from the process that runs the module: an ancestor (a fork of async_wrapper)
still carries async_wrapper's command line, whose first argument is the jid; the status file is
the one file named ``<jid>.<pid>`` in ``ANSIBLE_ASYNC_DIR``. Anything else (not async, another
layout of a later ansible-core, more or fewer than one such file) finds nothing, and nothing is
written: progress then reaches the module's log only. Nothing here imports Ansible.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.controller import ancestors

_WRAPPER = re.compile(r"(^|[/_])async_wrapper\.py$")
_JID = re.compile(r"[A-Za-z0-9]+")  # "j" and digits in 2.19


def _command_line(pid: int) -> list:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return [part.decode("utf-8", "replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        return []


def async_jid(pids=None) -> str | None:
    """The jid of the async_wrapper above this process (None: not run by async_wrapper)."""
    for pid in (ancestors() if pids is None else pids)[:4]:
        arguments = _command_line(pid)
        for index, argument in enumerate(arguments[:-1]):
            if _WRAPPER.search(argument) and _JID.fullmatch(arguments[index + 1]):
                return arguments[index + 1]
    return None


def status_file(jid: str | None, async_dir: str | None = None) -> str | None:
    """The job's status file: the one ``<jid>.<pid>`` in the async directory, else None."""
    if jid is None:
        return None
    directory = os.path.expanduser(async_dir or os.environ.get("ANSIBLE_ASYNC_DIR", "~/.ansible_async"))
    try:
        names = [name for name in os.listdir(directory)
                 if name.startswith(jid + ".") and name[len(jid) + 1:].isdigit()]
    except OSError:
        return None
    return os.path.join(directory, names[0]) if len(names) == 1 else None


class AsyncProgress:
    """``report(record)`` puts ``record`` (a JSON-able dict) in the async job's status file as
    ``progress``; without an async job it does nothing. Write failures are ignored: progress is
    information, never a reason for a job to fail."""

    def __init__(self, path: str | None = None, find: bool = True):
        self.path = path if path is not None or not find else status_file(async_jid())

    @property
    def active(self) -> bool:
        return self.path is not None

    def report(self, record: dict) -> None:
        if self.path is None:
            return
        job = os.path.basename(self.path)
        temporary = "%s.progress-%d.tmp" % (self.path, os.getpid())
        try:
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump({"started": True, "finished": False, "ansible_job_id": job, "progress": record}, handle)
            os.replace(temporary, self.path)
        except OSError:
            try:
                os.unlink(temporary)
            except OSError:
                pass
