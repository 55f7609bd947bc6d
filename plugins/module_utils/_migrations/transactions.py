# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which migrations can run in a transaction: Flyway's ``PostgreSQLParser.detectCanExecuteInTransaction``.

A statement PostgreSQL refuses inside a transaction block (``CREATE INDEX CONCURRENTLY``, ``VACUUM``,
...) makes its script non-transactional: the runner runs it a statement at a time outside a
transaction, under the session-level advisory lock. A script that mixes such statements with others
is refused, as Flyway refuses it with ``mixed=false`` (its default). Pure: no database.
"""

from __future__ import annotations

import re

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.sql_script import Statement, split_statements

# Flyway's patterns, matched against the statement's first words (comments dropped, whitespace
# collapsed, upper case), plus REINDEX ... CONCURRENTLY of any kind (PostgreSQL 12+), which Flyway's
# pattern misses (it knows only REINDEX SCHEMA/DATABASE/SYSTEM).
_ALWAYS = re.compile(
    r"^(?:(?:CREATE|DROP) (?:DATABASE|TABLESPACE|SUBSCRIPTION)\b"
    r"|ALTER SYSTEM\b"
    r"|(?:CREATE|DROP)(?: UNIQUE)? INDEX CONCURRENTLY\b"
    r"|REINDEX(?: \([^)]*\))?(?: VERBOSE)? (?:SCHEMA|DATABASE|SYSTEM)\b"
    r"|REINDEX\b[^;]*\bCONCURRENTLY\b"
    r"|VACUUM\b"
    r"|DISCARD ALL\b)"
)
# ALTER TYPE ... ADD VALUE cannot run in a transaction block before PostgreSQL 12.
_BEFORE_12 = re.compile(r"^ALTER TYPE\b.*\bADD VALUE\b")
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


def simplified(text: str) -> str:
    """The statement's words as the patterns see them: no comments, single spaces, upper case."""
    return " ".join(_COMMENT.sub(" ", text).split()).upper()


def cannot_run_in_transaction(text: str, server_version: int) -> bool:
    """True for a statement PostgreSQL refuses inside a transaction block (``server_version`` as
    ``server_version_num``, e.g. 160004)."""
    words = simplified(text)
    return bool(_ALWAYS.match(words)) or (server_version < 120000 and bool(_BEFORE_12.match(words)))


def non_transactional_statements(sql: str, server_version: int) -> tuple:
    """``(statements, outside)``: the script's statements and those that must run outside a transaction."""
    statements = split_statements(sql)
    return statements, [statement for statement in statements if cannot_run_in_transaction(statement.text, server_version)]


def _shown(statement: Statement) -> str:
    words = " ".join(statement.text.split())
    return "line %d: %s" % (statement.line, words if len(words) <= 60 else words[:57] + "...")


def mixed_statements_message(script: str, statements: list, outside: list) -> str | None:
    """None unless ``script`` mixes statements that must run outside a transaction with others:
    then one line naming both kinds, and what to do."""
    inside = [statement for statement in statements if statement not in outside]
    if not outside or not inside:
        return None
    return ("Detected both transactional and non-transactional statements within the same migration %s "
            "(mixed is not supported): outside a transaction: %s; in a transaction: %s. Move the "
            "non-transactional statements into a migration of their own"
            % (script, "; ".join(_shown(s) for s in outside[:3]), "; ".join(_shown(s) for s in inside[:3])))
