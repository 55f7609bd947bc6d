"""`make test`'s last check: the run left no database behind (it names its databases
sf_test_<SKILLFORGE_TEST_RUN>_..., see tests/databases.py). Exit status 1, naming them, if it did."""

from __future__ import annotations

import os
import sys

from databases import RUN_TOKEN_VARIABLE, admin_url_from_environment, databases_named, run_database_prefix  # this script's directory


def main() -> int:
    if not os.environ.get(RUN_TOKEN_VARIABLE):
        print("leftover databases: SKILLFORGE_TEST_RUN is not set (make test sets it)", file=sys.stderr)
        return 2
    left = databases_named(run_database_prefix(), admin_url_from_environment(), connect_timeout=10)
    if left:
        print("leftover databases: the run left %d behind: %s" % (len(left), ", ".join(left)), file=sys.stderr)
        return 1
    return 0  # silent: the sanity summary stays the run's closing line


if __name__ == "__main__":
    sys.exit(main())
