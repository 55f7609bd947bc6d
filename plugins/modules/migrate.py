#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: migrate
short_description: Apply Flyway-compatible SQL migrations to the SkillForge PostgreSQL database
version_added: 0.1.0
author:
  - SkillForge Data Operations (@skillforge)
description:
  - Runs one of Flyway's commands - C(migrate), C(validate), C(baseline) or C(repair) - against a
    PostgreSQL database, reading C(V<version>__<description>.sql) and C(R__<description>.sql)
    scripts from O(locations).
  - Uses Flyway's own schema history table (C(flyway_schema_history)), checksums and advisory lock,
    so this module and the Flyway command line can be used on the same database, in either order,
    and never run at the same time.
  - C(migrate) validates first and changes nothing if an applied script was modified, deleted, or
    failed before. Each pending script runs in its own transaction with its history row; a failing
    script is rolled back whole and nothing after it runs.
extends_documentation_fragment:
  - skillforge.dataops.database
  - skillforge.dataops.migration_placeholders
options:
  command:
    description:
      - V(migrate) applies pending versioned migrations in version order, then new or changed
        repeatable migrations in description order.
      - V(validate) compares the history with the scripts and fails on any difference. Pending
        migrations count as a difference unless O(allow_pending=true).
      - V(baseline) records O(baseline_version) as the starting point of a database that already
        has a schema but no applied migrations.
      - V(repair) removes failed history rows, marks applied migrations whose scripts are gone as
        deleted, and realigns checksums and descriptions of applied versioned migrations with the
        scripts.
    type: str
    choices: [migrate, validate, baseline, repair]
    default: migrate
  locations:
    description:
      - Directories holding the migration scripts, on the host that runs the module (the control
        node with the collection's inventories). Scanned recursively.
      - The module cannot see the collection's own files, so the path must be given; the
        C(skillforge.dataops) C(playbooks/migrate.yml) playbook passes the collection's
        C(migrations) directory (C(playbook_dir ~ '/../migrations')).
    type: list
    elements: path
    required: true
  history_table:
    description:
      - Name of the schema history table (Flyway's C(table) setting). At most 63 bytes, the
        longest name PostgreSQL keeps.
    type: str
    default: flyway_schema_history
  history_schema:
    description:
      - Schema of the schema history table (Flyway's C(defaultSchema)). Defaults to the first schema
        of the connection's search path, which is the C(?schema=) of a Prisma URL.
      - If that schema does not exist, C(migrate) and C(baseline) create it, as Flyway does.
    type: str
  baseline_version:
    description:
      - Version recorded by C(baseline) (and by C(migrate) with O(baseline_on_migrate=true)).
    type: str
    default: "1"
  baseline_description:
    description:
      - Description recorded with the baseline.
    type: str
    default: "<< Flyway Baseline >>"
  baseline_on_migrate:
    description:
      - Let C(migrate) baseline a non-empty schema that has no history table, instead of failing.
    type: bool
    default: false
  create_schemas:
    description:
      - Create the history schema when it does not exist (Flyway's C(createSchemas)).
    type: bool
    default: true
  installed_by:
    description:
      - Value of the C(installed_by) column. Defaults to the database user, as Flyway records it.
        At most 100 characters (the column's size).
    type: str
  allow_pending:
    description:
      - With O(command=validate), do not count pending migrations as a validation failure.
    type: bool
    default: false
  lock_retry_count:
    description:
      - How many times to retry, one second apart, when another run (of this module or of Flyway)
        holds the migration lock. Flyway's default is 50. From 0 to 3600 - unlike Flyway, -1
        (retry for ever) is refused, so a run always ends.
    type: int
    default: 50
  target:
    description:
      - Flyway's C(target) for O(command=migrate), for release drills - migrate up to and including
        this version; later versioned migrations stay pending (RV(above_target)). Repeatable
        migrations still run.
      - V(latest) (the same as leaving it unset) or V(current) (no versioned migration runs), or a
        version such as C(1.4), which must be the version of a script or of an applied migration
        (Flyway's C(failOnMissingTarget)).
    type: str
  db_lock_timeout:
    description:
      - PostgreSQL's C(lock_timeout) for each migration's transaction, in seconds; V(0) means no limit.
      - A migration that waits behind a long transaction for a lock holds every later query on that
        table behind its own request; with this limit it gives up instead, rolls back, records nothing,
        and the failure names the blocking sessions (RV(failure.blocked_by)).
      - Not a Flyway setting. From 0 to 86400. The production inventory sets it lower.
    type: float
    default: 10
  db_statement_timeout:
    description:
      - PostgreSQL's C(statement_timeout) for each statement of a migration, in seconds; V(0) means
        no limit. From 0 to 86400. Not a Flyway setting.
    type: float
    default: 3600
attributes:
  check_mode:
    support: full
    description: Reads the database and reports exactly what would be applied or repaired; writes nothing.
  diff_mode:
    support: full
    description: Lists applied scripts before and the scripts that will be applied after.
notes:
  - Scripts must be UTF-8. Every script runs inside a transaction with its history row, except a script
    holding statements PostgreSQL refuses in a transaction (such as C(CREATE INDEX CONCURRENTLY)),
    which runs a statement at a time under the session-level advisory lock, as Flyway runs it; a
    script mixing both kinds is refused.
seealso:
  - module: skillforge.dataops.migrate_info
"""

EXAMPLES = r"""
- name: Show what would be applied
  skillforge.dataops.migrate:
    env: staging
    locations: ["{{ playbook_dir }}/../migrations"]
  check_mode: true
  diff: true

- name: Apply pending migrations
  skillforge.dataops.migrate:
    env: production
    locations: ["{{ playbook_dir }}/../migrations"]

- name: Fail when the database and the scripts disagree (pending allowed)
  skillforge.dataops.migrate:
    command: validate
    allow_pending: true
    dsn: "{{ lookup('env', 'DATABASE_URL') }}"
    locations: [/opt/skillforge/migrations]

- name: Take over a database created before migrations were tracked
  skillforge.dataops.migrate:
    command: baseline
    baseline_version: "1.1"
    env: staging
    locations: ["{{ playbook_dir }}/../migrations"]
"""

RETURN = r"""
command:
  description: The command that ran.
  returned: always
  type: str
  sample: migrate
database:
  description: Where the database URL came from and where it points; the password is redacted.
  returned: always
  type: dict
  sample: {source: SKILLFORGE_STAGING_DATABASE_URL, url: "postgresql://app:********@db:5432/skillforge?schema=app",
           host: db, port: "5432", database: skillforge, user: app, schema: app}
history_source:
  description: The schema history table used, as Flyway names it.
  returned: success
  type: str
  sample: '"public"."flyway_schema_history"'
history_table:
  description: Same as RV(history_source).
  returned: success
  type: str
  sample: '"public"."flyway_schema_history"'
schema:
  description: Schema of the history table.
  returned: success
  type: str
  sample: public
applied:
  description: Migrations applied by this run, in order. Empty in check mode.
  returned: when O(command=migrate)
  type: list
  elements: dict
  contains:
    category:
      description: C(Versioned) or C(Repeatable).
      type: str
    version:
      description: Version, null for a repeatable migration.
      type: str
    description:
      description: Description taken from the file name.
      type: str
    script:
      description: Script path relative to its location.
      type: str
    checksum:
      description: Flyway checksum recorded in the history.
      type: int
    execution_time:
      description: Milliseconds the script took.
      type: int
    installed_rank:
      description: Row number in the history table.
      type: int
  sample: [{category: Versioned, version: "1.0", description: create core app tables,
            script: V1_0__create_core_app_tables.sql, checksum: -1234567, execution_time: 42, installed_rank: 1}]
pending:
  description: In check mode, the migrations a real run would apply, in order.
  returned: when O(command=migrate)
  type: list
  elements: dict
  contains:
    category: {description: C(Versioned) or C(Repeatable)., type: str}
    version: {description: "Version, null for a repeatable migration.", type: str}
    description: {description: Description taken from the file name., type: str}
    script: {description: Script path relative to its location., type: str}
    path: {description: The script's path on disk., type: str}
    checksum: {description: Flyway checksum of the script., type: int}
    type: {description: C(SQL)., type: str}
  sample: [{category: Versioned, version: "1.1", description: create reference tables,
            script: V1_1__create_reference_tables.sql, path: /opt/skillforge/migrations/V1_1__create_reference_tables.sql,
            checksum: 1887263420, type: SQL}]
above_target:
  description: The pending versioned migrations above O(target), which this run left pending.
  returned: when O(command=migrate)
  type: list
  elements: dict
  sample: [{category: Versioned, version: "1.7", description: add index, script: V1_7__add_index.sql,
            path: /opt/skillforge/migrations/V1_7__add_index.sql, checksum: 1887263421, type: SQL}]
executed:
  description: Scripts executed by this run.
  returned: when O(command=migrate)
  type: list
  elements: str
  sample: [V1_0__create_core_app_tables.sql]
initial_version:
  description: Schema version before the run.
  returned: when O(command=migrate)
  type: str
target_version:
  description: Schema version after the run (predicted in check mode).
  returned: when O(command=migrate)
  type: str
created_history_table:
  description: Whether the run created (or, in check mode, would create) the history table.
  returned: when O(command=migrate) or O(command=baseline)
  type: bool
created_schema:
  description: Whether the run created (or would create) the history schema.
  returned: when O(command=migrate) or O(command=baseline)
  type: bool
migration_warnings:
  description: Non-fatal findings (also shown as Ansible warnings), such as applied versions newer than any script.
  returned: when O(command=migrate) or O(command=validate)
  type: list
  elements: str
  sample: ["Schema history has version 1.7, newer than the latest available migration (V1_6__audit_source.sql)."]
issues:
  description: Validation problems.
  returned: when validation fails or O(command=validate)
  type: list
  elements: dict
  contains:
    kind: {description: "V(checksum), V(missing), V(failed), V(ignored), V(pending), V(outdated), V(description) or
           V(type).", type: str}
    version: {description: "The migration's version, null for a repeatable one.", type: str}
    description: {description: "The migration's description.", type: str}
    script: {description: The script name., type: str}
    path: {description: "The script's path, null when it has none (missing).", type: str}
    state: {description: "Flyway's state name for the migration.", type: str}
    message: {description: What is wrong and what to do., type: str}
  sample: [{kind: checksum, version: "1.0", description: create core app tables, script: V1_0__create_core_app_tables.sql,
            path: /opt/skillforge/migrations/V1_0__create_core_app_tables.sql, state: Success,
            message: "Migration checksum mismatch for migration version 1.0 ..."}]
failure:
  description:
    - When a script fails - its C(script), C(path), C(version), C(sqlstate), C(error), C(hint),
      C(context), C(line), C(column), C(statement_number) and C(statement).
    - PostgreSQL's DETAIL is never shown (it quotes the failing row, personal data included), nor a
      value quoted by a data exception's message; tables, columns, constraints and SQLSTATE are.
  returned: when a migration script fails
  type: dict
  contains:
    script: {description: The script name., type: str}
    path: {description: "The script's path.", type: str}
    version: {description: "Its version, null for a repeatable migration.", type: str}
    description: {description: Its description., type: str}
    sqlstate: {description: "PostgreSQL's SQLSTATE, or null.", type: str}
    error: {description: "PostgreSQL's message (a value a data exception quotes is replaced by ...).", type: str}
    hint: {description: "PostgreSQL's hint, or null.", type: str}
    context: {description: "PostgreSQL's context, or null.", type: str}
    position: {description: "The error's character position in the statement, or null.", type: int}
    line: {description: "The line in the script, or null.", type: int}
    column: {description: "The column in that line, or null.", type: int}
    statement_number: {description: "Which statement of the script failed (from 1), or null.", type: int}
    statement: {description: "The statement that failed, or null.", type: str}
    timed_out:
      description:
        - When O(db_lock_timeout) or O(db_statement_timeout) ran out - which one, and who was blocking,
          in one line; else null.
      type: str
    blocked_by:
      description:
        - When a timeout ran out, the sessions that blocked the migration while it waited, from
          C(pg_blocking_pids()) - never their statement text (it can hold personal data); else null.
      type: list
      elements: dict
      contains:
        pid: {description: The blocking backend's process id., type: int}
        application_name: {description: Its application name., type: str}
        user: {description: Its database user., type: str}
        state: {description: "Its state, e.g. C(idle in transaction).", type: str}
        transaction_seconds: {description: "How long its transaction has been open, in seconds.", type: int}
        statement_type: {description: "The first keyword of its current or last statement, e.g. C(UPDATE).", type: str}
    transactional:
      description:
        - False when the script ran a statement at a time outside a transaction (it holds
          C(CREATE INDEX CONCURRENTLY) or another statement PostgreSQL refuses in a transaction) - the
          statements before the failing one stay applied and a C(success = false) history row records it
          (O(command=repair) removes it).
      type: bool
    recorded_rank: {description: "The C(installed_rank) of that failed history row, else null.", type: int}
    msg: {description: The whole report as text (the task's C(msg))., type: str}
  sample: {script: V1_7__add_index.sql, path: /opt/skillforge/migrations/V1_7__add_index.sql, version: "1.7",
           description: add index, sqlstate: 42P01, error: relation "usr" does not exist, line: 3, column: 14,
           statement_number: 2, statement: CREATE INDEX user_email ON usr (email)}
removed_failed:
  description: History rows of failed migrations removed by repair.
  returned: when O(command=repair)
  type: list
  elements: dict
  contains:
    installed_rank: {description: The history row number., type: int}
    version: {description: "Its version, null for a repeatable migration.", type: str}
    description: {description: Its description., type: str}
    type: {description: "C(SQL), C(BASELINE), C(SCHEMA) or C(DELETE).", type: str}
    script: {description: The script name., type: str}
    checksum: {description: The recorded checksum., type: int}
    installed_by: {description: Who applied it., type: str}
    installed_on: {description: When it was applied., type: str}
    execution_time: {description: Milliseconds it took., type: int}
    success: {description: Whether it succeeded., type: bool}
  sample: [{installed_rank: 7, version: "1.7", description: add index, type: SQL, script: V1_7__add_index.sql,
            checksum: 1324, installed_by: app, installed_on: "2026-11-26 09:00:00", execution_time: 12, success: false}]
marked_deleted:
  description: Applied migrations without a script that repair marked as deleted.
  returned: when O(command=repair)
  type: list
  elements: dict
  contains:
    installed_rank: {description: The history row number., type: int}
    version: {description: "Its version, null for a repeatable migration.", type: str}
    description: {description: Its description., type: str}
    type: {description: "C(SQL), C(BASELINE), C(SCHEMA) or C(DELETE).", type: str}
    script: {description: The script name., type: str}
    checksum: {description: The recorded checksum., type: int}
    installed_by: {description: Who applied it., type: str}
    installed_on: {description: When it was applied., type: str}
    execution_time: {description: Milliseconds it took., type: int}
    success: {description: Whether it succeeded., type: bool}
    delete_installed_rank: {description: "The rank of the C(DELETE) history row written (would be, in check mode).",
                            type: int}
  sample: [{installed_rank: 5, version: "1.4", description: old table, type: SQL, script: V1_4__old_table.sql,
            checksum: 99, installed_by: app, installed_on: "2026-01-10 10:00:00", execution_time: 8, success: true,
            delete_installed_rank: 9}]
aligned:
  description: Applied versioned migrations whose checksum or description repair realigned.
  returned: when O(command=repair)
  type: list
  elements: dict
  contains:
    installed_rank: {description: The history row number., type: int}
    version: {description: The version., type: str}
    script: {description: The script name., type: str}
    checksum_before: {description: The recorded checksum., type: int}
    checksum_after: {description: "The script's checksum, now recorded.", type: int}
    description_before: {description: The recorded description., type: str}
    description_after: {description: "The script's description, now recorded.", type: str}
  sample: [{installed_rank: 1, version: "1.0", script: V1_0__create_core_app_tables.sql, checksum_before: -1234567,
            checksum_after: 7654321, description_before: create core app tables,
            description_after: create core app tables}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.ansible_glue import (
    migration_argument_spec,
    run_migrate_module,
)


def main():
    module = AnsibleModule(argument_spec=migration_argument_spec(with_command=True), supports_check_mode=True)
    run_migrate_module(module)


if __name__ == "__main__":
    main()
