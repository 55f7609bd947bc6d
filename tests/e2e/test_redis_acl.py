"""The Redis ACLs of docs/SECURITY.md ("Redis ACLs for production") on the real Redis.

The two ``ACL SETUSER`` commands are read out of the page, so the page and this test cannot drift.
Each test makes the two users under names and passwords of its own, with the documented key
patterns moved from the prefix ``bull`` to the test's own queue prefix (the page: "prefix
``bull`` unless ``queue_prefix`` says otherwise"), and deletes them afterwards, pass or fail. Then, as
the producer, it enqueues jobs with the code the modules call and reads them back; as the worker, it
runs the collection's worker (a drain, and the ``skillforge-worker`` service) until the job completed
against a migrated database; the Node BullMQ side (the API's producers and workers) the same. Each
user is refused what it must not do with NOPERM. Commands that would harm the shared server if the
ACL let them through (FLUSHALL, SHUTDOWN, ...) are checked with ``ACL DRYRUN``, which answers
whether the user may run a command without running it.
"""

from __future__ import annotations

import re
import secrets
import shlex
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from conftest import wait_for
from ansible_collections.skillforge.dataops.plugins.module_utils._queue import jobs as job_queue
from ansible_collections.skillforge.dataops.plugins.module_utils._queue import worker as queue_worker
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import (
    QueueConnectionError,
    resolve_redis,
)
from queue_testing import REDIS_URL, node_bullmq, queue_prefix  # noqa: F401  pylint: disable=unused-import
from test_queue_worker import REQUESTS, audit_rows, finish, seeded_url, service, settings_for, wait_for_event  # noqa: F401  pylint: disable=unused-import

SECURITY_MD = Path(__file__).resolve().parents[2] / "docs" / "SECURITY.md"
SECTION = "**Redis ACLs for production.**"
USERS = {"producer": "skillforge-producer", "worker": "skillforge-worker"}
DOCUMENTED_PREFIX = job_queue.DEFAULT_PREFIX


def documented_acl_commands() -> dict:
    """``{"producer": [token, ...], "worker": [...]}``: the ``ACL SETUSER`` commands of the section's
    code block, continuation lines joined, comments left out."""
    section = SECURITY_MD.read_text(encoding="utf-8").split(SECTION, 1)[1]
    block = re.search(r"^```\n(.*?)^```", section, re.S | re.M).group(1)
    commands = [shlex.split(line) for line in re.sub(r"\\\n\s*", " ", block).splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    by_user = {tokens[2]: tokens for tokens in commands if tokens[:2] == ["ACL", "SETUSER"]}
    assert len(commands) == 2 and sorted(by_user) == sorted(USERS.values()), commands
    return {role: by_user[name] for role, name in USERS.items()}


@dataclass(frozen=True)
class AclUser:
    name: str
    password: str
    rules: tuple

    @property
    def url(self) -> str:
        base = urlsplit(REDIS_URL)
        return "redis://%s:%s@%s:%d%s" % (self.name, self.password, base.hostname, base.port or 6379, base.path or "/0")

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True, socket_timeout=10)


def made_for_test(tokens: list, role: str, suffix: str, prefix: str) -> AclUser:
    """The documented command with this test's user name, a random password and the test's prefix.
    Each part replaced must be in the documented command, or the test would check something else."""
    name = "%s-%s" % (tokens[2], suffix)
    password = secrets.token_hex(24)
    placeholder = ">%s_PASSWORD" % role.upper()
    rules = []
    for rule in tokens[3:]:
        if rule == placeholder:
            rule = ">" + password
        elif rule[:1] in "~&" and rule[1:].startswith(DOCUMENTED_PREFIX + ":"):
            rule = rule[0] + prefix + rule[1 + len(DOCUMENTED_PREFIX):]
        rules.append(rule)
    assert placeholder in tokens and rules.count(">" + password) == 1, tokens
    # Exactly the collection's queues: a queue added to the registry needs its pattern on the page.
    assert "resetkeys" in rules and "resetchannels" in rules, tokens
    assert sorted(rule for rule in rules if rule[:1] in "~&%") == sorted(
        "~%s:%s:*" % (prefix, entry.queue) for entry in job_queue.QUEUED_JOBS), tokens
    return AclUser(name, password, tuple(rules))


