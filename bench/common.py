# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every benchmark script shares: the admin connection, throwaway ``sf_bench_`` databases,
the schema, and the import path of the collection under test."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS_DIR = REPO_ROOT / ".collections"
MIGRATIONS_DIR = REPO_ROOT / "migrations"
ADMIN_URL = os.environ.get("SKILLFORGE_BENCH_ADMIN_URL",
                           os.environ.get("SKILLFORGE_TEST_ADMIN_URL",
                                          "postgresql://postgres@127.0.0.1:5432/postgres"))
# Every database the benchmarks create starts with this, so a leftover is easy to find and drop
# (the smoke test narrows it to its own run: it must still start with sf_bench_).
DB_PREFIX = os.environ.get("SKILLFORGE_BENCH_DB_PREFIX", "sf_bench_")
if not DB_PREFIX.startswith("sf_bench_"):
    raise SystemExit("SKILLFORGE_BENCH_DB_PREFIX must start with sf_bench_")

APP_TABLES = ("Tenant", "User", "Profile", "Resume", "ResumeIngestion", "Assessment", "Notification",
              "NotificationPreference", "ComplianceAuditLog")
ONET_TABLES = ("onet_occupations", "onet_skills", "onet_occupation_skills", "onet_tasks",
               "onet_dataset_versions")


def link_collection() -> None:
    """Make ``ansible_collections.skillforge.dataops`` importable as this checkout (as ``make setup``),
    or as the collection under SKILLFORGE_BENCH_COLLECTIONS_PATH (a directory holding
    ``ansible_collections/``) to benchmark another checkout."""
    other = os.environ.get("SKILLFORGE_BENCH_COLLECTIONS_PATH")
    if other:
        if other not in sys.path:
            sys.path.insert(0, other)
        return
    if not (COLLECTIONS_DIR / "ansible_collections" / "skillforge" / "dataops").exists():
        raise SystemExit("run `make setup` first: it links this checkout as %s/ansible_collections/skillforge/dataops"
                         % COLLECTIONS_DIR)
    if str(COLLECTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS_DIR))


def url_for(dbname: str, admin_url: str = ADMIN_URL) -> str:
    return psycopg.conninfo.make_conninfo(admin_url, dbname=dbname)


def new_name(label: str) -> str:
    return "%s%s_%s" % (DB_PREFIX, label, uuid.uuid4().hex[:8])


# Above this template size a copy is made with STRATEGY FILE_COPY (one checkpoint, then a file-level
# copy) instead of PostgreSQL 15's default WAL_LOG, which writes the whole template through the WAL:
# measured here, WAL_LOG wins up to a few hundred MB (the checkpoint FILE_COPY forces costs more
# than the copy), FILE_COPY beyond (WAL_LOG would push several max_wal_size worth through the WAL).
FILE_COPY_ABOVE_BYTES = 1 << 30


def create_database(name: str, template: str | None = None, admin_url: str = ADMIN_URL) -> str:
    """CREATE DATABASE, optionally as a copy of ``template``."""
    if not name.startswith(DB_PREFIX):
        raise ValueError("benchmark databases must be named %s*" % DB_PREFIX)
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if template:
            size = conn.execute("SELECT pg_database_size(%s)", (template,)).fetchone()[0]
            strategy = "FILE_COPY" if size > FILE_COPY_ABOVE_BYTES else "WAL_LOG"
            statement += sql.SQL(" TEMPLATE {} STRATEGY {}").format(sql.Identifier(template), sql.SQL(strategy))
        conn.execute(statement)
    return name


def drop_database(name: str, admin_url: str = ADMIN_URL) -> None:
    if not name.startswith(DB_PREFIX):
        raise ValueError("refusing to drop %s: not a benchmark database" % name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def drop_all_bench_databases(admin_url: str = ADMIN_URL) -> list[str]:
    """Drop every ``sf_bench_*`` database (what an interrupted run left behind)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [DB_PREFIX.replace("_", r"\_") + "%"])]
    for name in names:
        drop_database(name, admin_url)
    return names


@contextlib.contextmanager
def scratch_database(label: str, template: str | None = None, admin_url: str = ADMIN_URL) -> Iterator[str]:
    name = create_database(new_name(label), template, admin_url)
    try:
        yield name
    finally:
        drop_database(name, admin_url)


def migrate_schema(conninfo: str) -> None:
    """Apply the collection's migrations with its own engine (or the SQL files, before it exists)."""
    link_collection()
    try:
        from ansible_collections.skillforge.dataops.plugins.module_utils._migrations import runner as migration_runner
    except ImportError:
        migration_runner = None
    with psycopg.connect(conninfo) as conn:
        if migration_runner is None:
            for path in sorted(MIGRATIONS_DIR.glob("V*.sql")) + sorted(MIGRATIONS_DIR.glob("R__*.sql")):
                conn.execute(path.read_text(encoding="utf-8"))
            conn.commit()
        else:
            migration_runner.migrate(conn, migration_runner.MigrationSettings(locations=[str(MIGRATIONS_DIR)]))


def database_size(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start
