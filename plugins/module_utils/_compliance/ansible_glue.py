# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible side of the compliance jobs: their shared options, the module body they share, and
the body of compliance_audit_info."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import (
    COMMON_OPTIONS,
    STATED_SOURCES,
    JobError,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import (
    audit_history,
    check_request,
    job_definition,
    run_job_with_sample,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.pacing import PROGRESS_LOGGER
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import log_line
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.async_progress import AsyncProgress
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.controller import controller_watch
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.ansible_glue import (
    database_argument_spec,
    open_database,
    reachable_database,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.options import queue_argument_spec

DIFF_SAMPLE_SIZE = 5


def compliance_argument_spec(**job_options) -> dict:
    """Connection options, the audit options every job takes, then the job's own."""
    spec = database_argument_spec()
    spec.update(
        triggered_by=dict(type="str"),
        triggered_by_source=dict(type="str", choices=list(STATED_SOURCES)),
        reason=dict(type="str"),
        note=dict(type="str"),
        batch_size=dict(type="int"),
        parallel=dict(type="int"),
        lock_timeout=dict(type="float", default=0),
        batch_pause=dict(type="float"),
        max_runtime=dict(type="float"),
        max_replica_lag=dict(type="float"),
        max_lag_pause=dict(type="float"),
        # Unset: the job's defaults (safety.py); a queued job without them gets the worker's.
        db_lock_timeout=dict(type="float"),
        db_statement_timeout=dict(type="float"),
        max_users=dict(type="int"),
        max_users_percent=dict(type="float"),
    )
    spec.update(job_options)
    return spec


def _diff(sample: list) -> dict:
    key = "{table}.{column}[{id}]"
    return {"before": {key.format(**row): row["before"] for row in sample},
            "after": {key.format(**row): row["after"] for row in sample}}


def _check_before_queueing(module, job_name: str, options: dict) -> None:
    """A request an inline run would refuse fails here, not attempts later in a worker: the options
    always, the tenant and users where the database can be reached (else a warning says so)."""
    conn, unreachable = reachable_database(module, job_name)
    if unreachable:
        module.warn("the request was not checked against the database (%s); the worker will check the tenant "
                    "and users when it runs the job" % unreachable)
    try:
        check_request(conn, job_name, options)
    except JobError as error:
        module.fail_json(msg=str(error), queued=False)
    finally:
        if conn is not None:
            conn.close()


def _progress(module):
    """Each batch's progress record: a JSON line in the module's log and, under ``async``, the
    ``progress`` that ``async_status`` returns while the run goes on."""
    status = AsyncProgress()

    def progress(record: dict) -> None:
        log_line.emit(record, PROGRESS_LOGGER, module.log)
        status.report(record)
    return progress


def run_compliance_module(job_name: str, job_options: dict, **module_kwargs) -> None:
    """The whole body of a compliance module: check mode is the dry run."""
    module = AnsibleModule(argument_spec=compliance_argument_spec(**job_options, **queue_argument_spec()),
                           supports_check_mode=True, required_by={"triggered_by_source": "triggered_by"},
                           **module_kwargs)
    definition = job_definition(job_name)
    options = {name: module.params[name] for name in COMMON_OPTIONS + definition.scope_options}
    if module.params["queue"]:
        # Imported here, not at the top: the queue code (bullmq, redis, jsonschema) is about a third
        # of the module's CPU, which a run that does not queue need not pay (_queue.options says more).
        # The module's payload still carries it: Ansible finds imports anywhere in the file.
        from ansible_collections.skillforge.dataops.plugins.module_utils._queue.ansible_glue import (
            enqueue_for_module,
        )

        _check_before_queueing(module, job_name, options)
        enqueue_for_module(module, job_name, options)  # exits: a worker runs the job later
    conn, resolved = open_database(module, job_name)
    try:
        outcome = run_job_with_sample(conn, job_name, options, dry_run=module.check_mode, log=module.log,
                                      sample_size=DIFF_SAMPLE_SIZE if module._diff else 0,
                                      should_stop=controller_watch(), progress=_progress(module))
    except JobError as error:
        module.fail_json(msg=str(error), summary=error.summary, database=resolved.describe())
    finally:
        conn.close()
    for warning in outcome.summary.get("warnings", ()):
        module.warn(warning)
    result = dict(changed=outcome.summary["changed"], summary=outcome.summary, database=resolved.describe())
    if module._diff and outcome.sample:
        result["diff"] = _diff(outcome.sample)
    module.exit_json(**result)


def run_audit_info_module(filter_options: dict, required_by=None) -> None:
    """The whole body of compliance_audit_info: the connection options and ``filter_options``, each
    filter passed on to ``registry.audit_history``. It only reads, in check mode too."""
    argument_spec = database_argument_spec()
    argument_spec.update(filter_options)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, required_by=required_by)
    conn, resolved = open_database(module, "compliance_audit_info", autocommit=True)
    try:
        history = audit_history(conn, **{name: module.params[name] for name in filter_options})
    except JobError as error:
        module.fail_json(msg=str(error), database=resolved.describe())
    finally:
        conn.close()
    module.exit_json(changed=False, database=resolved.describe(), **history)
