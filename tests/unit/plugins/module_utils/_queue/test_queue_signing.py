"""Signed job data without Redis: the canonical form, the HMAC, keys and where they come from, and the
worker refusing an unsigned or badly signed job before it reads the data or opens the database."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._queue import jobs as job_queue
from ansible_collections.skillforge.dataops.plugins.module_utils._queue import signing
from ansible_collections.skillforge.dataops.plugins.module_utils._queue import worker as queue_worker
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.payload_schema import violation
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.connection import resolve_database

REPO_ROOT = Path(__file__).resolve().parents[5]
KEY = "k" * 32
OLD_KEY = "0123456789abcdef0123456789abcdef"
ENTRY = job_queue.queued_job("data-retention")
DATA = {"scope": {"tenant": "globex"}, "cutoff": "2024-06-01", "triggeredBy": "dpo@example.invalid", "dryRun": False}
# The docs' test vector (docs/QUEUE.md, Signed jobs), also what tests/node/signing.js computes.
VECTOR_DATA = {"scope": {}, "dryRun": True}
VECTOR_SIGNATURE = "sha256=bc284feb3b22cebe3a4c2277206cf903c92b2945ab253a98eb72ba9680bd9cfc"


@pytest.mark.parametrize("value, canonical", [
    ({"b": 1, "a": [True, False, None]}, '{"a":[true,false,null],"b":1}'),
    ({"nested": {"z": "", "y": {}}}, '{"nested":{"y":{},"z":""}}'),
    ("é ☃ \u2028", '"é ☃ \u2028"'),  # not escaped, as JSON.stringify
    ('"\\\n\r\t\b\f\x01\x1f\x7f', '"\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\x7f"'),
    ([1, 1.0, 2.5, -0.0, 0.1, 100.0, 1e-7, 1.5e-10, 0.000001, 1e21, 1e20, 123456789012345680000.0, -3.25e-8],
     "[1,1,2.5,0,0.1,100,1e-7,1.5e-10,0.000001,1e+21,100000000000000000000,123456789012345680000,-3.25e-8]"),
    ({"\ue000": 1, "z\U0001F600": 2}, '{"z\U0001F600":2,"\ue000":1}'),  # UTF-16 code unit order
])
def test_canonical_json_is_what_javascript_writes(value, canonical):
    assert signing.canonical_json(value) == canonical


def test_canonical_json_of_plain_ascii_data_is_sorted_compact_json():
    assert signing.canonical_json(DATA) == json.dumps(DATA, sort_keys=True, separators=(",", ":"))


@pytest.mark.parametrize("value", [math.nan, math.inf, 2 ** 53 + 1, "\ud800", {1: "x"}, {"a": object()}, b"bytes"])
def test_values_javascript_cannot_carry_are_not_signed(value):
    with pytest.raises(signing.SignatureError):
        signing.signature(KEY, ENTRY.queue, ENTRY.name, {"note": value})


def test_the_documented_test_vector():
    assert signing.sign((KEY,), "data-retention-jobs", "data-retention", VECTOR_DATA) == dict(
        VECTOR_DATA, signature=VECTOR_SIGNATURE)
    docs = (REPO_ROOT / "docs" / "QUEUE.md").read_text(encoding="utf-8")
    assert VECTOR_SIGNATURE in docs and KEY in docs


def test_docs_show_the_node_signing_code_verbatim():
    """docs/QUEUE.md's JavaScript block is tests/node/signing.js, which the interop tests run."""
    docs = (REPO_ROOT / "docs" / "QUEUE.md").read_text(encoding="utf-8")
    blocks = [block.split("\n```", 1)[0] + "\n" for block in docs.split("```js\n")[1:]]
    assert (REPO_ROOT / "tests" / "node" / "signing.js").read_text(encoding="utf-8") in blocks


def test_signed_data_verifies_and_matches_the_schema():
    signed = signing.sign((KEY,), ENTRY.queue, ENTRY.name, DATA)
    assert set(signed) == set(DATA) | {"signature"}
    assert violation(ENTRY.name, signed) is None
    assert signing.verify((KEY,), ENTRY.queue, ENTRY.name, signed) == "verified"
    assert signing.sign((), ENTRY.queue, ENTRY.name, DATA) is DATA  # no key: unchanged


