"""The SQL each compliance job runs, rendered and compared with its golden file.

Every statement a job runs (the dry run's count, a batch's keyset select, lock and change, the diff
sample) is rendered with ``as_string(conn)`` for each form its scope takes and compared, exactly,
with ``golden/<job>.<statement>[.<scope>].sql``: a change to a step, a scope or the mechanics shows
up in review as a diff of the SQL that runs. After an intended change, regenerate them with

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py

and review the diff. The same renderings are checked for their parameters (each one the job's own
or the batches') and their aliases (each qualified column's alias is declared in the statement).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ansible_collections.skillforge.dataops.tests import sample_data
from ansible_collections.skillforge.dataops.tests.conftest import url_for
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import (
    JobDefinition,
    normalize_options,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.statements import (
    BATCH,
    Scope,
    batch_query,
    counting_statement,
    dry_run_statement,
    lock_query,
    placeholder_names,
    sample_query,
    users_in_scope_query,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import JOBS

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
DIFF_SAMPLE_SIZE = 5  # compliance_module.DIFF_SAMPLE_SIZE: rendered as a literal
REGENERATE = "UPDATE_GOLDEN=1 .venv/bin/pytest tests/database/test_compliance_sql.py"

# (job, scope form, options): every form a job's scope takes. The values do not show in the SQL
# (they are bound parameters); data-retention's "before" and "retention_months" give one cutoff.
SCOPE_FORMS = [
    ("consent-revocation", "tenant", {"tenant": "acme-partners"}),
    ("consent-revocation", "users", {"user": None}),  # two existing user ids, looked up below
    ("data-retention", "cutoff", {"before": "2024-01-01"}),
    ("data-retention", "cutoff-and-tenant", {"before": "2024-01-01", "tenant": "acme-partners"}),
    ("partner-segregation", "tenant", {"tenant": "initech"}),
]
MECHANICS_PARAMETERS = {BATCH.name(name) for name in ("size", "after_0", "after_1", "candidate_ids", "user_ids")}


@pytest.fixture(scope="module")
def scopes(database_factory, migrated_template):
    """``{(job, form): scope}`` resolved against a migrated database with a little sample data, and
    the connection (rendering quotes identifiers as that server does)."""
    with psycopg.connect(url_for(database_factory.create(template=migrated_template)), autocommit=True) as conn:
        sample_data.generate(conn, seed=11, users_per_tenant=3)
        users = [row[0] for row in conn.execute('SELECT "id" FROM "User" ORDER BY "id" LIMIT 2')]
        resolved = {}
        for job, form, options in SCOPE_FORMS:
            options = dict(options, user=users) if "user" in options else options
            definition = JOBS[job]
            resolved[job, form] = definition.resolve_scope(conn, normalize_options(definition, options))
        yield conn, resolved


def statements(definition: JobDefinition, form: str, scope: Scope) -> dict:
    """``{golden file name: (what it is, statement)}``: built as compliance_job runs them."""
    order_width = len(scope.order) or 1
    named = {
        "dry-run-count.%s" % form: ("the dry run: every step's count over the whole scope",
                                    dry_run_statement(definition, scope)),
        "users-in-scope.%s" % form: ("the users in scope, counted once before the first batch (max_users, progress)",
                                     users_in_scope_query(scope)),
        "batch-select-first.%s" % form: ("a run's first batch of users, by the keyset",
                                         batch_query(scope, None)),
        "batch-select-next.%s" % form: ("every later batch of users, after the keyset cursor",
                                        batch_query(scope, (None,) * order_width)),
        "batch-lock.%s" % form: ("a batch's users locked in id order, re-checked against the scope",
                                 lock_query(scope, definition.user_lock)),
        "batch-change": ("one batch's change of every step, with its counts (the same for every scope)",
                         counting_statement(definition, dry_run=False)),
    }
    for step in definition.steps:
        if step.sample:
            named["diff-sample-%s.%s" % (step.count, form)] = (
                "diff mode: up to %d %s rows before and after (step %s)" % (DIFF_SAMPLE_SIZE, step.table, step.count),
                sample_query(step, scope, DIFF_SAMPLE_SIZE))
    return named


def rendered(conn, resolved) -> dict:
    """``{file name: [(job, scope form, statement, golden text), ...]}`` for every statement of
    every scope form (a statement that does not depend on the scope, once per form)."""
    files = {}
    for (job, form), scope in resolved.items():
        for name, (what, statement) in statements(JOBS[job], form, scope).items():
            scope_line = "" if name == "batch-change" else "; scope: %s" % form
            text = "-- %s: %s%s.\n-- Rendered by test_compliance_sql.py; regenerate: %s\n%s\n" % (
                job, what, scope_line, REGENERATE, statement.as_string(conn))
            files.setdefault("%s.%s.sql" % (job, name), []).append((job, form, statement, text))
    return files


def test_each_statement_matches_its_golden_file(scopes):
    conn, resolved = scopes
    files = {}
    for name, renderings in rendered(conn, resolved).items():
        assert len({text for _j, _f, _s, text in renderings}) == 1, "%s differs between scope forms" % name
        files[name] = renderings[0][3]
    if UPDATE:
        GOLDEN_DIR.mkdir(exist_ok=True)
        for stale in set(path.name for path in GOLDEN_DIR.glob("*.sql")) - set(files):
            (GOLDEN_DIR / stale).unlink()
        for name, text in files.items():
            (GOLDEN_DIR / name).write_text(text, encoding="utf-8")
    missing = sorted(name for name in files if not (GOLDEN_DIR / name).is_file())
    assert not missing, "no golden file for %s; create them with: %s" % (", ".join(missing), REGENERATE)
    stale = sorted(set(path.name for path in GOLDEN_DIR.glob("*.sql")) - set(files))
    assert not stale, "golden files no statement renders: %s; remove them with: %s" % (", ".join(stale), REGENERATE)
    for name, text in sorted(files.items()):
        assert (GOLDEN_DIR / name).read_text(encoding="utf-8") == text, (
            "%s differs from the statement the job runs; if the change is intended: %s" % (name, REGENERATE))


def _placeholders_written_as_placeholders(composable) -> set:
    if isinstance(composable, sql.Composed):
        return set().union(*(_placeholders_written_as_placeholders(part) for part in composable))
    if isinstance(composable, sql.Placeholder):
        return {re.fullmatch(r"%\((\w+)\)s", composable.as_string(None)).group(1)}
    return set()


def test_every_parameter_is_the_jobs_own_or_the_batches(scopes):
    conn, resolved = scopes
    for name, renderings in sorted(rendered(conn, resolved).items()):
        for job, form, statement, text in renderings:
            names = set(re.findall(r"%\((\w+)\)s", text))
            assert names == placeholder_names(statement) == _placeholders_written_as_placeholders(statement), (
                "%s: a placeholder written into SQL text instead of sql.Placeholder" % name)
            own = {param for param in names if JOBS[job].params.owns(param)}
            assert names - own <= MECHANICS_PARAMETERS, name
            assert own <= set(resolved[job, form].params), "%s binds a value its scope (%s) does not give" % (name, form)


def test_every_qualified_column_uses_an_alias_its_statement_declares(scopes):
    conn, resolved = scopes
    for name, renderings in sorted(rendered(conn, resolved).items()):
        text = renderings[0][3]
        body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
        used = set(re.findall(r'"(\w+)"\."', body))
        declared = set(re.findall(r'"\w+" "(\w+)"', body)) | set(re.findall(r'AS "(\w+)"\(', body))
        assert used and used <= declared, "%s qualifies columns with undeclared aliases %s" % (name, used - declared)
