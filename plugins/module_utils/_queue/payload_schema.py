# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The job data of the compliance queues as one JSON Schema (draft 2020-12): the contract with the
API's producers and workers. docs/QUEUE.md shows ``SCHEMA`` verbatim (a test keeps them equal).

A job's data is valid when it matches ``$defs/<BullMQ job name>``. It is checked when the
collection adds a job (nothing reaches Redis otherwise) and when its worker takes one (a job that
fails it fails for good). Nothing here imports Ansible.
"""

from __future__ import annotations

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import (
    MAX_BATCH_SIZE,
    STATED_SOURCES,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.data_retention import (
    DEFAULT_RETENTION_FLOOR_MONTHS,
    MAX_RETENTION_MONTHS,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.batches import MAX_PARALLEL
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.pacing import LIMITS
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.safety import (
    DEFAULT_DB_LOCK_TIMEOUT,
    DEFAULT_DB_STATEMENT_TIMEOUT,
    MAX_MAX_USERS,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.blockers import MAX_TIMEOUT
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

with declare("jsonschema"):
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

# Values quoted in an error are cut to this many characters: they can be long, or personal data.
SHOWN_CHARS = 40


def _ref(name: str) -> dict:
    return {"$ref": "#/$defs/%s" % name}


def _job(scope: str, *fields, required=()) -> dict:
    """One job's data: its scope and own fields, the fields every job takes, nothing else."""
    names = (*fields, "triggeredBy", "triggeredBySource", "reason", "note", "batchSize", "lockTimeout", "parallel",
             "batchPause", "maxRuntime", "maxReplicaLag", "maxLagPause", "dbLockTimeout", "dbStatementTimeout", "maxUsers",
             "maxUsersPercent",
             "dryRun", "signature")
    properties = {"scope": _ref(scope), **{name: _ref(name) for name in names}}
    schema = {"type": "object", "properties": properties, "additionalProperties": False,
              "dependentRequired": {"triggeredBySource": ["triggeredBy"]}}
    if required:
        schema["required"] = list(required)
    return schema


