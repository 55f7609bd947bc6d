"""Migration settings that cannot work are refused when the settings are built: before any
connection exists, so nothing can be written. No database."""

from __future__ import annotations

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.results import MigrationConfigError
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.settings import MigrationSettings


@pytest.mark.parametrize("setting, message", [
    ({"table": "h" * 64}, "history_table must be 1 to 63 bytes"),
    ({"table": "é" * 32}, "history_table must be 1 to 63 bytes"),
    ({"schema": ""}, "history_schema must be 1 to 63 bytes"),
    ({"installed_by": "x" * 101}, "installed_by must be at most 100 characters"),
    ({"installed_by": "ops\x00"}, "installed_by must not contain a NUL"),
    ({"lock_retry_count": -1}, "lock_retry_count must be from 0 to 3600"),
    ({"lock_retry_interval": float("nan")}, "lock_retry_interval must be more than 0"),
])
def test_settings_that_cannot_work_are_refused_before_anything_is_written(tmp_path, setting, message):
    with pytest.raises(MigrationConfigError, match=message):
        MigrationSettings(locations=[str(tmp_path)], **setting)
