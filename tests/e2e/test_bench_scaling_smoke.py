# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench.scaling at a tiny scale, so it cannot rot: a private primary and its streaming replica, per-batch
figures for every batch, the verification comparison, and nothing left behind.

The figures themselves are not asserted (seconds at 300 users on a shared machine mean nothing);
docs/SCALING.md has the real runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_scaling_per_batch_figures_on_a_private_primary_and_replica(tmp_path):
    """bench.scaling at 300 users: every batch has its lock time, WAL, rows and replica figures, the
    verification comparison has both sides, and the private clusters are gone afterwards."""
    before = set(Path("/tmp").glob("sf-bench-scaling-*"))
    out = tmp_path / "scaling.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.scaling", "--users", "300", "--tenants", "5", "--retention-batch-sizes", "20",
         "--consent-batch-sizes", "10", "--verification-runs", "1", "--out", str(out)],
        cwd=str(REPO_ROOT), capture_output=True, text=True, timeout=900, check=False)
    if completed.returncode != 0 and "no PostgreSQL" in completed.stderr:
        pytest.skip("no PostgreSQL server binaries for a private cluster: %s" % completed.stderr[-300:])
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]
    assert set(Path("/tmp").glob("sf-bench-scaling-*")) == before  # both clusters stopped and removed
    results = json.loads(out.read_text())
    assert results["settings"]["fsync"] == "on" and results["settings"]["wal_level"] == "replica"
    for run in results["runs"] + results["verification_runs"]:
        assert len(run["batches"]) > 1, run["job"]  # several batches of 20 (10) users
        assert sum(batch["users"] for batch in run["batches"]) == run["users"] > 0
        for batch in run["batches"]:
            assert 0 < batch["users"] <= run["batch_size"] and batch["rows"] >= batch["users"]
            assert batch["seconds"] > 0 and batch["wal_bytes"] > 0 and batch["pending_bytes"] >= 0
            assert batch["replayed_after"] is not None  # the replica replayed every batch's commit
            assert ("verify_seconds" in batch) is run["verified"]
    assert {run["verified"] for run in results["verification_runs"]} == {True, False}
    assert set(results["stats"]) == {"retention", "consent"} and results["verification"]["unverified_seconds"] > 0
