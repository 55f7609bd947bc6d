# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``flyway_schema_history`` table, read and written exactly as Flyway does on PostgreSQL.

DDL: Flyway's ``PostgreSQLDatabase.getRawCreateScript`` (formerly
``createMetaDataTable.sql``): the table, then ``"<table>_pk"`` primary key on
``installed_rank`` and index ``"<table>_s_idx"`` on ``success``.

Rows: ``SchemaHistory.addAppliedMigration`` / ``JdbcTableSchemaHistory``:
``installed_rank`` is the last rank + 1 (0 for the ``SCHEMA`` marker),
``type`` is ``SQL`` for both versioned and repeatable SQL scripts,
``BASELINE`` for a baseline marker (script = description, checksum NULL),
``SCHEMA`` for the schema-creation marker (script = quoted schema names),
``DELETE`` rows mark missing migrations removed by ``repair``.
Description is cut to 200 and script to 1000 characters
(``AbbreviationUtils``: description -> first 197 characters + ``...``;
script -> ``...`` + characters 3..999).
"""

from __future__ import annotations


import datetime
from dataclasses import dataclass
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import dependencies
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

with declare("psycopg"):
    from psycopg import sql

__all__ = [
    "AppliedMigration",
    "HistoryTable",
    "abbreviate_description",
    "abbreviate_script",
    "flyway_table_name",
]

DEFAULT_HISTORY_TABLE = "flyway_schema_history"  # Flyway's default `table`
SCHEMA_MARKER_DESCRIPTION = "<< Flyway Schema Creation >>"
DEFAULT_BASELINE_DESCRIPTION = "<< Flyway Baseline >>"
NO_DESCRIPTION_MARKER = "<< no description >>"
SYNTHETIC_TYPES = ("SCHEMA", "BASELINE")


def abbreviate_description(description: str | None) -> str | None:
    if description is None:
        return None
    return description if len(description) <= 200 else description[:197] + "..."


def abbreviate_script(script: str | None) -> str | None:
    if script is None:
        return None
    # Flyway keeps characters 3..999 behind a leading "...".
    return script if len(script) <= 1000 else "..." + script[3:1000]


def quote_flyway(identifier: str) -> str:
    """PostgreSQLDatabase.doQuote: double quotes, embedded quotes doubled."""
    return '"' + identifier.replace('"', '""') + '"'


def flyway_table_name(schema: str, table: str) -> str:
    """The table as Flyway's ``Table.toString()`` renders it: ``"schema"."table"``."""
    return quote_flyway(schema) + "." + quote_flyway(table)


@dataclass(frozen=True)
class AppliedMigration:
    installed_rank: int
    version: str | None
    description: str
    type: str
    script: str
    checksum: int | None
    installed_by: str
    installed_on: datetime.datetime | None
    execution_time: int
    success: bool


_COLUMNS = (
    "installed_rank",
    "version",
    "description",
    "type",
    "script",
    "checksum",
    "installed_by",
    "installed_on",
    "execution_time",
    "success",
)
# What an insert names: installed_on is left to the column's DEFAULT now(), as Flyway does.
_INSERT_COLUMNS = tuple(column for column in _COLUMNS if column != "installed_on")


