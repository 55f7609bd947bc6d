"""`make test`'s last check: the run left no database behind (it names its databases
sf_test_<SKILLFORGE_TEST_RUN>_..., see tests/conftest.py). Exit status 1, naming them, if it did."""

from __future__ import annotations

import os
import sys

import psycopg

ADMIN_URL = os.environ.get("SKILLFORGE_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def main() -> int:
    token = os.environ.get("SKILLFORGE_TEST_RUN")
    if not token:
        print("leftover databases: SKILLFORGE_TEST_RUN is not set (make test sets it)", file=sys.stderr)
        return 2
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=10) as conn:
        left = [row[0] for row in conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s) ORDER BY datname",
            ("sf_test_%s_" % token,))]
    if left:
        print("leftover databases: the run left %d behind: %s" % (len(left), ", ".join(left)), file=sys.stderr)
        return 1
    return 0  # silent: the sanity summary stays the run's closing line


if __name__ == "__main__":
    sys.exit(main())
