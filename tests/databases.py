"""Throwaway PostgreSQL databases, for the tests (tests/conftest.py) and the benchmarks (bench/common.py):
created under a name prefix (optionally as a copy of a template), migrated with the collection's own
engine, found by their prefix and dropped.

Plain psycopg, no pytest, so bench/ and tests/leftover_databases.py use it as conftest does. The
tests name every database of a run ``sf_test_<SKILLFORGE_TEST_RUN>_...`` (``run_database_prefix``),
the benchmarks ``sf_bench_...``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# Every database a test run creates is named sf_test_<run>_<random>: the run's databases can be found
# and dropped at its end even when they were made in forked test processes (ansible-test units forks).
RUN_TOKEN_VARIABLE = "SKILLFORGE_TEST_RUN"


def admin_url_from_environment() -> str:
    """The server the tests use: SKILLFORGE_TEST_ADMIN_URL, by default the local PostgreSQL as postgres."""
    return os.environ.get("SKILLFORGE_TEST_ADMIN_URL", DEFAULT_ADMIN_URL)


def run_database_prefix() -> str:
    """What the names of this test run's databases start with."""
    return "sf_test_%s_" % os.environ[RUN_TOKEN_VARIABLE]


def url_for(dbname: str, admin_url: str) -> str:
    """The admin URL pointed at another database."""
    return psycopg.conninfo.make_conninfo(admin_url, dbname=dbname)


def databases_named(prefix: str, admin_url: str, connect_timeout: int | None = None) -> list:
    """The databases whose names start with ``prefix``, sorted."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=connect_timeout) as conn:
        return _names_starting_with(conn, prefix)


def drop_databases_named(prefix: str, admin_url: str, connect_timeout: int | None = None) -> list:
    """Drop every database whose name starts with ``prefix`` (what a run left behind): their names."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=connect_timeout) as conn:
        names = _names_starting_with(conn, prefix)
        _drop(conn, names)
    return names


def _names_starting_with(conn, prefix: str) -> list:
    return [row[0] for row in conn.execute(
        "SELECT datname FROM pg_database WHERE starts_with(datname, %s) ORDER BY datname", (prefix,))]


def _drop(conn, names) -> None:
    for name in names:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create_database(name: str, admin_url: str, template: str | None = None, file_copy_above: int | None = None) -> str:
    """CREATE DATABASE, optionally as a copy of ``template``.

    With ``file_copy_above`` (bytes), a template larger than that is copied with STRATEGY FILE_COPY (one
    checkpoint, then a file-level copy) and a smaller one with PostgreSQL 15's default WAL_LOG, which
    writes the whole template through the WAL: measured for the benchmarks, WAL_LOG wins up to a few
    hundred MB (the checkpoint FILE_COPY forces costs more than the copy), FILE_COPY beyond."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            if file_copy_above is not None:
                size = conn.execute("SELECT pg_database_size(%s)", (template,)).fetchone()[0]
                statement += sql.SQL(" STRATEGY {}").format(sql.SQL("FILE_COPY" if size > file_copy_above else "WAL_LOG"))
        conn.execute(statement)
    return name


def migrate(conninfo: str, migrations_dir: Path = MIGRATIONS_DIR) -> None:
    """Apply the migrations with the collection's own engine (``ansible_collections`` on the path)."""
    from ansible_collections.skillforge.dataops.plugins.module_utils._migrations import runner  # pylint: disable=import-outside-toplevel
    with psycopg.connect(conninfo) as conn:
        runner.migrate(conn, runner.MigrationSettings(locations=[str(migrations_dir)]))


class DatabaseFactory:
    """Creates uniquely named databases under one prefix and drops them all at the end."""

    def __init__(self, admin_url: str, prefix: str, file_copy_above: int | None = None):
        self.admin_url = admin_url
        self.prefix = prefix
        self.file_copy_above = file_copy_above
        self.created: list[str] = []

    def create(self, template: str | None = None, label: str = "") -> str:
        name = "%s%s%s" % (self.prefix, label + "_" if label else "", uuid.uuid4().hex[:12])
        create_database(name, self.admin_url, template, self.file_copy_above)
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        if not name.startswith(self.prefix):
            raise ValueError("refusing to drop %s: not named %s*" % (name, self.prefix))
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            _drop(conn, [name])
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            _drop(conn, reversed(self.created))
        self.created.clear()