def test_key_order_and_re_signing_do_not_matter():
    signed = signing.sign((KEY,), ENTRY.queue, ENTRY.name, DATA)
    reordered = dict(reversed(list(signed.items())))
    assert signing.verify((KEY,), ENTRY.queue, ENTRY.name, reordered) == "verified"
    assert signing.sign((KEY,), ENTRY.queue, ENTRY.name, signed) == signed


def rejected(keys, data, queue=ENTRY.queue, name=ENTRY.name) -> str:
    with pytest.raises(signing.SignatureError) as raised:
        signing.verify(keys, queue, name, data)
    message = str(raised.value)
    for secret in (KEY, OLD_KEY):
        assert secret not in message
    if isinstance(data, dict) and isinstance(data.get("signature"), str):
        assert data["signature"][7:] not in message
    return message


def test_unsigned_malformed_and_tampered_jobs_are_rejected():
    signed = signing.sign((KEY,), ENTRY.queue, ENTRY.name, DATA)
    assert "not signed" in rejected((KEY,), DATA)
    assert "not signed" in rejected((KEY,), ["not", "an", "object"])
    assert "malformed" in rejected((KEY,), dict(signed, signature=signed["signature"].upper()))
    assert "malformed" in rejected((KEY,), dict(signed, signature=7))
    assert "malformed" in rejected((KEY,), dict(signed, signature="sha1=" + "0" * 40))
    assert "does not match" in rejected((KEY,), dict(signed, cutoff="2025-06-01"))          # a later cutoff
    assert "does not match" in rejected((KEY,), dict(signed, dryRun=True))
    assert "does not match" in rejected((KEY,), {k: v for k, v in signed.items() if k != "triggeredBy"})
    assert "does not match" in rejected((KEY,), dict(signed, scope={"tenant": "initech"}))
    assert "does not match" in rejected((OLD_KEY,), signed)                                    # another key
    # Replayed on another queue or under another job name: the signature covers both.
    assert "does not match" in rejected((KEY,), signed, queue="partner-segregation-jobs")
    assert "does not match" in rejected((KEY,), signed, name="partner-segregation")
    assert "cannot be verified" in rejected((KEY,), dict(signed, note=math.nan))


def test_a_worker_without_a_key_runs_unsigned_and_signed_jobs():
    signed = signing.sign((KEY,), ENTRY.queue, ENTRY.name, DATA)
    assert signing.verify((), ENTRY.queue, ENTRY.name, DATA) == "unchecked"
    assert signing.verify((), ENTRY.queue, ENTRY.name, signed) == "unchecked"


def test_rotation_the_first_key_signs_every_key_verifies():
    old = signing.sign((OLD_KEY,), ENTRY.queue, ENTRY.name, DATA)
    new = signing.sign((KEY, OLD_KEY), ENTRY.queue, ENTRY.name, DATA)
    assert new == signing.sign((KEY,), ENTRY.queue, ENTRY.name, DATA)
    for data in (old, new):
        assert signing.verify((KEY, OLD_KEY), ENTRY.queue, ENTRY.name, data) == "verified"
    assert "does not match" in rejected((KEY,), old)  # the old key retired


def test_keys_come_from_the_option_then_the_environment_then_the_global_variable():
    environ = {"SKILLFORGE_PRODUCTION_QUEUE_SIGNING_KEY": KEY, "SKILLFORGE_QUEUE_SIGNING_KEY": OLD_KEY}
    assert signing.resolve_signing_keys(OLD_KEY + "," + KEY, "production", environ) == ((OLD_KEY, KEY), "option")
    assert signing.resolve_signing_keys(None, "production", environ) == ((KEY,), "SKILLFORGE_PRODUCTION_QUEUE_SIGNING_KEY")
    assert signing.resolve_signing_keys("", "staging", environ) == ((OLD_KEY,), "SKILLFORGE_QUEUE_SIGNING_KEY")
    assert signing.resolve_signing_keys(None, "pre-prod", {"SKILLFORGE_PRE_PROD_QUEUE_SIGNING_KEY": KEY})[0] == (KEY,)
    assert signing.resolve_signing_keys(None, None, {}) == ((), None)
    assert signing.resolve_signing_keys(None, "staging", {"SKILLFORGE_STAGING_QUEUE_SIGNING_KEY": ""}) == ((), None)


