# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flyway's placeholders: ``${name}`` in a script replaced before it runs (``PlaceholderReplacingReader``).

As Flyway does it: prefix ``${``, suffix ``}``, names compared case-insensitively, every ``${`` starts a
placeholder (in comments and strings too), an empty value removes it, a name without a value is an
error. The built-ins ``${flyway:defaultSchema}``, ``${flyway:user}``, ``${flyway:database}``,
``${flyway:timestamp}``, ``${flyway:filename}``, ``${flyway:workingDirectory}``, ``${flyway:table}`` and
``${flyway:environment}`` come from the session (``ParsingContext.populate``).

Checksums as Flyway computes them (``SqlMigrationResolver``): a versioned script's over its text as
written; a repeatable script's over its text with the placeholders replaced, so a new value re-applies
it, while its checksum as written stays an equivalent one that an applied row may match. Pure: no
database.
"""

from __future__ import annotations

import dataclasses
import os

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.checksum import checksum_of_text

PREFIX, SUFFIX, SEPARATOR = "${", "}", ":"
BUILT_IN = "flyway" + SEPARATOR
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"  # SimpleDateFormat("yyyy-MM-dd HH:mm:ss"), local time


class PlaceholderError(ValueError):
    """A placeholder without a value, or a placeholder setting that cannot work."""


def check_placeholders(placeholders: dict) -> dict:
    """The operator's placeholders, lower-cased as Flyway keys them; PlaceholderError names a bad one."""
    checked = {}
    for name, value in (placeholders or {}).items():
        if not isinstance(name, str) or not name or SUFFIX in name or PREFIX in name or "\x00" in name:
            raise PlaceholderError("placeholders: a name must be a non-empty string without '${' or '}', got %r"
                                   % (str(name)[:40],))
        if name.lower().startswith(BUILT_IN):
            raise PlaceholderError("placeholders: %s is one of Flyway's built-in placeholders (flyway:...), set by "
                                   "the session" % name[:40])
        if not isinstance(value, str) or "\x00" in value:
            raise PlaceholderError("placeholders: the value of %s must be a string without NUL characters" % name[:40])
        checked[name.lower()] = value
    return checked


def session_placeholders(*, schema: str, user: str, database: str, table: str, environment: str,
                         now, working_directory: str | None = None) -> dict:
    """Flyway's built-ins but ``filename`` (set per script), from the session."""
    values = {
        "defaultSchema": schema,
        "user": user,
        "database": database,
        "timestamp": now.strftime(TIMESTAMP_FORMAT),
        "workingDirectory": working_directory if working_directory is not None else os.getcwd(),
        "table": table,
        "environment": environment,
    }
    return {(BUILT_IN + name).lower(): value for name, value in values.items()}


def replace(text: str, placeholders: dict) -> str:
    """``text`` with every ``${name}`` replaced by its value (``placeholders`` keyed in lower case)."""
    parts = []
    position = 0
    while True:
        start = text.find(PREFIX, position)
        if start < 0:
            parts.append(text[position:])
            return "".join(parts)
        end = text.find(SUFFIX, start + len(PREFIX))
        name = text[start + len(PREFIX):] if end < 0 else text[start + len(PREFIX):end]
        if name.lower() not in placeholders:
            shown = PREFIX + name[:60] + SUFFIX
            if name.lower().startswith(BUILT_IN):
                raise PlaceholderError("Failed to populate value for default placeholder: %s" % shown)
            raise PlaceholderError("No value provided for placeholder: %s.  Check your configuration!" % shown)
        parts.append(text[position:start])
        parts.append(placeholders[name.lower()])
        if end < 0:
            return "".join(parts)
        position = end + len(SUFFIX)


def with_placeholders(migration, placeholders: dict):
    """The migration as it runs: its text replaced (``flyway:filename`` its file's name); a repeatable's
    checksum over that text and its checksum as written kept as the equivalent one. PlaceholderError
    names the script."""
    values = dict(placeholders, **{(BUILT_IN + "filename").lower(): os.path.basename(migration.script)})
    try:
        sql = replace(migration.sql, values)
    except PlaceholderError as error:
        raise PlaceholderError("%s (in %s)" % (error, migration.script)) from None
    if not migration.is_repeatable:
        return dataclasses.replace(migration, sql=sql)
    return dataclasses.replace(migration, sql=sql, checksum=checksum_of_text(sql), equivalent_checksum=migration.checksum)
