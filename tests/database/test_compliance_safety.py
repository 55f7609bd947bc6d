"""Production safety of the compliance jobs against a real PostgreSQL (issue 15).

* Bounded waits: a transaction held open by the test blocks a purge's second batch; with
  ``db_lock_timeout`` the batch gives up, the first batch stays committed, the audit row says
  ``failed`` with its counts, the message names the blocking session (never a row's values), and
  running again after the blocker ends finishes with the same totals as a run nobody blocked.
* The retention floor: a cutoff more recent than ``retention_floor_months`` is refused.
* The blast radius: ``max_users`` stops a run before its first batch, and check mode says the same.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
import pytest

from ansible_collections.skillforge.dataops.tests import sample_data
from ansible_collections.skillforge.dataops.tests.conftest import url_for
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import JobError, JobInputError, JobRunError
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job

WHO = "privacy@skillforge.com"
BATCH_SIZE = 4
# The sample data of every database here is generated at this instant (now, once per test run), so
# two databases hold the same rows and the cutoff below is 25 months before it: past the floor.
REFERENCE_TIME = datetime.utcnow().replace(microsecond=0)


def sample_database(database_factory, migrated_template) -> str:
    url = url_for(database_factory.create(template=migrated_template))
    with psycopg.connect(url, autocommit=True) as conn:
        sample_data.generate(conn, seed=11, users_per_tenant=30, reference_time=REFERENCE_TIME)
    return url


@pytest.fixture
def database_url(database_factory, migrated_template):
    return sample_database(database_factory, migrated_template)


@pytest.fixture
def conn(database_url):
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def cutoff(conn) -> str:
    return conn.execute("SELECT to_char(%s::timestamp - interval '25 months', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                        (REFERENCE_TIME,)).fetchone()[0]


def purge(conn, **options) -> dict:
    return run_job(conn, "data-retention", dict({"before": cutoff(conn), "triggered_by": WHO,
                                                 "batch_size": BATCH_SIZE}, **options), dry_run=False)


def purge_order(conn) -> list:
    """The users a purge deletes, in the order its batches take them (the keyset walk)."""
    return [row[0] for row in conn.execute(
        'SELECT "id" FROM "User" WHERE NOT "legalHold" AND COALESCE("lastActiveAt", "createdAt") < %s::timestamptz'
        ' ORDER BY COALESCE("lastActiveAt", "createdAt"), "id"', (cutoff(conn),))]


def audit_rows(conn) -> list:
    return conn.execute('SELECT "outcome", "counts", "batches", "error" FROM "ComplianceAuditLog"'
                        ' ORDER BY "startedAt"').fetchall()


# --- bounded waits ------------------------------------------------------------------------------

def test_a_purge_blocked_on_its_second_batch_keeps_the_first_names_the_blocker_and_resumes(
        conn, database_url, database_factory, migrated_template):
    predicted = run_job(conn, "data-retention", {"before": cutoff(conn), "triggered_by": WHO}, dry_run=True)
    order = purge_order(conn)
    assert len(order) > 2 * BATCH_SIZE and predicted["counts"]["users"] == len(order)
    victim = order[BATCH_SIZE + 1]  # in the second batch
    email = conn.execute('SELECT "email" FROM "User" WHERE "id" = %s', (victim,)).fetchone()[0]

    with psycopg.connect(database_url, application_name="crm-export") as blocker:
        # An open transaction holding the user's row lock, as a report or a CRM sync might.
        blocker.execute('SELECT "email" FROM "User" WHERE "id" = %s FOR UPDATE', (victim,)).fetchall()
        with pytest.raises(JobRunError) as raised:
            purge(conn, db_lock_timeout=0.5)
        blocker_pid = blocker.info.backend_pid
        blocker_user = blocker.execute("SELECT current_user").fetchone()[0]

    message = str(raised.value)
    summary = raised.value.summary
    assert summary["outcome"] == "failed" and summary["batches"] == 1 and summary["counts"]["users"] == BATCH_SIZE
    assert message.startswith("data-retention: batch 2 rolled back: lock_timeout ran out (SQLSTATE 55P03) waiting "
                              "behind (pid %d, application crm-export, user %s, idle in transaction, transaction open "
                              % (blocker_pid, blocker_user)), message
    assert "(db_lock_timeout 0.5 s); the 1 batch(es) before it stay committed: run the job again" in message
    [seen] = summary["blocked_by"]
    assert (seen["pid"], seen["application_name"], seen["user"], seen["state"], seen["statement_type"]) == (
        blocker_pid, "crm-export", blocker_user, "idle in transaction", "SELECT")
    assert 0 <= seen["transaction_seconds"] < 60
    # Never a row's values or the blocker's statement text (which holds the user id).
    for text in (message, repr(summary)):
        assert email not in text and victim not in text and "@" not in text.replace(WHO, "")
    [(outcome, counts, batches, error)] = audit_rows(conn)
    assert (outcome, counts, batches, error) == ("failed", summary["counts"], 1, message)
    # The first batch is gone, the blocked one is whole.
    remaining = {row[0] for row in conn.execute('SELECT "id" FROM "User" WHERE "id" = ANY(%s)', (order,))}
    assert remaining == set(order[BATCH_SIZE:])
    # The session's own settings are untouched: the timeouts held inside each batch transaction only.
    assert conn.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')").fetchone() == (
        "0", "0")

    resumed = purge(conn, db_lock_timeout=0.5)  # the blocker has ended

    assert resumed["outcome"] == "succeeded" and "blocked_by" not in resumed
    totals = {name: summary["counts"][name] + resumed["counts"][name] for name in summary["counts"]}
    assert totals == predicted["counts"]
    with psycopg.connect(sample_database(database_factory, migrated_template), autocommit=True) as unblocked:
        assert purge(unblocked)["counts"] == totals  # the same as a run that nobody blocked
    assert [row[0] for row in audit_rows(conn)] == ["failed", "succeeded"]


def test_a_batch_over_db_statement_timeout_rolls_back_and_says_which_timeout(conn):
    victim = purge_order(conn)[BATCH_SIZE]  # the second batch's first user
    conn.execute("""
        CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN PERFORM pg_sleep(3); RETURN OLD; END $$;
        CREATE TRIGGER slow BEFORE DELETE ON "User" FOR EACH ROW WHEN (OLD."id" = '%s')
        EXECUTE FUNCTION slow_delete()""" % victim)

    with pytest.raises(JobRunError) as raised:
        purge(conn, db_statement_timeout=0.5)

    message, summary = str(raised.value), raised.value.summary
    assert message.startswith("data-retention: batch 2 rolled back: statement_timeout ran out (SQLSTATE 57014); "
                              "no blocking session was seen (db_statement_timeout 0.5 s); the 1 batch(es) before it "
                              "stay committed: run the job again"), message
    assert summary["blocked_by"] == [] and summary["batches"] == 1 and summary["counts"]["users"] == BATCH_SIZE
    assert audit_rows(conn)[0][:3] == ("failed", summary["counts"], 1)


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "execute"])
def test_what_a_run_reads_before_its_first_batch_is_bounded_too(conn, database_url, dry_run):
    """The dry run's count (and an execution's count of users in scope) waits behind a table lock no
    longer than db_lock_timeout, and says which wait ran out."""
    before = sample_data.table_fingerprints(conn)
    with psycopg.connect(database_url) as blocker:
        blocker.execute('LOCK TABLE "User" IN ACCESS EXCLUSIVE MODE')
        with pytest.raises(JobError) as timed_out:
            run_job(conn, "consent-revocation", {"tenant": "acme-partners", "triggered_by": WHO,
                                                 "db_lock_timeout": 0.2, "max_users": 10 ** 6}, dry_run=dry_run)
    assert str(timed_out.value).startswith(
        "consent-revocation: lock_timeout ran out (SQLSTATE 55P03, db_lock_timeout 0.2 s) before the first batch; "
        "nothing was changed")
    assert sample_data.table_fingerprints(conn) == before and audit_rows(conn) == []


def test_the_default_waits_are_bounded_in_every_batch(conn):
    """Unset, a batch runs with lock_timeout 5 s and statement_timeout 300 s (SET LOCAL)."""
    conn.execute("""
        CREATE TABLE seen (lock_timeout text, statement_timeout text);
        CREATE FUNCTION note_settings() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN INSERT INTO seen VALUES (current_setting('lock_timeout'), current_setting('statement_timeout'));
           RETURN OLD; END $$;
        CREATE TRIGGER note AFTER DELETE ON "User" FOR EACH STATEMENT EXECUTE FUNCTION note_settings()""")
    purge(conn)
    assert set(conn.execute("SELECT * FROM seen").fetchall()) == {("5s", "5min")}


# --- the retention floor --------------------------------------------------------------------------

@pytest.mark.parametrize("options, source", [
    ({"before": "LAST_YEAR"}, "before"),
    ({"retention_months": 12}, "retention_months 12"),
    ({"before": "TWO_YEARS_AGO", "retention_floor_months": 30}, "before"),
])
@pytest.mark.parametrize("dry_run", [True, False], ids=["check", "execute"])
def test_a_cutoff_more_recent_than_the_floor_is_refused(conn, options, source, dry_run):
    dates = dict(conn.execute("SELECT 'LAST_YEAR', to_char(now() - interval '12 months', 'YYYY-MM-DD')"
                              " UNION ALL SELECT 'TWO_YEARS_AGO', to_char(now() - interval '25 months', 'YYYY-MM-DD')"))
    options = {name: dates.get(value, value) for name, value in options.items()}
    before = sample_data.table_fingerprints(conn)

    with pytest.raises(JobInputError) as raised:
        run_job(conn, "data-retention", dict(options, triggered_by=WHO), dry_run=dry_run)

    message = str(raised.value)
    floor = options.get("retention_floor_months", 24)
    assert "(from %s) is more recent than the retention floor " % source in message
    assert "(retention_floor_months %d): refused, nothing was changed" % floor in message
    assert "set allow_recent_cutoff to true" in message
    if "before" in options:
        assert "cutoff %s" % options["before"] in message
    assert message.count("Z") >= 2  # both dates, in UTC
    assert sample_data.table_fingerprints(conn) == before


def test_allow_recent_cutoff_runs_and_is_recorded(conn):
    dry = run_job(conn, "data-retention", {"retention_months": 12, "allow_recent_cutoff": True, "triggered_by": WHO},
                  dry_run=True)
    assert dry["scope"]["allow_recent_cutoff"] is True and dry["scope"]["retention_months"] == 12
    within = run_job(conn, "data-retention", {"retention_months": 12, "retention_floor_months": 6, "triggered_by": WHO},
                     dry_run=True)
    assert "allow_recent_cutoff" not in within["scope"] and within["counts"] == dry["counts"]


# --- the blast radius -----------------------------------------------------------------------------

@pytest.mark.parametrize("job, options, in_scope", [
    ("data-retention", {"before": "CUTOFF"}, "purge"),
    ("consent-revocation", {"tenant": "acme-partners"}, "tenant"),
    ("partner-segregation", {"tenant": "initech"}, "tenant"),
])
def test_max_users_stops_a_run_before_its_first_batch_and_check_mode_says_so(conn, job, options, in_scope):
    options = {name: cutoff(conn) if value == "CUTOFF" else value for name, value in options.items()}
    users = len(purge_order(conn)) if in_scope == "purge" else conn.execute(
        'SELECT count(*) FROM "User" u JOIN "Tenant" t ON t."id" = u."tenantId" WHERE t."slug" = %s',
        (options["tenant"],)).fetchone()[0]
    before = sample_data.table_fingerprints(conn)
    expected = ("%s: the run would touch %d users, more than max_users %d; nothing was changed"
                % (job, users, users - 1))

    with pytest.raises(JobInputError) as checked:
        run_job(conn, job, dict(options, triggered_by=WHO, max_users=users - 1), dry_run=True)
    with pytest.raises(JobInputError) as executed:
        run_job(conn, job, dict(options, triggered_by=WHO, max_users=users - 1), dry_run=False)

    assert str(checked.value).startswith(expected + " (check mode predicts this refusal)")
    assert checked.value.summary["mode"] == "dry-run" and checked.value.summary["counts"]  # the prediction too
    assert str(executed.value).startswith(expected + " (narrow the scope")
    assert sample_data.table_fingerprints(conn) == before and audit_rows(conn) == []
    assert run_job(conn, job, dict(options, triggered_by=WHO, max_users=users), dry_run=False)["outcome"] == "succeeded"


def test_max_users_percent_is_a_share_of_every_user_and_check_mode_says_so(conn):
    tenant = "acme-partners"
    users = conn.execute('SELECT count(*) FROM "User" u JOIN "Tenant" t ON t."id" = u."tenantId" WHERE t."slug" = %s',
                         (tenant,)).fetchone()[0]
    everyone = conn.execute('SELECT count(*) FROM "User"').fetchone()[0]
    assert 0 < users < everyone
    share = 100.0 * users / everyone
    below, at = share * 0.99, share * 1.01  # just under the tenant's share refuses; just over runs
    before = sample_data.table_fingerprints(conn)
    expected = ("consent-revocation: the run would touch %d users, %.2f%% of all %d users, more than "
                "max_users_percent %g; nothing was changed" % (users, share, everyone, below))
    options = dict(tenant=tenant, triggered_by=WHO, max_users_percent=below)

    with pytest.raises(JobInputError) as checked:
        run_job(conn, "consent-revocation", options, dry_run=True)
    with pytest.raises(JobInputError) as executed:
        run_job(conn, "consent-revocation", options, dry_run=False)
    # max_users passes here; the percentage alone refuses (both limits hold at once)
    with pytest.raises(JobInputError, match="max_users_percent"):
        run_job(conn, "consent-revocation", dict(options, max_users=users), dry_run=False)

    assert str(checked.value).startswith(expected + " (check mode predicts this refusal)")
    assert str(executed.value).startswith(expected + " (narrow the scope, or raise max_users_percent")
    assert sample_data.table_fingerprints(conn) == before and audit_rows(conn) == []
    with pytest.raises(JobInputError, match="more than max_users %d;" % (users - 1)):
        run_job(conn, "consent-revocation", dict(options, max_users_percent=at, max_users=users - 1), dry_run=False)
    summary = run_job(conn, "consent-revocation", dict(options, max_users_percent=at), dry_run=False)
    assert summary["outcome"] == "succeeded" and summary["counts"]["users"] > 0
