# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench.private_server and bench.wal_profile at a tiny scale, so they cannot rot: a private cluster
started with a setting, a 2,000-user template in it, the job at ``parallel: 2`` and the SQL profiled
(WAL, wait events, pg_waldump), and the cluster gone afterwards.

The figures themselves are not asserted (2,000 users on a shared machine mean nothing);
docs/PERFORMANCE.md ("What limits N at 1M users") has the real runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def bench(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", *args], cwd=str(REPO_ROOT), capture_output=True, text=True,
                          timeout=timeout, check=False, env=env)


def test_wal_profile_on_a_private_server_with_its_own_settings():
    # Under /tmp itself: the cluster runs as the postgres OS user, who cannot enter pytest's tmp_path.
    directory = Path("/tmp") / ("sf-bench-private-%s" % uuid.uuid4().hex[:12])
    started = bench("bench.private_server", "start", "--dir", str(directory), "--setting", "max_wal_size=2GB",
                    "--setting", "wal_buffers=8MB", "--setting", "wal_keep_size=1GB")
    if started.returncode != 0 and "no PostgreSQL" in started.stderr:
        pytest.skip("no PostgreSQL server binaries for a private cluster: %s" % started.stderr[-300:])
    assert started.returncode == 0, started.stdout + started.stderr[-3000:]
    try:
        url = re.fullmatch(r"SKILLFORGE_BENCH_ADMIN_URL=(\S+)\n", started.stdout).group(1)
        with psycopg.connect(url, autocommit=True) as conn:
            assert [conn.execute("SHOW %s" % name).fetchone()[0] for name in ("max_wal_size", "wal_buffers")] == [
                "2GB", "8MB"]
        env = dict(os.environ, SKILLFORGE_BENCH_ADMIN_URL=url)
        made = bench("bench.appdata", "--database", "sf_bench_walprof_tpl", "--create", "--users", "2000",
                     "--tenants", "5", env=env)
        assert made.returncode == 0, made.stderr[-3000:]

        profiled = bench("bench.wal_profile", "--template", "sf_bench_walprof_tpl", "--tenant", "tenant-000",
                         "--parallel", "2", "--batch-size", "5", "--waldump", env=env)

        assert profiled.returncode == 0, profiled.stdout[-2000:] + profiled.stderr[-3000:]
        sides = re.findall(r"^(job|sql): [\d.]+ s, WAL (\d+) MB$", profiled.stdout, re.M)
        assert [side for side, _mb in sides] == ["job", "sql"], profiled.stdout
        assert profiled.stdout.count("pg_waldump: records") == 2
        assert re.search(r"Heap/UPDATE\s+\d+ records", profiled.stdout)  # the updates of both sides
        assert "consent-revocation-batch" in profiled.stdout  # 80 batches of 5 users: the batch sessions were sampled
        with psycopg.connect(url, autocommit=True) as conn:  # the copies are dropped, the template kept
            assert [row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'sf_bench%'")] == [
                "sf_bench_walprof_tpl"]
    finally:
        stopped = bench("bench.private_server", "stop", "--dir", str(directory))
    assert stopped.returncode == 0, stopped.stderr[-2000:]
    assert not directory.exists()
