# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance jobs' SQL, composed: parameter namespaces, table aliases and the statement builders.

Every statement is composed from ``psycopg.sql`` objects, never pasted text: identifiers are
``sql.Identifier``, values are ``sql.Placeholder`` named in the job's own parameter namespace
(``JobParams``) or the batches' (``BATCH``), and the tables are reached through the aliases below.
From a job's steps (``Step``) and its scope (``Scope``) this module builds the dry run's one
counting statement and each batch's keyset select, lock and change (``job.run_definition`` runs them);
the statements each job runs are rendered in tests/database/golden/. Nothing here imports Ansible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

with declare("psycopg"):
    from psycopg import sql

# Prisma stores UTC in TIMESTAMP(3) columns and sets "updatedAt" itself: so do the jobs.
UTC_NOW = "(now() AT TIME ZONE 'UTC')"

# The table aliases of every statement. Job definitions reach them only through user_column() and
# row_column(), so a predicate cannot name an alias the statement it lands in does not have.
USER_ALIAS = "u"  # "User" in a scope's filter and keyset, the batch query and the lock
ROW_ALIAS = "t"  # the step's table in Step.where and Step.assignments
RESUME_ALIAS = "r"  # "Resume", for rows that belong to their user through a resume (owner "resume")
# The namespace of the parameters the shared mechanics bind (batch size, keyset cursor, the
# batch's candidate and locked user ids); a job's own parameters are in the job's (JobParams).
MECHANICS_NAMESPACE = "batch"


@dataclass(frozen=True)
class Step:
    """One kind of row a job changes.

    ``where`` selects, among the rows owned by the users being processed, exactly the rows this
    step changes (so counts are rows that really change); ``assignments`` are ``(column,
    expression)`` pairs for an update ("updatedAt" is set as well), none for a delete. ``owner``
    says how a row belongs to a user: ``"userId"`` (a column), ``"self"`` (the User row itself) or
    ``"resume"`` (through its Resume). ``where`` and the expressions are ``sql.Composable``s that
    reach the step's table through ``row_column()`` (alias ``ROW_ALIAS``) and bind values only as
    placeholders of the job's ``JobParams``.
    """

    count: str
    table: str
    owner: str = "userId"
    where: object = None  # sql.Composable or None
    assignments: tuple = ()  # ((column name, sql.Composable), ...)
    sample: bool = False  # diff mode shows before/after values of the first assignment

    @property
    def is_delete(self) -> bool:
        return not self.assignments


@dataclass
class Scope:
    """The users a run covers: ``user_filter`` is a ``sql.Composable`` predicate on "User" (reached
    through ``user_column()``), with its bound values in ``params``, named in the job's ``JobParams``
    namespace; ``report`` (tenant slugs, user ids, cutoff) goes to the audit. ``order`` is the
    keyset: ``sql.Composable`` expressions on "User" ending with ``user_column("id")`` (the default
    when empty), served by an index."""

    report: dict
    user_filter: object  # sql.Composable
    params: dict = field(default_factory=dict)
    order: tuple = ()


class JobParams:
    """One parameter namespace: a job's own (named after the job) or the shared mechanics'
    (``BATCH``). Every name in it is ``<namespace>__<name>`` (``consent_revocation__tenant_id``,
    ``batch__size``), so two jobs cannot share a parameter name, nor a job's meet the batches'."""

    def __init__(self, namespace: str):
        self.prefix = namespace.replace("-", "_") + "__"

    def name(self, name: str) -> str:
        return self.prefix + name

    def __call__(self, name: str) -> "sql.Placeholder":
        """The placeholder ``%(<namespace>__<name>)s``."""
        return sql.Placeholder(self.name(name))

    def values(self, **values) -> dict:
        """Bound values for this namespace's placeholders, by their short names."""
        return {self.name(name): value for name, value in values.items()}

    def owns(self, name: str) -> bool:
        return name.startswith(self.prefix)


BATCH = JobParams(MECHANICS_NAMESPACE)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def placeholder_names(composable) -> set:
    """The names of the ``%(name)s`` placeholders in a statement or fragment, including any written
    into ``sql.SQL`` text by hand."""
    if isinstance(composable, sql.Composed):
        return set().union(*(placeholder_names(part) for part in composable))
    if isinstance(composable, (sql.SQL, sql.Placeholder)):
        return set(_PLACEHOLDER.findall(composable.as_string(None)))
    return set()


def user_column(name: str) -> "sql.Identifier":
    """``"u"."<name>"``: a column of "User" in a scope's filter or keyset."""
    return sql.Identifier(USER_ALIAS, name)


