# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Production safety of a compliance run: bounded waits per batch and the blast-radius limit.

* ``db_lock_timeout`` and ``db_statement_timeout`` (PostgreSQL's ``lock_timeout`` and
  ``statement_timeout``, the names the migrate module uses for the same thing) are set with
  ``SET LOCAL`` in every batch transaction, so a batch that waits behind a long transaction gives up
  instead of queueing the site's queries behind its row locks. The batch rolls back; the batches
  before it stay committed, and the message names the sessions that were blocking it
  (``_shared.blockers``: pid, application, user, state, transaction age, statement type, never the
  statement's text).
* ``max_users`` and ``max_users_percent``: before the first batch, the users in scope are counted
  (and, for the percentage, all users); a run over either limit stops before it changes anything
  (and check mode refuses the same way).

Nothing here imports Ansible or the job mechanics (``job`` imports this).
"""

from __future__ import annotations

from contextlib import contextmanager

from ansible_collections.skillforge.dataops.plugins.module_utils._shared import blockers
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.errors import clip

DEFAULT_DB_LOCK_TIMEOUT = 5.0
DEFAULT_DB_STATEMENT_TIMEOUT = 300.0
MAX_MAX_USERS = 2 ** 31 - 1
SAFETY_OPTIONS = ("db_lock_timeout", "db_statement_timeout", "max_users", "max_users_percent")
# The option that bounds each wait, by the SQLSTATE of its running out.
TIMEOUT_OPTIONS = {blockers.LOCK_TIMEOUT_SQLSTATE: "db_lock_timeout",
                   blockers.STATEMENT_TIMEOUT_SQLSTATE: "db_statement_timeout"}


class BatchTimedOut(Exception):
    """A batch ran out of ``db_lock_timeout`` or ``db_statement_timeout`` and was rolled back;
    ``blockers`` are the sessions seen blocking it (``blockers.BlockingSession``)."""

    def __init__(self, error, blocking: list):
        super().__init__(str(error))
        self.error = error
        self.blockers = list(blocking)


@contextmanager
def bounded_transaction(conn, options: dict):
    """One transaction under the run's ``db_lock_timeout`` and ``db_statement_timeout`` (``SET
    LOCAL``): what a run reads before its first batch (the scope, the dry run's count, the users in
    scope, the diff sample) and the keyset reads of parallel batches are bounded like a batch is."""
    with conn.transaction():
        blockers.bounded(conn, options["db_lock_timeout"], options["db_statement_timeout"])
        yield


def safety_options(options: dict) -> dict:
    """The safety options with defaults applied; ``ValueError`` names the option that is wrong."""
    values = {}
    for name, default in (("db_lock_timeout", DEFAULT_DB_LOCK_TIMEOUT),
                          ("db_statement_timeout", DEFAULT_DB_STATEMENT_TIMEOUT)):
        value = options.get(name)
        values[name] = default if value is None else blockers.check_timeout(name, value)
    max_users = options.get("max_users")
    max_users = 0 if max_users is None else max_users
    if isinstance(max_users, bool) or not isinstance(max_users, int) or not 0 <= max_users <= MAX_MAX_USERS:
        raise ValueError("max_users must be a whole number of users from 0 (no limit) to %d, got %s"
                         % (MAX_MAX_USERS, clip(repr(max_users), 20)))
    values["max_users"] = max_users
    percent = options.get("max_users_percent")
    percent = 0 if percent is None else percent
    if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 <= percent <= 100:
        raise ValueError("max_users_percent must be a percentage of all users from 0 (no limit) to 100, got %s"
                         % clip(repr(percent), 20))  # NaN fails the comparison: refused too
    values["max_users_percent"] = percent
    return values


def over_limit(job: str, users: int, options: dict, all_users: int | None, dry_run: bool) -> str | None:
    """The refusal when ``users`` in scope exceed ``max_users`` or ``max_users_percent`` of
    ``all_users`` (0: no limit), else None."""
    max_users, percent = options["max_users"], options["max_users_percent"]
    if max_users and users > max_users:
        limit = "more than max_users %d" % max_users
        option = "max_users"
    elif percent and users > all_users * percent / 100.0:
        limit = ("%s%% of all %d users, more than max_users_percent %g"
                 % (_percent(users, all_users), all_users, percent))
        option = "max_users_percent"
    else:
        return None
    return ("%s: the run would touch %d users, %s; nothing was changed%s (narrow the scope, or raise %s once the "
            "count is confirmed)" % (job, users, limit, " (check mode predicts this refusal)" if dry_run else "", option))


def _percent(users: int, all_users: int) -> str:
    return "%.2f" % (100.0 * users / all_users) if all_users else "100"


def _timeout_option(error) -> str:
    """The option whose wait ``error`` (a lock or statement timeout) ran out."""
    return TIMEOUT_OPTIONS.get(error.sqlstate, "db_statement_timeout")


def timeout_before_first_batch_message(job: str, error, options: dict) -> str:
    """One line for a wait that ran out before the first batch (the scope, the dry run's count, the
    users in scope, the diff sample): which one and its option; nothing was changed."""
    option = _timeout_option(error)
    return ("%s: %s ran out (SQLSTATE %s, %s %g s) before the first batch; nothing was changed (let the "
            "sessions holding locks finish, or raise %s)"
            % (job, option[3:], error.sqlstate, option, options[option], option))


def timeout_message(job: str, timed_out: BatchTimedOut, batches: int, options: dict) -> str:
    """One line: which wait ran out and its option, who was blocking, what stays committed, and
    that running the job again continues."""
    option = _timeout_option(timed_out.error)
    return ("%s: batch %d rolled back: %s (%s %g s); the %d batch(es) before it stay committed: run the job "
            "again once the blocking sessions have finished to continue, or raise %s"
            % (job, batches + 1, blockers.describe_timeout(timed_out.error, timed_out.blockers), option,
               options[option], batches, option))


def blocked_by(timed_out: BatchTimedOut) -> list:
    """The blocking sessions for the summary (``blocked_by``), at most ``blockers.SHOWN_BLOCKERS``."""
    return [blocker.as_dict() for blocker in timed_out.blockers[:blockers.SHOWN_BLOCKERS]]
