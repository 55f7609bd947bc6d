# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded waits on a busy primary, and who was blocking when one ran out.

``bounded(conn, lock_timeout, statement_timeout)`` sets PostgreSQL's ``lock_timeout`` and
``statement_timeout`` for the current transaction (``SET LOCAL``), so a statement that waits behind a
long transaction gives up instead of queueing everything behind it. ``BlockerWatch`` notes, from a
second session, which sessions block the working one (``pg_blocking_pids()``) while it waits: once the
wait has timed out the blocked session waits no more and ``pg_blocking_pids()`` is empty.

What is shown of a blocking session: pid, application name, user, state, how long its transaction
has been open, and its statement's type (the first keyword, computed by the server). Never the
statement text: it can hold personal data.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.connection import application_name, sibling_conninfo
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.errors import clip

with declare("psycopg"):
    import psycopg
    from psycopg import sql

LOCK_TIMEOUT_SQLSTATE = "55P03"  # lock_not_available: lock_timeout ran out (or NOWAIT)
STATEMENT_TIMEOUT_SQLSTATE = "57014"  # query_canceled: statement_timeout ran out (or a cancel)
TIMEOUT_SQLSTATES = (LOCK_TIMEOUT_SQLSTATE, STATEMENT_TIMEOUT_SQLSTATE)
MAX_TIMEOUT = 86400  # seconds; 0 means no limit, as PostgreSQL has it
POLL_INTERVAL = 0.1  # seconds between two looks at pg_blocking_pids()
SHOWN_BLOCKERS = 5

# The blocking sessions of one backend. The statement's type is its first keyword, taken by the server
# so that the text never reaches this process.
_BLOCKERS = """
SELECT a.pid, a.application_name, a.usename, a.state,
       floor(extract(epoch FROM clock_timestamp() - a.xact_start))::bigint,
       upper(substring(a.query FROM '^\\s*(?:(?:--[^\\n]*\\n|/\\*.*?\\*/)\\s*)*([A-Za-z]+)'))
  FROM unnest(pg_blocking_pids(%s)) AS blocking(pid)
  JOIN pg_stat_activity a ON a.pid = blocking.pid
 ORDER BY a.xact_start NULLS LAST, a.pid
"""


@dataclass(frozen=True)
class BlockingSession:
    pid: int
    application_name: str | None
    user: str | None
    state: str | None
    transaction_seconds: int | None  # how long its transaction has been open
    statement_type: str | None  # SELECT, UPDATE, ALTER, ... (never the text)

    def describe(self) -> str:
        parts = ["pid %d" % self.pid]
        if self.application_name:
            parts.append("application %s" % clip(self.application_name, 40))
        if self.user:
            parts.append("user %s" % clip(self.user, 40))
        if self.state:
            parts.append(self.state)
        if self.transaction_seconds is not None:
            parts.append("transaction open %d s" % self.transaction_seconds)
        if self.statement_type:
            parts.append("last statement %s" % self.statement_type)
        return "(" + ", ".join(parts) + ")"

    def as_dict(self) -> dict:
        return asdict(self)


def check_timeout(option: str, value) -> float:
    """A timeout option in seconds: 0 (no limit) to MAX_TIMEOUT; ValueError names the option."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_TIMEOUT:
        raise ValueError("%s must be from 0 (no limit) to %d seconds, got %s"
                         % (option, MAX_TIMEOUT, clip(repr(value), 20)))
    return float(value)


def bounded(conn, lock_timeout: float, statement_timeout: float, local: bool = True) -> None:
    """Set both timeouts (milliseconds; 0 = no limit): ``SET LOCAL`` for the current transaction, or
    with ``local=False`` for the session (the caller restores them)."""
    for setting, seconds in (("lock_timeout", lock_timeout), ("statement_timeout", statement_timeout)):
        conn.execute(sql.SQL("SELECT set_config({}, %s, {})").format(sql.Literal(setting), sql.Literal(local)),
                     ("%dms" % round(seconds * 1000),))


def blocking_sessions(conn, pid: int) -> list:
    """The sessions that block backend ``pid`` now (empty when it is not waiting)."""
    return [BlockingSession(*row) for row in conn.execute(_BLOCKERS, (pid,)).fetchall()]


def is_timeout(error) -> bool:
    return getattr(error, "sqlstate", None) in TIMEOUT_SQLSTATES


def describe_timeout(error, blockers: list) -> str:
    """One line: which timeout ran out and who was blocking, for an operator to act on."""
    which = "lock_timeout" if error.sqlstate == LOCK_TIMEOUT_SQLSTATE else "statement_timeout"
    if not blockers:
        return "%s ran out (SQLSTATE %s); no blocking session was seen" % (which, error.sqlstate)
    shown = "; ".join(blocker.describe() for blocker in blockers[:SHOWN_BLOCKERS])
    more = " and %d more" % (len(blockers) - SHOWN_BLOCKERS) if len(blockers) > SHOWN_BLOCKERS else ""
    return "%s ran out (SQLSTATE %s) waiting behind %s%s" % (which, error.sqlstate, shown, more)


class BlockerWatch:
    """From a second session, note who blocks ``conn``'s backend while the ``with`` block runs.

    ``blockers`` is the last non-empty answer of ``pg_blocking_pids()``, asked every POLL_INTERVAL. The
    session is opened only when the first look is due, so a block that ends sooner (most batches)
    costs no connection. The watch is best effort: if its session cannot connect (within
    ``connect_timeout``) it watches nothing and the work goes on.
    """

    def __init__(self, conn, connect_timeout: float = 5):
        self.pid = conn.info.backend_pid
        self._conninfo = sibling_conninfo(conn, application_name("blocker-watch"), connect_timeout)
        self.blockers: list = []
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self) -> "BlockerWatch":
        self._thread = threading.Thread(target=self._watch, name="blocker-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        if self._stop.wait(POLL_INTERVAL):
            return
        try:
            with psycopg.connect(self._conninfo, autocommit=True) as watcher:
                watcher.execute("SET statement_timeout = '2s'")
                while not self._stop.is_set():
                    found = blocking_sessions(watcher, self.pid)
                    if found:
                        self.blockers = found
                    self._stop.wait(POLL_INTERVAL)
        except psycopg.Error:  # a watch that cannot watch leaves blockers as they are
            return
