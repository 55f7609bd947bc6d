"""The queue contract without Redis: payload and its JSON Schema, job ids, job options, Redis URL resolution."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ansible_collections.skillforge.dataops.plugins.module_utils._queue import jobs as job_queue
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import dependencies
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import COMMON_OPTIONS
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import job_definition
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.payload_schema import SCHEMA, SHOWN_CHARS, violation
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import (
    QueueConfigError,
    QueueConnectionError,
    describe_redis_error,
    resolve_redis,
)

RETENTION = {"tenant": "globex", "before": "2024-01-01", "retention_months": None, "triggered_by": "dpo@example.invalid",
             "reason": "quarterly run", "note": None, "batch_size": 500, "lock_timeout": 0}
RETENTION_JOB = job_queue.queued_job("data-retention")
REPO_ROOT = Path(__file__).resolve().parents[5]


def test_payload_is_camel_case_with_scope_cutoff_and_dry_run():
    assert job_queue.build_payload(RETENTION, dry_run=True) == {
        "scope": {"tenant": "globex"},
        "cutoff": "2024-01-01",
        "triggeredBy": "dpo@example.invalid",
        "reason": "quarterly run",
        "batchSize": 500,
        "lockTimeout": 0,
        "dryRun": True,
    }


def test_payload_of_user_scope_and_dates():
    payload = job_queue.build_payload(
        {"user": ["u2", "u1"], "before": datetime.date(2024, 1, 31), "triggered_by": "x"}, dry_run=False)
    assert payload == {"scope": {"user": ["u2", "u1"]}, "cutoff": "2024-01-31", "triggeredBy": "x", "dryRun": False}


def test_payload_round_trips_to_the_job_options():
    options, dry_run = job_queue.parse_payload(RETENTION_JOB, job_queue.build_payload(RETENTION, dry_run=True), "7")
    assert dry_run is True
    assert options == dict({key: value for key, value in RETENTION.items() if value is not None},
                           triggered_by_source="producer")


def test_stated_source_of_triggered_by_round_trips():
    payload = job_queue.build_payload(dict(RETENTION, triggered_by_source="awx"), dry_run=False)
    assert payload["triggeredBySource"] == "awx"
    options, _dry_run = job_queue.parse_payload(RETENTION_JOB, payload, "7")
    assert (options["triggered_by"], options["triggered_by_source"]) == ("dpo@example.invalid", "awx")


def test_without_triggered_by_the_queue_and_job_id_asked():
    options, dry_run = job_queue.parse_payload(RETENTION_JOB, {"scope": {"tenant": "acme"}}, "42")
    assert (options, dry_run) == ({"tenant": "acme", "triggered_by": "queue:data-retention-jobs/42",
                                   "triggered_by_source": "queue"}, False)


def test_payload_from_another_producer_is_read_in_collection_terms():
    options, dry_run = job_queue.parse_payload(RETENTION_JOB, {
        "scope": {"tenant": "acme"}, "cutoff": "2024-01-01T00:00:00Z", "retentionMonths": 12, "triggeredBy": "api"}, "7")
    assert (options, dry_run) == ({"tenant": "acme", "before": "2024-01-01T00:00:00Z", "retention_months": 12,
                                   "triggered_by": "api", "triggered_by_source": "producer"}, False)


@pytest.mark.parametrize("data", [[1, 2], "x", {"dryRun": "yes"}, {"scope": ["acme"]}, {"tenant": "acme"}])
def test_malformed_payload_is_bad_input(data):
    with pytest.raises(job_queue.PayloadError, match="^data-retention: job data"):
        job_queue.parse_payload(RETENTION_JOB, data, "7")


def test_a_payload_failing_the_schema_is_refused_before_it_is_queued():
    with pytest.raises(job_queue.PayloadError) as refused:
        job_queue.enqueue_request("consent-revocation", {"tenant": "acme", "user": ["u1"]}, dry_run=False)
    assert str(refused.value).startswith("consent-revocation: job data field scope: ")
    assert str(refused.value).endswith("has too many properties; expected an object with exactly one of tenant or user")


# --- the JSON Schema -----------------------------------------------------------------------------

def test_schema_is_valid_draft_2020_12_with_one_definition_per_job():
    Draft202012Validator.check_schema(SCHEMA)
    assert [ref["$ref"] for ref in SCHEMA["anyOf"]] == ["#/$defs/%s" % entry.name for entry in job_queue.QUEUED_JOBS]


@pytest.mark.parametrize("entry", job_queue.QUEUED_JOBS, ids=lambda entry: entry.job)
def test_schema_fields_are_the_payload_names_of_the_job_options(entry):
    """Every option a job takes has its field in the job's schema, and no other field is there."""
    options = COMMON_OPTIONS + job_definition(entry.job).scope_options
    fields = SCHEMA["$defs"][entry.name]["properties"]
    scope = SCHEMA["$defs"][fields["scope"]["$ref"].rsplit("/", 1)[1]]["properties"]
    payload = job_queue.build_payload(dict.fromkeys(options, "x"), dry_run=False)
    # and the signature a signing producer adds (signing.SIGNATURE_FIELD)
    assert set(fields) == set(payload) | {"signature"} and set(scope) == set(payload["scope"])


