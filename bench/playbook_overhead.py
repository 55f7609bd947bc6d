# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A compliance playbook's own overhead: playbooks/compliance.yml on an empty scope beside a
playbook of one ansible.builtin.debug task, side by side.

    .venv/bin/python -m bench.playbook_overhead --runs 9
    .venv/bin/python -m bench.playbook_overhead --runs 5 --profile   # and where the seconds go
    .venv/bin/python -m bench.playbook_overhead --before /path/to/other/checkout   # A/B

One migrated ``sf_bench_overhead_*`` database with a tenant that has no users (the empty scope).
Each run starts ``ansible-playbook`` once per side, the order rotating run by run, with the
checkout's ansible.cfg and inventories/local (as bench.harness's playbook runs):

* ``debug``: bench/playbooks/overhead_debug.yml, one debug task (Ansible's start-up, one play, one
  task, no module);
* ``ping``: bench/playbooks/overhead_ping.yml, the same play running ansible.builtin.ping, the
  smallest module: over ``debug``, what any module costs;
* ``module``: bench/playbooks/overhead_job.yml, the same play running the consent_revocation module
  on the empty tenant (executed), without the role: over ``ping``, what the module itself costs;
* ``dry run``: playbooks/compliance.yml, consent revocation of the empty tenant, as the runbook's
  first step (no compliance_execute: the job's dry run); over ``module``, what the playbook and the
  role add;
* ``execute``: the same with compliance_execute=true (the job runs and writes its audit row).

``--before PATH`` adds ``module``, ``dry run`` and ``execute`` of another checkout of the collection
(its playbooks, ansible.cfg, inventory and code, through its ``.collections`` link, which
``make setup`` or ``ln -sfn ../../.. .collections/ansible_collections/skillforge/dataops`` makes),
as ``dry run (before)`` and so on, in the same rotation: a change measured side by side.

Prints the medians of wall and CPU seconds (the CPU of ansible-playbook, its workers and the modules
they ran: every process of a run is waited for, so it is all in RUSAGE_CHILDREN), each side over the
debug side (the ratio the issue's 1.5x target is about), the load average before and after and the
date; with ``--profile`` also the median seconds of each step (start-up, each play's set-up, each
task) from bench/callback_plugins/task_seconds.py. Results go to bench/results/playbook-overhead.json
(``--out``). The database is dropped at the end, also after a failure. Runs in the collection's own
virtualenv: nothing beyond ansible-core and the collection's requirements is needed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import common  # noqa: E402
from bench.report import median, ratio  # noqa: E402

EMPTY_TENANT = "tenant-empty"
CALLBACK_DIR = common.REPO_ROOT / "bench" / "callback_plugins"
JOB_VARS = {"compliance_job": "consent-revocation", "compliance_tenant": EMPTY_TENANT,
            "compliance_triggered_by": "bench"}
# name: (playbook, relative to the checkout's root, or to this one's for the reference playbooks; extra vars)
SIDES = {
    "debug": ("bench/playbooks/overhead_debug.yml", {}),
    "ping": ("bench/playbooks/overhead_ping.yml", {}),
    "module": ("bench/playbooks/overhead_job.yml", {"bench_tenant": EMPTY_TENANT}),
    "dry run": ("playbooks/compliance.yml", JOB_VARS),
    "execute": ("playbooks/compliance.yml", dict(JOB_VARS, compliance_execute=True)),
}
JOB_SIDES = ("module", "dry run", "execute")  # the sides that run the collection's code
BEFORE = " (before)"


def load_average() -> str:
    with open("/proc/loadavg", encoding="ascii") as handle:
        return " ".join(handle.read().split()[:3])


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def empty_scope_database(factory) -> str:
    """A migrated database whose only tenant has no users; its connection string."""
    url = common.url_for(factory.create(label="overhead"))
    common.migrate_schema(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('INSERT INTO "Tenant" ("id", "slug", "name") VALUES (%s, %s, %s)',
                     ("ten_empty", EMPTY_TENANT, "Empty tenant"))
    return url


def run_side(side: str, checkout: Path, url: str, profile: bool) -> dict:
    """One ansible-playbook run of ``side`` from ``checkout``: wall seconds, CPU seconds and, profiled,
    its steps. Checks that a job side logged one summary of the empty tenant with zero counts."""
    playbook, extra_vars = SIDES[side]
    root = checkout if side in JOB_SIDES else common.REPO_ROOT
    if side == "module":
        extra_vars = dict(extra_vars, bench_dsn=url)
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(root / playbook),
               "-i", str(checkout / "inventories" / "local"), "-e", json.dumps(extra_vars)]
    env = {key: value for key, value in os.environ.items() if not key.endswith(("DATABASE_URL", "REDIS_URL"))}
    env.update(ANSIBLE_CONFIG=str(checkout / "ansible.cfg"), ANSIBLE_NOCOLOR="1", DATABASE_URL=url)
    with tempfile.TemporaryDirectory(prefix="sf-bench-overhead-") as directory:
        steps_file, audit_log = os.path.join(directory, "steps.jsonl"), os.path.join(directory, "audit.jsonl")
        env["SKILLFORGE_AUDIT_LOG"] = audit_log  # to a file, as in production, not into the output
        if profile:
            env.update(ANSIBLE_CALLBACK_PLUGINS=str(CALLBACK_DIR), BENCH_TASK_SECONDS=steps_file,
                       ANSIBLE_CALLBACKS_ENABLED="skillforge.dataops.audit_json,task_seconds",
                       BENCH_PROCESS_START=repr(time.time()))
        started, started_cpu = time.perf_counter(), children_cpu_seconds()
        completed = subprocess.run(command, env=env, cwd=str(checkout), capture_output=True, text=True, check=False)
        seconds, cpu_seconds = time.perf_counter() - started, children_cpu_seconds() - started_cpu
        if completed.returncode != 0:
            raise RuntimeError("%s: ansible-playbook failed (rc %d): %s" % (
                side, completed.returncode, (completed.stdout + completed.stderr)[-3000:]))
        steps = read_lines(steps_file) if profile else []
        summaries = [line["summary"] for line in read_lines(audit_log)]
    if side in JOB_SIDES and (len(summaries) != 1 or summaries[0]["scope"].get("tenant") != EMPTY_TENANT
                              or any(summaries[0]["counts"].values())):
        raise RuntimeError("%s: expected one job summary of the empty tenant with zero counts, got %r"
                           % (side, summaries))
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "steps": steps}


def read_lines(path: str) -> list:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def profile_table(steps_per_side: dict) -> list:
    """[(side, step, median seconds)] in the order the steps ran."""
    rows = []
    for side, runs in steps_per_side.items():
        names = []
        for run in runs:
            names += [step["step"] for step in run if step["step"] not in names]
        for name in names:
            rows.append((side, name, median([next((s["seconds"] for s in run if s["step"] == name), None)
                                             for run in runs])))
    return rows


def summarise(results: dict) -> None:
    """Medians and ratios to the debug side, for wall and CPU seconds, into ``results``."""
    for key, ratio_key in (("seconds", "ratio_to_debug"), ("cpu_seconds", "cpu_ratio_to_debug")):
        medians = {label: median(times) for label, times in results[key].items()}
        results["median_" + key] = medians
        results[ratio_key] = {label: ratio(value, medians["debug"]) for label, value in medians.items()}


def print_summary(results: dict) -> None:
    print("\n%s, %d runs per side, load average %s before, %s after" % (
        results["date"], results["runs"], results["load_average_before"], results["load_average_after"]))
    print("  %-18s %8s %7s %8s %7s  %s" % ("side", "wall (s)", "ratio", "CPU (s)", "ratio", "wall run by run"))
    for label in results["seconds"]:
        print("  %-18s %8.2f %7.2f %8.2f %7.2f  %s" % (
            label, results["median_seconds"][label], results["ratio_to_debug"][label],
            results["median_cpu_seconds"][label], results["cpu_ratio_to_debug"][label],
            ", ".join("%.2f" % seconds for seconds in results["seconds"][label])))
    if "profile" in results:
        print("\nmedian seconds per step:")
        for label, step, seconds in results["profile"]:
            print("  %-18s %6s  %s" % (label, "-" if seconds is None else "%.3f" % seconds, step))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per side (medians are reported)")
    parser.add_argument("--profile", action="store_true", help="also record the seconds of each step")
    parser.add_argument("--before", type=Path, help="another checkout: its job sides run too, labelled (before)")
    parser.add_argument("--out", default=str(common.REPO_ROOT / "bench" / "results" / "playbook-overhead.json"))
    args = parser.parse_args(argv)
    common.link_collection()
    sides = [(side, common.REPO_ROOT) for side in SIDES]
    labels = list(SIDES)
    if args.before:
        if not (args.before / ".collections" / "ansible_collections" / "skillforge" / "dataops").exists():
            parser.error("%s has no .collections/ansible_collections/skillforge/dataops link" % args.before)
        sides += [(side, args.before.resolve()) for side in JOB_SIDES]
        labels += [side + BEFORE for side in JOB_SIDES]
    results = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "runs": args.runs,
               "before": str(args.before) if args.before else None, "load_average_before": load_average(),
               "seconds": {label: [] for label in labels}, "cpu_seconds": {label: [] for label in labels},
               "steps": {label: [] for label in labels}, "order": []}
    factory = common.database_factory()
    try:
        url = empty_scope_database(factory)
        for run in range(args.runs):
            shift = run % len(sides)
            order = list(range(len(sides)))[shift:] + list(range(len(sides)))[:shift]
            results["order"].append([labels[index] for index in order])
            for index in order:
                measured = run_side(sides[index][0], sides[index][1], url, args.profile)
                results["seconds"][labels[index]].append(round(measured["seconds"], 3))
                results["cpu_seconds"][labels[index]].append(round(measured["cpu_seconds"], 3))
                results["steps"][labels[index]].append(measured["steps"])
            print("run %d: %s (load %s)" % (run + 1, ", ".join(
                "%s %.2fs" % (label, results["seconds"][label][-1]) for label in labels), load_average()), flush=True)
    finally:
        factory.drop_all()
    results["load_average_after"] = load_average()
    summarise(results)
    if args.profile:
        results["profile"] = profile_table(results["steps"])
    del results["steps"]
    print_summary(results)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print("results: %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