@pytest.fixture
def acl_users(queue_prefix):
    """``{"producer": AclUser, "worker": AclUser}`` made as documented; deleted afterwards."""
    suffix = uuid.uuid4().hex[:10]
    users = {role: made_for_test(tokens, role, suffix, queue_prefix) for role, tokens in documented_acl_commands().items()}
    admin = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=3)
    try:
        for user in users.values():
            admin.execute_command("ACL", "SETUSER", user.name, *user.rules)
        yield users
    finally:
        admin.execute_command("ACL", "DELUSER", *(user.name for user in users.values()))
        admin.close()


def refusals(user: AclUser) -> list:
    """What ``ACL LOG`` recorded against the user: the commands, keys and channels it was refused
    (shown when a step fails, so a missing grant names itself)."""
    with redis.Redis.from_url(REDIS_URL, decode_responses=True) as admin:
        entries = admin.execute_command("ACL", "LOG", "128")
    found = []
    for entry in entries:
        entry = dict(zip(entry[::2], entry[1::2])) if isinstance(entry, list) else entry
        if entry.get("username") == user.name:
            found.append("%s %s (%s)" % (entry.get("reason"), entry.get("object"), entry.get("context")))
    return found


def target_as(user: AclUser, prefix: str) -> job_queue.QueueTarget:
    return job_queue.QueueTarget(resolve_redis(user.url), prefix)


# Refused to both users, run for real: harmless on the shared server had the ACL let them through.
def refused_commands(prefix: str) -> list:
    return [
        ("CONFIG", "GET", "maxmemory"),                       # @dangerous
        ("KEYS", "%s:*" % prefix),                            # @dangerous, even inside the prefix
        ("SCAN", "0"),                                        # key patterns do not filter the names it lists
        ("RANDOMKEY",),                                       # nor the one it returns
        ("CLIENT", "LIST"),                                   # @dangerous: other clients' addresses and names
        ("GET", "%s:reports:latest" % prefix),                # the prefix, but not a queue
        ("LLEN", "%s:email-jobs:wait" % prefix),              # another of the API's queues
        ("GET", "%s:data-retention-jobs:meta" % DOCUMENTED_PREFIX),  # the same queue under the production prefix
        ("SET", "%s:session:1" % prefix, "x"),                # the API's other keys (a write, deleted with the prefix)
        ("PUBLISH", "%s:data-retention-jobs:events" % prefix, "x"),  # BullMQ uses no pub/sub
        ("FUNCTION", "LIST"),                                 # Redis Functions are not BullMQ's
    ]


# Refused to both users, checked with ACL DRYRUN: these would harm the shared server if let through.
DRY_RUN_REFUSED = [
    ("FLUSHALL",),
    ("FLUSHDB",),
    ("CONFIG", "SET", "maxmemory", "1"),
    ("SHUTDOWN",),
    ("DEBUG", "SLEEP", "0"),
    ("SWAPDB", "0", "1"),
    ("FUNCTION", "FLUSH"),                                    # every library of the server, whatever its keys
    ("FUNCTION", "DELETE", "somelib"),
    ("FUNCTION", "LOAD", "#!lua name=somelib\nredis.register_function('f', function() return 1 end)"),
    ("SCRIPT", "FLUSH"),
    ("SCRIPT", "KILL"),                                       # another client's running script
    ("SCRIPT", "DEBUG", "SYNC"),                              # a script debugged in sync mode blocks the server
    ("CLIENT", "KILL", "ID", "1"),
    ("ACL", "SETUSER", "someone", "on"),
    ("MONITOR",),
]


