# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""data-retention: delete users inactive past the retention window, with everything they own.

A user is eligible when ``coalesce("lastActiveAt", "createdAt")`` is before the cutoff and
``legalHold`` is false. The cutoff is ``before`` when given, otherwise now minus
``retention_months`` (24), computed once by the database clock at the start and reported.
Either way the cutoff must be at least ``retention_floor_months`` (24) old: a cutoff more recent
than the policy's floor (a one-year typo in ``before``) is refused unless ``allow_recent_cutoff``.
Each batch deletes its users' notifications, resume ingestions, resumes, assessments,
notification preferences and profiles, then the users, in one statement and one transaction.
"""

from __future__ import annotations

from datetime import datetime

from ansible_collections.skillforge.dataops.plugins.module_utils._shared import errors
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import (
    JobDefinition,
    JobInputError,
    tenant_by_slug,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.statements import (
    JobParams,
    Scope,
    Step,
    user_column,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.timestamps import parse_utc, utc_timestamp

with declare("psycopg"):
    from psycopg import sql

JOB = "data-retention"
PARAMS = JobParams(JOB)
DEFAULT_RETENTION_MONTHS = 24
MAX_RETENTION_MONTHS = 1200
# The policy's minimum: no run purges users inactive for less, unless allow_recent_cutoff says so.
DEFAULT_RETENTION_FLOOR_MONTHS = 24

# Users per batch unless the run sets batch_size. Larger than the other jobs' 5000: the users a
# purge locks have been inactive for the whole retention window, so nobody waits on them, and a
# user's rows are spread over each table's pages (stored in insertion order), so every batch
# revisits pages earlier batches touched. At 1M users (docs/PERFORMANCE.md) 20,000 per batch took
# 0.8x the time of 5,000 per batch; each batch then commits in about 4 s.
RETENTION_BATCH_SIZE = 20000


# Same expression and predicate as the partial index "User_retention_activity_idx", so the
# keyset walk (last activity, id) reads eligible users only.
def _last_activity() -> "sql.Composable":
    return sql.SQL("COALESCE({}, {})").format(user_column("lastActiveAt"), user_column("createdAt"))


def _eligible() -> "sql.Composable":
    return sql.SQL("{} = false AND {} < {}").format(user_column("legalHold"), _last_activity(), PARAMS("cutoff"))


def parse_cutoff(value) -> datetime:
    """An ISO-8601 date or date-time as naive UTC (naive input is taken as UTC)."""
    try:
        return parse_utc(value)
    except ValueError:
        raise JobInputError("%s: before must be an ISO-8601 date or date-time such as 2024-01-31 or "
                            "2024-01-31T00:00:00Z (year 1 to 9999 in UTC), got %s"
                            % (JOB, errors.echo(str(value)))) from None


def _validate(options: dict) -> None:
    months = options.get("retention_months")
    months = DEFAULT_RETENTION_MONTHS if months is None else months
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= MAX_RETENTION_MONTHS:
        raise JobInputError("%s: retention_months must be an integer from 1 to %d" % (JOB, MAX_RETENTION_MONTHS))
    options["retention_months"] = months
    floor = options.get("retention_floor_months")
    floor = DEFAULT_RETENTION_FLOOR_MONTHS if floor is None else floor
    if isinstance(floor, bool) or not isinstance(floor, int) or not 1 <= floor <= MAX_RETENTION_MONTHS:
        raise JobInputError("%s: retention_floor_months must be an integer from 1 to %d" % (JOB, MAX_RETENTION_MONTHS))
    options["retention_floor_months"] = floor
    allow = options.get("allow_recent_cutoff")
    if allow is not None and not isinstance(allow, bool):
        raise JobInputError("%s: allow_recent_cutoff must be true or false" % JOB)
    options["allow_recent_cutoff"] = bool(allow)
    if options.get("before") not in (None, ""):
        options["before"] = parse_cutoff(options["before"])
    else:
        options["before"] = None


def _resolve_scope(conn, options: dict) -> Scope:
    now, window_cutoff, floor_cutoff = conn.execute(
        "SELECT n, n - make_interval(months => %s), n - make_interval(months => %s)"
        " FROM (SELECT date_trunc('milliseconds', now() AT TIME ZONE 'UTC') AS n) AS clock",
        (options["retention_months"], options["retention_floor_months"])).fetchone()
    report = {}
    if options["before"] is not None:
        cutoff = options["before"]
        if cutoff > now:
            raise JobInputError("%s: before %s is in the future; the cutoff must be in the past" % (JOB, utc_timestamp(cutoff)))
        report["before"] = utc_timestamp(cutoff)
    else:
        cutoff = window_cutoff
        report["retention_months"] = options["retention_months"]
    report["cutoff"] = utc_timestamp(cutoff)
    if cutoff > floor_cutoff:
        if not options["allow_recent_cutoff"]:
            given = "before" if options["before"] is not None else "retention_months %d" % options["retention_months"]
            floor = options["retention_floor_months"]
            raise JobInputError(
                "%s: cutoff %s (from %s) is more recent than the retention floor %s (retention_floor_months %d): "
                "refused, nothing was changed; check the date, or set allow_recent_cutoff to true to purge users "
                "inactive for less than %d months" % (JOB, utc_timestamp(cutoff), given, utc_timestamp(floor_cutoff), floor, floor))
        report["allow_recent_cutoff"] = True  # the audit row says the floor was overridden
    user_filter, params = _eligible(), PARAMS.values(cutoff=cutoff)
    if options["tenant"]:
        tenant_id, _partner_id = tenant_by_slug(conn, JOB, options["tenant"])
        report["tenant"] = options["tenant"]
        user_filter = sql.SQL("{} AND {} = {}").format(user_filter, user_column("tenantId"), PARAMS("tenant_id"))
        params.update(PARAMS.values(tenant_id=tenant_id))
    return Scope(report=report, user_filter=user_filter, params=params, order=(_last_activity(), user_column("id")))


def _steps() -> tuple:
    return (
        Step("users", "User", owner="self"),
        Step("notifications", "Notification"),
        Step("resumes", "Resume"),
        Step("resumeIngestions", "ResumeIngestion", owner="resume"),
        Step("assessments", "Assessment"),
        Step("notificationPreferences", "NotificationPreference"),
        Step("profiles", "Profile"),
    )


DEFINITION = JobDefinition(
    name=JOB,
    scope_options=("tenant", "before", "retention_months", "retention_floor_months", "allow_recent_cutoff"),
    validate=_validate,
    resolve_scope=_resolve_scope,
    user_lock="UPDATE",  # deletes its users; eligibility is re-checked on the locked rows
    default_batch_size=RETENTION_BATCH_SIZE,
    declare_steps=_steps,
    queue="data-retention-jobs",
    payload_scope=("tenant",),
    payload_names=(("before", "cutoff"),),
)
