# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An O*NET-size reference dataset, in the collection's fixture format and in O*NET's text format.

    python -m bench.onet_data --out /tmp/onet-full            # both formats, in fixtures/ and db_29_0_text/

The size of the O*NET 29.0 database release: 1,016 occupations, the 35 skills of the Content Model,
62,580 importance (IM) and level (LV) ratings (894 rated occupations x 35 skills x 2 scales), and
about 18,800 task statements. Skills are O*NET's own (element ids, names, categories); occupation
codes, titles, ratings and tasks are generated deterministically from a seed: plausible shapes and
value ranges, not O*NET's figures. The fixture set is written by the collection's own writer
(``fixtures/onet/fixture_writer.write_fixtures``) and the text release by the writer the seeding tests use for the
layout ``onet_text_import`` reads (tab-delimited, CRLF, header row, ``n/a`` for null, ``MM/YYYY``
dates), so both are exactly what a seed of real data reads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import importlib.util
import os
import random
import sys
import types
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import common  # noqa: E402

OCCUPATIONS = 1016
RATED_OCCUPATIONS = 894
TASK_OCCUPATIONS = 940
TASKS_PER_OCCUPATION = (10, 30)  # about 20 on average: ~18,800 tasks
ONET_VERSION = "29.0"
RELEASE_DATE = dt.date(2024, 8, 1)

# The Skills domain of the O*NET Content Model: parents (for categories) and the 35 skills.
PARENT_ELEMENTS = (
    ("2", "Worker Requirements"), ("2.A", "Basic Skills"), ("2.A.1", "Content"), ("2.A.2", "Process"),
    ("2.B", "Cross-Functional Skills"), ("2.B.1", "Social Skills"), ("2.B.2", "Complex Problem Solving Skills"),
    ("2.B.3", "Technical Skills"), ("2.B.4", "Systems Skills"), ("2.B.5", "Resource Management Skills"),
)
SKILLS = (
    ("2.A.1.a", "Reading Comprehension"), ("2.A.1.b", "Active Listening"), ("2.A.1.c", "Writing"),
    ("2.A.1.d", "Speaking"), ("2.A.1.e", "Mathematics"), ("2.A.1.f", "Science"),
    ("2.A.2.a", "Critical Thinking"), ("2.A.2.b", "Active Learning"), ("2.A.2.c", "Learning Strategies"),
    ("2.A.2.d", "Monitoring"), ("2.B.1.a", "Social Perceptiveness"), ("2.B.1.b", "Coordination"),
    ("2.B.1.c", "Persuasion"), ("2.B.1.d", "Negotiation"), ("2.B.1.e", "Instructing"),
    ("2.B.1.f", "Service Orientation"), ("2.B.2.i", "Complex Problem Solving"), ("2.B.3.a", "Operations Analysis"),
    ("2.B.3.b", "Technology Design"), ("2.B.3.c", "Equipment Selection"), ("2.B.3.d", "Installation"),
    ("2.B.3.e", "Programming"), ("2.B.3.g", "Operations Monitoring"), ("2.B.3.h", "Operation and Control"),
    ("2.B.3.j", "Equipment Maintenance"), ("2.B.3.k", "Troubleshooting"), ("2.B.3.l", "Repairing"),
    ("2.B.3.m", "Quality Control Analysis"), ("2.B.4.e", "Judgment and Decision Making"),
    ("2.B.4.g", "Systems Analysis"), ("2.B.4.h", "Systems Evaluation"), ("2.B.5.a", "Time Management"),
    ("2.B.5.b", "Management of Financial Resources"), ("2.B.5.c", "Management of Material Resources"),
    ("2.B.5.d", "Management of Personnel Resources"),
)
MAJOR_GROUPS = ("11", "13", "15", "17", "19", "21", "23", "25", "27", "29", "31", "33", "35", "37", "39",
                "41", "43", "45", "47", "49", "51", "53")
WORDS = ("analyze", "coordinate", "inspect", "prepare", "maintain", "review", "operate", "design", "record",
         "monitor", "assist", "evaluate", "install", "repair", "train", "schedule", "document", "test")
OBJECTS = ("reports", "equipment", "schedules", "budgets", "records", "systems", "materials", "procedures",
           "customers", "specimens", "contracts", "structures", "software", "vehicles", "patients", "orders")
TWO = decimal.Decimal("0.01")
FOUR = decimal.Decimal("0.0001")


def _category(element_id: str) -> str:
    """As onet_text_import.skill_category derives it from the parents."""
    names = dict(PARENT_ELEMENTS)
    parent = element_id.rsplit(".", 1)[0]
    category = names[parent]
    if not category.endswith("Skills"):
        category = "%s: %s" % (names[parent.rsplit(".", 1)[0]], category)
    return category


def _rating(value: float, low: int, high: int) -> decimal.Decimal:
    value = min(max(value, low), high)
    return (decimal.Decimal(round(value * 8)) / 8).quantize(TWO)


