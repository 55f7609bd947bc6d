"""The migration engine's settings that are not Flyway's own (bounded waits) and Flyway's target,
refused in one line naming the option when they cannot work."""

from __future__ import annotations

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.results import MigrationConfigError
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.settings import (
    SETTING_DEFAULTS,
    MigrationSettings,
)


@pytest.mark.parametrize("setting, message", [
    ({"db_lock_timeout": -1}, "db_lock_timeout must be from 0 .no limit. to 86400 seconds, got -1"),
    ({"db_lock_timeout": float("nan")}, "db_lock_timeout must be from 0"),
    ({"db_lock_timeout": True}, "db_lock_timeout must be from 0"),
    ({"db_statement_timeout": 86401}, "db_statement_timeout must be from 0"),
    ({"db_statement_timeout": "10s"}, "db_statement_timeout must be from 0"),
    ({"target": "v2"}, "target must be a version such as 1.4, 'latest' or 'current'"),
    ({"target": "1.x"}, "target must be a version"),
])
def test_a_setting_that_cannot_work_is_refused(setting, message):
    with pytest.raises(MigrationConfigError, match=message):
        MigrationSettings(locations=["/migrations"], **setting)


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
