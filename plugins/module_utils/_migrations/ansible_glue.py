# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible side of the migration engine: option specs and result shaping for the two modules."""

from __future__ import annotations

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.ansible_glue import (
    database_argument_spec,
    open_database,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations import runner
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.info import DELETED
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.settings import SETTING_DEFAULTS
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.schema_history import SYNTHETIC_TYPES


def migration_argument_spec(with_command: bool) -> dict:
    spec = database_argument_spec()
    spec.update(
        locations=dict(type="list", elements="path", required=True),
        history_table=dict(type="str", default=SETTING_DEFAULTS["table"]),
        history_schema=dict(type="str"),
        placeholders=dict(type="dict", default={}, no_log=True),
        placeholder_replacement=dict(type="bool", default=SETTING_DEFAULTS["placeholder_replacement"]),
    )
    if with_command:
        spec.update(
            command=dict(type="str", default="migrate", choices=["migrate", "validate", "baseline", "repair"]),
            baseline_version=dict(type="str", default=SETTING_DEFAULTS["baseline_version"]),
            baseline_description=dict(type="str", default=SETTING_DEFAULTS["baseline_description"]),
            baseline_on_migrate=dict(type="bool", default=SETTING_DEFAULTS["baseline_on_migrate"]),
            create_schemas=dict(type="bool", default=SETTING_DEFAULTS["create_schemas"]),
            installed_by=dict(type="str"),
            allow_pending=dict(type="bool", default=False),
            lock_retry_count=dict(type="int", default=SETTING_DEFAULTS["lock_retry_count"]),
            target=dict(type="str"),
            db_lock_timeout=dict(type="float", default=SETTING_DEFAULTS["db_lock_timeout"]),
            db_statement_timeout=dict(type="float", default=SETTING_DEFAULTS["db_statement_timeout"]),
        )
    return spec


def _settings(module) -> runner.MigrationSettings:
    """The engine's settings from the module's options; a setting that cannot work fails the task."""
    try:
        return _settings_from(module.params)
    except runner.MigrationConfigError as error:
        module.fail_json(msg=str(error))


def _settings_from(params: dict) -> runner.MigrationSettings:
    """migrate_info has no baseline, schema-creation or lock options: the engine's defaults apply."""
    return runner.MigrationSettings(
        locations=params["locations"],
        schema=params.get("history_schema"),
        table=params["history_table"],
        installed_by=params.get("installed_by"),
        baseline_version=params.get("baseline_version") or SETTING_DEFAULTS["baseline_version"],
        baseline_description=params.get("baseline_description") or SETTING_DEFAULTS["baseline_description"],
        baseline_on_migrate=bool(params.get("baseline_on_migrate")),
        create_schemas=params.get("create_schemas", SETTING_DEFAULTS["create_schemas"]),
        lock_retry_count=params.get("lock_retry_count", SETTING_DEFAULTS["lock_retry_count"]),
        target=params.get("target"),
        placeholders=params.get("placeholders") or {},
        placeholder_replacement=params.get("placeholder_replacement", SETTING_DEFAULTS["placeholder_replacement"]),
        environment=params.get("env"),
        db_lock_timeout=params.get("db_lock_timeout", SETTING_DEFAULTS["db_lock_timeout"]),
        db_statement_timeout=params.get("db_statement_timeout", SETTING_DEFAULTS["db_statement_timeout"]),
    )


def _listing(entries: list[dict]) -> str:
    lines = []
    for entry in entries:
        label = entry["version"] if entry.get("version") else "R"
        lines.append("%s %s (%s)" % (label, entry["description"], entry["script"]))
    return "".join(line + "\n" for line in lines)


def _diff(applied_before: list[dict], to_apply: list[dict], table: str) -> dict:
    before = _listing(applied_before)
    return {
        "before_header": "%s (applied)" % table,
        "after_header": "%s (after migrate)" % table,
        "before": before,
        "after": before + _listing(to_apply),
    }


def _absorb(module, result: dict, data: dict) -> dict:
    """Merge an operation's result; its warnings become Ansible warnings (``warnings`` is reserved)."""
    data = dict(data)
    findings = data.pop("warnings", [])
    for finding in findings:
        module.warn(finding)
    result.update(data)
    result["migration_warnings"] = findings
    result["history_source"] = data.get("history_table")
    return data


def run_migrate_module(module) -> None:
    """Body of skillforge.dataops.migrate."""
    params = module.params
    settings = _settings(module)
    command = params["command"]
    dry_run = module.check_mode
    conn, resolved = open_database(module, "migrate", require_schema=False)
    result = dict(changed=False, command=command, database=resolved.describe(), applied=[], pending=[],
                  executed=[])
    try:
        if command == "migrate":
            before = [m for m in runner.info(conn, settings).migrations
                      if m["installed_rank"] is not None and m["state"] != DELETED and m["type"] not in SYNTHETIC_TYPES]
            outcome = runner.migrate(conn, settings, dry_run=dry_run)
            data = _absorb(module, result, outcome.as_dict())
            to_apply = data["pending"] if dry_run else data["applied"]
            result["executed"] = [m["script"] for m in data["applied"]]
            if module._diff:
                result["diff"] = _diff(before, to_apply, data["history_table"])
            result["msg"] = _migrate_message(data)
        elif command == "validate":
            data = _absorb(module, result, runner.validate(conn, settings, allow_pending=params["allow_pending"]).as_dict())
            if not data["valid"]:
                module.fail_json(msg="Validate failed: " + "; ".join(i["message"] for i in data["issues"]),
                                 **result)
            result["msg"] = "Successfully validated %d migrations" % data["validated_count"]
        elif command == "baseline":
            data = runner.baseline(conn, settings, params["baseline_version"], params["baseline_description"],
                                   dry_run=dry_run).as_dict()
            data = _absorb(module, result, data)
            result["msg"] = data["message"]
        else:
            data = _absorb(module, result, runner.repair(conn, settings, dry_run=dry_run).as_dict())
            if not data["changed"]:
                result["msg"] = "Schema history table needs no repair"
            elif module.check_mode:
                result["msg"] = "Would repair the schema history table (check mode: nothing written)"
            else:
                result["msg"] = "Repaired schema history table"
    except runner.MigrationFailedError as error:
        partial = _absorb(module, result, error.result.as_dict())
        result["executed"] = [m["script"] for m in partial["applied"]]
        result["changed"] = bool(partial["applied"]) or partial["created_history_table"]
        result["failure"] = error.failure.as_dict()
        module.fail_json(msg=str(error), **result)
    except runner.ValidationFailedError as error:
        module.fail_json(msg=str(error), issues=error.issues, **result)
    except (runner.MigrationError, runner.MigrationFileError) as error:
        module.fail_json(msg=str(error), **result)
    finally:
        conn.close()
    module.exit_json(**result)


def _migrate_message(data: dict) -> str:
    held = ("; %d migration(s) above the target stay pending" % len(data["above_target"])
            if data["above_target"] else "")
    if data["dry_run"]:
        if not data["pending"]:
            return "Schema %s is up to date. No migration necessary%s." % (data["schema"], held)
        return "Would apply %d migration(s) to schema %s%s" % (len(data["pending"]), data["schema"], held)
    if not data["applied"]:
        return "Schema %s is up to date. No migration necessary%s." % (data["schema"], held)
    return "Successfully applied %d migration(s) to schema %s, now at version %s%s" % (
        len(data["applied"]), data["schema"], data["target_version"], held)


def run_migrate_info_module(module) -> None:
    """Body of skillforge.dataops.migrate_info."""
    settings = _settings(module)
    conn, resolved = open_database(module, "migrate", require_schema=False)
    result = dict(changed=False, database=resolved.describe())
    try:
        _absorb(module, result, runner.info(conn, settings).as_dict())
    except (runner.MigrationError, runner.MigrationFileError) as error:
        module.fail_json(msg=str(error), database=resolved.describe())
    finally:
        conn.close()
    module.exit_json(**result)
