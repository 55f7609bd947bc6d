# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance jobs by name, and the one entry point that runs any of them.

``run_job(conn, "data-retention", {"before": "2024-01-01", "triggered_by": "..."}, dry_run=True)``
takes plain JSON-able options, so the same call serves a module and a queue worker.
"""

from __future__ import annotations

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import audit
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import consent_revocation
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import data_retention
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import partner_segregation
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import (
    JobError,
    JobInputError,
    JobSkipped,
    lock_keys,
    normalize_options,
    run_definition,
    safe_error,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

with declare("psycopg"):
    import psycopg

JOBS = {definition.name: definition for definition in (
    consent_revocation.DEFINITION, data_retention.DEFINITION, partner_segregation.DEFINITION)}


def job_definition(job_name: str):
    if job_name not in JOBS:
        raise JobInputError("unknown compliance job %r (expected one of %s)" % (job_name, ", ".join(sorted(JOBS))))
    return JOBS[job_name]


def check_request(conn, job_name: str, options: dict) -> None:
    """Refuse, before a job is queued, what an inline run would refuse: the options always and,
    given a connection, the scope too (an unknown tenant or user, a cutoff in the future). Reads
    only; raises ``JobInputError``."""
    definition = job_definition(job_name)
    try:
        options = normalize_options(definition, options)
    except JobSkipped:
        return  # e.g. partner segregation without a tenant: the worker completes it with its warning
    if conn is not None:
        try:
            definition.resolve_scope(conn, options)
        except psycopg.Error as error:
            raise JobError("%s: cannot check the request against the database: %s" % (job_name, safe_error(error))) from None
        finally:
            conn.rollback()


def run_job_with_sample(conn, job_name: str, options: dict, dry_run: bool, log=None, sample_size: int = 0,
                        should_stop=None, progress=None):
    """``JobOutcome(summary, sample)``: the sample (diff mode) holds before/after values and is
    never logged or audited. ``should_stop`` and ``progress``: see ``job.run_definition``."""
    return run_definition(conn, job_definition(job_name), options, dry_run, log=log, sample_size=sample_size,
                          should_stop=should_stop, progress=progress)


def run_job(conn, job_name: str, options: dict, dry_run: bool, log=None, progress=None) -> dict:
    """Run one compliance job and return its summary (see ``audit.build_summary``); ``progress``
    takes each batch's progress record (None: logged through ``log``)."""
    return run_job_with_sample(conn, job_name, options, dry_run, log=log, progress=progress).summary


def audit_history(conn, **filters) -> dict:
    """``{"runs": [...], "running_jobs": [...]}``: the audit trail's executed runs matching the
    filters of ``audit.read_runs``, newest first, each with its ``state``. Reads only."""
    if filters.get("job") is not None:
        job_definition(filters["job"])
    try:
        return audit.read_runs(conn, {name: lock_keys(name) for name in JOBS}, **filters)
    except ValueError as error:
        raise JobInputError("audit: %s" % error) from None
    except psycopg.Error as error:  # e.g. no "ComplianceAuditLog" table: the schema is not migrated
        raise JobError("audit: cannot read the audit trail: %s" % safe_error(error)) from None
