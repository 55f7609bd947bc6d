"""One way to name the database: every playbook writes (or reads) the database that
``skillforge_database_url`` names, even when every environment variable the modules read points at
another database. One test per playbook; the other database must come out untouched.
"""

from __future__ import annotations

import psycopg
import pytest

import sample_data
from ansible_collections.skillforge.dataops.plugins.module_utils._queue import jobs as job_queue
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import resolve_redis
from queue_testing import REDIS_URL, queue_prefix  # noqa: F401  pylint: disable=unused-import

pytest.importorskip("ansible_runner")

# Every variable the modules would otherwise take the URL from (inventory local: env local).
ENV_VARIABLES = ("SKILLFORGE_LOCAL_DATABASE_URL", "DATABASE_URL", "SKILLFORGE_DATABASE_URL")


def pointing_elsewhere(url: str) -> dict:
    return dict.fromkeys(ENV_VARIABLES, url)


def query(url: str, statement: str):
    with psycopg.connect(url) as conn:
        return conn.execute(statement).fetchone()[0]


def has_table(url: str, name: str) -> bool:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT to_regclass(format('public.%%I', %s::text)) IS NOT NULL", (name,)).fetchone()[0]


def fingerprints(url: str) -> dict:
    with psycopg.connect(url) as conn:
        return sample_data.table_fingerprints(conn)


@pytest.fixture
def sample_urls(database_factory, migrated_template):
    """Two migrated databases with the same sample data: the named one and the other one."""
    from conftest import url_for  # pylint: disable=import-outside-toplevel

    urls = []
    for _copy in range(2):
        url = url_for(database_factory.create(template=migrated_template))
        with psycopg.connect(url, autocommit=True) as conn:
            sample_data.generate(conn, seed=5, users_per_tenant=6)
        urls.append(url)
    return urls


def test_migrate(run_playbook, database_factory):
    from conftest import url_for  # pylint: disable=import-outside-toplevel

    named, other = (url_for(database_factory.create()) for _database in range(2))
    run = run_playbook("playbooks/migrate.yml", extra_vars={"skillforge_database_url": named},
                       env=pointing_elsewhere(other))
    assert run.rc == 0, run.stdout
    database = run.result("Apply pending migrations")["database"]
    assert database["source"] == "option"
    # No password in the URL: nothing to hide, so the result names it (Ansible's no_log masking would
    # otherwise turn it into VALUE_SPECIFIED_IN_NO_LOG_PARAMETER).
    assert database["url"].startswith("postgresql://") and database["database"] in database["url"]
    assert has_table(named, "flyway_schema_history") and has_table(named, "User")
    assert not has_table(other, "flyway_schema_history")


def test_migrate_info_reads_only_the_named_database(run_playbook, migrated_database_url, empty_database_url):
    run = run_playbook("playbooks/migrate_info.yml", extra_vars={"skillforge_database_url": migrated_database_url},
                       env=pointing_elsewhere(empty_database_url))
    assert run.rc == 0, run.stdout
    info = run.result("Read migration states")
    assert info["history_exists"] and not info["changed"]
    assert {m["state"] for m in info["migrations"]} == {"Success"}
    report = run.result("Report migration states as flyway info does")["msg"]
    assert report[0].startswith("Category") and len(report) == len(info["migrations"]) + 1
    assert not has_table(empty_database_url, "flyway_schema_history")


def test_seed(run_playbook, sample_urls):
    named, other = sample_urls
    before = fingerprints(other)
    run = run_playbook("playbooks/seed.yml", extra_vars={"skillforge_database_url": named},
                       env=pointing_elsewhere(other))
    assert run.rc == 0, run.stdout
    seeded = run.result("Seed O*NET reference data")
    assert seeded["changed"] and seeded["database"]["source"] == "option"
    assert query(named, "SELECT count(*) FROM onet_occupations") == seeded["rows"]["onet_occupations"] > 0
    assert query(other, "SELECT count(*) FROM onet_occupations") == 0
    assert fingerprints(other) == before


def test_compliance(run_playbook, sample_urls):
    named, other = sample_urls
    before = fingerprints(other)
    run = run_playbook("playbooks/compliance.yml", env=pointing_elsewhere(other), extra_vars={
        "skillforge_database_url": named, "compliance_job": "consent-revocation",
        "compliance_tenant": "globex", "compliance_execute": True})
    assert run.rc == 0, run.stdout
    summary = run.result("Run consent-revocation")["summary"]
    assert summary["changed"] and summary["outcome"] == "succeeded"
    assert query(named, 'SELECT count(*) FROM "ComplianceAuditLog"') == 1
    assert fingerprints(other) == before


