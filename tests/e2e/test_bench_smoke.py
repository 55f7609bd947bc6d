# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark harness (bench/) at a tiny scale, so it cannot rot: every job done by the collection
and by the hand-written SQL on identical database copies, with the same effect, and nothing left behind.

The figures themselves are not asserted (seconds on a shared machine mean nothing at 300 users);
docs/PERFORMANCE.md has the real runs.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import types
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def bench_imports() -> dict:
    """For each bench module, the bench modules it imports (at the top or inside a function)."""
    graph = {}
    for path in sorted((REPO_ROOT / "bench").glob("*.py")):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "bench":
                imported.update("bench." + alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bench."):
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names if alias.name.startswith("bench."))
        graph["bench." + path.stem] = imported
    return graph


def test_bench_modules_import_no_cycle():
    graph = bench_imports()
    assert graph["bench.plot"] and graph["bench.run"]  # the walk sees imports
    # bench.run is the command line (python -m bench.run runs it as __main__): imported by nothing,
    # or it would run a second time as bench.run.
    assert [name for name, imported in graph.items() if "bench.run" in imported] == []

    def visit(name, path):
        assert name not in path, "import cycle: %s" % " -> ".join(path + [name])
        for imported in sorted(graph.get(name, ())):
            visit(imported, path + [name])

    for name in graph:
        visit(name, [])


def test_bench_run_is_imported_once():
    completed = subprocess.run([sys.executable, "-X", "importtime", "-m", "bench.run", "--help"], cwd=str(REPO_ROOT),
                               capture_output=True, text=True, timeout=60, check=True)
    imported = [line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines() if line.startswith("import time:")]
    assert "bench.harness" in imported and "bench.run" not in imported


def run_bench(admin_conninfo, out: Path, *arguments, prefix=None) -> types.SimpleNamespace:
    """``python -m bench.run`` with its databases under a prefix of their own: its results, stdout
    and the databases it left behind."""
    prefix = prefix or "sf_bench_smoke_%s_" % uuid.uuid4().hex[:6]
    env = dict(os.environ, SKILLFORGE_BENCH_ADMIN_URL=admin_conninfo, SKILLFORGE_BENCH_DB_PREFIX=prefix)
    env.pop("SKILLFORGE_BENCH_COLLECTIONS_PATH", None)
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--users", "300", "--tenants", "5", "--out", str(out)] + list(arguments),
        cwd=str(REPO_ROOT), env=env, capture_output=True, text=True, timeout=900, check=False)
    with psycopg.connect(admin_conninfo) as conn:
        leftovers = [row[0] for row in conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,))]
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]
    return types.SimpleNamespace(results=json.loads(out.read_text()), stdout=completed.stdout, leftovers=leftovers)


@pytest.fixture(scope="module")
def bench_results(admin_conninfo, tmp_path_factory):
    return run_bench(admin_conninfo, tmp_path_factory.mktemp("bench") / "results.json", "--runs", "1",
                     "--playbook-runs", "1", "--jobs", "retention,consent,segregation,seed,seed-text,migrate",
                     "--onet-occupations", "12")


def test_every_database_is_dropped(bench_results):
    assert bench_results.leftovers == []


@pytest.mark.parametrize("job", ["retention", "consent", "segregation"])
def test_compliance_job_matches_the_hand_written_sql(bench_results, job):
    results = bench_results.results
    entry = results["jobs"][job]
    assert entry["rows"] > 0  # the generated data gives every job work to do
    assert entry["baseline_counts"] == {k: v for k, v in entry["function_counts"].items() if k in entry["baseline_counts"]}
    assert entry["check_counts"] == entry["function_counts"]  # the dry run predicted the execution
    assert entry["same_effect"] is True  # the tables hold the same rows after either side
    row = next(r for r in results["summary"] if r["job"] == job)
    assert row["ratio"] > 0 and row["peak_rss_mb"] > 0
    assert row["playbook_s"] > 0  # the whole ansible-playbook run, check mode and executed
    assert entry["playbook_counts"] == entry["function_counts"]
    assert entry["playbook_check_counts"] == entry["check_counts"]
    assert job in bench_results.stdout


