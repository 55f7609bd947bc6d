"""Input a compliance job refuses before it uses its connection: no database (the connection is
None, so nothing can be read or changed). Input only the database can refuse (an unknown tenant,
a date in the future by the database clock) is tested in tests/database/test_compliance_jobs.py."""

from __future__ import annotations

import math

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import JobInputError
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job

WHO = "privacy@skillforge.com"

BAD_INPUT = [
    ("consent-revocation", {"tenant": "acme-partners", "user": ["usr-1-0000001"]},
     "set exactly one of tenant or user (got tenant and user)"),
    ("consent-revocation", {}, "set exactly one of tenant or user (got none)"),
    ("consent-revocation", {"tenant": "globex", "triggered_by": " "}, "triggered_by is required"),
    ("consent-revocation", {"tenant": "globex", "batch_size": 0}, "batch_size must be an integer"),
    ("consent-revocation", {"tenant": "globex", "before": "2024-01-01"}, "unknown option(s): before"),
    ("data-retention", {"before": "31/01/2024"}, "before must be an ISO-8601 date"),
    ("data-retention", {"retention_months": 0}, "retention_months must be an integer"),
    ("consent-revocation", {"tenant": "globex", "triggered_by_source": "awx", "triggered_by": None},
     "triggered_by_source awx needs triggered_by"),
    ("consent-revocation", {"tenant": "globex", "triggered_by_source": "someone"}, "triggered_by_source must be one of"),
    ("no-such-job", {}, "unknown compliance job"),
]


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "execute"])
@pytest.mark.parametrize("job, options, message", BAD_INPUT)
def test_bad_input_fails_clearly_and_changes_nothing(job, options, message, dry_run):
    with pytest.raises(JobInputError) as raised:
        run_job(None, job, dict({"triggered_by": WHO}, **options), dry_run=dry_run)
    assert message in str(raised.value)
    assert "@" not in str(raised.value)


# Careless input: each fails with one short line naming the option.
CARELESS_INPUT = [
    ("consent-revocation", {"tenant": "glo\x00bex"}, "tenant must not contain a NUL character"),
    ("consent-revocation", {"user": ["usr-1", "usr\x00-2"]}, "user must not contain a NUL character"),
    ("consent-revocation", {"tenant": "globex", "note": "drill\x00"}, "note must not contain a NUL character"),
    ("consent-revocation", {"tenant": "globex", "triggered_by": "ops\x00"}, "triggered_by must not contain a NUL"),
    ("consent-revocation", {"tenant": "globex", "lock_timeout": math.nan}, "lock_timeout must be a number"),
    ("consent-revocation", {"tenant": "globex", "lock_timeout": math.inf}, "lock_timeout must be a number"),
    ("consent-revocation", {"tenant": "globex", "lock_timeout": -1}, "lock_timeout must be a number"),
    ("data-retention", {"before": "0001-01-01T00:00:00+01:00"}, "before must be an ISO-8601 date"),
    ("data-retention", {"before": "9999-12-31T23:59:59-01:00"}, "before must be an ISO-8601 date"),
    ("data-retention", {"before": "x" * 100000}, "(100000 characters)"),
    # Production safety (issue 15): each option named, with its range.
    ("consent-revocation", {"tenant": "globex", "db_lock_timeout": -1},
     "db_lock_timeout must be from 0 (no limit) to 86400 seconds, got -1"),
    ("consent-revocation", {"tenant": "globex", "db_lock_timeout": math.nan}, "db_lock_timeout must be from 0"),
    ("data-retention", {"db_statement_timeout": 86401}, "db_statement_timeout must be from 0 (no limit) to 86400"),
    ("data-retention", {"db_statement_timeout": "5m"}, "db_statement_timeout must be from 0"),
    ("partner-segregation", {"tenant": "globex", "max_users": -1}, "max_users must be a whole number of users"),
    ("partner-segregation", {"tenant": "globex", "max_users": True}, "max_users must be a whole number of users"),
    ("data-retention", {"max_users": 2 ** 40}, "max_users must be a whole number of users"),
    ("data-retention", {"retention_floor_months": 0}, "retention_floor_months must be an integer from 1 to 1200"),
    ("data-retention", {"retention_floor_months": "24"}, "retention_floor_months must be an integer"),
    ("data-retention", {"allow_recent_cutoff": "yes"}, "allow_recent_cutoff must be true or false"),
    ("consent-revocation", {"tenant": "globex", "allow_recent_cutoff": True}, "unknown option(s): allow_recent_cutoff"),
]


@pytest.mark.parametrize("job, options, message", CARELESS_INPUT)
def test_careless_input_fails_in_one_short_line(job, options, message):
    with pytest.raises(JobInputError) as raised:
        run_job(None, job, dict({"triggered_by": WHO}, **options), dry_run=False)
    text = str(raised.value)
    assert message in text and len(text) < 300 and "\n" not in text
