# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compliance jobs on BullMQ queues: the job payload, deterministic job ids, enqueueing and
reading jobs back. Each job's queue and payload mapping are declared once, on its
``JobDefinition`` (``_compliance.registry.JOBS``); ``QUEUED_JOBS`` and the maps are read from there.

The API's Node workers consume these queues, so the contract here (queue names, job names,
camelCase payload and its JSON Schema in ``payload_schema``, job options) is the one
documented in docs/QUEUE.md. Jobs are added with the ``bullmq`` Python package, which runs
BullMQ's own Lua scripts. Nothing here imports Ansible.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import re
from dataclasses import dataclass

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import JOBS
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.options import (
    DEFAULT_ATTEMPTS,
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_PREFIX,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.payload_schema import violation
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.signing import SIGNATURE_FIELD, sign
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import errors
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.redis_connection import (
    QueueConfigError,
    QueueConnectionError,
    ResolvedRedis,
    run_bounded,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.timestamps import utc_timestamp, utc_timestamp_from_ms

with declare("bullmq"):
    from bullmq import Queue

MAX_ATTEMPTS = 100
MAX_BACKOFF_SECONDS = 86400
# Completed jobs are trimmed (their summaries are also in ComplianceAuditLog); failed ones are
# kept until someone looks at them.
KEEP_COMPLETED = {"count": 1000, "age": 7 * 24 * 3600}
PAYLOAD_VERSION = 1

# Node BullMQ (Job.validateOptions) rejects a custom id that parseInt() gives back unchanged
# ("Custom Id cannot be integers") and one with ':' unless it splits in exactly three parts
# ("Custom Id cannot contain :"). Ours are stricter: letters, digits, '.', '_', '-'.
JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._{}-]{0,63}$")
JOB_STATES = ("waiting", "active", "delayed", "prioritized", "waiting-children", "completed", "failed")


@dataclass(frozen=True)
class QueuedJob:
    """One compliance job as it appears on BullMQ: its queue and its job name."""

    job: str    # the job's name in the collection (registry.run_job's job_name)
    queue: str  # the BullMQ queue the API's workers listen on
    name: str   # the BullMQ job name


# The jobs as the one registry declares them (queue and payload mapping on each JobDefinition).
QUEUED_JOBS = tuple(QueuedJob(definition.name, definition.queue, definition.name)
                    for definition in JOBS.values() if definition.queue)
BY_JOB = {entry.job: entry for entry in QUEUED_JOBS}
BY_QUEUE = {entry.queue: entry for entry in QUEUED_JOBS}


def _payload_mapping() -> tuple:
    """``(scope options, {option: field})`` over every job: an option has one field in every job's
    data, so a payload is built and read without asking which job it is for."""
    scope, names = {}, {}
    for definition in JOBS.values():
        scope.update(dict.fromkeys(definition.payload_scope))
        for option, field in definition.payload_names:
            if names.setdefault(option, field) != field:
                raise ValueError("option %s is field %s of one job's data and %s of another's" % (option, names[option], field))
    for definition in JOBS.values():
        outside = sorted(set(definition.scope_options).intersection(scope) - set(definition.payload_scope))
        if outside:
            raise ValueError("%s: option(s) %s are in the scope of another job's data" % (definition.name, ", ".join(outside)))
    return tuple(scope), names


# Options that make up a job's scope (the payload's ``scope`` object), and options whose payload
# name is not their camelCase form.
SCOPE_OPTIONS, PAYLOAD_NAMES = _payload_mapping()


class PayloadError(ValueError):
    """A job's data is not a valid request; retrying cannot help. The message is safe to show."""


def queued_job(job: str) -> QueuedJob:
    try:
        return BY_JOB[job]
    except KeyError:
        raise QueueConfigError("unknown compliance job %r: expected one of %s"
                               % (job, ", ".join(BY_JOB))) from None


def queued_job_for_queue(queue: str) -> QueuedJob:
    try:
        return BY_QUEUE[queue]
    except KeyError:
        raise QueueConfigError("unknown queue %r: expected one of %s" % (queue, ", ".join(BY_QUEUE))) from None


# --- payload -------------------------------------------------------------------------------------

def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _json_value(value, rename):
    """Plain JSON for a job option: dict keys renamed, dates as ISO 8601 (date-times in UTC, as
    ``utc_timestamp``), tuples as lists."""
    if isinstance(value, dict):
        return {rename(str(key)): _json_value(item, rename) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(item, rename) for item in value]
    if isinstance(value, datetime.datetime):
        return utc_timestamp(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def build_payload(options: dict, dry_run: bool) -> dict:
    """The job data the Node workers expect (docs/QUEUE.md) from the job's options.

    The scope options go in ``scope``, ``before`` is ``cutoff``, the others are camelCase at the
    top level, and ``dryRun`` says whether it is a dry run. Options that are None are left out,
    so a request means the same (and gets the same job id) with or without them.
    """
    data, scope = {}, {}
    for key, value in sorted(options.items()):
        if value is None:
            continue
        value = _json_value(value, _camel)
        if key in SCOPE_OPTIONS:
            scope[_camel(key)] = value
        else:
            data[PAYLOAD_NAMES.get(key, _camel(key))] = value
    data["scope"] = scope
    data["dryRun"] = bool(dry_run)
    return data


def validate_payload(entry: QueuedJob, data) -> dict:
    """The data if it matches its job's schema (``payload_schema``), else PayloadError."""
    problem = violation(entry.name, data)
    if problem is not None:
        raise PayloadError("%s: %s" % (entry.name, problem))
    return data


def parse_payload(entry: QueuedJob, data, job_id: str) -> tuple:
    """``(options, dry_run)`` in the collection's terms from the data of a queued job (from any
    producer), checked against its job's schema.

    Who asked is the producer's ``triggeredBy``, from the source the producer states
    (``triggeredBySource``) or else ``producer``; without it, the queue asked:
    ``queue:<queue>/<job id>`` from the source ``queue``.
    """
    data = dict(validate_payload(entry, data))
    data.pop(SIGNATURE_FIELD, None)  # checked by the worker before this (signing.verify)
    dry_run = data.pop("dryRun", False)
    option_names = {payload: option for option, payload in PAYLOAD_NAMES.items()}
    options = {}
    for key, value in list(data.pop("scope", {}).items()) + list(data.items()):
        options[option_names.get(key, _snake(key))] = _json_value(value, _snake)
    if options.get("triggered_by") is None:
        options.update(triggered_by="queue:%s/%s" % (entry.queue, job_id), triggered_by_source="queue")
    options.setdefault("triggered_by_source", "producer")
    return options, dry_run


def job_id_for(entry: QueuedJob, payload: dict) -> str:
    """A deterministic id: the same job with the same data always gets the same id (signed or not:
    the signature is not part of it, so adding a key to the producers queues no second job)."""
    payload = {key: value for key, value in payload.items() if key != SIGNATURE_FIELD}
    canonical = json.dumps({"v": PAYLOAD_VERSION, "queue": entry.queue, "name": entry.name, "data": payload},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    job_id = "%s-%s" % (entry.name, hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32])
    return validate_job_id(job_id)


def validate_job_id(job_id: str) -> str:
    """Return the id if Node BullMQ would accept it as a custom id (and we can show it safely)."""
    if not isinstance(job_id, str) or not JOB_ID_PATTERN.match(job_id):
        raise QueueConfigError("job id %s is not valid: use 1-128 letters, digits, '.', '_' or '-', "
                               "starting with a letter or digit (BullMQ rejects ':' in custom ids)" % errors.echo(job_id))
    try:
        if str(int(job_id, 10)) == job_id:
            raise QueueConfigError("job id %s is not valid: BullMQ rejects custom ids that are integers"
                                   % errors.echo(job_id))
    except ValueError:
        pass
    return job_id


def validate_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not PREFIX_PATTERN.match(prefix):
        raise QueueConfigError("queue_prefix %s is not valid: use letters, digits, '.', '_', '-' "
                               "(and '{}' for a cluster hash tag), without ':'" % errors.echo(prefix))
    return prefix


def job_options(job_id: str, attempts: int = DEFAULT_ATTEMPTS,
                backoff_seconds: float = DEFAULT_BACKOFF_SECONDS) -> dict:
    """BullMQ JobsOptions: retries with exponential backoff, completed trimmed, failed kept."""
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS:
        raise QueueConfigError("queue_attempts must be a whole number from 1 to %d" % MAX_ATTEMPTS)
    if isinstance(backoff_seconds, bool) or not isinstance(backoff_seconds, (int, float)) or not (
            0 <= backoff_seconds <= MAX_BACKOFF_SECONDS):  # NaN too
        raise QueueConfigError("queue_backoff must be a number of seconds from 0 to %d" % MAX_BACKOFF_SECONDS)
    return {
        "jobId": job_id,
        "attempts": int(attempts),
        "backoff": {"type": "exponential", "delay": int(backoff_seconds * 1000)},
        "removeOnComplete": dict(KEEP_COMPLETED),
        "removeOnFail": False,
    }


# --- Redis side ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueTarget:
    """Where the queues live: the Redis server and the key prefix."""

    redis: ResolvedRedis
    prefix: str = DEFAULT_PREFIX

    def queue(self, client, name: str):
        return Queue(name, {"connection": client, "prefix": self.prefix})


@dataclass(frozen=True)
class EnqueueRequest:
    """One job to add: computed once, reported the same in check mode and in a real run."""

    entry: QueuedJob
    data: dict
    job_id: str
    opts: dict

    def describe(self) -> dict:
        data, signed = shown_data(self.data)
        return {"queue": self.entry.queue, "job_name": self.entry.name, "job_id": self.job_id,
                "data": data, "signed": signed, "opts": self.opts}


def shown_data(data) -> tuple:
    """``(data, signed)``: a job's data as results and logs show it (without its signature, which a
    reader of the results has no use for) and whether it carried one."""
    if not isinstance(data, dict) or SIGNATURE_FIELD not in data:
        return data, False
    return {key: value for key, value in data.items() if key != SIGNATURE_FIELD}, True


def enqueue_request(job: str, options: dict, dry_run: bool, attempts: int = DEFAULT_ATTEMPTS,
                    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS, signing_keys=()) -> EnqueueRequest:
    """The job to add; signed with the first of ``signing_keys`` when there is one (``signing``)."""
    entry = queued_job(job)
    data = validate_payload(entry, build_payload(options, dry_run))
    job_id = job_id_for(entry, data)
    data = sign(signing_keys, entry.queue, entry.name, data)
    return EnqueueRequest(entry, data, job_id, job_options(job_id, attempts, backoff_seconds))


def enqueue(target: QueueTarget, request: EnqueueRequest, check_mode: bool = False) -> dict:
    """Add the job unless a job with its id exists; return the queue, id, state and ``changed``.

    The id is deterministic and BullMQ's add script is a no-op for an existing id, so a retry after
    a timeout never adds a second job. In check mode nothing is written: the state is read only.
    """
    validate_prefix(target.prefix)

    async def operation(client):
        queue = target.queue(client, request.entry.queue)
        if check_mode:
            state = await queue.getJobState(request.job_id)
            return state, state == "unknown"
        # Look and add as one step among callers of this collection: two simultaneous requests must
        # not both report changed (BullMQ's add alone is atomic but does not say whether it added).
        guard = client.lock("%s:%s:skillforge-enqueue:%s" % (target.prefix, request.entry.queue, request.job_id),
                            timeout=max(10.0, 4 * target.redis.timeout), blocking_timeout=target.redis.timeout)
        if not await guard.acquire():
            raise QueueConnectionError("another enqueue of job %s held its guard for more than %s s; run again"
                                       % (request.job_id, target.redis.timeout))
        try:
            state = await queue.getJobState(request.job_id)
            changed = state == "unknown"
            if changed:
                await queue.add(request.entry.name, request.data, request.opts)
                state = await queue.getJobState(request.job_id)
        finally:
            await guard.release()
        return state, changed

    state, changed = run_bounded(operation, target.redis)
    result = request.describe()
    result.update(changed=changed, state=state if not (changed and check_mode) else "absent",
                  prefix=target.prefix, redis=target.redis.describe())
    return result


def describe_job(job, state: str, queue: str) -> dict:
    """What Ansible and logs may show about one BullMQ job."""
    data, signed = shown_data(job.data)
    return {
        "queue": queue,
        "job_id": job.id,
        "job_name": job.name,
        "state": state,
        "data": data,
        "signed": signed,
        "attempts": job.opts.get("attempts"),
        "attempts_made": job.attemptsMade,
        "failed_reason": job.failedReason,
        "return_value": job.returnvalue,
        "created_at": utc_timestamp_from_ms(job.timestamp),
        "processed_at": utc_timestamp_from_ms(job.processedOn),
        "finished_at": utc_timestamp_from_ms(job.finishedOn),
    }


def queue_status(target: QueueTarget, queues, job_id: str | None = None, states=(), limit: int = 20) -> dict:
    """Counts per state for each queue, the jobs in ``states`` (newest first, up to ``limit`` per
    queue), and, with ``job_id``, that job wherever it is (``None`` if no queue has it)."""
    validate_prefix(target.prefix)
    if job_id is not None:
        validate_job_id(job_id)
    unknown = [state for state in states if state not in JOB_STATES]
    if unknown:
        raise QueueConfigError("unknown job state(s) %s: expected %s" % (", ".join(unknown), ", ".join(JOB_STATES)))

    async def operation(client):
        report, found = {}, None
        for name in queues:
            queue = target.queue(client, name)
            counts = await queue.getJobCounts(*JOB_STATES)
            jobs = []
            for state in states:
                for job in await queue.getJobs([state], 0, limit - 1, False):
                    jobs.append(describe_job(job, state, name))
            report[name] = {"counts": counts, "jobs": jobs}
            if job_id is not None and found is None:
                job = await queue.getJob(job_id)
                if job is not None:
                    found = describe_job(job, await queue.getJobState(job_id), name)
        return report, found

    queues_report, job = run_bounded(operation, target.redis)
    return {"queues": queues_report, "job": job, "prefix": target.prefix, "redis": target.redis.describe()}
