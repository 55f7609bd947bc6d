# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Locate statements inside a PostgreSQL script, for error reports only.

Migrations are executed as one script (PostgreSQL parses it, so its own rules
always apply). When a statement fails, PostgreSQL reports a character position
inside the whole script; this lexer maps that position back to the statement,
line and column. It understands '...' / E'...' strings, "identifiers",
$tag$ dollar quotes, -- line comments, nested /* */ comments and
``BEGIN ATOMIC ... END`` bodies well enough to find statement boundaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Statement", "split_statements", "locate"]

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\u0080-\uffff][A-Za-z_0-9\u0080-\uffff]*)?\$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9$]*")


@dataclass(frozen=True)
class Statement:
    index: int  # 1-based number of the statement in the script
    start: int  # offset of the first non-blank character
    end: int  # offset just after the terminating semicolon (or end of script)
    line: int  # 1-based line of ``start``
    text: str


def split_statements(script: str) -> list[Statement]:
    statements: list[Statement] = []
    length = len(script)
    i = 0
    start = None
    atomic_depth = 0  # inside BEGIN ATOMIC ... END semicolons do not end the statement
    previous_word = ""

    def close(end: int) -> None:
        nonlocal start
        if start is not None:
            text = script[start:end].strip()
            if text and text != ";":
                statements.append(
                    Statement(len(statements) + 1, start, end, script.count("\n", 0, start) + 1, text)
                )
        start = None

    while i < length:
        char = script[i]
        if char.isspace():
            i += 1
            continue
        if script.startswith("--", i):
            newline = script.find("\n", i)
            i = length if newline < 0 else newline + 1
            continue
        if script.startswith("/*", i):
            depth, i = 1, i + 2
            while i < length and depth:
                if script.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif script.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            continue
        if start is None:
            start = i
        if char == "'":
            escaped = i > 0 and script[i - 1] in "eE" and (i < 2 or not (script[i - 2].isalnum() or script[i - 2] == "_"))
            i += 1
            while i < length:
                if escaped and script[i] == "\\":
                    i += 2
                    continue
                if script[i] == "'":
                    if script.startswith("''", i):
                        i += 2
                        continue
                    i += 1
                    break
                i += 1
            continue
        if char == '"':
            closing = script.find('"', i + 1)
            while closing >= 0 and script.startswith('""', closing):
                closing = script.find('"', closing + 2)
            i = length if closing < 0 else closing + 1
            continue
        if char == "$":
            match = _DOLLAR_TAG.match(script, i)
            if match:
                tag = match.group(0)
                closing = script.find(tag, match.end())
                i = length if closing < 0 else closing + len(tag)
                continue
        word = _WORD.match(script, i)
        if word:
            upper = word.group(0).upper()
            if upper == "ATOMIC" and previous_word == "BEGIN":
                atomic_depth += 1
            elif upper == "END" and atomic_depth:
                atomic_depth -= 1
            elif upper in ("CASE",) and atomic_depth:
                atomic_depth += 1
            previous_word = upper
            i = word.end()
            continue
        if char == ";" and not atomic_depth:
            close(i + 1)
            i += 1
            previous_word = ""
            continue
        previous_word = "" if not char.isalnum() else previous_word
        i += 1
    close(length)
    return statements


def line_and_column(script: str, offset: int) -> tuple[int, int]:
    line = script.count("\n", 0, offset) + 1
    column = offset - (script.rfind("\n", 0, offset) + 1) + 1
    return line, column


def locate(script: str, position: int) -> tuple[Statement | None, int, int]:
    """Map PostgreSQL's 1-based character ``position`` to (statement, line, column)."""
    offset = max(0, min(len(script), position - 1))
    line, column = line_and_column(script, offset)
    for statement in split_statements(script):
        if statement.start <= offset < statement.end:
            return statement, line, column
    return None, line, column
