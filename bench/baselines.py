# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The best hand-written SQL a DBA would run for the same effect as each job: set-based, one transaction.

Each function takes a psycopg connection (not in a transaction) and returns the rows changed per
kind, named as the collection's job summary names them, so the harness can check both did the same.
They write the same audit row the jobs write (one "ComplianceAuditLog" row), and set "updatedAt"
the way the application does. What they leave out is what makes the collection safe to run against
a live application: batches with bounded locks and commits, an advisory lock against concurrent
runs, dry-run counts, and an audit row kept exact batch by batch.
"""

from __future__ import annotations

import json
import uuid

from psycopg import sql
from psycopg.types.json import Jsonb

UTC_NOW = "(now() AT TIME ZONE 'UTC')"


def _audit(conn, job: str, scope: dict, counts: dict) -> None:
    conn.execute(
        'INSERT INTO "ComplianceAuditLog" ("id", "job", "mode", "scope", "triggeredBy", "counts", "batches",'
        ' "outcome", "startedAt", "finishedAt") VALUES (%s, %s, \'execute\', %s, \'bench-baseline\', %s, 1,'
        ' \'succeeded\', ' + UTC_NOW + ", " + UTC_NOW + ")",
        (str(uuid.uuid4()), job, Jsonb(scope), Jsonb(counts)))


def data_retention(conn, retention_months: int = 24) -> dict:
    """Delete every user inactive for ``retention_months`` and not under legal hold, with all they own."""
    with conn.transaction():
        cutoff = conn.execute("SELECT date_trunc('milliseconds', " + UTC_NOW + ") - make_interval(months => %s)",
                              (retention_months,)).fetchone()[0]
        # The users once, in a temp table the planner has statistics for (hash joins below).
        conn.execute('CREATE TEMP TABLE purged_users ON COMMIT DROP AS SELECT "id" FROM "User"'
                     ' WHERE "legalHold" = false AND COALESCE("lastActiveAt", "createdAt") < %s', (cutoff,))
        conn.execute("ANALYZE purged_users")
        counts = {}
        counts["resumeIngestions"] = conn.execute(
            'DELETE FROM "ResumeIngestion" t USING "Resume" r, purged_users p'
            ' WHERE t."resumeId" = r."id" AND r."userId" = p."id"').rowcount
        for count, table in (("notifications", "Notification"), ("resumes", "Resume"), ("assessments", "Assessment"),
                             ("notificationPreferences", "NotificationPreference"), ("profiles", "Profile")):
            counts[count] = conn.execute(sql.SQL('DELETE FROM {} t USING purged_users p WHERE t."userId" = p."id"')
                                         .format(sql.Identifier(table))).rowcount
        counts["users"] = conn.execute('DELETE FROM "User" t USING purged_users p WHERE t."id" = p."id"').rowcount
        _audit(conn, "data-retention", {"retention_months": retention_months, "cutoff": cutoff.isoformat()}, counts)
    return counts


def _tenant(conn, slug: str) -> tuple:
    return conn.execute('SELECT "id", "partnerId" FROM "Tenant" WHERE "slug" = %s', (slug,)).fetchone()


def consent_revocation(conn, tenant: str) -> dict:
    """Opt a tenant's users out of marketing, delete their notification preferences, cancel their
    pending assessments and archive their notifications."""
    with conn.transaction():
        tenant_id = _tenant(conn, tenant)[0]
        params = {"tenant": tenant_id}
        counts = {}
        counts["marketingOptOuts"] = conn.execute(
            'UPDATE "User" t SET "marketingOptIn" = false, "updatedAt" = ' + UTC_NOW +
            ' WHERE t."tenantId" = %(tenant)s AND t."marketingOptIn"', params).rowcount
        counts["notificationPreferencesDeleted"] = conn.execute(
            'DELETE FROM "NotificationPreference" t USING "User" u'
            ' WHERE t."userId" = u."id" AND u."tenantId" = %(tenant)s', params).rowcount
        counts["assessmentsCancelled"] = conn.execute(
            'UPDATE "Assessment" t SET "status" = \'cancelled\', "notificationsEnabled" = false, "updatedAt" = '
            + UTC_NOW + ' FROM "User" u WHERE t."userId" = u."id" AND u."tenantId" = %(tenant)s'
            " AND t.\"status\" IN ('scheduled', 'processing')", params).rowcount
        counts["notificationsArchived"] = conn.execute(
            'UPDATE "Notification" t SET "status" = \'archived\', "updatedAt" = ' + UTC_NOW +
            ' FROM "User" u WHERE t."userId" = u."id" AND u."tenantId" = %(tenant)s'
            " AND t.\"status\" <> 'archived'", params).rowcount
        _audit(conn, "consent-revocation", {"tenant": tenant}, counts)
    return counts


def partner_segregation(conn, tenant: str) -> dict:
    """Stamp the tenant's id and partner into its users' ingestion metadata and notification actions.

    The tenant's rows are collected first (MATERIALIZED CTEs over the tenantId index): left to
    itself the planner underestimates the JSON filter, hash-joins every ingestion in the database
    and probes "User" once per row (10x slower at 100k users)."""
    with conn.transaction():
        tenant_id, partner_id = _tenant(conn, tenant)
        params = {"tenant": tenant_id, "stamp": Jsonb({"tenantId": tenant_id, "partnerId": partner_id})}
        counts = {}
        counts["resumeUpdates"] = conn.execute(
            'WITH tenant_resumes AS MATERIALIZED (SELECT r."id" FROM "Resume" r JOIN "User" u ON u."id" = r."userId"'
            '  WHERE u."tenantId" = %(tenant)s)'
            ' UPDATE "ResumeIngestion" t SET "ingestionMetadata" = t."ingestionMetadata" || %(stamp)s,'
            ' "updatedAt" = ' + UTC_NOW + ' FROM tenant_resumes r WHERE t."resumeId" = r."id"'
            " AND jsonb_typeof(t.\"ingestionMetadata\") = 'object' AND NOT t.\"ingestionMetadata\" @> %(stamp)s",
            params).rowcount
        counts["notificationUpdates"] = conn.execute(
            'WITH tenant_notifications AS MATERIALIZED (SELECT n."id", n."actions" FROM "Notification" n'
            '  JOIN "User" u ON u."id" = n."userId" WHERE u."tenantId" = %(tenant)s)'
            ' UPDATE "Notification" t SET "actions" = (SELECT jsonb_agg(CASE WHEN jsonb_typeof(a.value) = \'object\''
            ' THEN a.value || %(stamp)s ELSE a.value END ORDER BY a.ordinality)'
            '   FROM jsonb_array_elements(c."actions") WITH ORDINALITY AS a(value, ordinality)),'
            ' "updatedAt" = ' + UTC_NOW + ' FROM tenant_notifications c WHERE t."id" = c."id"'
            " AND jsonb_typeof(c.\"actions\") = 'array' AND EXISTS (SELECT 1 FROM jsonb_array_elements(c.\"actions\")"
            " AS a(value) WHERE jsonb_typeof(a.value) = 'object' AND NOT a.value @> %(stamp)s)", params).rowcount
        _audit(conn, "partner-segregation", {"tenant": tenant}, counts)
    return counts


COMPLIANCE = {
    "data-retention": lambda conn, options: data_retention(conn),
    "consent-revocation": lambda conn, options: consent_revocation(conn, options["tenant"]),
    "partner-segregation": lambda conn, options: partner_segregation(conn, options["tenant"]),
}

# --- reference data and schema -----------------------------------------------------------------------

FIXTURE_TABLES = (("occupations.json", "onet_occupations"), ("skills.json", "onet_skills"),
                  ("occupation_skills.json", "onet_occupation_skills"), ("tasks.json", "onet_tasks"))


def copy_fixtures(conn, directory: str) -> dict:
    """First seed, by hand: read the fixture files and COPY them into the empty tables, record the
    dataset version and refresh the reporting views: one transaction, no validation, no diffing."""
    import os
    counts = {}
    with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    with conn.transaction():
        for file_name, table in FIXTURE_TABLES:
            with open(os.path.join(directory, file_name), encoding="utf-8") as handle:
                records = json.load(handle)
            if not records:
                counts[table] = 0
                continue
            columns = list(records[0])
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
            with conn.cursor().copy(statement) as copy:
                for record in records:
                    copy.write_row([record[c] for c in columns])
            counts[table] = len(records)
        for dataset in manifest["datasets"]:
            conn.execute(
                "INSERT INTO onet_dataset_versions (dataset, version, source_format, release_date, license,"
                " attribution, content_sha256) VALUES (%s, %s, 'fixtures', %s, %s, %s, %s)",
                (dataset["dataset"], dataset["version"], dataset["release_date"], dataset["license"],
                 dataset["attribution"], "0" * 64))
        conn.execute("REFRESH MATERIALIZED VIEW reporting.onet_skill_coverage")
        conn.execute("REFRESH MATERIALIZED VIEW reporting.onet_skill_category_summary")
    return counts


TEXT_FILES = {  # O*NET text file -> its staging table (every column text, as COPY reads it)
    "Occupation Data.txt": "raw_occupations", "Job Zones.txt": "raw_job_zones",
    "Content Model Reference.txt": "raw_content_model", "Skills.txt": "raw_ratings",
    "Task Statements.txt": "raw_tasks",
}
NA = "NULLIF(NULLIF(%s, 'n/a'), '')"


def typed_text_load(conn, directory: str) -> dict:
    """First seed of an O*NET text release, by hand in SQL: COPY each file's text into a staging
    table of text columns, one ``INSERT ... SELECT`` per table with the casts (``n/a`` to NULL,
    ``MM/YYYY`` to dates), the foreign keys dropped before and added after the load, the version
    recorded and the views refreshed: one transaction, no validation beyond what the casts and the
    constraints refuse, no diffing."""
    import os
    counts = {}
    with conn.transaction():
        keys = conn.execute(
            "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k"
            " JOIN pg_class c ON c.oid = k.conrelid WHERE k.contype = 'f'"
            " AND c.relname IN ('onet_occupation_skills', 'onet_tasks')").fetchall()
        for table, name, _definition in keys:
            conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name)))
        for file_name, table in TEXT_FILES.items():
            path = os.path.join(directory, file_name)
            with open(path, "rb") as handle:
                header = handle.readline().decode("utf-8-sig").rstrip("\r\n").split("\t")
                columns = sql.SQL(", ").join(sql.Identifier(name) for name in header)
                conn.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
                    sql.Identifier(table), sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(name))
                                                              for name in header)))
                with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), columns)) as copy:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        copy.write(block)
        month = "to_date(%s, 'MM/YYYY')"
        statements = {
            "onet_occupations": 'INSERT INTO onet_occupations SELECT o."O*NET-SOC Code", o."Title", o."Description",'
                                ' z."Job Zone"::smallint FROM raw_occupations o'
                                ' LEFT JOIN raw_job_zones z ON z."O*NET-SOC Code" = o."O*NET-SOC Code"',
            "onet_skills": 'INSERT INTO onet_skills SELECT e."Element ID", e."Element Name", e."Description",'
                           " CASE WHEN p.\"Element Name\" LIKE '%%Skills' THEN p.\"Element Name\""
                           " ELSE g.\"Element Name\" || ': ' || p.\"Element Name\" END"
                           ' FROM (SELECT DISTINCT "Element ID" FROM raw_ratings) r'
                           ' JOIN raw_content_model e ON e."Element ID" = r."Element ID"'
                           " JOIN raw_content_model p ON p.\"Element ID\" = regexp_replace(e.\"Element ID\", '\\.[^.]*$', '')"
                           " LEFT JOIN raw_content_model g ON g.\"Element ID\" = regexp_replace(p.\"Element ID\", '\\.[^.]*$', '')",
            "onet_occupation_skills": 'INSERT INTO onet_occupation_skills SELECT "O*NET-SOC Code", "Element ID",'
                                      ' "Scale ID", "Data Value"::numeric, %s::integer, %s::numeric, %s::numeric,'
                                      ' %s::numeric, %s, %s, %s, "Domain Source" FROM raw_ratings' % (
                                          NA % '"N"', NA % '"Standard Error"', NA % '"Lower CI Bound"',
                                          NA % '"Upper CI Bound"', NA % '"Recommend Suppress"',
                                          NA % '"Not Relevant"', month % '"Date"'),
            "onet_tasks": 'INSERT INTO onet_tasks SELECT "Task ID"::integer, "O*NET-SOC Code", "Task", %s,'
                          ' %s::integer, %s, "Domain Source", \'onet\' FROM raw_tasks' % (
                              NA % '"Task Type"', NA % '"Incumbents Responding"', month % '"Date"'),
        }
        for table, statement in statements.items():
            counts[table] = conn.execute(statement.replace("%%", "%")).rowcount
        for table, name, definition in keys:
            conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
                         + sql.SQL(definition))
        conn.execute(
            "INSERT INTO onet_dataset_versions (dataset, version, source_format, release_date, license,"
            " attribution, content_sha256) VALUES ('onet', '29.0', 'onet_text', NULL, 'CC BY 4.0', 'O*NET', %s)",
            ("0" * 64,))
        conn.execute("REFRESH MATERIALIZED VIEW reporting.onet_skill_coverage")
        conn.execute("REFRESH MATERIALIZED VIEW reporting.onet_skill_category_summary")
    return counts


def apply_migration_files(conn, directory: str) -> int:
    """Migrate an empty database by hand: every SQL file in order, one transaction (``psql -1 -f``)."""
    from pathlib import Path
    files = sorted(Path(directory).glob("V*.sql"), key=_version_key) + sorted(Path(directory).glob("R__*.sql"))
    with conn.transaction():
        for path in files:
            conn.execute(path.read_text(encoding="utf-8"))
    return len(files)


def _version_key(path) -> tuple:
    version = path.name[1:].split("__", 1)[0]
    return tuple(int(part) for part in version.replace("_", ".").split("."))
