"""playbooks/compliance.yml end to end: ansible-playbook against a real database with sample data.

Per job: --check changes nothing, no --check without compliance_execute is still a dry run,
compliance_execute=true changes exactly what the dry run reported and nothing of other tenants,
and a second execution reports changed: false.
"""

from __future__ import annotations

import psycopg
import pytest
import sample_data
from conftest import REPO_ROOT

PLAYBOOK = "playbooks/compliance.yml"
WHO = "privacy@skillforge.com"
TASK = {"consent-revocation": "Run consent-revocation", "data-retention": "Run data-retention",
        "partner-segregation": "Run partner-segregation"}


@pytest.fixture
def sample_url(migrated_database_url):
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        sample_data.generate(conn, seed=3, users_per_tenant=25)
    return migrated_database_url


def fingerprints(url, tenant=None, exclude=False):
    with psycopg.connect(url, autocommit=True) as conn:
        if tenant:
            return sample_data.tenant_fingerprints(conn, tenant, exclude=exclude)
        return sample_data.table_fingerprints(conn)


def run(run_playbook, url, job, check=False, **extra):
    """The playbook with ``compliance_<key>`` for each keyword (``execute=True``, ``tenant=...``)."""
    extra_vars = {"compliance_job": job, "compliance_triggered_by": WHO, "compliance_batch_size": 5}
    extra_vars.update(("compliance_" + key, value) for key, value in extra.items())
    result = run_playbook(PLAYBOOK, extra_vars=extra_vars, check=check, env={"DATABASE_URL": url})
    return result


@pytest.mark.slow
@pytest.mark.parametrize("job, tenant", [
    ("consent-revocation", "acme-partners"),
    ("data-retention", "globex"),
    ("partner-segregation", "initech"),
])
def test_dry_run_then_execute_then_nothing_left(run_playbook, sample_url, job, tenant):
    before = fingerprints(sample_url)
    others = fingerprints(sample_url, tenant, exclude=True)
    own = fingerprints(sample_url, tenant)

    checked = run(run_playbook, sample_url, job, check=True, tenant=tenant, reason="PRIV-9")
    assert checked.rc == 0, checked.stdout
    dry = checked.result(TASK[job])
    assert dry["changed"] and dry["summary"]["mode"] == "dry-run"
    assert dry["summary"]["scope"]["tenant"] == tenant
    assert any(dry["summary"]["counts"].values())
    assert '"job": "%s"' % job in checked.stdout or "'job': '%s'" % job in checked.stdout  # summary printed
    assert fingerprints(sample_url) == before

    unexecuted = run(run_playbook, sample_url, job, tenant=tenant)
    assert unexecuted.rc == 0, unexecuted.stdout
    assert unexecuted.result(TASK[job])["summary"]["mode"] == "dry-run"
    assert unexecuted.result(TASK[job])["summary"]["counts"] == dry["summary"]["counts"]
    assert fingerprints(sample_url) == before

    executed = run(run_playbook, sample_url, job, tenant=tenant, execute=True, reason="PRIV-9")
    assert executed.rc == 0, executed.stdout
    done = executed.result(TASK[job])
    assert done["changed"] and done["summary"]["mode"] == "execute"
    assert done["summary"]["counts"] == dry["summary"]["counts"]
    assert done["summary"]["outcome"] == "succeeded" and done["summary"]["reason"] == "PRIV-9"
    assert fingerprints(sample_url, tenant, exclude=True) == others  # other tenants untouched
    assert fingerprints(sample_url, tenant) != own

    again = run(run_playbook, sample_url, job, tenant=tenant, execute=True)
    assert again.rc == 0, again.stdout
    assert not again.result(TASK[job])["changed"]
    assert set(again.result(TASK[job])["summary"]["counts"].values()) == {0}


