"""The queue contract without Redis: payload, job ids, job options, Redis URL resolution."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils import job_queue
from ansible_collections.skillforge.dataops.plugins.module_utils.redis_connection import (
    QueueConfigError,
    QueueConnectionError,
    describe_redis_error,
    resolve_redis,
)

RETENTION = {"tenant": "globex", "before": "2024-01-01", "retention_months": None, "triggered_by": "dpo@example.invalid",
             "reason": "quarterly run", "note": None, "batch_size": 500, "lock_timeout": 0}


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
    options, dry_run = job_queue.parse_payload(job_queue.build_payload(RETENTION, dry_run=True))
    assert dry_run is True
    assert options == {key: value for key, value in RETENTION.items() if value is not None}


def test_payload_from_another_producer_is_read_in_collection_terms():
    options, dry_run = job_queue.parse_payload(
        {"scope": {"tenant": "acme"}, "cutoff": "2024-01-01T00:00:00Z", "retentionMonths": 12, "triggeredBy": "api"})
    assert (options, dry_run) == ({"tenant": "acme", "before": "2024-01-01T00:00:00Z", "retention_months": 12,
                                   "triggered_by": "api"}, False)


@pytest.mark.parametrize("data", [[1, 2], "x", {"dryRun": "yes"}, {"scope": ["acme"]}])
def test_malformed_payload_is_bad_input(data):
    with pytest.raises(job_queue.JobInputError):
        job_queue.parse_payload(data)


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