def build_rows(seed: int = 29, occupation_count: int = OCCUPATIONS) -> dict:
    """Rows per reference table, as tuples in the column order of ``onet_dataset``'s tables.

    ``occupation_count`` below O*NET's 1,016 gives a proportionally smaller dataset (the smoke test)."""
    rng = random.Random("onet:%d" % seed)
    rated = round(occupation_count * RATED_OCCUPATIONS / OCCUPATIONS)
    with_tasks = round(occupation_count * TASK_OCCUPATIONS / OCCUPATIONS)
    codes = []
    while len(codes) < occupation_count:
        code = "%s-%04d.%02d" % (MAJOR_GROUPS[len(codes) % len(MAJOR_GROUPS)], 1000 + len(codes) * 7, rng.choice((0, 0, 0, 1, 2)))
        codes.append(code)
    occupations = []
    for index, code in enumerate(codes):
        title = "%s %s Specialists %d" % (WORDS[index % len(WORDS)].capitalize(), OBJECTS[index % len(OBJECTS)].capitalize(), index)
        description = "%s and %s %s in %s settings." % (
            WORDS[(index * 3) % len(WORDS)].capitalize(), WORDS[(index * 5 + 1) % len(WORDS)],
            OBJECTS[(index * 7) % len(OBJECTS)], OBJECTS[(index * 11) % len(OBJECTS)][:-1])
        occupations.append((code, title[:150], description, None if index % 40 == 39 else 1 + index % 5))
    skills = [(element_id, name, "The skill of %s, as described by the O*NET Content Model." % name.lower(),
               _category(element_id)) for element_id, name in SKILLS]
    ratings = []
    for index, code in enumerate(codes[:rated]):
        date = RELEASE_DATE if index % 3 else dt.date(2023, 8, 1)
        source = "Analyst" if index % 4 else "Incumbent"
        for element_id, _name in SKILLS:
            importance = _rating(rng.gauss(2.9, 0.8), 1, 5)
            level = _rating(float(importance) * 1.25 - 0.6 + rng.gauss(0, 0.4), 0, 7)
            for scale, value, low, high in (("IM", importance, 1, 5), ("LV", level, 0, 7)):
                error = decimal.Decimal(rng.randrange(0, 3000)) * FOUR / 10
                lower = max(value - error * decimal.Decimal("1.96"), decimal.Decimal(low)).quantize(FOUR)
                upper = min(value + error * decimal.Decimal("1.96"), decimal.Decimal(high)).quantize(FOUR)
                not_relevant = None if scale == "IM" else ("Y" if importance < decimal.Decimal("1.5") else "N")
                ratings.append((code, element_id, scale, value, rng.randint(6, 40), error.quantize(FOUR), lower, upper,
                                "Y" if rng.random() < 0.02 else "N", not_relevant, date, source))
    tasks = []
    task_id = 1
    for index, code in enumerate(codes[:with_tasks]):
        date = RELEASE_DATE if index % 2 else dt.date(2022, 8, 1)
        for n in range(rng.randint(*TASKS_PER_OCCUPATION)):
            statement = "%s %s and %s %s to meet requirements (task %d)." % (
                rng.choice(WORDS).capitalize(), rng.choice(OBJECTS), rng.choice(WORDS), rng.choice(OBJECTS), task_id)
            incumbent = index % 2 == 0
            tasks.append((task_id, code, statement, "Core" if n % 3 else "Supplemental",
                          rng.randint(10, 200) if incumbent else None, date,
                          "Incumbent" if incumbent else "Occupational Expert", "onet"))
            task_id += 1
    return {"onet_occupations": occupations, "onet_skills": skills,
            "onet_occupation_skills": ratings, "onet_tasks": tasks}


def versions() -> list:
    common.link_collection()
    from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import dataset as onet_dataset
    return [dict(dataset="onet", version=ONET_VERSION, release_date=RELEASE_DATE, license=onet_dataset.ONET_LICENSE,
                 attribution=onet_dataset.ONET_ATTRIBUTION % ONET_VERSION)]


def write_fixture_set(directory: str, rows: dict) -> dict:
    """The collection's fixture format (manifest.json + one JSON file per table), by its own writer."""
    common.link_collection()
    from ansible_collections.skillforge.dataops.fixtures.onet import fixture_writer
    return fixture_writer.write_fixtures(directory, rows, versions(), "bench")


def write_text_release(directory: str, rows: dict) -> None:
    """O*NET's text release layout (``db_29_0_text``), written by the seeding tests' own writer
    (``write_onet_text`` in tests/onet_test_support.py), so the benchmark
    reads exactly the layout the importer is tested with."""
    common.link_collection()
    path = common.REPO_ROOT / "tests" / "onet_test_support.py"
    spec = importlib.util.spec_from_file_location("onet_test_support", path)
    support = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(support)
    support.write_onet_text(types.SimpleNamespace(rows=rows), Path(directory))


def write_all(out: str, seed: int = 29, occupation_count: int = OCCUPATIONS) -> dict:
    """Both formats under ``out``: ``fixtures/`` and ``db_29_0_text/``. Returns the row counts."""
    rows = build_rows(seed, occupation_count)
    write_fixture_set(os.path.join(out, "fixtures"), rows)
    write_text_release(os.path.join(out, "db_29_0_text"), rows)
    return {table: len(table_rows) for table, table_rows in rows.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--out", required=True, help="directory to write fixtures/ and db_29_0_text/ into")
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--occupations", type=int, default=OCCUPATIONS, help="fewer for a smaller dataset")
    args = parser.parse_args(argv)
    print(write_all(args.out, args.seed, args.occupations))
    return 0


if __name__ == "__main__":
    sys.exit(main())
