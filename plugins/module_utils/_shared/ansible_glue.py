# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible side of the connection helper: shared options and a clean failure for modules."""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.skillforge.dataops.plugins.module_utils._shared import dependencies
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.connection import (
    DatabaseConfigError,
    DatabaseConnectionError,
    application_name,
    connect,
    resolve_database,
)


def require(module, *packages):
    """Fail the task in one line naming every missing Python package of ``packages``."""
    missing = dependencies.missing(*packages)
    if missing:
        module.fail_json(msg=missing_required_lib(dependencies.describe(missing)),
                         exception=str(dependencies.import_error(missing[0])))


def database_argument_spec() -> dict:
    """Connection options every database module takes (documented in the database doc fragment)."""
    return dict(
        dsn=dict(type="str", no_log=True),
        env=dict(type="str"),
        connect_timeout=dict(type="int", default=10),
    )


def show_unless_secret(module, option: str, has_secret: bool) -> None:
    """A no_log URL option (``dsn``, ``redis_url``) without a password may be shown as given:
    Ansible would otherwise mask every copy of it, including the result's url
    ("VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"), though there is nothing to hide."""
    if module.params[option] and not has_secret:
        module.no_log_values.discard(module.params[option])


def _resolve(module):
    """The database the module's options name (DatabaseConfigError when they name none)."""
    resolved = resolve_database(dsn=module.params["dsn"], env=module.params["env"])
    show_unless_secret(module, "dsn", resolved.has_secret)
    return resolved


def open_database(module, component=None, autocommit=False, require_schema=True):
    """Resolve and connect from the module's options; fail the task with one safe line on error.

    Returns ``(connection, resolved)``; ``resolved.describe()`` belongs in the module's result.
    """
    require(module, "psycopg")
    resolved = None
    try:
        resolved = _resolve(module)
        conn = connect(resolved, application_name=application_name(component), autocommit=autocommit,
                       connect_timeout=module.params["connect_timeout"], require_schema=require_schema)
    except (DatabaseConfigError, DatabaseConnectionError) as error:
        module.fail_json(msg=str(error), database=resolved.describe() if resolved else None)
    return conn, resolved


def reachable_database(module, component=None):
    """``(connection, None)`` when the module's database options name a database that accepts a
    connection, else ``(None, reason)``: for checks worth making where the database can be reached
    (a job about to be queued), not needed where it cannot."""
    if dependencies.missing("psycopg"):
        return None, "psycopg is not installed"
    try:
        return connect(_resolve(module), application_name=application_name(component),
                       connect_timeout=module.params["connect_timeout"]), None
    except (DatabaseConfigError, DatabaseConnectionError) as error:
        return None, str(error)
