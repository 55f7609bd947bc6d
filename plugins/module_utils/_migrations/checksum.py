# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flyway-compatible checksum of a SQL migration script.

Flyway (``ChecksumCalculator`` / ``LoadableResource.calculateChecksum``) reads
the script with ``java.io.BufferedReader.readLine()``, removes a byte order
mark from the first line, and feeds the UTF-8 bytes of every line *without its
line terminator* into one ``java.util.zip.CRC32``. The stored value is
``(int) crc32.getValue()``: the unsigned CRC reinterpreted as a signed 32-bit
integer.

Consequences that callers rely on:

* LF, CRLF and CR line endings give the same checksum;
* a trailing line terminator does not change the checksum;
* empty lines contribute no bytes (so ``"a\\n\\nb"`` and ``"a\\nb"`` collide,
  exactly as they do in Flyway);
* an empty file has checksum 0.

``str.splitlines()`` is deliberately *not* used: it also splits on
``\\x0b``, ``\\x0c``, ``\\x1c``-``\\x1e``, ``\\x85``, ``\\u2028`` and ``\\u2029``,
which ``readLine()`` keeps inside the line.
"""

from __future__ import annotations

import re
import zlib

__all__ = ["BOM", "read_lines", "checksum_of_text", "checksum_of_bytes", "checksum_of_file", "to_signed_int32"]

BOM = "\ufeff"

# Java's BufferedReader.readLine() terminators: "\n", "\r" or "\r\n".
_LINE_TERMINATOR = re.compile(r"\r\n|\r|\n")


def read_lines(text: str) -> list[str]:
    """Split ``text`` exactly as successive ``BufferedReader.readLine()`` calls would.

    A terminator at the very end does not start an extra (empty) line, and an
    empty text yields no line at all (``readLine()`` returns ``null`` at once).
    """
    if text == "":
        return []
    lines = _LINE_TERMINATOR.split(text)
    if text.endswith(("\n", "\r")):
        # "abc\n" splits into ["abc", ""]; readLine() returns "abc" and then null.
        lines.pop()
    return lines


def to_signed_int32(value: int) -> int:
    """Reinterpret an unsigned 32-bit value as Java's ``(int)`` cast does."""
    value &= 0xFFFFFFFF
    return value - 0x1_0000_0000 if value >= 0x8000_0000 else value


def checksum_of_text(text: str) -> int:
    """Flyway checksum of an already decoded script."""
    lines = read_lines(text)
    crc = 0
    for index, line in enumerate(lines):
        if index == 0 and line.startswith(BOM):
            # BomFilter.FilterBomFromString removes one leading BOM character.
            line = line[1:]
        crc = zlib.crc32(line.encode("utf-8"), crc)
    return to_signed_int32(crc)


def decode_script(data: bytes) -> str:
    """Decode script bytes as UTF-8 the way Java's reader does.

    Java's ``InputStreamReader`` replaces malformed input with U+FFFD rather
    than failing; ``errors="replace"`` gives the same result for the common
    cases (a truncated or invalid byte sequence).
    """
    return data.decode("utf-8", errors="replace")


def checksum_of_bytes(data: bytes) -> int:
    """Flyway checksum of raw script bytes (decoded as UTF-8)."""
    return checksum_of_text(decode_script(data))


def checksum_of_file(path: str) -> int:
    """Flyway checksum of the file at ``path``."""
    with open(path, "rb") as handle:
        return checksum_of_bytes(handle.read())
