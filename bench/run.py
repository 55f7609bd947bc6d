# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark harness: each job done by the collection and by hand-written SQL, side by side.

    bench/.venv/bin/python -m bench.run --users 100000 --runs 3
    bench/.venv/bin/python -m bench.run --plot bench/results/users-*.json
    bench/.venv/bin/python -m bench.run --users 1000000 --jobs retention --batch-sizes 20000,50000
    bench/.venv/bin/python -m bench.run --users 100000 --jobs retention,consent --parallel 1,2,4

One process run per scale. It builds a template database (migrated, then filled by bench.appdata),
and for every job and every run makes identical copies of it (``CREATE DATABASE ... TEMPLATE``),
one per side, alternating which side goes first. Each side runs in its own process
(bench.measure), so the reported peak RSS is the collection's alone. Results (medians, the ratio
collection/baseline, RSS, rows per second) are printed and written to bench/results/users-N.json;
``--plot`` draws time against users from several of those files. Every database is named
``sf_bench_*`` and dropped at the end, also on failure or Ctrl-C.

This module is the command line; bench.harness runs the sides, bench.report turns results into text
and bench.plot into the scaling plot.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import appdata, common, report  # noqa: E402
from bench.common import ALL_JOBS, COMPLIANCE_JOBS  # noqa: E402
from bench.harness import Bench  # noqa: E402

RESULTS_DIR = common.REPO_ROOT / "bench" / "results"


def shape_suffix(args) -> str:
    """``-user-0.6`` for data of another shape than the default's (time layout, 40% past the cutoff),
    so its results do not overwrite the default shape's."""
    if (args.layout, args.stale_share) == ("time", appdata.Scale.stale_share):
        return ""
    return "-%s-%g" % (args.layout, args.stale_share)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7, help="data generator seed")
    parser.add_argument("--layout", choices=("time", "user"), default="time",
                        help="physical row order of the generated data: time (every table in \"createdAt\" order, "
                             "one user's rows scattered) or user (each user's rows together); see bench.appdata")
    parser.add_argument("--stale-share", type=appdata.stale_share, default=appdata.Scale.stale_share,
                        help="fraction of the users past the 24-month cutoff (default 0.4)")
    parser.add_argument("--template", help="keep the generated data as this database (sf_bench_*) and reuse it "
                                           "when it exists: the same --users, --tenants, --seed, --layout and "
                                           "--stale-share are then the caller's to keep; drop it with --cleanup")
    parser.add_argument("--runs", type=int, default=3, help="runs per job and side (medians are reported)")
    parser.add_argument("--playbook-runs", type=int, default=1, help="runs of the whole playbook per job")
    parser.add_argument("--overhead-runs", type=int, default=5)
    parser.add_argument("--onet-occupations", type=int, default=1016,
                        help="occupations of the reference dataset (O*NET 29.0: 1016)")
    parser.add_argument("--batch-size", type=int, help="the compliance jobs' batch_size (default: theirs)")
    parser.add_argument("--batch-sizes", help="comma-separated batch sizes: run each compliance job of --jobs at "
                                              "each size beside the baseline, instead of the usual comparison")
    parser.add_argument("--parallel", help="comma-separated session counts: run each compliance job of --jobs with "
                                           "each parallel value beside the baseline, instead of the usual comparison")
    parser.add_argument("--jobs", default=",".join(ALL_JOBS), help="comma-separated subset of %s" % ", ".join(ALL_JOBS))
    parser.add_argument("--verify", action=argparse.BooleanOptionalAction, default=None,
                        help="compare table fingerprints after collection and baseline (default: up to 100k users)")
    parser.add_argument("--out", help="results JSON (default bench/results/users-N.json)")
    parser.add_argument("--plot", nargs="+", metavar="RESULTS_JSON", help="only draw the scaling plot from results files")
    parser.add_argument("--markdown", nargs="+", metavar="RESULTS_JSON", help="only print results as Markdown tables")
    parser.add_argument("--plot-parallel", nargs="+", metavar="RESULTS_JSON",
                        help="only draw the ratio against parallel sessions from results files of --parallel")
    parser.add_argument("--png", help="the plot's file (default: docs/performance-scaling.png, "
                                      "docs/performance-parallel.png with --plot-parallel)")
    parser.add_argument("--cleanup", action="store_true", help="only drop every leftover sf_bench_* database")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.cleanup:
        print("dropped: %s" % (", ".join(common.drop_all_bench_databases()) or "nothing"))
        return 0
    if args.markdown:
        for path in args.markdown:
            results = json.loads(Path(path).read_text())
            print("%s users (%s; %d run(s) per side)\n" % ("{:,}".format(results["users"]), path, results["runs"]))
            print(report.markdown(results) + "\n")
        if len(args.markdown) > 1:
            print(report.growth_markdown([json.loads(Path(p).read_text()) for p in args.markdown]))
        return 0
    if args.plot or args.plot_parallel:
        from bench import plot
        if args.plot:
            png = args.png or str(common.REPO_ROOT / "docs" / "performance-scaling.png")
            plot.draw([json.loads(Path(p).read_text()) for p in args.plot], png)
        else:
            png = args.png or str(common.REPO_ROOT / "docs" / "performance-parallel.png")
            plot.draw_parallel([json.loads(Path(p).read_text()) for p in args.plot_parallel], png)
        print("wrote %s" % png)
        return 0
    args.jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = set(args.jobs) - set(ALL_JOBS)
    if unknown:
        parser.error("unknown job(s): %s" % ", ".join(sorted(unknown)))
    for flag, name in (("--batch-sizes", "batch_sizes"), ("--parallel", "parallel")):
        if getattr(args, name):
            try:
                setattr(args, name, [int(value) for value in getattr(args, name).split(",") if value.strip()])
            except ValueError:
                parser.error("%s takes integers, e.g. 1,2,4" % flag)
            if not getattr(args, name) or set(args.jobs) - set(COMPLIANCE_JOBS):
                parser.error("%s takes compliance jobs only (--jobs %s)" % (flag, ",".join(COMPLIANCE_JOBS)))
    if args.template and not args.template.startswith(common.DB_PREFIX):
        parser.error("--template names a benchmark database: %s*" % common.DB_PREFIX)
    if args.batch_sizes and (args.batch_size or args.parallel):
        parser.error("--batch-sizes takes no --batch-size and no --parallel")
    if args.verify is None:
        args.verify = args.users <= 100000
    command = "bench/.venv/bin/python -m bench.run " + " ".join(shlex.quote(a) for a in argv)
    bench = Bench(args, command)
    try:
        results = bench.run()
    finally:
        bench.drop_all()
    if args.batch_sizes or args.parallel:
        report.print_sweeps(results)
        default_out = "%s-users-%d%s.json" % ("batch-sizes" if args.batch_sizes else "parallel", args.users,
                                              shape_suffix(args))
    else:
        report.print_summary(results)
        results["summary"] = report.summary_rows(results)
        default_out = "users-%d%s.json" % (args.users, shape_suffix(args))
    out = Path(args.out) if args.out else RESULTS_DIR / default_out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print("results: %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
