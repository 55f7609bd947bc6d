"""Shared test harness: throwaway PostgreSQL databases and ansible-playbook runs.

Everything talks to the real PostgreSQL (``SKILLFORGE_TEST_ADMIN_URL``, default the local server as
``postgres``). Each test session migrates one template database once; every test that wants a
migrated database gets its own copy of it (``CREATE DATABASE ... TEMPLATE``), dropped at the end.
The databases themselves are made, migrated and dropped by tests/databases.py (the benchmarks use it too).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS_DIR = REPO_ROOT / ".collections"
# `ansible-test units` gives the tests a fixed environment: tests/sanity.sh writes the SKILLFORGE_TEST_*
# variables of the run into this file of the copied tree, and they are taken from it here.
TEST_ENVIRONMENT_FILE = Path(__file__).resolve().parent / ".test-environment"


def _load_test_environment() -> None:
    if TEST_ENVIRONMENT_FILE.is_file():
        for line in TEST_ENVIRONMENT_FILE.read_text(encoding="utf-8").splitlines():
            name, _equals, value = line.partition("=")
            if name.startswith("SKILLFORGE_TEST_"):
                os.environ.setdefault(name, value)


_load_test_environment()


def _link_checkout_as_collection() -> None:
    """Make ``ansible_collections.skillforge.dataops`` this checkout, as ``make setup`` does."""
    link = COLLECTIONS_DIR / "ansible_collections" / "skillforge" / "dataops"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("..", "..", ".."), target_is_directory=True)
    if str(COLLECTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS_DIR))


_link_checkout_as_collection()

from ansible_collections.skillforge.dataops.tests import databases
from ansible_collections.skillforge.dataops.tests.databases import RUN_TOKEN_VARIABLE, run_database_prefix

ADMIN_URL = databases.admin_url_from_environment()


def wait_for(condition, timeout: float, what: str):
    """Poll ``condition`` until it returns something true (returned) or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s" % what)


def url_for(dbname: str) -> str:
    """The admin URL pointed at another database."""
    return databases.url_for(dbname, ADMIN_URL)


def run_databases(admin_url: str = ADMIN_URL) -> list:
    """The databases this run created and has not dropped."""
    return databases.databases_named(run_database_prefix(), admin_url)


def pytest_configure(config):
    # Set before any test process forks, so forked and xdist processes share the run's token.
    os.environ.setdefault(RUN_TOKEN_VARIABLE, uuid.uuid4().hex[:10])
    # pytest.ini registers it too; ansible-test units runs with its own configuration file.
    config.addinivalue_line("markers", "slow: takes more than a few seconds (still part of the full suite)")


def pytest_sessionfinish(session, exitstatus):  # pylint: disable=unused-argument
    """Drop whatever the run's test processes left: a forked process loses its factory's list."""
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller cleans up once
        return
    try:
        databases.drop_databases_named(run_database_prefix(), ADMIN_URL, connect_timeout=5)
    except psycopg.OperationalError:  # the server is gone; admin_conninfo has said so
        pass


@pytest.fixture(scope="session")
def admin_conninfo() -> str:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=5):
            pass
    except psycopg.OperationalError as error:  # a harness problem, not a test result
        pytest.exit("PostgreSQL is not reachable at SKILLFORGE_TEST_ADMIN_URL: %s" % error, returncode=3)
    return ADMIN_URL


@pytest.fixture(scope="session")
def database_factory(admin_conninfo):
    factory = databases.DatabaseFactory(admin_conninfo, run_database_prefix())
    yield factory
    factory.drop_all()


@pytest.fixture
def empty_database_url(database_factory) -> str:
    return url_for(database_factory.create())


@pytest.fixture(scope="session")
def migrated_template(database_factory) -> str:
    """A database migrated once per session with the collection's own migrations."""
    name = database_factory.create()
    databases.migrate(url_for(name))
    return name


@pytest.fixture
def migrated_database_url(database_factory, migrated_template) -> str:
    """A fresh, fully migrated database of the test's own."""
    return url_for(database_factory.create(template=migrated_template))


@dataclass
class PlaybookRun:
    """What one ansible-playbook run did: its status, return code and every task result."""

    status: str
    rc: int
    results: list  # [{"task": name, "host": host, "event": "runner_on_ok"|..., "res": {...}}]
    stdout: str

    def result(self, task_name: str) -> dict:
        """The result of the one task with that name (fails the test if there is not exactly one)."""
        found = [r["res"] for r in self.results if r["task"] == task_name]
        assert len(found) == 1, "expected one result for task %r, got %d: %s" % (
            task_name, len(found), [r["task"] for r in self.results])
        return found[0]

    def failed(self) -> list:
        return [r for r in self.results if r["event"] == "runner_on_failed" and not r["ignore_errors"]]


def ansible_environment(**extra) -> dict:
    """The environment of the tests' Ansible runs: this virtualenv's tools first, the repository's
    ansible.cfg, the checkout as the collection, and no DATABASE_URL or REDIS_URL from the shell
    (blanked: only what the test passes, in ``extra``, reaches the play)."""
    environment = {
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_DIR),
    }
    environment.update((name, "") for name in os.environ if name.endswith(("DATABASE_URL", "REDIS_URL")))
    environment.update(extra)
    return environment


@pytest.fixture
def run_playbook(tmp_path):
    """Run a playbook from the checkout the way an operator (or AWX) would: ansible-runner,
    the repository's ansible.cfg, an inventory, extra vars and environment variables."""
    import ansible_runner

    def run(playbook, extra_vars=None, check=False, diff=False, env=None,
            inventory=REPO_ROOT / "inventories" / "local") -> PlaybookRun:
        cmdline = []
        if check:
            cmdline.append("--check")
        if diff:
            cmdline.append("--diff")
        envvars = ansible_environment(**(env or {}))
        private_dir = tmp_path / ("runner-%s" % uuid.uuid4().hex[:8])
        private_dir.mkdir()
        runner = ansible_runner.run(
            private_data_dir=str(private_dir),
            project_dir=str(REPO_ROOT),
            playbook=str(REPO_ROOT / playbook),
            inventory=str(inventory),
            extravars=extra_vars or {},
            envvars=envvars,
            cmdline=" ".join(cmdline) or None,
            quiet=True,
            timeout=600,
        )
        results = []
        for event in runner.events:
            data = event.get("event_data", {})
            if event.get("event", "").startswith("runner_on_") and "res" in data:
                results.append({"task": data.get("task"), "host": data.get("host"),
                                "event": event["event"], "res": data["res"],
                                "ignore_errors": data.get("ignore_errors") or False})
        stdout = runner.stdout.read()
        shutil.rmtree(private_dir / "artifacts", ignore_errors=True)
        return PlaybookRun(status=runner.status, rc=runner.rc, results=results, stdout=stdout)

    return run