def test_docs_show_the_schema_verbatim():
    """docs/QUEUE.md's JSON Schema block is the code's schema (regenerate the block with
    ``json.dumps(SCHEMA, indent=2)`` when the schema changes)."""
    docs = (REPO_ROOT / "docs" / "QUEUE.md").read_text(encoding="utf-8")
    blocks = [block.split("\n```", 1)[0] for block in docs.split("```json\n")[1:]]
    schema_blocks = [block for block in blocks if '"$schema"' in block]
    assert schema_blocks == [json.dumps(SCHEMA, indent=2)]


FULL_OPTIONS = {"triggeredBy": "dpo@example.invalid", "triggeredBySource": "awx", "reason": "r", "note": "n",
                "batchSize": 100000, "lockTimeout": 2.5, "dbLockTimeout": 0.5, "dbStatementTimeout": 120,
                "maxUsers": 50000, "dryRun": True}


@pytest.mark.parametrize("job, data", [
    ("consent-revocation", {"scope": {"tenant": "acme"}}),
    ("consent-revocation", {"scope": {"user": ["u1", "u2"]}, **FULL_OPTIONS}),
    ("consent-revocation", {"scope": {"user": "u1"}}),
    ("data-retention", {}),
    ("data-retention", {"scope": {}, "retentionMonths": 1200}),
    ("data-retention", {"cutoff": "2026-01-01", "retentionFloorMonths": 6, "allowRecentCutoff": True}),
    ("data-retention", {"scope": {"tenant": "acme"}, "cutoff": "2024-06-01", **FULL_OPTIONS}),
    ("data-retention", {"cutoff": "2024-06-01T00:00:00.123+02:00"}),
    ("data-retention", {"cutoff": "2024-06-01T00:00:00Z", "retentionMonths": 12}),  # the cutoff wins
    ("partner-segregation", {"scope": {}, "triggeredBy": "ops"}),  # a warning, not an error
    ("partner-segregation", {"dryRun": False}),
    ("partner-segregation", {"scope": {"tenant": "acme"}, **FULL_OPTIONS}),
])
def test_valid_payloads(job, data):
    assert violation(job, data) is None


