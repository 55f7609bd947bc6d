# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resolve Flyway SQL migrations from directories on disk.

Naming follows Flyway's defaults: ``V<version>__<description>.sql`` for
versioned and ``R__<description>.sql`` for repeatable migrations (prefixes
``V``/``R``, separator ``__``, suffix ``.sql``). Versions behave like Flyway's
``MigrationVersion``: ``_`` means ``.``, parts compare numerically (``1.10``
after ``1.9``), leading zeros do not count (``01`` equals ``1``) and trailing
zero parts do not count (``1.0`` equals ``1``) - so those pairs are
duplicates, as Flyway reports them. Descriptions turn ``_`` into spaces.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from dataclasses import dataclass, field

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.errors import clip, echo
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.checksum import (
    checksum_of_text,
    decode_script,
)

__all__ = [
    "MigrationFileError",
    "MigrationVersion",
    "ResolvedMigration",
    "resolve_migrations",
]

VERSIONED_PREFIX = "V"
REPEATABLE_PREFIX = "R"
SEPARATOR = "__"
SUFFIX = ".sql"

# MigrationVersion splits on a dot followed by a digit.
_SPLIT = re.compile(r"\.(?=\d)")
_DIGITS = re.compile(r"[0-9]+")


class MigrationFileError(Exception):
    """A migrations directory or file name is not usable."""


@functools.total_ordering
class MigrationVersion:
    """A Flyway migration version: compare by numeric parts, display as written."""

    __slots__ = ("text", "parts")

    def __init__(self, version: str) -> None:
        normalized = version.replace("_", ".")
        parts = []
        for part in _SPLIT.split(normalized):
            # Java's BigInteger(String) accepts an optional sign; Flyway only
            # documents digits, and a sign would be a typo, so reject it.
            if not _DIGITS.fullmatch(part):
                raise MigrationFileError(
                    "Invalid version containing non-numeric characters. Only 0..9 and . are allowed. "
                    "Invalid version: %s" % clip(normalized)
                )
            parts.append(int(part))
        while len(parts) > 1 and parts[-1] == 0:
            parts.pop()
        self.text = normalized
        self.parts = tuple(parts)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return "MigrationVersion(%r)" % self.text

    def _key(self, length: int) -> tuple[int, ...]:
        return self.parts + (0,) * (length - len(self.parts))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MigrationVersion):
            return NotImplemented
        length = max(len(self.parts), len(other.parts))
        return self._key(length) == other._key(length)

    def __lt__(self, other: "MigrationVersion") -> bool:
        length = max(len(self.parts), len(other.parts))
        return self._key(length) < other._key(length)

    def __hash__(self) -> int:
        return hash(self.parts)


@dataclass(frozen=True)
class ResolvedMigration:
    """One migration script found on disk."""

    version: MigrationVersion | None
    description: str
    script: str
    path: str
    checksum: int
    sql: str = field(repr=False)
    type: str = "SQL"
    # Set when bytes were not UTF-8 (replaced by U+FFFD, as Flyway's reader does): names file and line.
    decode_warning: str | None = None
    # A repeatable migration whose placeholders were replaced: its checksum as written, which an applied
    # row may also match (Flyway's ResolvedMigrationImpl.equivalentChecksum).
    equivalent_checksum: int | None = None

    def checksum_matches(self, checksum: int | None) -> bool:
        """``checksumMatches``: the checksum, or the equivalent one when there is one."""
        return checksum == self.checksum or (self.equivalent_checksum is not None and checksum == self.equivalent_checksum)

    @property
    def is_repeatable(self) -> bool:
        return self.version is None

    @property
    def category(self) -> str:
        return "Repeatable" if self.version is None else "Versioned"

    @property
    def version_text(self) -> str | None:
        return None if self.version is None else str(self.version)


def parse_migration_name(filename: str) -> tuple[MigrationVersion | None, str] | None:
    """Return ``(version, description)`` for a migration file name, ``None`` if it is not one.

    Raises :class:`MigrationFileError` for a name that looks like a migration
    (right prefix and suffix) but is malformed, as Flyway's resolver does.
    """
    if not filename.endswith(SUFFIX):
        return None
    if filename.startswith(REPEATABLE_PREFIX):
        repeatable = True
        stem = filename[len(REPEATABLE_PREFIX):-len(SUFFIX)]
    elif filename.startswith(VERSIONED_PREFIX):
        repeatable = False
        stem = filename[len(VERSIONED_PREFIX):-len(SUFFIX)]
    else:
        return None
    position = stem.find(SEPARATOR)
    if position < 0:
        version_text, description = stem, ""
    else:
        version_text = stem[:position]
        description = stem[position + len(SEPARATOR):].replace("_", " ")
    if repeatable:
        if version_text.strip():
            raise MigrationFileError(
                "Wrong repeatable migration name format: %s (It cannot contain a version and should look "
                "like this: R__%s.sql)" % (filename, description or "description")
            )
        return None, description
    if not version_text.strip():
        raise MigrationFileError(
            "Wrong versioned migration name format: %s (It must contain a version and should look like "
            "this: V1.2__%s.sql)" % (filename, description or "description")
        )
    try:
        return MigrationVersion(version_text), description
    except MigrationFileError as error:
        raise MigrationFileError(
            "Wrong versioned migration name format: %s (could not recognise version number %s): %s"
            % (filename, version_text, error)
        ) from error