def row_column(name: str) -> "sql.Identifier":
    """``"t"."<name>"``: a column of the step's table in ``Step.where`` or an assignment."""
    return sql.Identifier(ROW_ALIAS, name)


# ---------------------------------------------------------------------------------------------
# SQL built from the steps: one clause a line, each CTE and count on lines of their own, so that
# the renderings in tests/database/golden/ read as SQL (the layout is whitespace).


def _aliased(table: str, alias: str) -> "sql.Composable":
    return sql.SQL("{} {}").format(sql.Identifier(table), sql.Identifier(alias))


class _Membership:
    """How "belongs to the users being processed" is written. Over a whole scope (dry run) it is
    ``IN (subquery)``, which the planner runs as one hash semi-join; for a batch it is
    ``= ANY(array)``, which can only be an index lookup per id: a hash join per batch would read
    whole child tables once per batch and make a run quadratic."""

    def __init__(self, batch: bool):
        self.batch = batch
        self.users = (sql.SQL("= ANY({})").format(BATCH("user_ids")) if batch
                      else sql.SQL("IN (SELECT {} FROM scoped_users)").format(sql.Identifier("id")))

    def of(self, subquery: "sql.Composable") -> "sql.Composable":
        return sql.SQL("= ANY(ARRAY({}))" if self.batch else "IN ({})").format(subquery)


def _resumes_of_users(membership: _Membership) -> "sql.Composable":
    return sql.SQL("SELECT {id} FROM {resume} WHERE {user} {users}").format(
        id=sql.Identifier(RESUME_ALIAS, "id"), resume=_aliased("Resume", RESUME_ALIAS),
        user=sql.Identifier(RESUME_ALIAS, "userId"), users=membership.users)


def _owner_condition(step: Step, membership: _Membership) -> "sql.Composable":
    if step.owner == "resume":
        condition = sql.SQL("{} {}").format(row_column("resumeId"), membership.of(_resumes_of_users(membership)))
    else:
        condition = sql.SQL("{} {}").format(row_column("id" if step.owner == "self" else "userId"), membership.users)
    if step.where is not None:
        condition = sql.SQL("{} AND ({})").format(condition, step.where)
    return condition


def _user_column(step: Step, wanted: bool) -> "sql.Composable":
    """The owning user's id of a changed row, when the job counts distinct users."""
    if not wanted:
        return sql.SQL("NULL")
    if step.owner == "resume":
        return sql.SQL("(SELECT {user} FROM {resume} WHERE {id} = {resume_id})").format(
            user=sql.Identifier(RESUME_ALIAS, "userId"), resume=_aliased("Resume", RESUME_ALIAS),
            id=sql.Identifier(RESUME_ALIAS, "id"), resume_id=row_column("resumeId"))
    return row_column("id" if step.owner == "self" else "userId")


def _step_cte(step: Step, index: int, membership: _Membership, dry_run: bool, want_user: bool) -> "sql.Composable":
    """The CTE for one step: a SELECT of the rows it would change, or the change itself."""
    parts = dict(table=_aliased(step.table, ROW_ALIAS), cond=_owner_condition(step, membership),
                 user=_user_column(step, want_user))
    if dry_run:
        body = sql.SQL("SELECT {user} AS user_id FROM {table}\n"
                       "    WHERE {cond}").format(**parts)
    elif step.is_delete:
        body = sql.SQL("DELETE FROM {table}\n"
                       "    WHERE {cond}\n"
                       "    RETURNING {user} AS user_id").format(**parts)
    else:
        assignments = [sql.SQL("{} = {}").format(sql.Identifier(column), expression)
                       for column, expression in step.assignments]
        assignments.append(sql.SQL("{} = {}").format(sql.Identifier("updatedAt"), sql.SQL(UTC_NOW)))
        body = sql.SQL("UPDATE {table}\n"
                       "    SET {assign}\n"
                       "    WHERE {cond}\n"
                       "    RETURNING {user} AS user_id").format(assign=sql.SQL(", ").join(assignments), **parts)
    return sql.SQL("{name} AS (\n"
                   "    {body}\n"
                   ")").format(name=sql.Identifier("step_%d" % index), body=body)


def counting_statement(definition, dry_run: bool, prefix=()) -> "sql.Composable":
    """``WITH <prefix>, step_0 AS (...), ... SELECT <users>, count(step_0), ...``: the dry run's
    count over the whole scope, or the change of one batch, for ``definition`` (a
    ``job.JobDefinition``: its ``steps`` and ``count_users``)."""
    membership = _Membership(batch=not dry_run)
    ctes = list(prefix) + [_step_cte(step, i, membership, dry_run, definition.count_users)
                           for i, step in enumerate(definition.steps)]
    names = [sql.Identifier("step_%d" % i) for i in range(len(definition.steps))]
    columns = [sql.SQL("(SELECT count(*) FROM {})").format(name) for name in names]
    if definition.count_users:
        union = sql.SQL("\n        UNION ").join(sql.SQL("SELECT user_id FROM {}").format(name) for name in names)
        columns.insert(0, sql.SQL("(SELECT count(*) FROM (\n        {}\n    ) AS changed_users)").format(union))
    return sql.SQL("WITH {ctes}\n"
                   "SELECT\n"
                   "    {columns}").format(ctes=sql.SQL(",\n").join(ctes), columns=sql.SQL(",\n    ").join(columns))


