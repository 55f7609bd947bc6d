"""The compliance jobs' definitions without a database: default batch sizes, the diff of a change, and
the queue each job declares."""

from __future__ import annotations

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import (
    JobDefinition,
    changed_parts,
    normalize_options,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import JOBS
from ansible_collections.skillforge.dataops.plugins.module_utils._queue import jobs as job_queue

WHO = "privacy@skillforge.com"

SCOPES = {"consent-revocation": {"tenant": "acme"}, "data-retention": {}, "partner-segregation": {"tenant": "acme"}}


@pytest.mark.parametrize("job, batch_size", [("consent-revocation", 5000), ("data-retention", 20000),
                                             ("partner-segregation", 5000)])
def test_each_job_has_its_default_batch_size_and_an_explicit_one_wins(job, batch_size):
    options = dict(SCOPES[job], triggered_by=WHO)
    assert normalize_options(JOBS[job], options)["batch_size"] == batch_size
    assert normalize_options(JOBS[job], dict(options, batch_size=None))["batch_size"] == batch_size
    assert normalize_options(JOBS[job], dict(options, batch_size=7))["batch_size"] == 7


def test_diff_shows_only_what_the_job_changes():
    before = {"email": "someone@example.com", "tenantId": "t-other", "source": "upload"}
    after = {"email": "someone@example.com", "tenantId": "t-own", "partnerId": None, "source": "upload"}
    assert changed_parts(before, after) == ({"tenantId": "t-other"}, {"tenantId": "t-own", "partnerId": None})
    actions = [{"type": "open", "url": "/private", "tenantId": "t-other"}, "dismiss", {"type": "snooze"}]
    stamped = [dict(actions[0], tenantId="t-own", partnerId=None), "dismiss",
               dict(actions[2], tenantId="t-own", partnerId=None)]
    assert changed_parts(actions, stamped) == (
        {"[0]": {"tenantId": "t-other"}, "[2]": {}},
        {"[0]": {"tenantId": "t-own", "partnerId": None}, "[2]": {"tenantId": "t-own", "partnerId": None}})


def test_the_queued_jobs_are_the_registry_s():
    assert [(entry.job, entry.queue, entry.name) for entry in job_queue.QUEUED_JOBS] == [
        (name, definition.queue, name) for name, definition in JOBS.items()]
    assert job_queue.BY_QUEUE["data-retention-jobs"].job == "data-retention"


def test_a_payload_mapping_names_only_options_the_job_takes():
    with pytest.raises(ValueError, match="some-job: the payload mapping names options the job does not take: before"):
        JobDefinition(name="some-job", scope_options=("tenant",), validate=None, resolve_scope=None,
                      declare_steps=tuple, queue="some-job-jobs", payload_names=(("before", "cutoff"),))
