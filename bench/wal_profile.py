# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a compliance job's sessions wait on, and how much WAL it writes and of what kind, beside
the hand-written SQL, each on a fresh copy of a template (docs/PERFORMANCE.md, "What limits N at
1M users"):

    python -m bench.wal_profile --template sf_bench_keep_1m --job consent-revocation --tenant tenant-000 --parallel 2
    python -m bench.wal_profile --template sf_bench_keep_1m --job consent-revocation --tenant tenant-000 --waldump

Per side: wall seconds; the WAL written (``pg_current_wal_lsn()`` before and after, a checkpoint
first so that every side starts alike); the wait events of the database's sessions, sampled from
``pg_stat_activity`` every 50 ms (grouped by application: the run's session, its batch sessions,
their blocker watches). With ``--waldump`` (the server's WAL directory readable here, and its
segments still there: raise ``wal_keep_size`` for the run) ``pg_waldump --stats=record`` says which
records, and how many bytes of full-page images, make up the WAL.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess  # nosec B404 - pg_waldump, with fixed arguments
import sys
import threading
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import common  # noqa: E402

common.link_collection()

import psycopg  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job  # noqa: E402
from bench import baselines  # noqa: E402

SAMPLE_SECONDS = 0.05
# Sessions by application ("(run)": the run's own session, which the harness does not name), or
# by kind (autovacuum worker).
WAITS = """SELECT CASE WHEN application_name <> '' THEN regexp_replace(application_name, '^skillforge[.]dataops/', '')
                       WHEN backend_type = 'client backend' THEN '(run)' ELSE backend_type END,
                  state, wait_event_type, wait_event
             FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"""
# pg_waldump --stats=record: "<rmgr/record> N (%) record-bytes (%) fpi-bytes (%) combined-bytes (%)"
STATS_LINE = re.compile(r"^(\S+)\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)")


def _lsn(admin) -> str:
    return admin.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]


def measured_side(admin, template: str, side: str, job: str, options: dict, waldump: bool) -> dict:
    """One side on a fresh copy: seconds, WAL bytes, wait-event samples, and with ``waldump`` the
    WAL's records (read before the copy is dropped: dropping a database forces a checkpoint)."""
    factory = common.database_factory()
    name = factory.create(template=template)
    try:
        admin.execute("CHECKPOINT")
        waits, done = Counter(), threading.Event()

        def sample():
            with psycopg.connect(common.ADMIN_URL, autocommit=True) as watcher:
                while not done.wait(SAMPLE_SECONDS):
                    for application, state, kind, event in watcher.execute(WAITS, (name,)):
                        waits[(application, state, "%s/%s" % (kind, event) if kind else "CPU")] += 1

        with psycopg.connect(common.url_for(name), autocommit=True) as conn:
            sampler = threading.Thread(target=sample, daemon=True)
            start, started = _lsn(admin), time.perf_counter()
            sampler.start()
            try:
                if side == "sql":
                    baselines.COMPLIANCE[job](conn, options)
                else:
                    run_job(conn, job, dict(options, triggered_by="bench"), False)
            finally:
                done.set()
                sampler.join(timeout=10)
            seconds, end = time.perf_counter() - started, _lsn(admin)
        wal = float(admin.execute("SELECT pg_wal_lsn_diff(%s, %s)", (end, start)).fetchone()[0])
        return {"side": side, "seconds": seconds, "wal_bytes": wal, "waits": waits,
                "waldump": waldump_stats(admin, start, end) if waldump else None}
    finally:
        factory.drop_all()


def waldump_stats(admin, start: str, end: str) -> tuple:
    """(total record bytes, total FPI bytes, [(bytes in all, record type, records, record bytes, FPI bytes)],
    largest first)."""
    bin_dir = "/usr/lib/postgresql/%d/bin" % (admin.info.server_version // 10000)
    wal_dir = admin.execute("SELECT current_setting('data_directory') || '/pg_wal'").fetchone()[0]
    done = subprocess.run([bin_dir + "/pg_waldump", "--stats=record", "-p", wal_dir, "-s", start, "-e", end],  # nosec B603
                          capture_output=True, text=True, timeout=600, check=False)
    rows = []
    for line in done.stdout.splitlines():
        match = STATS_LINE.match(line)
        if match:
            name, count, record, fpi, combined = match.group(1), *map(int, match.group(2, 3, 4, 5))
            rows.append((combined, name, count, record, fpi))
    if not rows:
        raise SystemExit("pg_waldump found no WAL between %s and %s (are the segments still there? raise "
                         "wal_keep_size): %s" % (start, end, done.stderr.strip()[-300:]))
    rows.sort(reverse=True)
    return sum(row[3] for row in rows), sum(row[4] for row in rows), rows


def report(result: dict) -> None:
    print("%s: %.2f s, WAL %.0f MB" % (result["side"], result["seconds"], result["wal_bytes"] / 1e6))
    samples = sum(result["waits"].values())
    for (application, state, event), count in result["waits"].most_common(14):
        print("  %6d  %5.1f%%  %-28s %-20s %s" % (count, 100.0 * count / samples, application, state, event))
    if result["waldump"]:
        records, fpis, rows = result["waldump"]
        print("  pg_waldump: records %.0f MB, full-page images %.0f MB (%.0f%% of the WAL)"
              % (records / 1e6, fpis / 1e6, 100.0 * fpis / max(1, records + fpis)))
        for combined, name, count, record, fpi in rows[:8]:
            print("    %-28s %9d records %7.0f MB + FPI %7.0f MB = %7.0f MB"
                  % (name, count, record / 1e6, fpi / 1e6, combined / 1e6))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", required=True, help="an sf_bench_* database filled by bench.appdata")
    parser.add_argument("--job", default="consent-revocation", choices=sorted(baselines.COMPLIANCE))
    parser.add_argument("--tenant", help="the scope of consent-revocation / partner-segregation")
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--sides", default="job,sql", help="comma-separated: job, sql")
    parser.add_argument("--waldump", action="store_true", help="also break the WAL down with pg_waldump")
    args = parser.parse_args(argv)
    options = {"tenant": args.tenant} if args.tenant else {}
    job_options = dict(options, parallel=args.parallel)
    if args.batch_size:
        job_options["batch_size"] = args.batch_size
    print("load average before: %s" % " ".join("%.2f" % load for load in os.getloadavg()))
    with psycopg.connect(common.ADMIN_URL, autocommit=True) as admin:
        for side in args.sides.split(","):
            report(measured_side(admin, args.template, side, args.job, options if side == "sql" else job_options,
                                 args.waldump))
    return 0


if __name__ == "__main__":
    sys.exit(main())