def dry_run_allowed(prefix: str) -> list:
    """What the clients send that the tests need not see: redis-py loads BullMQ's scripts again with
    SCRIPT LOAD after a restart or SCRIPT FLUSH, and checks them with SCRIPT EXISTS before a pipeline
    (bullmq's addBulk); ioredis sends EVAL for a script the server has not cached."""
    queue_key = "%s:data-retention-jobs:wait" % prefix
    return [("SCRIPT", "LOAD", "return 1"), ("SCRIPT", "EXISTS", "0" * 40),
            ("EVAL", "return redis.call('LLEN', KEYS[1])", "1", queue_key),
            ("EVALSHA", "0" * 40, "1", queue_key), ("INFO",), ("CLIENT", "SETNAME", "x")]


def refused(client: redis.Redis, command: tuple) -> bool:
    """Whether Redis answered NOPERM (redis-py's NoPermissionError); any other error fails the test."""
    try:
        client.execute_command(*command)
    except redis.exceptions.NoPermissionError:
        return True
    return False


def assert_refused_all_but_the_queues(user: AclUser, prefix: str) -> None:
    with user.client() as client:
        allowed = [command for command in refused_commands(prefix) if not refused(client, command)]
    with redis.Redis.from_url(REDIS_URL, decode_responses=True) as admin:
        allowed += [command for command in DRY_RUN_REFUSED
                    if admin.execute_command("ACL", "DRYRUN", user.name, *command) == "OK"]
        missing = [command for command in dry_run_allowed(prefix)
                   if admin.execute_command("ACL", "DRYRUN", user.name, *command) != "OK"]
    assert allowed == [], "%s may run %s" % (user.name, allowed)
    assert missing == [], "%s may not run %s" % (user.name, missing)


def test_the_producer_enqueues_and_reads_its_jobs_and_nothing_else(acl_users, queue_prefix):
    producer = acl_users["producer"]
    target = target_as(producer, queue_prefix)
    requests = [job_queue.enqueue_request(job, REQUESTS[job], dry_run=False) for job in sorted(REQUESTS)]

    try:
        added = [job_queue.enqueue(target, request) for request in requests]
        again = [job_queue.enqueue(target, request) for request in requests]
        predicted = [job_queue.enqueue(target, request, check_mode=True) for request in requests]
        status = job_queue.queue_status(target, [r.entry.queue for r in requests], job_id=requests[0].job_id,
                                        states=["waiting"])
    except Exception as error:
        raise AssertionError("as %s: %s; ACL LOG: %s" % (producer.name, error, refusals(producer))) from error

    assert [(a["changed"], a["state"]) for a in added] == [(True, "waiting")] * 3
    assert [(a["changed"], a["state"]) for a in again + predicted] == [(False, "waiting")] * 6
    assert status["job"]["state"] == "waiting" and status["job"]["job_id"] == requests[0].job_id
    assert [status["queues"][r.entry.queue]["counts"]["waiting"] for r in requests] == [1, 1, 1]
    assert [[j["job_id"] for j in status["queues"][r.entry.queue]["jobs"]] for r in requests] == [
        [r.job_id] for r in requests]
    assert_refused_all_but_the_queues(producer, queue_prefix)


def test_a_queue_outside_the_users_keys_fails_with_the_documented_line(acl_users, queue_prefix):
    """docs/SECURITY.md: a missing grant fails the task with ``Redis at ... refused the command: this
    user has no permissions ...``, without the password; and nothing is written."""
    producer = acl_users["producer"]
    elsewhere = queue_prefix + "-elsewhere"  # not matched by ~<prefix>:*-jobs:*
    request = job_queue.enqueue_request("data-retention", REQUESTS["data-retention"], dry_run=False)

    with pytest.raises(QueueConnectionError) as refused_enqueue:
        job_queue.enqueue(target_as(producer, elsewhere), request)

    message = str(refused_enqueue.value)
    assert message.startswith("Redis at %s:%d (URL from option redis_url) refused the command: this user has no "
                              "permissions to " % (urlsplit(REDIS_URL).hostname, urlsplit(REDIS_URL).port or 6379)), message
    assert producer.password not in message and "\n" not in message
    assert refusals(producer), "ACL LOG names the refusal"
    with redis.Redis.from_url(REDIS_URL) as admin:
        assert list(admin.scan_iter(match="%s:*" % elsewhere)) == []


