# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every benchmark script shares: the admin connection, throwaway ``sf_bench_`` databases
(made, migrated and dropped by tests/databases.py, as the tests' are), the import path of the
collection under test, and the jobs measured."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psycopg

from tests import databases  # the checkout's tests/, on the path as bench/ is

REPO_ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS_DIR = REPO_ROOT / ".collections"
MIGRATIONS_DIR = REPO_ROOT / "migrations"
ADMIN_URL = os.environ.get("SKILLFORGE_BENCH_ADMIN_URL", databases.admin_url_from_environment())
# Every database the benchmarks create starts with this, so a leftover is easy to find and drop
# (the smoke test narrows it to its own run: it must still start with sf_bench_).
DB_PREFIX = os.environ.get("SKILLFORGE_BENCH_DB_PREFIX", "sf_bench_")
if not DB_PREFIX.startswith("sf_bench_"):
    raise SystemExit("SKILLFORGE_BENCH_DB_PREFIX must start with sf_bench_")

APP_TABLES = ("Tenant", "User", "Profile", "Resume", "ResumeIngestion", "Assessment", "Notification",
              "NotificationPreference", "ComplianceAuditLog")
ONET_TABLES = ("onet_occupations", "onet_skills", "onet_occupation_skills", "onet_tasks",
               "onet_dataset_versions")

# What the harness measures (bench.harness runs it, bench.report and bench.plot show it in this order).
LARGE_TENANT = "tenant-000"  # 20% of the users (bench.appdata)
COMPLIANCE_JOBS = {
    # short name: (job, options, playbook extra vars)
    "retention": ("data-retention", {}, {}),
    "consent": ("consent-revocation", {"tenant": LARGE_TENANT}, {"compliance_tenant": LARGE_TENANT}),
    "segregation": ("partner-segregation", {"tenant": LARGE_TENANT}, {"compliance_tenant": LARGE_TENANT}),
}
ALL_JOBS = tuple(COMPLIANCE_JOBS) + ("seed", "seed-text", "migrate", "overhead")


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


def url_for(dbname: str) -> str:
    return databases.url_for(dbname, ADMIN_URL)


# Above this template size a copy is made with STRATEGY FILE_COPY instead of WAL_LOG (tests/databases.py,
# create_database, says why): the benchmark templates reach gigabytes.
FILE_COPY_ABOVE_BYTES = 1 << 30


def database_factory() -> databases.DatabaseFactory:
    """Makes ``sf_bench_<label>_*`` databases and drops them all at the end (``drop_all``)."""
    return databases.DatabaseFactory(ADMIN_URL, DB_PREFIX, file_copy_above=FILE_COPY_ABOVE_BYTES)


def create_database(name: str) -> str:
    """CREATE DATABASE ``name`` (a benchmark database: named sf_bench_*), kept after the run."""
    if not name.startswith(DB_PREFIX):
        raise ValueError("benchmark databases must be named %s*" % DB_PREFIX)
    return databases.create_database(name, ADMIN_URL)


def database_exists(name: str) -> bool:
    return name in databases.databases_named(name, ADMIN_URL)


def drop_all_bench_databases() -> list[str]:
    """Drop every ``sf_bench_*`` database (what an interrupted run left behind)."""
    return databases.drop_databases_named(DB_PREFIX, ADMIN_URL)


def migrate_schema(conninfo: str) -> None:
    """Apply the collection's migrations with its own engine (or the SQL files, before it exists)."""
    link_collection()
    try:
        databases.migrate(conninfo, MIGRATIONS_DIR)
    except ImportError:  # a checkout from before the engine
        with psycopg.connect(conninfo) as conn:
            for path in sorted(MIGRATIONS_DIR.glob("V*.sql")) + sorted(MIGRATIONS_DIR.glob("R__*.sql")):
                conn.execute(path.read_text(encoding="utf-8"))
            conn.commit()


def database_size(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start