@pytest.mark.parametrize("value, source, problem", [
    ("short", "option", "option queue_signing_key: key 1 of 1 is shorter than 32 characters"),
    (KEY + ",", "option", "option queue_signing_key: key 2 of 2 is shorter than 32 characters"),
    (KEY + ",x" * 3, "SKILLFORGE_QUEUE_SIGNING_KEY", "SKILLFORGE_QUEUE_SIGNING_KEY: key 2 of 4 is shorter than 32"),
    ("k" * 16 + " " + "k" * 16, "option", "option queue_signing_key: key 1 of 1 holds whitespace or control"),
    ("k" * 31 + "\x00", "option", "option queue_signing_key: key 1 of 1 holds whitespace or control"),
    (12345, "option", "option queue_signing_key must be a string"),
])
def test_unusable_keys_are_refused_naming_the_setting_not_the_key(value, source, problem):
    with pytest.raises(signing.SigningConfigError) as raised:
        signing.parse_keys(value, source)
    assert str(raised.value).startswith(problem)
    assert "k" * 16 not in str(raised.value)


def test_the_collection_signs_what_it_queues_with_the_same_job_id():
    options = {"tenant": "globex", "before": "2024-06-01", "triggered_by": "dpo@example.invalid"}
    plain = job_queue.enqueue_request("data-retention", options, dry_run=False)
    signed = job_queue.enqueue_request("data-retention", options, dry_run=False, signing_keys=(KEY, OLD_KEY))
    assert signed.job_id == plain.job_id  # configuring producers queues no second job
    assert signed.data == signing.sign((KEY,), ENTRY.queue, ENTRY.name, plain.data)
    shown = signed.describe()
    assert shown["signed"] is True and "signature" not in shown["data"] and plain.describe()["signed"] is False
    assert shown["data"] == plain.data
    # The worker reads the signed data as the unsigned one.
    assert job_queue.parse_payload(ENTRY, signed.data, "j1") == job_queue.parse_payload(ENTRY, plain.data, "j1")


def never_run(*_arguments, **_keywords):
    raise AssertionError("a rejected job must not run")


@pytest.mark.parametrize("data", [DATA, dict(DATA, signature="sha256=" + "0" * 64), {"tenant": "not even valid"}])
def test_the_worker_rejects_before_reading_the_data_or_opening_the_database(data):
    """The database is a closed port: connecting would raise another error (retried, not permanent)."""
    settings = queue_worker.WorkerSettings(database=resolve_database(dsn="postgresql://postgres@127.0.0.1:1/x"),
                                           run_job=never_run, signing_keys=(KEY,), connect_timeout=1)
    with pytest.raises(signing.SignatureError) as raised:
        queue_worker.execute_job(settings, ENTRY, data, "api-1")
    reason, retry = queue_worker.failure_reason(raised.value)
    assert retry is False and reason.startswith("data-retention: job data ")
    assert KEY not in reason and "0" * 64 not in reason and KEY not in repr(settings)


def test_a_rejected_job_is_logged_as_rejected():
    settings = queue_worker.WorkerSettings(database=resolve_database(dsn="postgresql://postgres@127.0.0.1:1/x"))
    lines = []
    settings.log = lines.append
    log = queue_worker.JobLog(settings, ENTRY.queue)

    class Job:  # what JobLog reads of a BullMQ job
        id, name, attemptsMade, opts, data = "api-1", ENTRY.name, 1, {"attempts": 3}, DATA

    log.failed(Job(), queue_worker.JobRejected("data-retention: job data is not signed"))
    record = json.loads(lines[0])
    assert (record["state"], record["outcome"], record["will_retry"]) == ("failed", "rejected", False)


def test_rediss_urls_open_tls_connections_that_verify_the_server():
    """docs/SECURITY.md's production advice: a rediss:// URL is a TLS connection with certificate checks."""
    from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import (
        open_client,
        resolve_redis,
    )
    resolved = resolve_redis("rediss://skillforge-worker:pw@redis.internal:6380/0")
    pool = open_client(resolved).connection_pool
    assert pool.connection_class.__name__ == "SSLConnection"
    assert pool.connection_kwargs.get("ssl_cert_reqs", "required") == "required"
