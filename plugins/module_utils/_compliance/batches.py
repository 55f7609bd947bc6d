# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running a compliance job's batches: one after another on the run's session, or ``parallel`` at
a time on sessions of their own.

A batch is one transaction: its users are locked in id order and re-checked against the scope,
the job's one change statement runs, the batch verifies itself (``verification``) and adds its
counts to the run's audit row (``audit.AuditRun``), all committed together. A batch that times out
(``db_lock_timeout``, ``db_statement_timeout``) raises ``safety.BatchTimedOut`` with the sessions
that blocked it; one that lost a deadlock or a serialization failure is run again, a bounded number
of times.

* ``run_serial``: the run's own session reads the next batch's users (the keyset walk) inside the
  batch's transaction, as it always did.
* ``run_parallel``: the run's session walks the keyset (reads only, no locks) and hands each batch's
  candidate users to one of ``parallel`` worker sessions, at most one batch per worker in flight.
  Batches are disjoint ranges of the walk, so two batches never lock the same user, and every row a
  job changes belongs to one user: batches in flight lock disjoint rows. The only row they share is
  the run's audit row, which a batch updates as its last statement under the run's lock, released
  once it commits, so the batches never wait on each other's row locks in the database and cannot
  deadlock there. Each batch still commits atomically with its audit counts; the run keeps one job
  lock (held by the run's session) and one audit row.

Both return None when the scope is exhausted (the run finished, its row says ``succeeded``) or the
reason the pacer gave to stop at a batch boundary. With several sessions, the batches in flight
when a reason comes or a batch fails are let finish (they commit or roll back on their own); no
new batch starts. Nothing here imports Ansible.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import audit
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import safety
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.statements import (
    BATCH,
    BATCH_PLANNER_SETTINGS,
    Scope,
    batch_query,
    counting_statement,
    keyset_order,
    lock_query,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import blockers
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.connection import open_sibling
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

with declare("psycopg"):
    import psycopg

# A batch that lost a deadlock or a serialization failure is run again this many times.
BATCH_RETRIES = 3
RETRYABLE_SQLSTATES = ("40P01", "40001")
DEFAULT_PARALLEL = 1
MAX_PARALLEL = 16


def parallel_option(job: str, value) -> int:
    """``parallel`` as given (None: 1), else ``ValueError`` naming it."""
    value = DEFAULT_PARALLEL if value is None else value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PARALLEL:
        raise ValueError("%s: parallel must be a whole number of sessions from 1 to %d" % (job, MAX_PARALLEL))
    return value


def split_batch_size(batch_size: int, parallel: int, users_in_scope: int) -> int:
    """The batch size a run uses: ``batch_size`` is the most users a batch takes, and with
    ``parallel`` sessions a scope that would fill fewer than ``parallel`` batches is cut into
    ``parallel`` smaller ones, so that no session is left idle (40,000 users with batch_size
    20,000 and parallel 4: four batches of 10,000). Users who join the scope during the run are
    walked in batches of the same size."""
    if parallel > 1 and 0 < users_in_scope < batch_size * parallel:
        return min(batch_size, max(1, -(-users_in_scope // parallel)))
    return batch_size


@dataclass(frozen=True)
class BatchPlan:
    """What every batch of one run executes: the job, its resolved scope and options, and the
    statements composed once for the run."""

    definition: object
    scope: Scope
    options: dict
    change: object
    lock: object
    order_width: int

    @classmethod
    def build(cls, definition, scope: Scope, options: dict, users_in_scope: int = 0) -> "BatchPlan":
        """``users_in_scope``: the users counted at the start; with ``parallel`` N, a scope of
        fewer than N full batches is split into N batches (see ``split_batch_size``)."""
        options = dict(options, batch_size=split_batch_size(options["batch_size"], options["parallel"], users_in_scope))
        return cls(definition, scope, options, counting_statement(definition, False),
                   lock_query(scope, definition.user_lock), len(keyset_order(scope)))

    def keyset_params(self, after) -> dict:
        params = dict(self.scope.params, **BATCH.values(size=self.options["batch_size"]))
        if after is not None:
            params.update(BATCH.values(**{"after_%d" % i: value for i, value in enumerate(after)}))
        return params

    def next_keys(self, conn, after) -> list:
        """The next batch's keyset rows after ``after`` (not locked), read under the batches'
        ``db_lock_timeout`` and ``db_statement_timeout``."""
        with safety.bounded_transaction(conn, self.options):
            return conn.execute(batch_query(self.scope, after), self.keyset_params(after)).fetchall()


def _change(conn, plan: BatchPlan, run: "audit.AuditRun", record: "audit.BatchRecord", params: dict, keys: list) -> None:
    """In the batch's transaction: lock the candidates still in scope, change their rows, verify,
    and add the batch to the run's row (its last statement)."""
    params[BATCH.name("candidate_ids")] = [row[plan.order_width - 1] for row in keys]
    params[BATCH.name("user_ids")] = [row[0] for row in conn.execute(plan.lock, params)]
    counts = dict(zip(plan.definition.count_names(), conn.execute(plan.change, params).fetchone()))
    plan.definition.verify(conn, params, counts, run, record)
    run.add_batch(conn, record, counts)


def _in_transaction(conn, plan: BatchPlan, run: "audit.AuditRun", body, after=None):
    """``body(params, record)`` (``params``: the keyset's after ``after``) in one batch transaction
    with the batch's bounded waits, run again (a bounded number of times, with jittered back-off)
    when it lost a deadlock or a serialization failure; returns what ``body`` returned once its
    transaction committed."""
    watch = None
    for attempt in range(BATCH_RETRIES + 1):
        record = audit.BatchRecord()
        try:
            try:
                # db_lock_timeout / db_statement_timeout for this transaction only; a second session
                # notes who blocks it meanwhile, for the message when a wait runs out.
                with safety.bounded_transaction(conn, plan.options), blockers.BlockerWatch(conn) as watch:
                    conn.execute(BATCH_PLANNER_SETTINGS)
                    result = body(plan.keyset_params(after), record)
            except BaseException:
                run.rolled_back(record)
                raise
        except psycopg.Error as error:
            if blockers.is_timeout(error):
                raise safety.BatchTimedOut(error, watch.blockers if watch is not None else []) from None
            if getattr(error, "sqlstate", None) not in RETRYABLE_SQLSTATES or attempt == BATCH_RETRIES:
                raise
            time.sleep(0.05 * (2 ** attempt) * (1 + random.random()))  # nosec B311 - jitter, not security
            continue
        run.committed(record)
        return result
    return None  # not reached: the last attempt returns or raises


def run_serial(conn, plan: BatchPlan, run: "audit.AuditRun", pacer) -> str | None:
    """Batch after batch on ``conn``; each reads its users, changes them and commits."""
    after = None

    def batch(params, record):
        keys = conn.execute(batch_query(plan.scope, after), params).fetchall()
        if keys:
            _change(conn, plan, run, record, params, keys)
        else:
            run.finish(conn)
        return keys

    while True:
        keys = _in_transaction(conn, plan, run, batch, after)
        if not keys:
            return None
        after = keys[-1]
        reason = pacer.after_batch(run, len(keys))
        if reason:
            return reason


class _Sessions:
    """One worker session per thread of the pool, opened on its first batch, all closed at the end."""

    def __init__(self, conn, component: str):
        self._conn, self._component = conn, component
        self._local = threading.local()
        self._opened: list = []
        self._guard = threading.Lock()

    def get(self):
        session = getattr(self._local, "conn", None)
        if session is None or session.closed or session.broken:
            session = open_sibling(self._conn, self._component, autocommit=True)
            self._local.conn = session
            with self._guard:
                self._opened.append(session)
        return session

    def close(self) -> None:
        for session in self._opened:
            session.close()


def run_parallel(conn, plan: BatchPlan, run: "audit.AuditRun", pacer, workers: int) -> str | None:
    """``workers`` batches at a time, each on a worker session; ``conn`` walks the keyset."""
    sessions = _Sessions(conn, "%s-batch" % plan.definition.name)

    def work(keys):
        session = sessions.get()
        _in_transaction(session, plan, run, lambda params, record: _change(session, plan, run, record, params, keys))
        return len(keys)

    reason, failure, after, exhausted = None, None, None, False
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="compliance-batch") as pool:
            in_flight = set()
            while True:
                while not exhausted and reason is None and failure is None and len(in_flight) < workers:
                    try:
                        keys = plan.next_keys(conn, after)
                    except psycopg.Error as error:  # the batches in flight finish first
                        failure = error
                        break
                    if not keys:
                        exhausted = True
                        break
                    after = keys[-1]
                    in_flight.add(pool.submit(work, keys))
                if not in_flight:
                    break
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        users = future.result()
                    except BaseException as error:  # pylint: disable=broad-exception-caught  # re-raised below
                        failure = failure or error
                        continue
                    if reason is None and failure is None:
                        reason = pacer.after_batch(run, users)
    finally:
        sessions.close()
    if failure is not None:
        raise failure
    if reason:
        return reason
    with conn.transaction():
        run.finish(conn)
    return None
