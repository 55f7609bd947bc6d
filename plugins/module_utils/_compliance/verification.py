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
  "User" is checked by ``SET CONSTRAINTS ... IMMEDIATE``.

What PostgreSQL itself guarantees is not queried again: a single-column, non-deferrable foreign key
to "User" (and, for rows owned through a resume, to "Resume") cannot be left referencing a deleted
row (the delete cascades, sets null or fails), so such references and the delete steps they cover
are listed in the receipt as ``enforced`` instead. The checks are what nothing enforces before
commit: the user rows themselves, update steps, deferrable or multi-column keys, bare columns.

If anything remains, ``ErasureNotVerified`` names the table and column (never a row or a value)
and the batch rolls back. The catalog is read once per run (its first batch). Identifiers are
``sql.Identifier``s; the user ids are the batch's bound array.
"""

from __future__ import annotations

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
CHECKS_KEY = "verification.checks"

# The catalog facts the checks need, one row each: every foreign key column (any schema) of a key to
# "User" or (in the schema of "User") to any table, and every column named userId of a string type
# (the same type as "User"."id" otherwise) in the schema of "User". A partition's copy of its
# parent's key is skipped. ``single`` says the key has one column (MATCH SIMPLE cannot skip it).
REFERENCES = """
WITH target AS (
    SELECT c.oid, c.relnamespace, t.typcategory, a.atttypid
      FROM pg_class c
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'id'
      JOIN pg_type t ON t.oid = a.atttypid
     WHERE c.oid = '"User"'::regclass
)
SELECT n.nspname, c.relname, a.attname, con.conname, con.condeferrable, rn.nspname, rc.relname, r.attname,
       cardinality(con.conkey) = 1 AS single
  FROM pg_constraint con
  JOIN target ON con.confrelid = target.oid OR con.connamespace = target.relnamespace
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class rc ON rc.oid = con.confrelid
  JOIN pg_namespace rn ON rn.oid = rc.relnamespace
  CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(attnum, refnum)
  JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
  JOIN pg_attribute r ON r.attrelid = con.confrelid AND r.attnum = k.refnum
 WHERE con.contype = 'f' AND con.conparentid = 0
UNION ALL
SELECT n.nspname, c.relname, a.attname, NULL, NULL, NULL, NULL, NULL, NULL
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  JOIN target ON c.relnamespace = target.relnamespace
 WHERE a.attname = 'userId' AND a.attnum > 0 AND NOT a.attisdropped
   AND c.relkind IN ('r', 'p') AND NOT c.relispartition
   AND (a.atttypid = target.atttypid OR (t.typcategory = 'S' AND target.typcategory = 'S'))
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


class References:
    """What the catalog says about the references to "User" (read once per run).

    ``enforced``: (schema, table, column, referenced table) of every single-column, non-deferrable
    foreign key to an ``id``: PostgreSQL itself guarantees that deleting the referenced rows leaves
    no row referencing them (the delete cascades, sets null, or fails). ``columns``: (schema,
    table, column, constraint) referencing "User"."id" that nothing enforces before commit (a
    deferrable or multi-column key, or a userId column without a key): these are checked.
    ``deferrable``: (schema, constraint) of deferrable keys to another column of "User"."""

    def __init__(self, rows, user_schema: str):
        self.user_schema = user_schema
        self.enforced = {}
        checked, self.deferrable = {}, []
        for nsp, table, column, constraint, deferrable, ref_nsp, ref_table, ref_column, single in rows:
            to_user = (ref_nsp, ref_table) == (user_schema, "User")
            if constraint is not None and single and not deferrable and ref_column == "id":
                self.enforced[(nsp, table, column, ref_nsp, ref_table)] = constraint
            elif constraint is None or (to_user and ref_column == "id"):
                checked.setdefault((nsp, table, column), constraint)
            elif to_user and deferrable:
                self.deferrable.append((nsp, constraint))
        self.columns = [key + (constraint,) for key, constraint in sorted(checked.items())
                        if not self.enforces(key[0], key[1], key[2], "User")]

    def enforces(self, nsp: str, table: str, column: str, referenced: str):
        """The constraint by which PostgreSQL keeps ``table.column`` from referencing a deleted row
        of ``referenced`` (in the schema of "User"), or None."""
        return self.enforced.get((nsp, table, column, self.user_schema, referenced))

    def step_enforced_by(self, step):
        """For a delete step of a job that deletes its users: the constraints that already
        guarantee the step's postcondition, or None (then the step is checked)."""
        schema = self.user_schema
        if step.owner == "userId":
            found = [self.enforces(schema, step.table, "userId", "User")]
        elif step.owner == "resume":
            found = [self.enforces(schema, step.table, "resumeId", "Resume"), self.enforces(schema, "Resume", "userId", "User")]
        else:
            return None
        return found if all(found) else None