def dry_run_statement(definition, scope: Scope) -> "sql.Composable":
    """The dry run's one read-only statement: every step's count over the whole scope."""
    return counting_statement(definition, True, prefix=[_scoped_users_cte(scope)])


def _scoped_users_cte(scope: Scope) -> "sql.Composable":
    return sql.SQL("scoped_users AS MATERIALIZED (\n"
                   "    SELECT {id} FROM {users}\n"
                   "    WHERE {filter}\n"
                   ")").format(id=user_column("id"), users=_aliased("User", USER_ALIAS), filter=scope.user_filter)


# A batch touches a few thousand rows of tables with millions: index lookups by user id, never
# a sequential scan per batch (which the planner picks for a large = ANY() list on small tables
# and which would make the whole run quadratic). Without sequential scans the cost estimates pass
# jit_above_cost, and compiling the statement each batch (20 ms at 1M users) buys nothing for
# index lookups: JIT off as well. Both last until the batch's commit.
BATCH_PLANNER_SETTINGS = "SELECT set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true)"


def keyset_order(scope: Scope) -> tuple:
    return tuple(scope.order) or (user_column("id"),)


def batch_query(scope: Scope, after) -> "sql.Composable":
    """The next batch of users after the keyset cursor (not locked: see ``lock_query``)."""
    order = keyset_order(scope)
    condition = scope.user_filter
    if after is not None:
        condition = sql.SQL("({}) AND ({}) > ({})").format(
            condition, sql.SQL(", ").join(order),
            sql.SQL(", ").join(BATCH("after_%d" % i) for i in range(len(order))))
    return sql.SQL("SELECT {order} FROM {users}\n"
                   "WHERE {cond}\n"
                   "ORDER BY {order}\n"
                   "LIMIT {size}").format(order=sql.SQL(", ").join(order), users=_aliased("User", USER_ALIAS),
                                          cond=condition, size=BATCH("size"))


def users_in_scope_query(scope: Scope) -> "sql.Composable":
    """How many users the scope covers (read once at the start of a run, for ``max_users`` and progress)."""
    return sql.SQL("SELECT count(*) FROM {users}\nWHERE {cond}").format(
        users=_aliased("User", USER_ALIAS), cond=scope.user_filter)


def lock_query(scope: Scope, user_lock: str) -> "sql.Composable":
    """Lock the batch's candidate users in id order and return those still in scope once locked
    (READ COMMITTED re-checks the filter against a row another transaction changed meanwhile)."""
    return sql.SQL("SELECT {id} FROM {users}\n"
                   "WHERE {id} = ANY({candidates}) AND ({cond})\n"
                   "ORDER BY {id}\n"
                   "FOR {lock} OF {alias}").format(
        id=user_column("id"), users=_aliased("User", USER_ALIAS), candidates=BATCH("candidate_ids"),
        cond=scope.user_filter, lock=sql.SQL(user_lock), alias=sql.Identifier(USER_ALIAS))


def sample_query(step: Step, scope: Scope, limit: int) -> "sql.Composable":
    """Up to ``limit`` rows the step would change, with the column's value before and after."""
    column, expression = step.assignments[0]
    return sql.SQL("WITH {scoped}\n"
                   "SELECT {id}, {col}, {after} FROM {table}\n"
                   "WHERE {cond}\n"
                   "ORDER BY {id}\n"
                   "LIMIT {limit}").format(
        scoped=_scoped_users_cte(scope), id=row_column("id"), col=row_column(column), after=expression,
        table=_aliased(step.table, ROW_ALIAS), cond=_owner_condition(step, _Membership(batch=False)),
        limit=sql.Literal(limit))


def step_rows(step: Step) -> "sql.Composable":
    """``FROM <table> t WHERE <the step's rows of the batch's users>``: what ``verification``
    expects to be empty once the batch's change ran (a delete left nothing, an update left no row
    its ``where`` still selects)."""
    return sql.SQL("FROM {table} WHERE {cond}").format(
        table=_aliased(step.table, ROW_ALIAS), cond=_owner_condition(step, _Membership(batch=True)))