@pytest.mark.parametrize("job", ["seed", "seed-text"])  # from the fixture set, and from the text release
def test_seed_and_reseed(bench_results, job):
    seed = bench_results.results["jobs"][job]
    assert seed["rows"] == sum(seed["dataset"].values())  # the baseline loaded every row of the dataset
    assert seed["reseed_changed"] is False
    assert seed["reseed_rows_written"] == [0]
    assert seed["first_seed"][0] > 0 and seed["baseline"][0] > 0


def test_migrate_on_an_empty_database(bench_results):
    migrate = bench_results.results["jobs"]["migrate"]
    assert migrate["applied"] >= 3
    assert migrate["function"][0] > 0 and migrate["baseline"][0] > 0


def test_plot(bench_results, tmp_path):
    pytest.importorskip("matplotlib")
    sys.path.insert(0, str(REPO_ROOT))
    from bench import plot
    results = bench_results.results
    bigger = json.loads(json.dumps(results))
    bigger["users"] *= 10
    png = tmp_path / "scaling.png"
    plot.draw([results, bigger], str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_batch_size_sweep(admin_conninfo, tmp_path):
    # On data of the other shape: each user's rows together, 60% of the users past the cutoff.
    swept = run_bench(admin_conninfo, tmp_path / "sweep.json", "--runs", "2", "--jobs", "retention",
                      "--batch-sizes", "20,500", "--layout", "user", "--stale-share", "0.6")
    assert swept.leftovers == []
    assert (swept.results["layout"], swept.results["stale_share"]) == ("user", 0.6)
    entry = swept.results["sweep"]["retention"]
    assert entry["counts_match"] is True  # every batch size deleted what the hand-written SQL deleted
    assert entry["counts"]["20"]["users"] > 20  # several batches of 20 users, one of 500
    # 60% past the cutoff, less the 3% under legal hold: far more than the default shape's 40%
    assert 0.5 * 300 < entry["counts"]["20"]["users"] < 0.7 * 300
    assert entry["batches"]["20"] > 1 and entry["batches"]["500"] == 1
    assert len(entry["baseline"]) == 2 and all(len(times) == 2 for times in entry["function"].values())
    assert set(entry["ratio"]) == {"20", "500"} and "ratio per run" in swept.stdout


def test_parallel_sweep_on_a_kept_template(admin_conninfo, tmp_path):
    prefix = "sf_bench_smoke_%s_" % uuid.uuid4().hex[:6]
    arguments = ("--runs", "1", "--jobs", "retention,consent", "--batch-size", "20", "--parallel", "1,3",
                 "--template", prefix + "tpl")
    try:
        swept = run_bench(admin_conninfo, tmp_path / "parallel.json", *arguments, prefix=prefix)
        again = run_bench(admin_conninfo, tmp_path / "again.json", *arguments, prefix=prefix)
    finally:
        with psycopg.connect(admin_conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(prefix + "tpl")))
    assert swept.leftovers == again.leftovers == [prefix + "tpl"]  # the template only, kept
    assert "rows" in swept.results["generation"] and again.results["generation"] == {"reused": prefix + "tpl"}
    for short in ("retention", "consent"):
        entry = swept.results["sweep"][short]
        assert entry["option"] == "parallel" and entry["counts_match"] is True  # as the hand-written SQL did
        assert entry["batches"]["1"] == entry["batches"]["3"] > 1 and set(entry["ratio"]) == {"1", "3"}
        assert again.results["sweep"][short]["counts"] == entry["counts"]
    pytest.importorskip("matplotlib")
    sys.path.insert(0, str(REPO_ROOT))
    from bench import plot
    png = tmp_path / "parallel.png"
    plot.draw_parallel([swept.results, again.results], str(png))  # docs/performance-parallel.png
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_playbook_overhead(admin_conninfo, tmp_path):
    """bench.playbook_overhead, one run per side and profiled, with this checkout as the --before one:
    every side ran (a job side only counts when it logged one summary of the empty tenant with zero
    counts, which the command checks), ratios and steps are reported, and its database is dropped."""
    prefix = "sf_bench_smoke_%s_" % uuid.uuid4().hex[:6]
    out = tmp_path / "overhead.json"
    env = dict(os.environ, SKILLFORGE_BENCH_ADMIN_URL=admin_conninfo, SKILLFORGE_BENCH_DB_PREFIX=prefix)
    completed = subprocess.run(
        [sys.executable, "-m", "bench.playbook_overhead", "--runs", "1", "--profile", "--before", str(REPO_ROOT),
         "--out", str(out)], cwd=str(REPO_ROOT), env=env, capture_output=True, text=True, timeout=900, check=False)
    with psycopg.connect(admin_conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE starts_with(datname, %s)", (prefix,)).fetchone()[0] == 0
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]
    results = json.loads(out.read_text())
    sides = ["debug", "ping", "module", "dry run", "execute", "module (before)", "dry run (before)", "execute (before)"]
    assert list(results["seconds"]) == sides and all(len(results["seconds"][side]) == 1 for side in sides)
    assert results["ratio_to_debug"]["debug"] == 1 and all(results["cpu_ratio_to_debug"][side] > 0 for side in sides)
    steps = {(side, step) for side, step, _seconds in results["profile"]}
    assert ("debug", "start-up") in steps and ("dry run", "task: Show the compliance summary") in steps
    assert ("dry run", "task: skillforge.dataops.compliance : Run consent-revocation") in steps
    assert "ratio" in completed.stdout and results["load_average_before"]