def test_user_scope_from_extra_vars_and_diff_sample(run_playbook, sample_url):
    with psycopg.connect(sample_url, autocommit=True) as conn:
        users = [r[0] for r in conn.execute('SELECT "id" FROM "User" WHERE "marketingOptIn" ORDER BY "id" LIMIT 2')]
    result = run(run_playbook, sample_url, "consent-revocation", user=",".join(users), execute=True)
    assert result.rc == 0, result.stdout
    summary = result.result(TASK["consent-revocation"])["summary"]
    assert summary["scope"] == {"users": users} and summary["counts"]["marketingOptOuts"] == 2

    diffed = run_playbook(PLAYBOOK, extra_vars={"compliance_job": "partner-segregation", "compliance_tenant": "globex",
                                                "compliance_triggered_by": WHO}, check=True, diff=True,
                          env={"DATABASE_URL": sample_url})
    assert diffed.rc == 0, diffed.stdout
    diff = diffed.result(TASK["partner-segregation"])["diff"]
    assert diff["before"] and diff["before"].keys() == diff["after"].keys()
    with psycopg.connect(sample_url, autocommit=True) as conn:
        globex = conn.execute("SELECT \"id\" FROM \"Tenant\" WHERE slug = 'globex'").fetchone()[0]
    stamped = {"tenantId", "partnerId"}
    for key, after in diff["after"].items():
        assert after != diff["before"][key]
        if key.startswith("ResumeIngestion"):
            # Only the keys the job changes: the rest of the blob (personal data) is never shown.
            stamp = {"tenantId": globex, "partnerId": None}
            assert set(after) <= stamped and after == {key: stamp[key] for key in after}
        else:
            assert all(element.keys() <= stamped for element in after.values()), after
    assert "example" not in repr(diff)


@pytest.mark.parametrize("extra, message", [
    ({"compliance_job": "consent-revocation", "compliance_tenant": "globex", "compliance_dryrun": True},
     "unknown variable compliance_dryrun: did you mean compliance_dry_run?"),
    ({"compliance_job": "consent-revocation", "compliance_tenant": "globex", "compliance_dsn": "postgresql:///x"},
     "unknown variable compliance_dsn: it is skillforge_database_url now"),
    ({"compliance_job": "consent-revocation", "compliance_tenant": "nope"}, "unknown tenant 'nope'"),
    ({"compliance_job": "data-retention", "compliance_before": "yesterday"}, "before must be an ISO-8601"),
    ({"compliance_job": "data-retention", "compliance_before": "2999-12-31"}, "is in the future"),
    ({"compliance_job": "data-retention", "compliance_batch_size": 0}, "batch_size must be an integer from 1"),
    ({"compliance_job": "consent-revocation", "compliance_tenant": "globex", "compliance_queue": True,
      "skillforge_redis_url": "redis://127.0.0.1:1/0"}, "cannot connect to Redis at 127.0.0.1:1"),
    ({"compliance_job": "purge-everything"}, "compliance_job"),
])
def test_bad_input_fails_the_play_and_changes_nothing(run_playbook, sample_url, extra, message):
    before = fingerprints(sample_url)
    result = run_playbook(PLAYBOOK, extra_vars=dict({"compliance_triggered_by": WHO, "compliance_execute": True},
                                                    **extra), env={"DATABASE_URL": sample_url})
    assert result.rc != 0
    assert message in result.stdout
    assert fingerprints(sample_url) == before


KEEP = "Keep the job summary (the queued job with compliance_queue=true)"


def test_the_role_sets_the_summary_and_leaves_the_queued_job_undefined(run_playbook, sample_url):
    """One set_fact keeps either output: an inline run defines compliance_summary only (the play shows
    it); test_queue_modules checks the other way round."""
    result = run(run_playbook, sample_url, "consent-revocation", tenant="globex")
    assert result.rc == 0, result.stdout
    facts = result.result(KEEP)["ansible_facts"]
    assert list(facts) == ["compliance_summary"]
    assert facts["compliance_summary"] == result.result(TASK["consent-revocation"])["summary"]
    assert result.result("Show the compliance summary")["compliance_summary"]["job"] == "consent-revocation"


def test_dry_run_variable_wins_over_execute(run_playbook, sample_url):
    """The runbook's --dry-run: -e compliance_dry_run=true with compliance_execute=true dry-runs."""
    before = fingerprints(sample_url)
    result = run(run_playbook, sample_url, "consent-revocation", tenant="globex", execute=True, dry_run=True)
    assert result.rc == 0, result.stdout
    summary = result.result(TASK["consent-revocation"])["summary"]
    assert summary["mode"] == "dry-run" and summary["changed"]
    assert fingerprints(sample_url) == before