# A script larger than this is refused before it is read (a pasted path to a device or a dump).
MAX_SCRIPT_BYTES = 64 * 1024 * 1024


def _checked_script_path(path: str, location: str) -> str:
    """The path of a script that is a regular file inside ``location`` (a link may point to one
    there), of a readable size; anything else (a dangling link, a FIFO or device, which would
    block or never end, a link leaving the location) raises MigrationFileError naming it."""
    name = os.path.relpath(path, location)
    real = os.path.realpath(path)
    if os.path.commonpath([real, os.path.realpath(location)]) != os.path.realpath(location):
        raise MigrationFileError("Migration %s in %s is a link to a file outside the location: copy the script "
                                 "into it instead" % (name, location))
    try:
        status = os.stat(real)
    except OSError as error:
        raise MigrationFileError("Migration %s in %s cannot be read (%s): a dangling link?"
                                 % (name, location, error.strerror)) from None
    if not stat.S_ISREG(status.st_mode):
        raise MigrationFileError("Migration %s in %s is not a regular file (a FIFO, device or socket): remove it"
                                 % (name, location))
    if status.st_size > MAX_SCRIPT_BYTES:
        raise MigrationFileError("Migration %s in %s is %d bytes, over the %d MiB limit for one script"
                                 % (name, location, status.st_size, MAX_SCRIPT_BYTES // (1024 * 1024)))
    return real


def undecodable_line(data: bytes) -> int | None:
    """The 1-based line of the first byte that is not UTF-8, or None when all of it is."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        return data[:error.start].count(b"\n") + 1
    return None


def _scan(location: str) -> list[str]:
    if not os.path.isdir(location):
        raise MigrationFileError("Migrations location %s (locations) does not exist or is not a directory"
                                 % echo(location, 200))
    found = []
    # Flyway scans locations recursively; the script name it records is the
    # path relative to the location (with "/" separators).
    for directory, subdirectories, files in os.walk(location):
        subdirectories.sort()
        for name in sorted(files):
            found.append(os.path.join(directory, name))
    return found


def resolve_migrations(locations: list[str]) -> list[ResolvedMigration]:
    """Find every migration under ``locations``, sorted as Flyway orders them.

    Versioned migrations come first in version order, then repeatables by
    description. Raises :class:`MigrationFileError` on a malformed name, a
    duplicate version or a duplicate repeatable description.
    """
    migrations: list[ResolvedMigration] = []
    for location in locations:
        for path in _scan(location):
            parsed = parse_migration_name(os.path.basename(path))
            if parsed is None:
                continue
            version, description = parsed
            with open(_checked_script_path(path, location), "rb") as handle:
                data = handle.read(MAX_SCRIPT_BYTES + 1)
            sql = decode_script(data)
            script = os.path.relpath(path, location).replace(os.sep, "/")
            line = undecodable_line(data)
            migrations.append(
                ResolvedMigration(
                    version=version,
                    description=description,
                    script=script,
                    path=path,
                    checksum=checksum_of_text(sql),
                    sql=sql,
                    decode_warning=None if line is None else (
                        "Migration %s is not valid UTF-8 at line %d: the bytes there were read as U+FFFD, "
                        "as Flyway reads them; save the script as UTF-8" % (script, line)),
                )
            )
    _reject_duplicates(migrations)
    return sort_migrations(migrations)


def sort_migrations(migrations: list[ResolvedMigration]) -> list[ResolvedMigration]:
    versioned = sorted((m for m in migrations if m.version is not None), key=lambda m: m.version)
    repeatable = sorted((m for m in migrations if m.version is None), key=lambda m: description_sort_key(m.description))
    return versioned + repeatable


def description_sort_key(description: str) -> tuple[int, ...]:
    """Order like Java's ``String.compareTo`` (UTF-16 code units), which Flyway uses."""
    encoded = description.encode("utf-16-be")
    return tuple(int.from_bytes(encoded[i:i + 2], "big") for i in range(0, len(encoded), 2))


def _reject_duplicates(migrations: list[ResolvedMigration]) -> None:
    by_version: dict[MigrationVersion, list[ResolvedMigration]] = {}
    by_description: dict[str, list[ResolvedMigration]] = {}
    for migration in migrations:
        if migration.version is None:
            by_description.setdefault(migration.description, []).append(migration)
        else:
            by_version.setdefault(migration.version, []).append(migration)
    for version, offenders in by_version.items():
        if len(offenders) > 1:
            raise MigrationFileError(
                "Found more than one migration with version %s (offenders: %s): rename or remove all but one of "
                "them (versions compare numerically: 1.0 equals 1 and 01 equals 1)."
                % (version, ", ".join(m.path for m in offenders))
            )
    for description, offenders in by_description.items():
        if len(offenders) > 1:
            raise MigrationFileError(
                "Found more than one repeatable migration with description '%s' (offenders: %s)"
                % (description, ", ".join(m.path for m in offenders))
            )
