# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is the controller that started this module still there?

A module runs in a process of its own under ``ansible-playbook`` (and its worker). When that
process is killed, the module would run on, unseen, to the end of a purge. ``controller_watch()``
notes the chain of processes above the module when it starts; a long job asks it between batches
and stops at that boundary once the chain has changed (an ancestor died and its children were
re-parented). An ``async`` task is detached from the controller on purpose before the module
starts, so its chain never includes ``ansible-playbook`` and it runs on. Nothing here imports Ansible.
"""

from __future__ import annotations

import os


def _parent_of(pid: int) -> int | None:
    """The parent pid from ``/proc/<pid>/stat`` (None where there is no such file)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
    return int(data[data.rindex(b")") + 2:].split()[1])


def ancestors(pid: int | None = None) -> tuple:
    """The pids above ``pid`` (default: this process), nearest first, up to init."""
    chain = []
    parent = os.getppid() if pid is None else _parent_of(pid)
    while parent is not None and parent > 1 and len(chain) < 64:
        chain.append(parent)
        parent = _parent_of(parent)
    return tuple(chain)


def controller_watch():
    """A ``should_stop()`` for a job: None while every process above this one at the start is
    still there, else the reason to stop. Without ``/proc``, only the direct parent is watched."""
    started_under = ancestors()
    parent = os.getppid()

    def should_stop():
        if os.getppid() != parent:
            return "the process that started it (pid %d) is gone" % parent
        now = ancestors()
        if now != started_under:
            gone = [pid for pid in started_under if pid not in now]
            return "the controller that started it (pid %s) is gone" % (gone[0] if gone else "?")
        return None

    return should_stop
