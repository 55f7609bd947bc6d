# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a compliance job's wall time goes, statement by statement: the job function run on a fresh
copy of a template, every statement it sends timed (psycopg, client side: round trip included) and
put in a phase, and every commit (the WAL flush) timed on its own.

    python -m bench.appdata --database sf_bench_shape_tpl --create --users 100000 --layout user --stale-share 0.6
    python -m bench.batch_profile --template sf_bench_shape_tpl --job data-retention --runs 2

Prints, per run, the seconds of each phase summed over the run and per batch (keyset query, lock,
change, verification, audit row, digests, commit, the planner and timeout settings, the run's
start and end), and the time outside any statement (Python, the blocker watch's thread). With
``--baseline`` the hand-written SQL runs on its own copy of the same template, alternating with
the job, for the ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import common  # noqa: E402

common.link_collection()

import psycopg  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job  # noqa: E402
from bench import baselines  # noqa: E402

# (phase, pattern on the statement's text), first match wins.
PHASES = (
    ("planner settings", re.compile(r"set_config\('enable_seqscan'")),
    ("timeouts", re.compile(r"set_config\('lock_timeout'|set_config\('statement_timeout'")),
    ("lock", re.compile(r"FOR (UPDATE|NO KEY UPDATE|SHARE) OF")),
    ("change", re.compile(r"^WITH \"step_0\"")),
    ("verification", re.compile(r"^SELECT\s+EXISTS")),
    ("audit row", re.compile(r"INSERT INTO \"ComplianceAuditLog\"")),
    ("digests", re.compile(r"INSERT INTO \"ComplianceErasureDigest\"")),
    ("keyset", re.compile(r"\bLIMIT %\(batch__size\)s")),
)


def phase_of(text: str) -> str:
    for name, pattern in PHASES:
        if pattern.search(text):
            return name
    return "run start/end"


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a server backend so far: the benchmark runs on the database's
    machine. Robust where wall time is not: other work on the machine delays a statement, it does
    not add to its CPU time."""
    with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_io(pid: int) -> dict:
    """Bytes the backend read and wrote through system calls so far (``rchar``, ``wchar``: data
    pages it evicted or read, WAL it wrote, temporary files), from ``/proc/<pid>/io``."""
    with open("/proc/%d/io" % pid, encoding="ascii") as handle:
        return {key: int(value) for key, value in (line.split(": ") for line in handle.read().splitlines())}


def io_delta(before: dict, after: dict) -> tuple:
    """(MB read, MB written) between two ``backend_io`` readings."""
    return (after["rchar"] - before["rchar"]) / 1e6, (after["wchar"] - before["wchar"]) / 1e6


class Profile:
    """Wall seconds and the backend's CPU seconds per phase."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.cpu = defaultdict(float)
        self.calls = defaultdict(int)

    def add(self, phase: str, seconds: float, cpu: float) -> None:
        self.seconds[phase] += seconds
        self.cpu[phase] += cpu
        self.calls[phase] += 1


def profiled_run(template: str, job: str, options: dict) -> tuple:
    factory = common.database_factory()
    name = factory.create(template=template)
    profile = Profile()
    transaction_exit = psycopg.Transaction.__exit__

    def timed_exit(self, *exc_info):
        started, cpu = time.perf_counter(), backend_cpu(pid)
        try:
            return transaction_exit(self, *exc_info)
        finally:
            profile.add("commit", time.perf_counter() - started, backend_cpu(pid) - cpu)

    try:
        with psycopg.connect(common.url_for(name), autocommit=True) as conn:
            pid = conn.info.backend_pid
            execute = conn.execute

            def timed_execute(query, params=None, **kwargs):
                text = query if isinstance(query, str) else query.as_string(conn)
                phase = phase_of(text)
                started, cpu = time.perf_counter(), backend_cpu(pid)
                try:
                    return execute(query, params, **kwargs)
                finally:
                    profile.add(phase, time.perf_counter() - started, backend_cpu(pid) - cpu)

            conn.execute = timed_execute
            psycopg.Transaction.__exit__ = timed_exit
            started, cpu, io = time.perf_counter(), backend_cpu(pid), backend_io(pid)
            summary = run_job(conn, job, dict(options, triggered_by="bench"), False)
            total = (time.perf_counter() - started, backend_cpu(pid) - cpu) + io_delta(io, backend_io(pid))
    finally:
        psycopg.Transaction.__exit__ = transaction_exit
        factory.drop_all()
    return total, summary, profile


def baseline_run(template: str, job: str, options: dict) -> tuple:
    """(wall seconds, backend CPU seconds, MB read, MB written) of the hand-written SQL on a fresh copy."""
    factory = common.database_factory()
    name = factory.create(template=template)
    try:
        with psycopg.connect(common.url_for(name)) as conn:
            pid = conn.info.backend_pid
            started, cpu, io = time.perf_counter(), backend_cpu(pid), backend_io(pid)
            baselines.COMPLIANCE[job](conn, options)
            return (time.perf_counter() - started, backend_cpu(pid) - cpu) + io_delta(io, backend_io(pid))
    finally:
        factory.drop_all()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--template", required=True, help="an sf_bench_* database filled by bench.appdata")
    parser.add_argument("--job", default="data-retention")
    parser.add_argument("--tenant", help="the scope of consent-revocation / partner-segregation")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--baseline", action="store_true", help="also time the hand-written SQL, alternating")
    args = parser.parse_args(argv)
    options = {}
    if args.tenant:
        options["tenant"] = args.tenant
    if args.batch_size:
        options["batch_size"] = args.batch_size
    totals, base = [], []
    print("load average %s" % " ".join("%.2f" % load for load in os.getloadavg()))
    for run in range(args.runs):
        if args.baseline and run % 2 == 1:
            base.append(baseline_run(args.template, args.job, options))
        total, summary, profile = profiled_run(args.template, args.job, options)
        if args.baseline and run % 2 == 0:
            base.append(baseline_run(args.template, args.job, options))
        totals.append(total)
        batches = max(summary["batches"], 1)
        print("run %d: %.2f s (server CPU %.2f s, read %.0f MB, wrote %.0f MB), %d batches, %s" % (
            run + 1, *total, summary["batches"], summary["counts"]))
        print("  %-16s %9s %6s %9s %14s" % ("phase", "wall (s)", "wall%", "CPU (s)", "CPU ms/batch"))
        rows = sorted(profile.seconds, key=lambda phase: -profile.cpu[phase])
        for phase in rows:
            print("  %-16s %9.3f %5.1f%% %9.2f %14.1f  (%d calls)" % (
                phase, profile.seconds[phase], 100 * profile.seconds[phase] / total[0], profile.cpu[phase],
                1000 * profile.cpu[phase] / batches, profile.calls[phase]))
        print("  %-16s %9.3f %5.1f%%" % ("outside SQL", total[0] - sum(profile.seconds.values()),
                                         100 * (total[0] - sum(profile.seconds.values())) / total[0]))
        if base:
            print("  baseline %.2f s (server CPU %.2f s, read %.0f MB, wrote %.0f MB)" % base[-1])
    if base:
        job_m = [statistics.median(t[i] for t in totals) for i in range(4)]
        base_m = [statistics.median(b[i] for b in base) for i in range(4)]
        print("median of %d: job %.2f s (CPU %.2f, read %.0f MB, wrote %.0f MB), baseline %.2f s (CPU %.2f, "
              "read %.0f MB, wrote %.0f MB): ratio %.2f, CPU ratio %.2f, written ratio %.2f" % (
                  len(totals), *job_m, *base_m, job_m[0] / base_m[0], job_m[1] / base_m[1], job_m[3] / base_m[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
