#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: migrate_info
short_description: Show the state of every schema migration, as C(flyway info) does
version_added: 0.1.0
author:
  - SkillForge Data Operations (@skillforge)
description:
  - Lists applied and available migrations with Flyway's categories and states (V(Pending),
    V(Success), V(Failed), V(Outdated), V(Superseded), V(Missing), V(Ignored), V(Baseline),
    V(Below Baseline), V(Future), V(Deleted), ...).
  - Never changes anything and takes no lock.
extends_documentation_fragment:
  - skillforge.dataops.database
  - skillforge.dataops.migration_placeholders
options:
  locations:
    description:
      - Directories holding the migration scripts, on the host that runs the module.
    type: list
    elements: path
    required: true
  history_table:
    description:
      - Name of the schema history table.
    type: str
    default: flyway_schema_history
  history_schema:
    description:
      - Schema of the history table; defaults to the first schema of the connection's search path.
    type: str
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    description: Reads only; there is nothing to show as a diff.
    support: none
seealso:
  - module: skillforge.dataops.migrate
"""

EXAMPLES = r"""
- name: Migration states
  skillforge.dataops.migrate_info:
    env: staging
    locations: ["{{ playbook_dir }}/../migrations"]
  register: info

- name: Pending migrations
  ansible.builtin.debug:
    msg: "{{ info.migrations | selectattr('state', 'equalto', 'Pending') | map(attribute='script') | list }}"
"""

RETURN = r"""
migrations:
  description: One entry per history row and per script not yet applied, in C(flyway info) order.
  returned: success
  type: list
  elements: dict
  contains:
    category:
      description: C(Versioned), C(Repeatable), or empty for C(BASELINE) and C(SCHEMA) rows.
      type: str
    version:
      description: Version, null for repeatable migrations.
      type: str
    description:
      description: Description.
      type: str
    type:
      description: C(SQL), C(BASELINE), C(SCHEMA) or C(DELETE).
      type: str
    script:
      description: Script name.
      type: str
    checksum:
      description: Checksum recorded (applied) or computed (pending).
      type: int
    installed_rank:
      description: History row number, null when not applied.
      type: int
    installed_on:
      description: >-
        When it was applied, as the history table holds it - the database server's local time without a
        zone (Flyway's C(installed_on) column), unlike the UTC times of the collection's other results.
      type: str
    installed_by:
      description: Who applied it.
      type: str
    execution_time:
      description: Milliseconds it took.
      type: int
    state:
      description: Flyway's state name.
      type: str
  sample: [{category: Versioned, version: "1.0", description: create core app tables, type: SQL,
            script: V1_0__create_core_app_tables.sql, checksum: -1234567, installed_rank: 1,
            installed_on: "2025-01-01 10:00:00.000000", installed_by: app, execution_time: 42, state: Success}]
current_version:
  description: Highest applied version, null when none.
  returned: success
  type: str
history_exists:
  description: Whether the history table exists.
  returned: success
  type: bool
history_source:
  description: The schema history table, as Flyway names it.
  returned: success
  type: str
  sample: '"public"."flyway_schema_history"'
history_table:
  description: Same as RV(history_source).
  returned: success
  type: str
schema:
  description: Schema of the history table.
  returned: success
  type: str
database:
  description: Where the database URL came from; the password is redacted.
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.ansible_glue import (
    migration_argument_spec,
    run_migrate_info_module,
)


def main():
    module = AnsibleModule(argument_spec=migration_argument_spec(with_command=False), supports_check_mode=True)
    run_migrate_info_module(module)


if __name__ == "__main__":
    main()
