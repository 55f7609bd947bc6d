# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flyway's PostgreSQL advisory lock, so this engine and Flyway never migrate one database at once.

``PostgreSQLAdvisoryLockTemplate``: ``pg_try_advisory_xact_lock`` on
``0x466C79776179 + String.hashCode('"schema"."table"')``, retried like ``RetryStrategy``
(``lockRetryCount`` retries, one second apart by default). The transactional lock is Flyway's
default (``postgresql.transactional.lock=true``): it is released when the transaction ends.

A migration that cannot run in a transaction (``CREATE INDEX CONCURRENTLY``) runs under the same key
taken as a session lock (``pg_try_advisory_lock``, Flyway's ``postgresql.transactional.lock=false``):
no transaction stays open while it runs, so the index build does not wait for the lock's own
transaction (flyway/flyway #3508), and both kinds of lock still exclude each other.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.results import LockTimeoutError
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.schema_history import flyway_table_name

__all__ = ["LOCK_MAGIC_NUM", "java_string_hash", "advisory_lock_key", "acquire_lock", "under_lock",
           "under_session_lock"]

# PostgreSQLAdvisoryLockTemplate.LOCK_MAGIC_NUM: the bytes of "Flyway".
LOCK_MAGIC_NUM = (0x46 << 40) + (0x6C << 32) + (0x79 << 24) + (0x77 << 16) + (0x61 << 8) + 0x79


def java_string_hash(text: str) -> int:
    """``java.lang.String.hashCode()``: s[0]*31^(n-1) + ... over UTF-16 code units, as a signed int."""
    value = 0
    encoded = text.encode("utf-16-be")
    for i in range(0, len(encoded), 2):
        value = (31 * value + int.from_bytes(encoded[i:i + 2], "big")) & 0xFFFFFFFF
    return value - 0x1_0000_0000 if value >= 0x8000_0000 else value


def advisory_lock_key(schema: str, table: str) -> int:
    """The bigint Flyway passes to pg_try_advisory_xact_lock for this history table."""
    return LOCK_MAGIC_NUM + java_string_hash(flyway_table_name(schema, table))


def acquire_lock(conn, key: int, retry_count: int, retry_interval: float, *, session: bool = False) -> None:
    """Inside the current transaction (or, with ``session``, for the session): retry like Flyway's
    RetryStrategy, then give up."""
    statement = "SELECT pg_try_advisory_lock(%s)" if session else "SELECT pg_try_advisory_xact_lock(%s)"
    retries = retry_count
    while True:
        if conn.execute(statement, (key,)).fetchone()[0]:
            return
        time.sleep(retry_interval)
        if retries == 0:
            raise LockTimeoutError(
                "Number of retries exceeded while attempting to acquire PostgreSQL advisory lock %d "
                "(another migrate, repair or baseline - this collection or Flyway - holds it). "
                "Wait for it to finish, or raise lock_retry_count." % key
            )
        retries -= 1


@contextmanager
def under_lock(conn, key: int, retry_count: int, retry_interval: float) -> Iterator[None]:
    """One transaction holding the lock: committed (and the lock released) when the block ends,
    rolled back when it raises."""
    with conn.transaction():
        acquire_lock(conn, key, retry_count, retry_interval)
        yield


@contextmanager
def under_session_lock(conn, key: int, retry_count: int, retry_interval: float) -> Iterator[None]:
    """The same lock held by the session, outside any transaction (``conn`` in autocommit), released
    when the block ends (or when the connection closes)."""
    acquire_lock(conn, key, retry_count, retry_interval, session=True)
    try:
        yield
    finally:
        if not conn.closed:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
