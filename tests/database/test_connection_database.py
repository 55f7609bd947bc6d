"""The connection helper against the real PostgreSQL: the Prisma schema as search path, and a missing
database or schema named in one line."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.connection import (
    DatabaseConnectionError,
    connect,
    resolve_database,
)


def test_connects_and_applies_prisma_schema_as_search_path(database_factory, admin_conninfo):
    dbname = database_factory.create()
    base = psycopg.conninfo.make_conninfo(admin_conninfo, dbname=dbname)
    params = psycopg.conninfo.conninfo_to_dict(base)
    url = "postgresql://%s@%s:%s/%s?schema=Tenant%%20Data&connection_limit=3" % (
        params.get("user", "postgres"), params.get("host", "127.0.0.1"), params.get("port", "5432"), dbname)
    resolved = resolve_database(dsn=url)
    with connect(resolved, require_schema=False) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier("Tenant Data")))
        conn.execute("CREATE TABLE probe (id int)")
        conn.commit()
        schema = conn.execute(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relname = 'probe'").fetchone()[0]
        assert schema == "Tenant Data"
        assert conn.execute("SELECT current_setting('application_name')").fetchone()[0] == "skillforge.dataops"


def test_missing_database_fails_with_one_line_naming_host_and_database(admin_conninfo):
    params = psycopg.conninfo.conninfo_to_dict(admin_conninfo)
    url = "postgresql://%s:hunter2-secret@%s:%s/no_such_db_here" % (
        params.get("user", "postgres"), params.get("host", "127.0.0.1"), params.get("port", "5432"))
    with pytest.raises(DatabaseConnectionError) as error:
        connect(resolve_database(dsn=url))
    message = str(error.value)
    assert "\n" not in message
    assert "no_such_db_here" in message and params.get("host", "127.0.0.1") in message
    assert "does not exist" in message
    assert "hunter2-secret" not in message


def test_a_missing_prisma_schema_is_named(database_factory, admin_conninfo):
    dbname = database_factory.create()
    params = psycopg.conninfo.conninfo_to_dict(psycopg.conninfo.make_conninfo(admin_conninfo, dbname=dbname))
    url = "postgresql://%s@%s:%s/%s?schema=app_data" % (
        params.get("user", "postgres"), params.get("host", "127.0.0.1"), params.get("port", "5432"), dbname)
    with pytest.raises(DatabaseConnectionError, match="schema 'app_data' .* does not exist in database"):
        connect(resolve_database(dsn=url))
    with connect(resolve_database(dsn=url), require_schema=False) as conn:  # migrate creates it
        assert conn.execute("SHOW search_path").fetchone()[0] == "app_data"
