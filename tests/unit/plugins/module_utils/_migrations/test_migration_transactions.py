"""Which scripts cannot run in a transaction (Flyway's PostgreSQLParser rules), and mixed scripts refused."""

from __future__ import annotations

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.transactions import (
    cannot_run_in_transaction,
    mixed_statements_message,
    non_transactional_statements,
)

PG16 = 160004
PG11 = 110022


@pytest.mark.parametrize("statement", [
    "CREATE INDEX CONCURRENTLY people_name ON people (name)",
    "create unique index concurrently if not exists people_email ON people (email)",
    "DROP INDEX CONCURRENTLY people_name",
    "-- build it without blocking writes\nCREATE /* online */ INDEX\n  CONCURRENTLY people_name ON people (name)",
    "REINDEX INDEX CONCURRENTLY people_name",
    "REINDEX (VERBOSE) TABLE CONCURRENTLY people",
    "REINDEX SCHEMA public",
    "REINDEX DATABASE app",
    "VACUUM (ANALYZE) people",
    "vacuum",
    "CREATE DATABASE other",
    "DROP TABLESPACE fast",
    "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p",
    "ALTER SYSTEM SET work_mem = '64MB'",
    "DISCARD ALL",
])
def test_statements_postgresql_refuses_in_a_transaction(statement):
    assert cannot_run_in_transaction(statement, PG16)


@pytest.mark.parametrize("statement", [
    "CREATE INDEX people_name ON people (name)",
    "REINDEX INDEX people_name",
    "ALTER TYPE mood ADD VALUE 'calm'",  # in a transaction since PostgreSQL 12
    "SELECT 'VACUUM'",
    "INSERT INTO notes VALUES ('CREATE INDEX CONCURRENTLY x')",
    "-- VACUUM later\nUPDATE people SET name = 'x'",
    "ANALYZE people",
])
def test_statements_that_run_in_a_transaction(statement):
    assert not cannot_run_in_transaction(statement, PG16)


def test_alter_type_add_value_before_postgresql_12():
    assert cannot_run_in_transaction("ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'calm'", PG11)
    assert not cannot_run_in_transaction("ALTER TYPE public.mood RENAME VALUE 'sad' TO 'blue'", PG11)


def test_a_script_mixing_both_kinds_is_named_with_its_statements():
    sql = ("SET lock_timeout = '1s';\n"
           "CREATE INDEX CONCURRENTLY people_name ON people (name);\n"
           "-- and the email\nALTER TABLE people ADD COLUMN email text;\n")
    statements, outside = non_transactional_statements(sql, PG16)
    assert [s.line for s in outside] == [2]
    message = mixed_statements_message("V3__index.sql", statements, outside)
    assert message.startswith("Detected both transactional and non-transactional statements within the same "
                              "migration V3__index.sql")
    assert "outside a transaction: line 2: CREATE INDEX CONCURRENTLY people_name ON people (name);" in message
    assert "in a transaction: line 1: SET lock_timeout = '1s';; line 4: ALTER TABLE people ADD COLUMN email text;" \
        in message
    assert message.endswith("Move the non-transactional statements into a migration of their own")


def test_scripts_of_one_kind_are_not_mixed():
    for sql in ("CREATE INDEX CONCURRENTLY a ON t (x);\nDROP INDEX CONCURRENTLY b;\n",
                "CREATE TABLE t (x int);\nCREATE INDEX a ON t (x);\n", ""):
        statements, outside = non_transactional_statements(sql, PG16)
        assert mixed_statements_message("V1__x.sql", statements, outside) is None
