# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The re-seed short cut's state: what lets a re-seed with nothing changed skip parsing and writing.

Every committed seed records, on one ``onet_dataset_versions`` row (the columns of migration
``V1_5__onet_seed_digest.sql``), the fingerprint of its source files and options with its ``prune``
(``seed_fingerprint``), a digest the server computes of the reference tables (``tables_digest``) and
a summary of the dataset (``record_state``). A later seed whose fingerprint matches, with the
tables' digest unchanged, returns the recorded result instead (``short_cut``): nothing touched the
tables since. ``source.seed_source`` uses both; before V1_5 there is no state and every seed runs
in full. Nothing here imports Ansible.
"""

from __future__ import annotations

import hashlib
import json

from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.dataset import (
    DATASET_NAMES,
    TABLES,
    Dataset,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.seed import (
    LOCK_KEY,
    VERSION_COLUMNS,
    VERSIONS_TABLE,
    SeedResult,
    column_list,
    reported_versions,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare

with declare("psycopg"):
    from psycopg import sql

STATE_COLUMNS = ("seed_source_sha256", "seed_tables_digest", "seed_summary")


def recorded_result(conn, source_sha256: str, prune: bool, source_format: str) -> "SeedResult | None":
    """The short cut's result for a source with this fingerprint, or None: a transaction of its own,
    under the seed's advisory lock (a seed running meanwhile finishes first)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (LOCK_KEY,))
        if not has_state_columns(conn):
            return None
        return short_cut(conn, seed_fingerprint(source_sha256, prune), source_format)


def tables_digest(conn) -> str:
    """A digest the server computes of the reference tables as they stand: per table, every row
    version (``xmin``) with its number of rows, and the dataset version rows' content.

    Any insert, update or delete, by hand or by a seed, gives a row a new ``xmin`` or changes a
    count, so the digest changes; reading rows does not. Far cheaper than hashing every value.
    """
    parts = []
    for table in TABLES:
        parts.append(sql.SQL(
            "SELECT {name} || ':' || coalesce(string_agg(x || '=' || n, ',' ORDER BY x), '')"
            " FROM (SELECT xmin::text AS x, count(*) AS n FROM {table} GROUP BY 1) g"
        ).format(name=sql.Literal(table.name), table=sql.Identifier(table.name)))
    parts.append(sql.SQL(
        "SELECT {name} || ':' || coalesce(string_agg(ROW(dataset, {cols})::text, ',' ORDER BY dataset), '')"
        " FROM {table}").format(name=sql.Literal(VERSIONS_TABLE), cols=column_list(VERSION_COLUMNS),
                                table=sql.Identifier(VERSIONS_TABLE)))
    query = sql.SQL("SELECT md5(concat_ws('|', {}))").format(
        sql.SQL(", ").join(sql.SQL("({})").format(part) for part in parts))
    return conn.execute(query).fetchone()[0]


def seed_fingerprint(source_sha256: str, prune: bool) -> str:
    """What is recorded and compared: the source fingerprint and whether the seed pruned (a pruning
    seed after a non-pruning one may have rows to delete)."""
    return hashlib.sha256(("%s prune=%s" % (source_sha256, bool(prune))).encode("utf-8")).hexdigest()


def has_state_columns(conn) -> bool:
    """Whether migration V1_5 (the seed state columns) is applied."""
    found = conn.execute(
        "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = ANY(%s)"
        " AND NOT attisdropped", (VERSIONS_TABLE, list(STATE_COLUMNS))).fetchone()[0]
    return found == len(STATE_COLUMNS)


def recorded_state(conn) -> "tuple | None":
    """(fingerprint, tables digest, summary, version rows) of the last seed, or None."""
    rows = conn.execute(sql.SQL("SELECT dataset, {}, {} FROM {} ORDER BY dataset").format(
        column_list(VERSION_COLUMNS), column_list(STATE_COLUMNS), sql.Identifier(VERSIONS_TABLE))).fetchall()
    states = [row[-3:] for row in rows if row[-3] is not None]
    if len(states) != 1 or None in states[0]:
        return None
    versions = [dict(zip(("dataset",) + VERSION_COLUMNS, row[:1 + len(VERSION_COLUMNS)])) for row in rows]
    return states[0][0], states[0][1].strip(), states[0][2], versions


def short_cut(conn, fingerprint: str, source_format: str) -> "SeedResult | None":
    """The result of a seed that would change nothing, if the recorded state proves it; else None.

    Proof: the last seed (same fingerprint: same files, options and prune) ended with the tables in a
    state whose digest equals the current one, so nothing touched them since. Runs under the seed's
    advisory lock, inside a read-only look at the tables.
    """
    state = recorded_state(conn)
    if state is None or state[0] != fingerprint or state[1] != tables_digest(conn):
        return None
    summary_ = state[2]
    rows = {table.name: int(summary_["rows"][table.name]) for table in TABLES}
    counts = {name: dict(inserted=0, updated=0, unchanged=number, deleted=0) for name, number in rows.items()}
    order = summary_.get("datasets", [])
    versions = sorted((row for row in state[3] if row["dataset"] in order), key=lambda row: order.index(row["dataset"]))
    counts[VERSIONS_TABLE] = dict(inserted=0, updated=0, unchanged=len(versions), deleted=0)
    return SeedResult(changed=False, counts=counts, rows=rows, notes=list(summary_.get("notes", [])),
                      datasets=reported_versions(versions),
                      short_cut=True, source_format=source_format)


def record_state(conn, dataset: Dataset, prune: bool) -> None:
    """Keep the seed's fingerprint, the tables' digest and the summary on one version row (the first
    of DATASET_NAMES the dataset declares); written only where it differs. Nothing without a source
    fingerprint (``dataset.source_sha256``) or before migration V1_5. ``seed()`` calls it last in a
    real run's transaction, as ``source.seed_source`` asks."""
    if not dataset.source_sha256 or not has_state_columns(conn):
        return
    fingerprint = seed_fingerprint(dataset.source_sha256, prune)
    declared = {version["dataset"] for version in dataset.versions}
    holder = next(name for name in DATASET_NAMES if name in declared)
    summary_ = json.dumps({"rows": dataset.row_counts(), "notes": list(dataset.notes),
                           "datasets": [version["dataset"] for version in dataset.versions]}, sort_keys=True)
    values = (fingerprint, tables_digest(conn), summary_)
    conn.execute(sql.SQL(
        "UPDATE {table} SET seed_source_sha256 = %s, seed_tables_digest = %s, seed_summary = %s::jsonb"
        " WHERE dataset = %s AND (seed_source_sha256, seed_tables_digest, seed_summary)"
        " IS DISTINCT FROM (%s, %s, %s::jsonb)").format(table=sql.Identifier(VERSIONS_TABLE)),
        values + (holder,) + values)
    conn.execute(sql.SQL(
        "UPDATE {table} SET seed_source_sha256 = NULL, seed_tables_digest = NULL, seed_summary = NULL"
        " WHERE dataset <> %s AND seed_source_sha256 IS NOT NULL").format(table=sql.Identifier(VERSIONS_TABLE)),
        (holder,))
