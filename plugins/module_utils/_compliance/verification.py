# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each batch checks its own result before it commits, and stages its part of the run's receipt.

After a batch's change statement, in the batch's transaction, ONE statement of ``EXISTS``
subqueries (one per table and column, each an index lookup on the batch's user ids) must find
nothing:

* every step's postcondition, derived from the job's ``Step`` list: a delete step left none of the
  batch's rows, an update step left no row its ``where`` still selects (consent revocation: no user
  of the batch still opted in to marketing, no notification preference left, ...);
* for a job that deletes users (a delete ``Step`` on "User"), every reference to the batch's users:
  each foreign key to ``"User"."id"`` found in ``pg_constraint`` (any schema, so a table the API adds
  later is covered without a change here) and each column named ``userId`` of a table in the schema
  of "User" (a reference without a constraint). A deferrable foreign key to another column of
  "User" is checked by ``SET CONSTRAINTS ... IMMEDIATE`` (PostgreSQL checks the others itself).

If anything remains, ``ErasureNotVerified`` names the table and column (never a row or a value)
and the batch rolls back. The catalog is read once per run (its first batch). Identifiers are
``sql.Identifier``s; the user ids are the batch's bound array.
"""

from __future__ import annotations

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import receipt
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.statements import (
    BATCH,
    step_rows,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

_DatabaseError = Exception  # stand-in while psycopg is missing (see dependencies)
with declare("psycopg"):
    import psycopg
    from psycopg import sql

    _DatabaseError = psycopg.DatabaseError

MEMO_KEY = "verification.references"

# Every column that references "User"."id": foreign keys (any schema; a partition's copy of its
# parent's key is skipped) and, in the schema of "User", columns named userId of a string type
# when "User"."id" is one (the same type otherwise). One row per (schema, table, column).
REFERENCES = """
WITH target AS (
    SELECT c.oid, c.relnamespace, t.typcategory, a.atttypid
      FROM pg_class c
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'id'
      JOIN pg_type t ON t.oid = a.atttypid
     WHERE c.oid = '"User"'::regclass
), foreign_keys AS (
    SELECT n.nspname, c.relname, a.attname, con.conname, r.attname AS referenced, con.condeferrable
      FROM pg_constraint con
      JOIN target ON con.confrelid = target.oid
      JOIN pg_class c ON c.oid = con.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(attnum, refnum)
      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
      JOIN pg_attribute r ON r.attrelid = con.confrelid AND r.attnum = k.refnum
     WHERE con.contype = 'f' AND con.conparentid = 0
), user_id_columns AS (
    SELECT n.nspname, c.relname, a.attname
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_type t ON t.oid = a.atttypid
      JOIN target ON c.relnamespace = target.relnamespace
     WHERE a.attname = 'userId' AND a.attnum > 0 AND NOT a.attisdropped
       AND c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND (a.atttypid = target.atttypid OR (t.typcategory = 'S' AND target.typcategory = 'S'))
)
SELECT nspname, relname, attname, min(conname) AS conname, NULL::bool AS deferrable
  FROM (SELECT nspname, relname, attname, conname FROM foreign_keys WHERE referenced = 'id'
        UNION ALL SELECT nspname, relname, attname, NULL FROM user_id_columns) AS refs
 GROUP BY nspname, relname, attname
UNION ALL
SELECT DISTINCT nspname, relname, NULL, conname, true FROM foreign_keys WHERE referenced <> 'id' AND condeferrable
ORDER BY 1, 2, 3, 4
"""


class ErasureNotVerified(_DatabaseError):
    """Rows of the batch's users remain where the batch should have left none. A database error
    in kind (the run records it and rolls the batch back as it does a failed statement); its
    one-line summary (``errors.database_error_summary``) names the table and column only."""

    sqlstate = None

    def __init__(self, label: str, constraint=None):
        super().__init__("rows of the batch's users remain in %s" % label)
        self.label = label
        self._diag = _Diagnostic(label, constraint)

    @property
    def diag(self):
        return self._diag


class _Diagnostic:
    """What ``errors.database_error_summary`` reads of a server error: the table (here the table
    and column that still hold rows) and the constraint; no message, no detail."""

    def __init__(self, table_name, constraint_name):
        self.table_name, self.constraint_name = table_name, constraint_name
        self.message_primary = None


def deletes_users(definition) -> bool:
    return any(step.table == "User" and step.owner == "self" and step.is_delete for step in definition.steps)


def references(conn, definition, memo: dict) -> tuple:
    """``(columns, deferrable)``: the (schema, table, column, constraint) referencing "User"."id"
    that the job's own steps do not already check, and the deferrable foreign keys to other
    columns of "User" as (schema, constraint). Read from the catalog once per run (``memo``)."""
    if not deletes_users(definition):
        return (), ()
    if MEMO_KEY not in memo:
        rows = conn.execute(REFERENCES).fetchall()
        schema = conn.execute("""SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                  WHERE c.oid = '"User"'::regclass""").fetchone()[0]
        own = {(schema, step.table) for step in definition.steps if step.owner == "userId" and step.is_delete}
        columns = tuple((nsp, table, column, constraint) for nsp, table, column, constraint, deferred in rows
                        if not deferred and not (column == "userId" and (nsp, table) in own))
        deferrable = tuple((nsp, constraint) for nsp, _table, _column, constraint, deferred in rows if deferred)
        memo[MEMO_KEY] = (columns, deferrable)
    return memo[MEMO_KEY]


def _step_label(step) -> str:
    return "%s (step %s)" % (step.table, step.count)


def checks(definition, columns) -> list:
    """``[(label, constraint, EXISTS subquery)]``: every step's postcondition (update steps
    without a ``where`` have none), then every reference of ``columns``."""
    found = []
    for step in definition.steps:
        if step.is_delete or step.where is not None:
            found.append((_step_label(step), None, sql.SQL("EXISTS (SELECT 1 {})").format(step_rows(step))))
    for schema, table, column, constraint in columns:
        found.append(("%s.%s.%s" % (schema, table, column), constraint, sql.SQL(
            "EXISTS (SELECT 1 FROM {table} WHERE {column} = ANY({ids}))").format(
                table=sql.Identifier(schema, table), column=sql.Identifier(column), ids=BATCH("user_ids"))))
    return found


def verification_statement(found: list) -> "sql.Composable":
    return sql.SQL("SELECT\n    {}").format(sql.SQL(",\n    ").join(check for _label, _constraint, check in found))


def verify_batch(conn, definition, params: dict, counts: dict, run) -> None:
    """Verify the batch just changed (see the module's docstring) and stage its receipt on ``run``
    (an ``audit.AuditRun``); raises ``ErasureNotVerified`` when something remains."""
    columns, deferrable = references(conn, definition, run.memo)
    for schema, constraint in deferrable:
        conn.execute(sql.SQL("SET CONSTRAINTS {} IMMEDIATE").format(sql.Identifier(schema, constraint)))
    found = checks(definition, columns)
    remaining = conn.execute(verification_statement(found), params).fetchone() if found else ()
    for (label, constraint, _check), left in zip(found, remaining):
        if left:
            run.verification_failed(label)
            raise ErasureNotVerified(label, constraint)
    tables = {}
    for step in definition.steps:
        tables[step.table] = tables.get(step.table, 0) + counts.get(step.count, 0)
    user_ids = params[BATCH.name("user_ids")]
    run.stage_receipt(receipt.add_batch(run.receipt, len(user_ids), tables, [label for label, _c, _q in found]),
                      user_ids)
