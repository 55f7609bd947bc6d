# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What may be shown of an error, and what never: the one place for the collection's policies.

PostgreSQL's DETAIL quotes whole rows (``Failing row contains (usr_1, someone@example.com, ...)``,
``Key (email)=(someone@example.com) already exists``), its data-exception messages quote the value
they choke on (``invalid input syntax for type integer: "..."``), and a COPY's CONTEXT quotes the
line. Messages for operators, results and audit rows name tables, constraints, columns, SQLSTATE and
ids: never row values. An option value echoed back is capped, so a 100 KB paste gives a short line.
Nothing here imports Ansible.
"""

from __future__ import annotations

import re

# SQLSTATE classes whose primary message can quote a value: data exceptions (22). Integrity
# violations (23) name the relation, column and constraint there and put the row in DETAIL.
VALUE_QUOTING_CLASSES = ("22",)
# Classes whose messages name objects and never quote data: syntax or access rule violation (42:
# `relation "X" does not exist`, `permission denied for table X`), invalid schema or catalog name.
OBJECT_NAMING_CLASSES = ("42", "3D", "3F")
QUOTED = re.compile(r'"(?:[^"]|"")*"')
ECHO_LIMIT = 60


def database_error_summary(error: Exception) -> str:
    """One line for an audit row or a task: the error class, SQLSTATE and the table and constraint
    it names. The server's message only for classes whose messages name objects, never data (an
    undefined table, a missing privilege); never DETAIL."""
    diag = getattr(error, "diag", None)
    parts = [type(error).__name__]
    for label, attribute in (("table", "table_name"), ("constraint", "constraint_name")):
        value = getattr(diag, attribute, None) if diag is not None else None
        if value:
            parts.append("%s %s" % (label, value))
    sqlstate = getattr(error, "sqlstate", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if primary and (sqlstate or "")[:2] in OBJECT_NAMING_CLASSES:
        parts.append("- %s" % clip(primary, 200))
    return " ".join(parts) + (" (SQLSTATE %s)" % sqlstate if sqlstate else "")


def server_message(error: Exception) -> dict:
    """What a migration failure may show of PostgreSQL's report: the primary message (with quoted
    values removed where the SQLSTATE class quotes data), the hint and the context (quoted text
    removed), never DETAIL. Keys ``error``, ``hint``, ``context``."""
    diag = getattr(error, "diag", None)
    sqlstate = getattr(error, "sqlstate", None) or ""
    primary = (getattr(diag, "message_primary", None) or str(error).strip().splitlines()[0]
               if str(error).strip() else type(error).__name__)
    if sqlstate[:2] in VALUE_QUOTING_CLASSES:
        primary = QUOTED.sub('"..."', primary)
    context = getattr(diag, "context", None)
    return {
        "error": primary,
        "hint": None if sqlstate[:2] in VALUE_QUOTING_CLASSES else getattr(diag, "message_hint", None),
        "context": QUOTED.sub('"..."', context) if context else None,
    }


def clip(text, limit: int = ECHO_LIMIT) -> str:
    """A value's text for a message: at most ``limit`` characters, then how long it was."""
    text = str(text)
    return text if len(text) <= limit else "%s... (%d characters)" % (text[:limit], len(text))


def echo(value, limit: int = ECHO_LIMIT) -> str:
    """An option value as an error may quote it: quoted (control characters escaped), clipped."""
    text = str(value)
    return repr(text) if len(text) <= limit else "%s... (%d characters)" % (repr(text[:limit]), len(text))