def references(conn, definition, run):
    """The run's ``References`` (None for a job that deletes no users), read once per run."""
    if not deletes_users(definition):
        return None

    def read():
        schema = conn.execute("""SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                  WHERE c.oid = '"User"'::regclass""").fetchone()[0]
        return References(conn.execute(REFERENCES).fetchall(), schema)
    return run.memoized(MEMO_KEY, read)


def _step_label(step) -> str:
    return "%s (step %s)" % (step.table, step.count)


def checks(definition, refs) -> tuple:
    """``([(label, constraint, EXISTS subquery)], enforced labels)``: every step's postcondition
    (update steps without a ``where`` have none) unless the foreign keys guarantee it, then every
    reference to "User" that nothing enforces (``refs``, a ``References`` or None)."""
    found, enforced = [], []
    for step in definition.steps:
        constraints = refs.step_enforced_by(step) if refs is not None and step.is_delete else None
        if constraints:
            enforced.append("%s by %s" % (_step_label(step), ", ".join(constraints)))
        elif step.is_delete or step.where is not None:
            found.append((_step_label(step), None, sql.SQL("EXISTS (SELECT 1 {})").format(step_rows(step))))
    if refs is not None:
        enforced.extend("%s.%s.%s by %s" % (nsp, table, column, constraint)
                        for (nsp, table, column, ref_nsp, ref_table), constraint in sorted(refs.enforced.items())
                        if (ref_nsp, ref_table) == (refs.user_schema, "User"))
    for schema, table, column, constraint in (refs.columns if refs is not None else ()):
        found.append(("%s.%s.%s" % (schema, table, column), constraint, sql.SQL(
            "EXISTS (SELECT 1 FROM {table} WHERE {column} = ANY({ids}))").format(
                table=sql.Identifier(schema, table), column=sql.Identifier(column), ids=BATCH("user_ids"))))
    return found, enforced


def verification_statement(found: list) -> "sql.Composable":
    """One row of one boolean per check, in the reverse of ``found``'s order: the steps' checks last
    step first, since the change statement ran its steps in order and the pages of the last one
    are the likeliest to be still in ``shared_buffers`` (docs/PERFORMANCE.md, "Parallel batches":
    at 1M users, one batch's check read about half as many pages from outside them). ``found_order``
    puts the answers back."""
    return sql.SQL("SELECT\n    {}").format(sql.SQL(",\n    ").join(check for _label, _constraint, check in reversed(found)))


def found_order(row) -> tuple:
    """A row of ``verification_statement`` in the order of its ``found``."""
    return tuple(reversed(row))


def verify_batch(conn, definition, params: dict, counts: dict, run, record) -> None:
    """Verify the batch just changed (see the module's docstring) and stage its receipt on
    ``record`` (an ``audit.BatchRecord`` of ``run``, an ``audit.AuditRun``); raises
    ``ErasureNotVerified`` when something remains."""
    refs = references(conn, definition, run)
    for schema, constraint in (refs.deferrable if refs is not None else ()):
        conn.execute(sql.SQL("SET CONSTRAINTS {} IMMEDIATE").format(sql.Identifier(schema, constraint)))

    def prepare():
        found, enforced = checks(definition, refs)
        return found, enforced, verification_statement(found) if found else None
    found, enforced, statement = run.memoized(CHECKS_KEY, prepare)
    remaining = found_order(conn.execute(statement, params).fetchone()) if found else ()
    for (label, constraint, _check), left in zip(found, remaining):
        if left:
            run.verification_failed(label)
            raise ErasureNotVerified(label, constraint)
    tables = {}
    for step in definition.steps:
        tables[step.table] = tables.get(step.table, 0) + counts.get(step.count, 0)
    user_ids = params[BATCH.name("user_ids")]
    record.stage(tables, [label for label, _c, _q in found], enforced, user_ids)
