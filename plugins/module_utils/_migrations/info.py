# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``flyway info``: resolved scripts paired with applied history rows, each with Flyway's state.

Pure: :func:`build_info` takes the resolved migrations and the history rows and reads nothing else,
as Flyway's ``MigrationInfoServiceImpl.refresh`` does; the states and their names are
``MigrationInfoImpl.getState`` / ``MigrationState``. :func:`migration_dict` is the one way a
migration (a resolved script or an applied row) becomes the dict a result carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.files import (
    MigrationVersion,
    ResolvedMigration,
    description_sort_key,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.schema_history import (
    SYNTHETIC_TYPES,
    AppliedMigration,
)

__all__ = [
    "MigrationInfo",
    "build_info",
    "current_version",
    "migration_dict",
    "INFO_KEYS",
    "PENDING_KEYS",
    "APPLIED_KEYS",
    "HISTORY_ROW_KEYS",
]

# States as MigrationState.getDisplayName() spells them.
PENDING = "Pending"
BELOW_BASELINE = "Below Baseline"
BASELINE = "Baseline"
IGNORED = "Ignored"
MISSING = "Missing"
MISSING_FAILED = "Failed (Missing)"
SUCCESS = "Success"
FAILED = "Failed"
OUT_OF_ORDER = "Out of Order"
FUTURE = "Future"
FUTURE_FAILED = "Failed (Future)"
OUTDATED = "Outdated"
SUPERSEDED = "Superseded"
DELETED = "Deleted"
FAILED_STATES = (FAILED, MISSING_FAILED, FUTURE_FAILED)

# The keys, in order, of each dict a result carries for a migration (see migration_dict).
INFO_KEYS = ("category", "version", "description", "type", "script", "checksum", "installed_rank",
             "installed_on", "installed_by", "execution_time", "state")  # info's migrations
PENDING_KEYS = ("category", "version", "description", "script", "path", "checksum", "type")  # migrate's pending
APPLIED_KEYS = ("category", "version", "description", "script", "checksum", "execution_time",
                "installed_rank")  # migrate's applied
HISTORY_ROW_KEYS = ("installed_rank", "version", "description", "type", "script", "checksum", "installed_by",
                    "installed_on", "execution_time", "success")  # repair's removed and deleted rows


def migration_dict(migration: ResolvedMigration | AppliedMigration, keys: tuple[str, ...], **extra) -> dict:
    """``migration`` as a result carries it: ``keys`` in order, each from ``extra`` if given there,
    else from the migration (what a resolved script cannot know, such as its rank, is None)."""
    values = dict.fromkeys(("path", "installed_rank", "installed_on", "installed_by", "execution_time", "success"))
    if isinstance(migration, ResolvedMigration):
        values.update(category=migration.category, version=migration.version_text, path=migration.path)
    else:
        values.update({
            "category": "" if migration.type in SYNTHETIC_TYPES else (
                "Repeatable" if migration.version is None else "Versioned"),
            "version": migration.version,
            "installed_rank": migration.installed_rank,
            # As the history table holds it (Flyway's TIMESTAMP DEFAULT now(): the database server's
            # time zone, no zone stated), not _shared.timestamps.utc_timestamp: a UTC "Z" would be wrong.
            "installed_on": migration.installed_on.isoformat(sep=" ") if migration.installed_on is not None else None,
            "installed_by": migration.installed_by,
            "execution_time": migration.execution_time,
            "success": migration.success,
        })
    values.update(description=migration.description, type=migration.type, script=migration.script,
                  checksum=migration.checksum)
    values.update(extra)
    return {key: values[key] for key in keys}


@dataclass
class MigrationInfo:
    """One line of ``flyway info``: the applied row's values where there is one, else the script's."""

    category: str  # "Versioned", "Repeatable" or "" for BASELINE/SCHEMA rows
    version: str | None
    description: str
    type: str
    script: str
    checksum: int | None
    installed_rank: int | None
    installed_on: str | None
    installed_by: str | None
    execution_time: int | None
    state: str
    resolved: ResolvedMigration | None = field(default=None, repr=False)
    applied: AppliedMigration | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        return {key: getattr(self, key) for key in INFO_KEYS}


def _info_entry(resolved: ResolvedMigration | None, applied: AppliedMigration | None, state: str) -> MigrationInfo:
    shown = applied if applied is not None else resolved
    return MigrationInfo(**migration_dict(shown, INFO_KEYS, state=state), resolved=resolved, applied=applied)


def build_info(resolved: list[ResolvedMigration], applied_rows: list[AppliedMigration]) -> list[MigrationInfo]:
    """Flyway's MigrationInfoServiceImpl, for SQL migrations with default settings
    (no target, outOfOrder=false, ignoreMigrationPatterns=*:future)."""
    resolved_versioned = {m.version: m for m in resolved if m.version is not None}
    resolved_repeatable = {m.description: m for m in resolved if m.version is None}
    last_resolved = max(resolved_versioned) if resolved_versioned else None

    # DELETE rows (repair of a missing migration) hide the rows they delete.
    deleted_ranks: set[int] = set()
    live_rows: list[AppliedMigration] = []
    for row in applied_rows:
        if row.type == "DELETE":
            if row.success:
                for earlier in live_rows:
                    same = (
                        row.version is not None and earlier.version is not None
                        and MigrationVersion(earlier.version) == MigrationVersion(row.version)
                    ) or (row.version is None and earlier.version is None and earlier.description == row.description)
                    if same:
                        deleted_ranks.add(earlier.installed_rank)
            continue
        live_rows.append(row)

    versioned_rows = [r for r in live_rows if r.version is not None]
    baseline_version = None
    for row in versioned_rows:
        if row.type == "BASELINE":
            version = MigrationVersion(row.version)
            if baseline_version is None or version > baseline_version:
                baseline_version = version
    active_versions = [MigrationVersion(r.version) for r in versioned_rows if r.installed_rank not in deleted_ranks]
    last_applied = max(active_versions) if active_versions else None

    infos: list[MigrationInfo] = []
    matched_versions: set[MigrationVersion] = set()
    highest_so_far: MigrationVersion | None = None
    for row in live_rows:
        if row.version is None:
            continue
        version = MigrationVersion(row.version)
        candidate = resolved_versioned.get(version)
        if row.installed_rank in deleted_ranks:
            infos.append(_info_entry(candidate, row, DELETED))
            continue
        if candidate is not None:
            matched_versions.add(version)
        if row.type == "BASELINE":
            state = BASELINE
        elif candidate is None:
            if last_resolved is not None and version < last_resolved:
                state = MISSING if row.success else MISSING_FAILED
            else:
                state = FUTURE if row.success else FUTURE_FAILED
        elif not row.success:
            state = FAILED
        elif highest_so_far is not None and version < highest_so_far:
            state = OUT_OF_ORDER
        else:
            state = SUCCESS
        if row.type != "SCHEMA" and (highest_so_far is None or version > highest_so_far):
            highest_so_far = version
        infos.append(_info_entry(candidate, row, state))

    # Repeatables: the latest row per description decides; older ones are superseded.
    latest_rank: dict[str, int] = {}
    for row in live_rows:
        if row.version is None and row.type not in SYNTHETIC_TYPES and row.installed_rank not in deleted_ranks:
            latest_rank[row.description] = row.installed_rank
    for row in live_rows:
        if row.version is not None:
            continue
        if row.type == "SCHEMA":
            infos.append(_info_entry(None, row, SUCCESS))
            continue
        candidate = resolved_repeatable.get(row.description)
        if row.installed_rank in deleted_ranks:
            state = DELETED
        elif row.installed_rank != latest_rank.get(row.description):
            state = SUPERSEDED
        elif candidate is None:
            state = MISSING if row.success else MISSING_FAILED
        elif not row.success:
            state = FAILED
        elif candidate.checksum_matches(row.checksum):
            state = SUCCESS
        else:
            state = OUTDATED
        infos.append(_info_entry(candidate, row, state))

    # Sort applied entries by installed_rank, as flyway info lists them.
    infos.sort(key=lambda i: i.installed_rank)

    pending: list[MigrationInfo] = []
    for version, migration in sorted(resolved_versioned.items()):
        if version in matched_versions:
            continue
        if baseline_version is not None and version <= baseline_version:
            state = BELOW_BASELINE if version < baseline_version else IGNORED
        elif last_applied is not None and version < last_applied:
            state = IGNORED
        else:
            state = PENDING
        pending.append(_info_entry(migration, None, state))
    latest_rows = {r.installed_rank: r for r in live_rows}
    for description in sorted(resolved_repeatable, key=description_sort_key):
        migration = resolved_repeatable[description]
        rank = latest_rank.get(description)
        latest = latest_rows.get(rank) if rank is not None else None
        if latest is None or not migration.checksum_matches(latest.checksum) or not latest.success:
            if latest is not None and not latest.success:
                continue  # a failed repeatable blocks; validation reports it
            pending.append(_info_entry(migration, None, PENDING))
    # Below-baseline entries are listed before the baseline row in flyway info.
    below = [p for p in pending if p.state == BELOW_BASELINE]
    rest = [p for p in pending if p.state != BELOW_BASELINE]
    return below + infos + rest


def current_version(infos: list[MigrationInfo]) -> str | None:
    """The highest applied version that counts (not failed, not deleted): ``flyway info``'s current."""
    best = None
    for entry in infos:
        if entry.version is None or entry.applied is None or entry.state in (DELETED,) or entry.state in FAILED_STATES:
            continue
        version = MigrationVersion(entry.version)
        if best is None or version > best:
            best = version
    return str(best) if best is not None else None


def beyond_target(infos: list[MigrationInfo], target: str | None) -> list[MigrationInfo]:
    """Flyway's ``target``: the pending versioned migrations above it, which migrate leaves pending
    (``flyway info`` shows them as "Above Target"). Repeatable migrations are never held back.

    ``target`` is None or ``latest`` (no limit), ``current`` (the current version: no versioned
    migration runs) or a version, which must be one of a script or of the history (Flyway's
    ``failOnMissingTarget``): else ValueError.
    """
    if target in (None, "latest"):
        return []
    pending = [entry for entry in infos if entry.state == PENDING and entry.version is not None]
    if target == "current":
        current = current_version(infos)
        limit = MigrationVersion(current) if current is not None else None
    else:
        limit = MigrationVersion(target)
        if not any(entry.version is not None and MigrationVersion(entry.version) == limit for entry in infos):
            raise ValueError("No migration with a target version %s could be found. Ensure target is specified "
                             "correctly and the migration exists." % limit)
    return [entry for entry in pending if limit is None or MigrationVersion(entry.version) > limit]