@pytest.mark.parametrize("job, data, problem", [
    ("data-retention", {"tenant": "acme"},
     "job data: unknown field 'tenant'; expected only scope, cutoff, retentionMonths, retentionFloorMonths, "
     "allowRecentCutoff, triggeredBy, triggeredBySource, reason, note, batchSize, lockTimeout, parallel, batchPause, maxRuntime, "
     "maxReplicaLag, maxLagPause, dbLockTimeout, dbStatementTimeout, maxUsers, maxUsersPercent, dryRun, signature"),
    ("partner-segregation", {"cutoff": "2024-06-01"}, "job data: unknown field 'cutoff'; expected only scope, "
     "triggeredBy, triggeredBySource, reason, note, batchSize, lockTimeout, parallel, batchPause, maxRuntime, maxReplicaLag, "
     "maxLagPause, dbLockTimeout, dbStatementTimeout, maxUsers, maxUsersPercent, dryRun, signature"),
    ("data-retention", {"dbLockTimeout": -1}, "job data field dbLockTimeout: -1 is less than the minimum of 0; "
     "expected seconds a batch waits for a lock, from 0 (no limit) to 86400 (absent: 5)"),
    ("consent-revocation", {"scope": {"tenant": "a"}, "maxUsers": 1.5}, "job data field maxUsers: 1.5 is not of "
     "type 'integer'; expected the most users a run may touch, from 0 (no limit) to 2147483647 (absent: 0)"),
    ("data-retention", {"allowRecentCutoff": "yes"}, "job data field allowRecentCutoff: 'yes' is not of type "
     "'boolean'; expected true to allow a cutoff more recent than the retention floor"),
    ("data-retention", {"scope": {"user": ["u1"]}}, "job data field scope: unknown field 'user'; expected only tenant"),
    ("consent-revocation", {}, "job data: 'scope' is a required property"),
    ("consent-revocation", {"scope": {}},
     "job data field scope: {} should be non-empty; expected an object with exactly one of tenant or user"),
    ("consent-revocation", {"scope": {"user": []}},
     "job data field scope.user: [] should be non-empty; expected a user id or a non-empty list of user ids, none blank"),
    ("consent-revocation", {"scope": {"user": ["u1", " "]}},
     "job data field scope.user[1]: ' ' is not valid; expected a user id or a non-empty list of user ids, none blank"),
    ("consent-revocation", {"scope": {"tenant": 7}}, "job data field scope.tenant: 7 is not of type 'string'; "
     "expected a tenant slug, not blank"),
    ("data-retention", {"cutoff": "2024-13"}, "job data field cutoff: '2024-13' is not valid; expected an ISO 8601 "
     "date or date-time such as 2024-06-01 or 2024-06-01T00:00:00Z (UTC without a zone; wins over retentionMonths)"),
    ("data-retention", {"retentionMonths": "24"}, "job data field retentionMonths: '24' is not of type 'integer'; "
     "expected a whole number of months from 1 to 1200 (absent: 24)"),
    ("data-retention", {"retentionMonths": 0}, "job data field retentionMonths: 0 is less than the minimum of 1; "
     "expected a whole number of months from 1 to 1200 (absent: 24)"),
    ("partner-segregation", {"triggeredBy": ""}, "job data field triggeredBy: '' is not valid; expected who asked "
     "for the run, not blank (absent: the queue and job id are recorded)"),
    ("partner-segregation", {"triggeredBySource": "awx"}, "job data: 'triggeredBy' is a dependency of 'triggeredBySource'"),
    ("partner-segregation", {"triggeredBy": "ops", "triggeredBySource": "queue"},
     "job data field triggeredBySource: 'queue' is not one of ['option', 'awx']; expected the source of triggeredBy, "
     "option or awx (absent: producer)"),
    ("partner-segregation", {"batchSize": True}, "job data field batchSize: True is not of type 'integer'; expected a "
     "number of users per committed batch from 1 to 100000 (absent: the job's default)"),
    ("partner-segregation", {"lockTimeout": -1}, "job data field lockTimeout: -1 is less than the minimum of 0; "
     "expected a number of seconds (0 or more) to wait for another run of the same job"),
    ("partner-segregation", {"dryRun": "yes"},
     "job data field dryRun: 'yes' is not of type 'boolean'; expected true (count only, change nothing) or false"),
    ("partner-segregation", ["acme"], "job data: ['acme'] is not of type 'object'"),
])
def test_invalid_payloads_name_the_field_and_what_is_expected(job, data, problem):
    assert violation(job, data) == problem


def test_long_values_are_cut_in_messages():
    secret = "jane.doe@example.invalid " * 20
    for job, data in (("data-retention", {"cutoff": secret}), ("data-retention", {secret: 1}),
                      ("consent-revocation", {"scope": {"tenant": "acme", "user": [secret]}})):
        problem = violation(job, data)
        assert secret[:SHOWN_CHARS] not in problem  # at most SHOWN_CHARS characters of the repr, quote included
        # The value is cut; the rest is the list of fields data-retention takes (19 of them).
        assert "..." in problem and len(problem) < 400


