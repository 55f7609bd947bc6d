# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``flyway validate`` over ``flyway info``: which states and differences fail, which only warn.

Pure, as Flyway's ``MigrationInfoImpl.validate`` (collected by ``MigrationInfoServiceImpl.validate``
for ``DbValidate``) with the default ``ignoreMigrationPatterns = *:future``: future migrations warn,
everything else listed here fails. ``allow_pending`` is what ``migrate`` validates with.
"""

from __future__ import annotations

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.files import MigrationVersion
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.info import (
    BASELINE,
    DELETED,
    FAILED,
    FUTURE,
    FUTURE_FAILED,
    IGNORED,
    MISSING,
    MISSING_FAILED,
    OUTDATED,
    PENDING,
    SUPERSEDED,
    MigrationInfo,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.schema_history import SYNTHETIC_TYPES

__all__ = ["validate_infos"]


def _issue(kind: str, entry: MigrationInfo, message: str) -> dict:
    return {
        "kind": kind,
        "version": entry.version,
        "description": entry.description,
        "script": entry.script,
        "path": entry.resolved.path if entry.resolved is not None else None,
        "state": entry.state,
        "message": message,
    }


def validate_infos(infos: list[MigrationInfo], allow_pending: bool) -> tuple[list[dict], list[str]]:
    """The issues (each a dict with ``kind`` and ``message``) that fail validation, and the warnings."""
    issues: list[dict] = []
    warnings: list[str] = []
    baseline_version = None
    for entry in infos:
        if entry.state == BASELINE and entry.version is not None:
            version = MigrationVersion(entry.version)
            baseline_version = version if baseline_version is None or version > baseline_version else baseline_version
    for entry in infos:
        state = entry.state
        label = ("version %s" % entry.version) if entry.version else ("repeatable migration '%s'" % entry.description)
        if state == DELETED:
            continue
        if state == FUTURE_FAILED:
            warnings.append("Schema history contains a failed future migration to version %s" % entry.version)
            continue
        if state in (FAILED, MISSING_FAILED):
            issues.append(_issue("failed", entry, (
                "Detected failed migration to %s (%s) in script %s. On PostgreSQL its changes were rolled back; "
                "run the repair command to remove the failed entry, fix the script and migrate again."
            ) % (label, entry.description, entry.script)))
            continue
        if state == FUTURE:
            warnings.append(
                "Schema history has version %s, newer than the latest available migration (%s)."
                % (entry.version, entry.script)
            )
            continue
        if state == MISSING:
            issues.append(_issue("missing", entry, (
                "Detected applied migration not resolved locally: %s (script %s). Restore the file in the "
                "migrations location, or, if you removed this migration intentionally, run repair to mark it "
                "as deleted."
            ) % (label, entry.script)))
            continue
        if state == IGNORED:
            issues.append(_issue("ignored", entry, (
                "Detected resolved migration not applied to database: %s (%s). Its version is lower than the "
                "latest applied version; give it a higher version number."
            ) % (entry.version, entry.script)))
            continue
        if state == PENDING and not allow_pending:
            if entry.version is not None:
                message = "Detected resolved migration not applied to database: %s (%s). Run migrate." % (
                    entry.version, entry.script)
            else:
                message = "Detected resolved repeatable migration not applied to database: %s (%s). Run migrate." % (
                    entry.description, entry.script)
            issues.append(_issue("pending", entry, message))
            continue
        if state == OUTDATED and not allow_pending:
            issues.append(_issue("outdated", entry, (
                "Detected outdated resolved repeatable migration that should be re-applied to database: %s (%s). "
                "Run migrate."
            ) % (entry.description, entry.script)))
            continue
        resolved, applied = entry.resolved, entry.applied
        if resolved is None or applied is None or applied.type in SYNTHETIC_TYPES:
            continue
        if applied.version is not None and baseline_version is not None and \
                MigrationVersion(applied.version) <= baseline_version:
            continue
        identifier = applied.script if applied.version is None else "version %s" % applied.version
        if resolved.type != applied.type:
            issues.append(_issue("type", entry, (
                "Migration type mismatch for migration %s\n-> Applied to database : %s\n-> Resolved locally    : %s"
            ) % (identifier, applied.type, resolved.type)))
            continue
        if resolved.version is not None or (allow_pending and state not in (OUTDATED, SUPERSEDED)):
            if not resolved.checksum_matches(applied.checksum):
                issues.append(_issue("checksum", entry, (
                    "Migration checksum mismatch for migration %s\n-> Applied to database : %s\n"
                    "-> Resolved locally    : %s\nThe file %s was changed after it was applied. Either revert the "
                    "changes to the migration (restore the file), or run repair to update the schema history."
                ) % (identifier, applied.checksum, resolved.checksum, resolved.path)))
                continue
        if resolved.description != applied.description:
            issues.append(_issue("description", entry, (
                "Migration description mismatch for migration %s\n-> Applied to database : %s\n"
                "-> Resolved locally    : %s\nRename the file back, or run repair to update the schema history."
            ) % (identifier, applied.description, resolved.description)))
    return issues, warnings
