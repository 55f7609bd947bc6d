"""Flyway's advisory lock: its key, and the bounded retries. No database (a stand-in connection)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations import lock
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations import runner


def test_lock_key_is_flyways():
    # LOCK_MAGIC_NUM is the ASCII bytes of "Flyway"; the discriminator is Java's String.hashCode of
    # the table as Flyway renders it, computed here with the documented formula s[0]*31^(n-1)+...
    name = '"public"."flyway_schema_history"'
    java_hash = 0
    for char in name:
        java_hash = (java_hash * 31 + ord(char)) % (1 << 32)
    java_hash = java_hash - (1 << 32) if java_hash >= (1 << 31) else java_hash
    assert runner.advisory_lock_key("public", "flyway_schema_history") == int.from_bytes(b"Flyway", "big") + java_hash
    assert runner.java_string_hash("") == 0 and runner.java_string_hash("a") == 97
    assert runner.java_string_hash("hello") == 99162322  # "hello".hashCode() in Java


def test_java_hash_counts_utf16_units():
    # U+1F600 is two UTF-16 units in Java (0xD83D 0xDE00): 0xD83D * 31 + 0xDE00.
    assert lock.java_string_hash("\U0001F600") == 0xD83D * 31 + 0xDE00


class _Holder:
    """A connection on which another session holds the lock for the first ``busy`` tries."""

    def __init__(self, busy: int) -> None:
        self.busy, self.tries, self.transactions = busy, 0, []

    def execute(self, query, params):
        assert query == "SELECT pg_try_advisory_xact_lock(%s)" and params == (42,)
        self.tries += 1
        return self

    def fetchone(self):
        return (self.tries > self.busy,)

    @contextmanager
    def transaction(self):
        self.transactions.append("begin")
        try:
            yield
        except BaseException:
            self.transactions.append("rollback")
            raise
        self.transactions.append("commit")


@pytest.mark.parametrize("busy, retry_count, tries", [(0, 0, 1), (2, 2, 3), (2, 5, 3)])
def test_acquire_retries_until_the_lock_is_free(busy, retry_count, tries):
    conn = _Holder(busy)
    lock.acquire_lock(conn, 42, retry_count, 0.001)
    assert conn.tries == tries


def test_acquire_gives_up_after_the_retries_and_says_what_to_do():
    conn = _Holder(busy=10)
    with pytest.raises(runner.LockTimeoutError, match="advisory lock 42 .*raise lock_retry_count"):
        lock.acquire_lock(conn, 42, 3, 0.001)
    assert conn.tries == 4  # the first try and 3 retries, as Flyway's RetryStrategy


def test_under_lock_is_one_transaction_committed_or_rolled_back():
    conn = _Holder(busy=0)
    with lock.under_lock(conn, 42, 0, 0.001):
        assert conn.tries == 1 and conn.transactions == ["begin"]
    assert conn.transactions == ["begin", "commit"]
    conn = _Holder(busy=0)
    with pytest.raises(ValueError):
        with lock.under_lock(conn, 42, 0, 0.001):
            raise ValueError("a script failed")
    assert conn.transactions == ["begin", "rollback"]