def test_a_missing_package_is_recorded_and_reported_with_the_others(monkeypatch):
    monkeypatch.setattr(dependencies, "_FAILED", {})
    assert dependencies.missing("redis", "bullmq", "jsonschema") == []
    with dependencies.declare("jsonschema"):
        import skillforge_no_such_package  # noqa: F401  pylint: disable=import-error,unused-import
    with dependencies.declare("bullmq"):
        pass
    assert dependencies.missing("redis", "bullmq", "jsonschema") == ["jsonschema"]
    assert dependencies.describe(dependencies.missing()) == "jsonschema"
    assert "skillforge_no_such_package" in str(dependencies.import_error("jsonschema"))
    with pytest.raises(KeyError, match="undeclared"):
        with dependencies.declare("numpy"):
            pass


def test_job_id_is_deterministic_and_depends_on_every_field():
    entry = job_queue.queued_job("data-retention")
    first = job_queue.job_id_for(entry, job_queue.build_payload(RETENTION, False))
    assert first == job_queue.job_id_for(entry, job_queue.build_payload(dict(reversed(list(RETENTION.items()))), False))
    assert first.startswith("data-retention-") and len(first) == len("data-retention-") + 32
    others = {
        job_queue.job_id_for(entry, job_queue.build_payload(RETENTION, True)),
        job_queue.job_id_for(entry, job_queue.build_payload(dict(RETENTION, tenant="acme"), False)),
        job_queue.job_id_for(entry, job_queue.build_payload(dict(RETENTION, note="n"), False)),
        job_queue.job_id_for(job_queue.queued_job("consent-revocation"), job_queue.build_payload(RETENTION, False)),
    }
    assert first not in others and len(others) == 4


@pytest.mark.parametrize("job_id", ["12345", "-7", "a:b", "a:b:c", "", "x" * 129, "-leading-dash", "sp ace"])
def test_invalid_custom_ids_are_refused(job_id):
    with pytest.raises(QueueConfigError):
        job_queue.validate_job_id(job_id)


@pytest.mark.parametrize("job_id", ["0123", "data-retention-abc", "A.b_c-1"])
def test_valid_custom_ids(job_id):
    assert job_queue.validate_job_id(job_id) == job_id


def test_job_options_retry_with_exponential_backoff_and_keep_failures():
    opts = job_queue.job_options("data-retention-x", attempts=5, backoff_seconds=1.5)
    assert opts == {"jobId": "data-retention-x", "attempts": 5, "backoff": {"type": "exponential", "delay": 1500},
                    "removeOnComplete": {"count": 1000, "age": 604800}, "removeOnFail": False}
    with pytest.raises(QueueConfigError):
        job_queue.job_options("x-1", attempts=0)


def test_unknown_job_and_prefix_are_refused():
    with pytest.raises(QueueConfigError, match="unknown compliance job"):
        job_queue.queued_job("data_retention")
    for prefix in ("bull:x", "", "a b"):
        with pytest.raises(QueueConfigError):
            job_queue.validate_prefix(prefix)


def test_redis_url_resolution_order():
    environ = {"SKILLFORGE_STAGING_REDIS_URL": "redis://staging:6379/1", "REDIS_URL": "redis://generic:6379/0"}
    assert resolve_redis("redis://opt:6379/2", "staging", environ).source == "option"
    resolved = resolve_redis(None, "staging", environ)
    assert (resolved.source, resolved.host, resolved.db) == ("SKILLFORGE_STAGING_REDIS_URL", "staging", 1)
    assert resolve_redis(None, "production", environ).source == "REDIS_URL"
    assert resolve_redis(None, "local", {}).url == "redis://localhost:6379/0"
    with pytest.raises(QueueConfigError, match="SKILLFORGE_PRODUCTION_REDIS_URL"):
        resolve_redis(None, "production", {})


def test_redis_password_is_never_shown():
    resolved = resolve_redis("redis://worker:s3cr3t-pw@cache.internal:6380/3", None, {})
    assert "s3cr3t-pw" not in str(resolved.describe())
    assert resolved.describe()["url"] == "redis://worker:********@cache.internal:6380/3"
    error = describe_redis_error(ConnectionError("AUTH s3cr3t-pw failed for redis://worker:s3cr3t-pw@cache.internal"),
                                 resolved)
    assert isinstance(error, QueueConnectionError) and "s3cr3t-pw" not in str(error)


@pytest.mark.parametrize("url", ["http://x", "postgresql://x/y", "redis://host:port/0", "redis://h/notadb"])
def test_bad_redis_urls_are_refused(url):
    with pytest.raises(QueueConfigError):
        resolve_redis(url, None, {})
