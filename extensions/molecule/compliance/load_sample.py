# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fill the scenario's migrated database with the test suite's small multi-tenant sample.

    load_sample.py URL_FILE
"""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
import sample_data  # noqa: E402  (tests/sample_data.py: deterministic, generated in SQL)


def main(url_file: str) -> int:
    url = Path(url_file).read_text(encoding="utf-8")
    with psycopg.connect(url, autocommit=True) as conn:
        counts = sample_data.generate(conn, seed=11, users_per_tenant=12)
    print(" ".join("%s=%s" % item for item in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