NON_BLANK = {"type": "string", "pattern": "\\S"}
# Keyed by BullMQ job name.
JOB_DATA = {
    "consent-revocation": _job("tenantOrUser", required=["scope"]),
    "data-retention": _job("optionalTenant", "cutoff", "retentionMonths", "retentionFloorMonths", "allowRecentCutoff"),
    "partner-segregation": _job("optionalTenant"),
}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:skillforge:dataops:compliance-job-data:1",
    "title": "SkillForge compliance job data (BullMQ)",
    "description": "The data of a job on a compliance queue: valid when it matches $defs/<its BullMQ job name>.",
    "anyOf": [_ref(job) for job in JOB_DATA],
    "$defs": {
        **JOB_DATA,
        "tenantOrUser": {
            "description": "an object with exactly one of tenant or user",
            "type": "object",
            "properties": {"tenant": _ref("tenant"), "user": _ref("user")},
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
        },
        "optionalTenant": {
            "description": "an object with at most a tenant (absent or {}: every tenant; partner-segregation "
                           "then records a warning and changes nothing)",
            "type": "object",
            "properties": {"tenant": _ref("tenant")},
            "additionalProperties": False,
        },
        "tenant": dict(NON_BLANK, description="a tenant slug, not blank"),
        "user": {
            "description": "a user id or a non-empty list of user ids, none blank",
            "anyOf": [NON_BLANK, {"type": "array", "items": NON_BLANK, "minItems": 1}],
        },
        "cutoff": {
            "description": "an ISO 8601 date or date-time such as 2024-06-01 or 2024-06-01T00:00:00Z (UTC "
                           "without a zone; wins over retentionMonths)",
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?"
                       "([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?)?$",
        },
        "retentionMonths": {
            "description": "a whole number of months from 1 to %d (absent: 24)" % MAX_RETENTION_MONTHS,
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_RETENTION_MONTHS,
        },
        "retentionFloorMonths": {
            "description": "the policy's minimum age of the cutoff in months, from 1 to %d (absent: %d)"
                           % (MAX_RETENTION_MONTHS, DEFAULT_RETENTION_FLOOR_MONTHS),
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_RETENTION_MONTHS,
        },
        "allowRecentCutoff": {"description": "true to allow a cutoff more recent than the retention floor",
                              "type": "boolean", "default": False},
        "triggeredBy": dict(NON_BLANK,
                            description="who asked for the run, not blank (absent: the queue and job id are recorded)"),
        "triggeredBySource": {
            "description": "the source of triggeredBy, option or awx (absent: producer)",
            "enum": list(STATED_SOURCES),
        },
        "reason": {"description": "text saying why the run happens, without personal data", "type": "string"},
        "note": {"description": "free text without personal data", "type": "string"},
        "batchSize": {
            "description": "a number of users per committed batch from 1 to %d (absent: the job's default)" % MAX_BATCH_SIZE,
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_BATCH_SIZE,
        },
        "lockTimeout": {
            "description": "a number of seconds (0 or more) to wait for another run of the same job",
            "type": "number",
            "minimum": 0,
        },
        **{field: {"description": "a number of seconds from 0 to %d (%s)" % (LIMITS[option], meaning),
                   "type": "number", "minimum": 0, "maximum": LIMITS[option]}
           for field, option, meaning in (
               ("batchPause", "batch_pause", "the wait after each committed batch; absent: 0"),
               ("maxRuntime", "max_runtime", "after which the run stops at a batch boundary; absent or 0: no limit"),
               ("maxReplicaLag", "max_replica_lag", "the standbys' replication lag above which the run pauses; absent or 0: not read"),
               ("maxLagPause", "max_lag_pause", "the longest pause for replica lag; absent: 300"))},
        "dbLockTimeout": {
            "description": "seconds a batch waits for a lock, from 0 (no limit) to %d (absent: %g)"
                           % (MAX_TIMEOUT, DEFAULT_DB_LOCK_TIMEOUT),
            "type": "number",
            "minimum": 0,
            "maximum": MAX_TIMEOUT,
        },
        "dbStatementTimeout": {
            "description": "seconds a batch's statement may run, from 0 (no limit) to %d (absent: %g)"
                           % (MAX_TIMEOUT, DEFAULT_DB_STATEMENT_TIMEOUT),
            "type": "number",
            "minimum": 0,
            "maximum": MAX_TIMEOUT,
        },
        "maxUsers": {
            "description": "the most users a run may touch, from 0 (no limit) to %d (absent: 0)" % MAX_MAX_USERS,
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_MAX_USERS,
        },
        "parallel": {
            "description": "database sessions the run's batches use at a time, from 1 to %d (absent: 1)" % MAX_PARALLEL,
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_PARALLEL,
        },
        "maxUsersPercent": {
            "description": "the most users a run may touch as a percentage of all users, from 0 (no limit) to 100 "
                           "(absent: 0)",
            "type": "number",
            "minimum": 0,
            "maximum": 100,
        },
        "dryRun": {"description": "true (count only, change nothing) or false", "type": "boolean", "default": False},
        "signature": {
            "description": "sha256= and the lowercase hex HMAC-SHA256 of the job (docs/QUEUE.md, Signed jobs); "
                           "required by a worker that has a queue signing key",
            "type": "string",
            "pattern": "^sha256=[0-9a-f]{64}$",
        },
    },
}


def violation(job: str, data) -> str | None:
    """The most relevant way ``data`` breaks the schema of ``job``, in one line (``None`` when it
    is valid): where (``job data field scope.user[0]``), what is wrong and what is expected,
    quoting at most ``SHOWN_CHARS`` characters of any value."""
    validator = Draft202012Validator({"$ref": "#/$defs/%s" % job, "$defs": SCHEMA["$defs"]})
    error = best_match(validator.iter_errors(data))
    if error is None:
        return None
    where = "".join("[%d]" % key if isinstance(key, int) else ".%s" % key for key in error.absolute_path)
    return "job data%s: %s" % (" field " + where.lstrip(".") if where else "", _problem(error))


def _problem(error) -> str:
    if error.validator == "additionalProperties":
        allowed = error.schema.get("properties", {})
        unknown = sorted(_shown(name) for name in error.instance if name not in allowed)
        return "unknown field %s; expected only %s" % (", ".join(unknown), ", ".join(allowed))
    if error.validator == "pattern":  # the message would quote the regular expression
        problem = "%s is not valid" % _shown(error.instance)
    else:
        problem = error.message.replace(repr(error.instance), _shown(error.instance))
    expected = next((e.schema["description"] for e in _with_parents(error) if "description" in e.schema), None)
    return "%s; expected %s" % (problem, expected) if expected else problem


def _with_parents(error):
    while error is not None:  # an error inside an anyOf branch has the anyOf's error as parent
        yield error
        error = error.parent


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."