class HistoryTable:
    """Access to one schema history table. Never commits: the caller owns transactions."""

    def __init__(self, conn: "psycopg.Connection", schema: str, table: str = DEFAULT_HISTORY_TABLE) -> None:
        if dependencies.missing("psycopg"):
            raise RuntimeError("psycopg (version 3) is required")
        self.conn = conn
        self.schema = schema
        self.table = table
        self.ident = sql.Identifier(schema, table)

    @property
    def flyway_name(self) -> str:
        return flyway_table_name(self.schema, self.table)

    def __str__(self) -> str:
        return self.flyway_name

    # --- catalog ---------------------------------------------------------------------------
    def schema_exists(self) -> bool:
        row = self.conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (self.schema,)).fetchone()
        return row[0] > 0

    def exists(self) -> bool:
        row = self.conn.execute(
            "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
            (self.schema, self.table),
        ).fetchone()
        return row[0] > 0

    def schema_is_empty(self) -> bool:
        """PostgreSQLSchema.doEmpty: no table, view, sequence, type or routine outside extensions."""
        row = self.conn.execute(
            """SELECT EXISTS (
                 SELECT c.oid FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN pg_catalog.pg_depend d ON d.objid = c.oid AND d.deptype = 'e'
                 WHERE n.nspname = %(s)s AND d.objid IS NULL AND c.relkind IN ('r', 'v', 'S', 't')
               UNION ALL
                 SELECT t.oid FROM pg_catalog.pg_type t
                 JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
                 LEFT JOIN pg_catalog.pg_depend d ON d.objid = t.oid AND d.deptype = 'e'
                 WHERE n.nspname = %(s)s AND d.objid IS NULL AND t.typcategory NOT IN ('A', 'C')
               UNION ALL
                 SELECT p.oid FROM pg_catalog.pg_proc p
                 JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                 LEFT JOIN pg_catalog.pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
                 WHERE n.nspname = %(s)s AND d.objid IS NULL)""",
            {"s": self.schema},
        ).fetchone()
        return not row[0]

    # --- DDL -------------------------------------------------------------------------------
    def create_schema(self) -> None:
        self.conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))

    def create_statements(self) -> list["sql.Composed"]:
        """Flyway's PostgreSQL create script for this table (no tablespace)."""
        return [
            sql.SQL(
                "CREATE TABLE {table} (\n"
                '    "installed_rank" INT NOT NULL,\n'
                '    "version" VARCHAR(50),\n'
                '    "description" VARCHAR(200) NOT NULL,\n'
                '    "type" VARCHAR(20) NOT NULL,\n'
                '    "script" VARCHAR(1000) NOT NULL,\n'
                '    "checksum" INTEGER,\n'
                '    "installed_by" VARCHAR(100) NOT NULL,\n'
                '    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),\n'
                '    "execution_time" INTEGER NOT NULL,\n'
                '    "success" BOOLEAN NOT NULL\n'
                ")"
            ).format(table=self.ident),
            sql.SQL('ALTER TABLE {table} ADD CONSTRAINT {pk} PRIMARY KEY ("installed_rank")').format(
                table=self.ident, pk=sql.Identifier(self.table + "_pk")
            ),
            sql.SQL('CREATE INDEX {idx} ON {table} ("success")').format(
                idx=sql.Identifier(self.table + "_s_idx"), table=self.ident
            ),
        ]

    def create(self) -> None:
        for statement in self.create_statements():
            self.conn.execute(statement)

    # --- rows ------------------------------------------------------------------------------
    def all(self) -> list[AppliedMigration]:
        """Every row ordered by installed_rank (Flyway's getSelectStatement)."""
        if not self.exists():
            return []
        query = sql.SQL("SELECT {cols} FROM {table} ORDER BY {rank}").format(
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in _COLUMNS),
            table=self.ident,
            rank=sql.Identifier("installed_rank"),
        )
        return [AppliedMigration(*row) for row in self.conn.execute(query).fetchall()]

    def next_rank(self) -> int:
        row = self.conn.execute(
            sql.SQL("SELECT max({rank}) FROM {table}").format(rank=sql.Identifier("installed_rank"), table=self.ident)
        ).fetchone()
        return 1 if row[0] is None else row[0] + 1

    def insert(
        self,
        *,
        installed_rank: int | None = None,
        version: str | None,
        description: str,
        type: str,
        script: str,
        checksum: int | None,
        installed_by: str,
        execution_time: int,
        success: bool,
    ) -> int:
        """Insert one row as Database.getInsertStatement does; return its installed_rank."""
        rank = self.next_rank() if installed_rank is None else installed_rank
        query = sql.SQL("INSERT INTO {table} ({cols}) VALUES ({values})").format(
            table=self.ident,
            cols=sql.SQL(", ").join(sql.Identifier(column) for column in _INSERT_COLUMNS),
            values=sql.SQL(", ").join(sql.Placeholder() * len(_INSERT_COLUMNS)),
        )
        self.conn.execute(
            query,
            (
                rank,
                version,
                abbreviate_description(description),
                type,
                abbreviate_script(script),
                checksum,
                installed_by,
                execution_time,
                success,
            ),
        )
        return rank

    def add_schema_marker(self, schemas: list[str], installed_by: str) -> int:
        return self.insert(
            installed_rank=0,
            version=None,
            description=SCHEMA_MARKER_DESCRIPTION,
            type="SCHEMA",
            script=",".join(quote_flyway(s) for s in schemas),
            checksum=None,
            installed_by=installed_by,
            execution_time=0,
            success=True,
        )

    def add_baseline_marker(self, version: str, description: str, installed_by: str) -> int:
        return self.insert(
            version=version,
            description=description,
            type="BASELINE",
            script=description,
            checksum=None,
            installed_by=installed_by,
            execution_time=0,
            success=True,
        )

    def update(self, installed_rank: int, *, description: str, type: str, checksum: int | None) -> None:
        """JdbcTableSchemaHistory.update: realign description/type/checksum of one row."""
        self.conn.execute(
            sql.SQL("UPDATE {table} SET {d} = %s, {t} = %s, {c} = %s WHERE {r} = %s").format(
                table=self.ident,
                d=sql.Identifier("description"),
                t=sql.Identifier("type"),
                c=sql.Identifier("checksum"),
                r=sql.Identifier("installed_rank"),
            ),
            (abbreviate_description(description), type, checksum, installed_rank),
        )

    def remove_failed(self) -> int:
        """JdbcTableSchemaHistory.removeFailedMigrations: delete rows with success = false."""
        cursor = self.conn.execute(
            sql.SQL("DELETE FROM {table} WHERE {s} = FALSE").format(table=self.ident, s=sql.Identifier("success"))
        )
        return cursor.rowcount

    def mark_deleted(self, applied: AppliedMigration, installed_by: str) -> int:
        """JdbcTableSchemaHistory.delete: append a DELETE row copying the missing migration."""
        return self.insert(
            version=applied.version,
            description=applied.description,
            type="DELETE",
            script=applied.script,
            checksum=applied.checksum,
            installed_by=installed_by,
            execution_time=0,
            success=applied.success,
        )
