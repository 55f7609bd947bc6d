# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration engine's settings and their defaults (Flyway's, unless said otherwise).

:data:`SETTING_DEFAULTS` is the one place the modules' option defaults come from.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from types import MappingProxyType

from ansible_collections.skillforge.dataops.plugins.module_utils._shared import errors
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.blockers import check_timeout
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.placeholders import PlaceholderError, check_placeholders
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.files import MigrationFileError, MigrationVersion
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.results import MigrationConfigError
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.schema_history import (
    DEFAULT_BASELINE_DESCRIPTION,
    DEFAULT_HISTORY_TABLE,
)

__all__ = ["MigrationSettings", "SETTING_DEFAULTS"]

MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1
MAX_LOCK_RETRY_COUNT = 3600
TARGET_KEYWORDS = ("latest", "current")  # Flyway's MigrationVersion.LATEST / CURRENT


@dataclass
class MigrationSettings:
    locations: list[str]
    schema: str | None = None  # history table schema; None = current_schema() of the connection
    table: str = DEFAULT_HISTORY_TABLE
    installed_by: str | None = None  # None = current_user, as Flyway records it
    baseline_version: str = "1"
    baseline_description: str = DEFAULT_BASELINE_DESCRIPTION
    baseline_on_migrate: bool = False
    create_schemas: bool = True
    lock_retry_count: int = 50  # Flyway's default lockRetryCount
    lock_retry_interval: float = 1.0  # seconds; Flyway waits 1 s between tries
    # PostgreSQL's lock_timeout and statement_timeout for each migration's transaction, in seconds
    # (0 = no limit). Not Flyway settings: a migration that waits behind a long transaction holds
    # every later query on that table behind its own lock request, so it gives up instead.
    db_lock_timeout: float = 10.0
    db_statement_timeout: float = 3600.0
    target: str | None = None  # Flyway's target: migrate up to this version; None = latest
    placeholder_replacement: bool = True  # Flyway's default
    placeholders: dict = field(default_factory=dict)  # ${name} -> value (Flyway's flyway.placeholders.*)
    environment: str | None = None  # ${flyway:environment}; None = Flyway's "default"

    def __post_init__(self) -> None:
        """Refuse what PostgreSQL would truncate or reject later, after a history table was made,
        and waits without end (Flyway's lockRetryCount -1 retries for ever; not here)."""
        for option, value in (("history_table", self.table), ("history_schema", self.schema)):
            if value is not None and not 1 <= len(value.encode("utf-8")) <= MAX_IDENTIFIER_BYTES:
                raise MigrationConfigError("%s must be 1 to %d bytes long (PostgreSQL truncates longer names), got %d"
                                           % (option, MAX_IDENTIFIER_BYTES, len(value.encode("utf-8"))))
        for option, value, limit in (("installed_by", self.installed_by, 100),
                                     ("baseline_description", self.baseline_description, 200)):
            if value is not None and len(value) > limit:  # the history table's VARCHAR(100) / VARCHAR(200)
                raise MigrationConfigError("%s must be at most %d characters (the history table's column), got %d"
                                           % (option, limit, len(value)))
        for option, value in (("history_table", self.table), ("history_schema", self.schema),
                              ("installed_by", self.installed_by), ("baseline_description", self.baseline_description)):
            if value is not None and "\x00" in value:
                raise MigrationConfigError("%s must not contain a NUL character" % option)
        if self.baseline_version is not None:
            try:
                MigrationVersion(str(self.baseline_version))
            except MigrationFileError:
                raise MigrationConfigError("baseline_version must be a version such as 1 or 1.2 (digits and dots), "
                                           "got %s" % errors.echo(self.baseline_version)) from None
        if isinstance(self.lock_retry_count, bool) or not isinstance(self.lock_retry_count, int) or not (
                0 <= self.lock_retry_count <= MAX_LOCK_RETRY_COUNT):
            raise MigrationConfigError("lock_retry_count must be from 0 to %d (whole tries, %s s apart), got %s"
                                       % (MAX_LOCK_RETRY_COUNT, self.lock_retry_interval,
                                          errors.echo(self.lock_retry_count, 20)))
        if not 0 < self.lock_retry_interval <= 60:  # also refuses NaN
            raise MigrationConfigError("lock_retry_interval must be more than 0 and at most 60 seconds")
        for option in ("db_lock_timeout", "db_statement_timeout"):
            try:
                setattr(self, option, check_timeout(option, getattr(self, option)))
            except ValueError as error:
                raise MigrationConfigError(str(error)) from None
        try:
            self.placeholders = check_placeholders(self.placeholders)
        except PlaceholderError as error:
            raise MigrationConfigError(str(error)) from None
        if self.target is not None and self.target not in TARGET_KEYWORDS:
            try:
                MigrationVersion(str(self.target))
            except MigrationFileError:
                raise MigrationConfigError("target must be a version such as 1.4, 'latest' or 'current', got %s"
                                           % errors.echo(self.target)) from None


# Every setting that has a default, by field name: {"table": "flyway_schema_history", "lock_retry_count": 50, ...}.
SETTING_DEFAULTS = MappingProxyType(
    {setting.name: setting.default for setting in fields(MigrationSettings) if setting.default is not MISSING}
)