def test_batch_profile(admin_conninfo):
    """bench.batch_profile on a small template of the clustered shape: every statement of a purge
    falls in a phase, and the hand-written SQL runs beside it."""
    prefix = "sf_bench_smoke_%s_" % uuid.uuid4().hex[:6]
    env = dict(os.environ, SKILLFORGE_BENCH_ADMIN_URL=admin_conninfo, SKILLFORGE_BENCH_DB_PREFIX=prefix)
    env.pop("SKILLFORGE_BENCH_COLLECTIONS_PATH", None)
    template = prefix + "tpl"
    try:
        subprocess.run([sys.executable, "-m", "bench.appdata", "--database", template, "--create", "--users", "300",
                        "--tenants", "5", "--layout", "user", "--stale-share", "0.6"],
                       cwd=str(REPO_ROOT), env=env, capture_output=True, text=True, timeout=300, check=True)
        completed = subprocess.run(
            [sys.executable, "-m", "bench.batch_profile", "--template", template, "--batch-size", "50", "--runs", "2",
             "--baseline"], cwd=str(REPO_ROOT), env=env, capture_output=True, text=True, timeout=300, check=False)
    finally:
        with psycopg.connect(admin_conninfo, autocommit=True) as conn:
            for (name,) in conn.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,)).fetchall():
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]
    lines = completed.stdout.splitlines()
    batches = [int(re.search(r"(\d+) batches", line).group(1)) for line in lines if line.startswith("run ")]
    calls = {line.split()[0]: int(re.search(r"\((\d+) calls\)", line).group(1)) for line in lines if "calls)" in line}
    # 180 or so purged users in batches of 50: each batch's lock, change, verification and digests, one
    # keyset query more than the batches (the last, empty look finishes the run), a commit per batch
    # and per transaction of the run's own (its start, its end)
    assert len(batches) == 2 and batches[0] > 1
    assert calls["change"] == calls["lock"] == calls["verification"] == calls["digests"] == batches[-1]
    assert calls["keyset"] == batches[-1] + 1 and calls["commit"] >= batches[-1] + 1
    assert sum(line.startswith("  baseline ") for line in lines) == 2 and "CPU ratio" in completed.stdout
