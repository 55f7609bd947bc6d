"""Migration settings that cannot work are refused when the settings are built: before any
connection exists, so nothing can be written. Flyway's own settings, the bounded waits that are not
Flyway's, and Flyway's target. No database."""

from __future__ import annotations

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.results import MigrationConfigError
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.settings import (
    SETTING_DEFAULTS,
    MigrationSettings,
)


@pytest.mark.parametrize("setting, message", [
    ({"table": "h" * 64}, "history_table must be 1 to 63 bytes"),
    ({"table": "é" * 32}, "history_table must be 1 to 63 bytes"),
    ({"schema": ""}, "history_schema must be 1 to 63 bytes"),
    ({"installed_by": "x" * 101}, "installed_by must be at most 100 characters"),
    ({"installed_by": "ops\x00"}, "installed_by must not contain a NUL"),
    ({"lock_retry_count": -1}, "lock_retry_count must be from 0 to 3600"),
    ({"lock_retry_interval": float("nan")}, "lock_retry_interval must be more than 0"),
    ({"db_lock_timeout": -1}, "db_lock_timeout must be from 0 .no limit. to 86400 seconds, got -1"),
    ({"db_lock_timeout": float("nan")}, "db_lock_timeout must be from 0"),
    ({"db_lock_timeout": True}, "db_lock_timeout must be from 0"),
    ({"db_statement_timeout": 86401}, "db_statement_timeout must be from 0"),
    ({"db_statement_timeout": "10s"}, "db_statement_timeout must be from 0"),
    ({"target": "v2"}, "target must be a version such as 1.4, 'latest' or 'current'"),
    ({"target": "1.x"}, "target must be a version"),
])
def test_settings_that_cannot_work_are_refused_before_anything_is_written(tmp_path, setting, message):
    with pytest.raises(MigrationConfigError, match=message):
        MigrationSettings(locations=[str(tmp_path)], **setting)


@pytest.mark.parametrize("setting", [
    {"db_lock_timeout": 0, "db_statement_timeout": 0}, {"db_lock_timeout": 0.25, "db_statement_timeout": 86400},
    {"target": "latest"}, {"target": "current"}, {"target": "1.4"}, {"target": "2"},
])
def test_bounds_and_targets_that_work(setting):
    settings = MigrationSettings(locations=["/migrations"], **setting)
    assert {name: getattr(settings, name) for name in setting} == setting


def test_the_waits_are_bounded_by_default():
    assert SETTING_DEFAULTS["db_lock_timeout"] == 10 and SETTING_DEFAULTS["db_statement_timeout"] == 3600
    assert SETTING_DEFAULTS["target"] is None