def test_compliance_queue(run_playbook, sample_urls, queue_prefix):  # noqa: F811
    named, other = sample_urls
    before = fingerprints(other)
    target = job_queue.QueueTarget(resolve_redis(REDIS_URL), queue_prefix)
    job_queue.enqueue(target, job_queue.enqueue_request(
        "consent-revocation", {"tenant": "globex", "triggered_by": "ops@example.invalid"}, dry_run=False))
    run = run_playbook("playbooks/compliance_queue.yml", env=dict(pointing_elsewhere(other), REDIS_URL=REDIS_URL),
                       extra_vars={"skillforge_database_url": named, "queue_worker_prefix": queue_prefix})
    assert run.rc == 0, run.stdout
    jobs = run.result("Run the queued compliance jobs")["jobs"]
    assert [job["state"] for job in jobs] == ["completed"]
    assert query(named, 'SELECT count(*) FROM "ComplianceAuditLog"') == 1
    assert fingerprints(other) == before


def test_compliance_audit_reads_the_named_database(run_playbook, sample_urls):
    named, other = sample_urls
    with psycopg.connect(named) as conn:
        ran = run_job(conn, "partner-segregation", {"tenant": "initech", "triggered_by": "ops@example.invalid"},
                      dry_run=False)
    with psycopg.connect(other) as conn:
        run_job(conn, "consent-revocation", {"tenant": "globex", "triggered_by": "ops@example.invalid"},
                dry_run=False)
    run = run_playbook("playbooks/compliance_audit.yml", extra_vars={"skillforge_database_url": named},
                       env=pointing_elsewhere(other))
    assert run.rc == 0, run.stdout
    assert [entry["id"] for entry in run.result("Read the audit trail")["runs"]] == [ran["audit_id"]]


def test_module_defaults_groups_hold_only_modules_that_take_their_options(run_playbook, migrated_database_url,
                                                                           queue_prefix, tmp_path):  # noqa: F811
    """``group/skillforge.dataops.database: {dsn: ...}`` and ``group/...redis: {queue_prefix: ...}``
    set on one play reach every module of each group, and no module rejects them."""
    import yaml  # pylint: disable=import-outside-toplevel

    playbook = tmp_path / "groups.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Groups", "hosts": "skillforge_db", "gather_facts": False,
        "module_defaults": {
            "group/skillforge.dataops.database": {"dsn": migrated_database_url, "env": "local", "connect_timeout": 5},
            "group/skillforge.dataops.redis": {"redis_url": REDIS_URL, "env": "local", "queue_prefix": queue_prefix,
                                               "redis_timeout": 5}},
        "tasks": [
            {"name": "Info", "skillforge.dataops.migrate_info": {"locations": []}},
            {"name": "Audit", "skillforge.dataops.compliance_audit_info": {}},
            {"name": "Queue", "skillforge.dataops.queue_info": {}},
            {"name": "Worker", "skillforge.dataops.compliance_worker": {}, "check_mode": True},
        ]}], sort_keys=False))
    run = run_playbook(str(playbook), env=pointing_elsewhere("postgresql://nobody@127.0.0.1:1/nowhere"))
    assert run.rc == 0, run.stdout
    assert run.result("Audit")["database"]["source"] == "option"
    assert run.result("Worker")["database"]["source"] == "option"
    assert run.result("Queue")["prefix"] == queue_prefix


SENTENCE = ("The database is `skillforge_database_url` when set, else the first of `SKILLFORGE_<ENV>_DATABASE_URL`, "
            "`DATABASE_URL`, `SKILLFORGE_DATABASE_URL` that is set, and for `local` only the localhost fallback.")


def test_the_rule_is_documented_identically_everywhere():
    """README, docs/ and every playbook's header say the same sentence (line breaks and comment
    markers aside), so none of them can drift from the others or from the code."""
    from conftest import REPO_ROOT  # pylint: disable=import-outside-toplevel

    places = [REPO_ROOT / "README.md"]
    places += [REPO_ROOT / "docs" / name for name in ("COMPLIANCE.md", "SEEDING.md", "MIGRATIONS.md")]
    places += sorted(path for path in (REPO_ROOT / "playbooks").glob("*.yml") if not path.name.startswith("_"))
    for path in places:
        text = " ".join(line.lstrip("# ").strip() for line in path.read_text(encoding="utf-8").splitlines())
        assert SENTENCE in " ".join(text.split()), path.name