def test_the_worker_runs_a_job_the_producer_queued_until_it_completed(acl_users, queue_prefix, seeded_url):
    producer, worker = acl_users["producer"], acl_users["worker"]
    request = job_queue.enqueue_request("data-retention", REQUESTS["data-retention"], dry_run=False)
    job_queue.enqueue(target_as(producer, queue_prefix), request)
    settings = settings_for(seeded_url)

    try:
        result = queue_worker.drain(target_as(worker, queue_prefix), settings)
    except Exception as error:
        raise AssertionError("as %s: %s; ACL LOG: %s" % (worker.name, error, refusals(worker))) from error

    outcome, = result["jobs"]
    assert (outcome["job_id"], outcome["state"]) == (request.job_id, "completed"), (outcome, refusals(worker))
    assert outcome["summary"]["changed"] is True and sum(outcome["counts"].values()) > 0
    assert [row[4] for row in audit_rows(seeded_url)] == ["succeeded"]
    job = job_queue.queue_status(target_as(producer, queue_prefix), ["data-retention-jobs"], job_id=request.job_id)["job"]
    assert job["state"] == "completed" and job["return_value"] == outcome["summary"]
    assert_refused_all_but_the_queues(worker, queue_prefix)


def test_the_worker_service_takes_the_job_as_it_arrives(acl_users, queue_prefix, seeded_url):
    """scripts/skillforge-worker: blocking waits for the next job, lock renewal, stalled-job checks."""
    producer, worker = acl_users["producer"], acl_users["worker"]
    request = job_queue.enqueue_request("consent-revocation", REQUESTS["consent-revocation"], dry_run=False)
    target = target_as(producer, queue_prefix)

    def state():
        return job_queue.queue_status(target, ["consent-revocation-jobs"], job_id=request.job_id)["job"]["state"]

    with service(seeded_url, worker.url, queue_prefix, "--queue", "consent-revocation-jobs") as running:
        wait_for_event(running, "started")
        job_queue.enqueue(target, request)  # arrives while the worker waits on the queue
        wait_for(lambda: state() == "completed", 60, "the service to complete the job")
        running.send_signal(signal.SIGTERM)
        records = finish(running)
    errors = [r for r in records if r.get("event") in ("error", "fatal")]
    assert errors == [], (errors, refusals(worker))
    assert [(r["job_id"], r["state"]) for r in records if "state" in r] == [(request.job_id, "completed")]
    with psycopg.connect(seeded_url) as conn:
        revoked = conn.execute('SELECT count(*) FROM "ComplianceAuditLog" WHERE "job" = %s AND "outcome" = %s',
                               ("consent-revocation", "succeeded")).fetchone()[0]
    assert revoked == 1


def test_the_node_side_works_under_the_same_users(acl_users, queue_prefix, node_bullmq):
    """The API's BullMQ (npm bullmq): its Queue adds and reads as the producer, its Worker consumes as
    the worker; the collection's producer code reads the Node worker's result."""
    producer, worker = acl_users["producer"], acl_users["worker"]
    entry = job_queue.queued_job("partner-segregation")
    data = {"scope": {"tenant": "acme-partners"}, "triggeredBy": "api"}

    added = node_bullmq.run("add", redis_url=producer.url, queue=entry.queue, prefix=queue_prefix, name=entry.name,
                            data=data, opts={"jobId": "api-acl-1", "attempts": 2})
    read = node_bullmq.run("get", redis_url=producer.url, queue=entry.queue, prefix=queue_prefix, id="api-acl-1")
    consumed = node_bullmq.run("consume", redis_url=worker.url, queue=entry.queue, prefix=queue_prefix, count=1,
                               timeoutMs=15000)

    assert added["state"] == "waiting" and read["state"] == "waiting" and read["data"] == data
    assert [job["id"] for job in consumed["jobs"]] == ["api-acl-1"], refusals(worker)
    job = job_queue.queue_status(target_as(producer, queue_prefix), [entry.queue], job_id="api-acl-1")["job"]
    assert job["state"] == "completed" and job["return_value"] == {"consumedBy": "node", "jobName": entry.name}