def test_partner_segregation_without_a_tenant_warns_and_succeeds(run_playbook, sample_url):
    """The runbook: without --tenant the job "records a warning and exits" - a green run, nothing changed."""
    before = fingerprints(sample_url)
    result = run(run_playbook, sample_url, "partner-segregation", execute=True)
    assert result.rc == 0, result.stdout
    task = result.result(TASK["partner-segregation"])
    assert not task["changed"] and task["summary"]["outcome"] == "skipped"
    assert "no tenant given" in task["summary"]["warnings"][0]
    assert any("no tenant given" in warning for warning in task["warnings"])
    assert "no tenant given" in result.stdout  # the Ansible warning, as an operator sees it
    assert fingerprints(sample_url) == before


@pytest.mark.parametrize("extra, requester, source", [
    ({"compliance_triggered_by": WHO, "awx_user_name": "alice"}, WHO, "option"),
    ({"awx_user_name": "alice"}, "alice", "awx"),
    ({"awx_schedule_name": "nightly purge"}, "schedule nightly purge", "awx"),
    ({}, None, "os-user"),
])
def test_triggered_by_defaults_to_who_launched_the_job(run_playbook, sample_url, extra, requester, source):
    """Runbook parity: --triggered-by is optional; the audit row records who ran it and where that came from."""
    result = run_playbook(PLAYBOOK, env={"DATABASE_URL": sample_url}, extra_vars=dict(
        {"compliance_job": "data-retention", "compliance_before": "2024-06-01", "compliance_execute": True}, **extra))
    assert result.rc == 0, result.stdout
    summary = result.result(TASK["data-retention"])["summary"]
    assert summary["triggered_by_source"] == source
    if requester is None:  # the OS user and host that ran the module
        assert summary["triggered_by"].count("@") == 1
    else:
        assert summary["triggered_by"] == requester
    with psycopg.connect(sample_url) as conn:
        row = conn.execute('SELECT "triggeredBy", "triggeredBySource" FROM "ComplianceAuditLog" WHERE "id" = %s',
                           (summary["audit_id"],)).fetchone()
    assert row == (summary["triggered_by"], source)


def test_staging_never_falls_back_to_the_local_database(run_playbook):
    result = run_playbook(PLAYBOOK, extra_vars={"compliance_job": "data-retention", "compliance_triggered_by": WHO},
                          check=True, inventory=REPO_ROOT / "inventories" / "staging")
    assert result.rc != 0
    assert "SKILLFORGE_STAGING_DATABASE_URL" in result.stdout


AUDIT_PLAY = """
- name: Read the compliance audit trail
  hosts: skillforge_db
  gather_facts: false
  module_defaults:
    group/skillforge.dataops.database:
      connect_timeout: 5
  tasks:
    - name: Audit trail
      skillforge.dataops.compliance_audit_info:
        tenant: "{{ audit_tenant }}"
        since: "{{ audit_since }}"
"""


def test_compliance_audit_info_shows_the_executed_run_in_check_mode_too(run_playbook, sample_url, tmp_path):
    executed = run(run_playbook, sample_url, "data-retention", tenant="globex", execute=True, reason="PRIV-10")
    assert executed.rc == 0, executed.stdout
    summary = executed.result(TASK["data-retention"])["summary"]
    run(run_playbook, sample_url, "data-retention", tenant="umbrella", check=True)  # dry run: not recorded
    playbook = tmp_path / "audit.yml"
    playbook.write_text(AUDIT_PLAY)
    before = fingerprints(sample_url)

    for check in (False, True):
        result = run_playbook(playbook, extra_vars={"audit_tenant": "globex", "audit_since": summary["started_at"]},
                              check=check, env={"DATABASE_URL": sample_url})
        assert result.rc == 0, result.stdout
        audit = result.result("Audit trail")
        assert audit["changed"] is False and audit["running_jobs"] == []
        [run_record] = audit["runs"]
        assert run_record["id"] == summary["audit_id"] and run_record["state"] == "succeeded"
        assert (run_record["triggered_by"], run_record["reason"], run_record["counts"], run_record["scope"]) == (
            WHO, "PRIV-10", summary["counts"], summary["scope"])
    assert fingerprints(sample_url) == before

    bad = run_playbook(playbook, extra_vars={"audit_tenant": "globex", "audit_since": "last week"},
                       env={"DATABASE_URL": sample_url})
    assert bad.rc != 0 and "since must be an ISO-8601 date or date-time" in bad.stdout
