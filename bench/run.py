# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark harness: each job done by the collection and by hand-written SQL, side by side.

    bench/.venv/bin/python -m bench.run --users 100000 --runs 3
    bench/.venv/bin/python -m bench.run --plot bench/results/users-*.json
    bench/.venv/bin/python -m bench.run --users 1000000 --jobs retention --batch-sizes 20000,50000

One process run per scale. It builds a template database (migrated, then filled by bench.appdata),
and for every job and every run makes identical copies of it (``CREATE DATABASE ... TEMPLATE``),
one per side, alternating which side goes first. Each side runs in its own process
(bench.measure), so the reported peak RSS is the collection's alone. Results (medians, the ratio
collection/baseline, RSS, rows per second) are printed and written to bench/results/users-N.json;
``--plot`` draws time against users from several of those files. Every database is named
``sf_bench_*`` and dropped at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import appdata, common  # noqa: E402

RESULTS_DIR = common.REPO_ROOT / "bench" / "results"
PLAYBOOKS = common.REPO_ROOT / "bench" / "playbooks"
TRIGGERED_BY = "bench"
LARGE_TENANT = "tenant-000"  # 20% of the users (bench.appdata)
EMPTY_TENANT = "tenant-empty"

COMPLIANCE_JOBS = {
    # short name: (job, options, playbook extra vars)
    "retention": ("data-retention", {}, {}),
    "consent": ("consent-revocation", {"tenant": LARGE_TENANT}, {"compliance_tenant": LARGE_TENANT}),
    "segregation": ("partner-segregation", {"tenant": LARGE_TENANT}, {"compliance_tenant": LARGE_TENANT}),
}
ALL_JOBS = tuple(COMPLIANCE_JOBS) + ("seed", "migrate", "overhead")
# Tables whose content must be identical after the collection and the baseline ran (updatedAt and
# the audit row aside): the proof that both did the same work.
COMPARED = {
    "User": '"id", "tenantId", "marketingOptIn", "legalHold"',
    "Profile": '"id"', "Resume": '"id"', "ResumeIngestion": '"id", "ingestionMetadata"',
    "Assessment": '"id", "status", "notificationsEnabled"', "Notification": '"id", "status", "actions"',
    "NotificationPreference": '"id", "enabled"',
}
REFERENCE_RELATIONS = ("onet_occupations", "onet_skills", "onet_occupation_skills", "onet_tasks",
                       "onet_dataset_versions", "onet_skill_coverage", "onet_skill_category_summary")


def log(message: str) -> None:
    print("[%s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def measure(spec: dict) -> dict:
    """Run bench.measure in a fresh process: {"seconds", "max_rss_mb", "result", "cpu_s"}.

    ``cpu_s`` is the CPU time of the measuring process plus its server backends."""
    completed = subprocess.run([sys.executable, "-m", "bench.measure", json.dumps(spec)], cwd=str(common.REPO_ROOT),
                               capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError("measurement %s failed: %s" % (spec["kind"], completed.stderr[-3000:]))
    measured = json.loads(completed.stdout.strip().splitlines()[-1])
    if measured.get("server_cpu_s") is not None:
        measured["cpu_s"] = measured["server_cpu_s"] + measured["client_cpu_s"]
    return measured


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Bench:
    def __init__(self, args):
        self.args = args
        self.databases: list[str] = []
        self.results: dict = {"jobs": {}}

    # ---- databases ------------------------------------------------------------------------------------
    def database(self, label: str, template: str | None = None) -> str:
        name = common.create_database(common.new_name(label), template)
        self.databases.append(name)
        return name

    def drop(self, name: str) -> None:
        common.drop_database(name)
        if name in self.databases:
            self.databases.remove(name)

    def drop_all(self) -> None:
        for name in list(self.databases):
            self.drop(name)

    def copy(self, template: str) -> tuple:
        started = time.perf_counter()
        name = self.database("copy", template)
        return name, common.url_for(name), time.perf_counter() - started

    # ---- the application-data template --------------------------------------------------------------
    def build_template(self) -> str:
        name = self.database("tpl_%d" % self.args.users)
        url = common.url_for(name)
        started = time.perf_counter()
        common.migrate_schema(url)
        scale = appdata.Scale(users=self.args.users, tenants=self.args.tenants, seed=self.args.seed,
                              layout=self.args.layout)
        generated = appdata.generate(url, scale, progress=lambda line: log("  " + line))
        with psycopg.connect(url, autocommit=True) as conn:
            # A tenant without users: the scope of the Ansible-overhead comparison.
            conn.execute('INSERT INTO "Tenant" ("id", "slug", "name") VALUES (%s, %s, %s)',
                         ("ten_empty", EMPTY_TENANT, "Empty tenant"))
        generated["total_seconds"] = time.perf_counter() - started
        generated["database_mb"] = round(common.database_size(url) / 1e6)
        self.results["generation"] = generated
        log("template %s: %d rows in %.1fs, %d MB" % (
            name, sum(generated["rows"].values()), generated["total_seconds"], generated["database_mb"]))
        return name

    # ---- compliance jobs ---------------------------------------------------------------------------------
    def fingerprint(self, url: str) -> dict:
        with psycopg.connect(url) as conn:
            return {table: conn.execute(
                'SELECT count(*), md5(coalesce(string_agg(md5(row(%s)::text), \'\' ORDER BY "id"), \'\')) FROM "%s"'
                % (columns, table)).fetchone() for table, columns in COMPARED.items()}

    def compliance_job(self, short: str, template: str) -> dict:
        job, options, extra_vars = COMPLIANCE_JOBS[short]
        function_options = dict(options, triggered_by=TRIGGERED_BY)
        if self.args.batch_size:
            function_options["batch_size"] = self.args.batch_size
        entry = {"job": job, "options": function_options, "function": [], "baseline": [], "check": [],
                 "playbook": [], "playbook_check": [], "function_rss_mb": [], "check_rss_mb": [],
                 "playbook_rss_mb": [], "copy_seconds": []}
        for run in range(self.args.runs):
            sides = ["function", "baseline"] if run % 2 == 0 else ["baseline", "function"]
            fingerprints = {}
            for side in sides:
                name, url, copy_seconds = self.copy(template)
                entry["copy_seconds"].append(copy_seconds)
                if side == "function":
                    m = measure({"kind": "compliance", "dsn": url, "job": job, "options": function_options})
                    entry["function_rss_mb"].append(m["max_rss_mb"])
                    entry["function_counts"] = m["result"]["counts"]
                    entry["batches"] = m["result"]["batches"]
                else:
                    m = measure({"kind": "compliance-baseline", "dsn": url, "job": job, "options": options})
                    entry["baseline_counts"] = m["result"]["counts"]
                entry[side].append(m["seconds"])
                entry.setdefault(side + "_cpu", []).append(m.get("cpu_s"))
                if run == 0 and self.args.verify:
                    fingerprints[side] = self.fingerprint(url)
                self.drop(name)
            if fingerprints:
                entry["same_effect"] = fingerprints["function"] == fingerprints["baseline"]
            # Check mode (the job's dry run), and the whole playbook in check mode and for real.
            name, url, _seconds = self.copy(template)
            check_first = run % 2 == 0
            for step in (["check", "playbook_check"] if check_first else ["playbook_check", "check"]):
                if step == "check":
                    m = measure({"kind": "compliance", "dsn": url, "job": job, "options": function_options,
                                 "dry_run": True})
                    entry["check_counts"] = m["result"]["counts"]
                    entry["check_rss_mb"].append(m["max_rss_mb"])
                    entry.setdefault("check_cpu", []).append(m.get("cpu_s"))
                elif run < self.args.playbook_runs:
                    m = self.compliance_playbook(url, job, extra_vars, check=True)
                    entry["playbook_check_counts"] = m["result"]["summary"]["counts"]
                else:
                    continue
                entry[step].append(m["seconds"])
            self.drop(name)
            if run < self.args.playbook_runs:
                name, url, _seconds = self.copy(template)
                m = self.compliance_playbook(url, job, extra_vars, check=False)
                entry["playbook_counts"] = m["result"]["summary"]["counts"]
                entry["playbook"].append(m["seconds"])
                entry["playbook_rss_mb"].append(m["max_rss_mb"])
                self.drop(name)
            log("  %s run %d: function %.2fs, baseline %.2fs, check %.2fs" % (
                short, run + 1, entry["function"][-1], entry["baseline"][-1], entry["check"][-1]))
        counts = entry.get("baseline_counts") or {}
        entry["rows"] = sum(counts.values())
        entry["counts_match"] = all(entry.get("function_counts", {}).get(k) == v for k, v in counts.items()) and all(
            entry.get("check_counts", {}).get(k) == v for k, v in entry.get("function_counts", {}).items())
        return entry

    def batch_size_sweep(self, short: str, template: str, sizes: list) -> dict:
        """The job function at each batch size beside the baseline, each on a fresh copy, the order
        of the sides rotating run by run: what a batch size costs against the hand-written SQL."""
        job, options, _extra_vars = COMPLIANCE_JOBS[short]
        sides = ["baseline"] + sizes
        entry = {"job": job, "baseline": [], "function": {str(size): [] for size in sizes}, "batches": {},
                 "rss_mb": {}, "counts": {}}
        for run in range(self.args.runs):
            for side in sides[run % len(sides):] + sides[:run % len(sides)]:
                name, url, _seconds = self.copy(template)
                if side == "baseline":
                    m = measure({"kind": "compliance-baseline", "dsn": url, "job": job, "options": options})
                    entry["baseline"].append(m["seconds"])
                else:
                    m = measure({"kind": "compliance", "dsn": url, "job": job,
                                 "options": dict(options, triggered_by=TRIGGERED_BY, batch_size=side)})
                    entry["function"][str(side)].append(m["seconds"])
                    entry["batches"][str(side)] = m["result"]["batches"]
                    entry["rss_mb"][str(side)] = max(entry["rss_mb"].get(str(side), 0), m["max_rss_mb"])
                entry["counts"][str(side)] = m["result"]["counts"]
                self.drop(name)
            log("  %s run %d: baseline %.2fs, %s" % (short, run + 1, entry["baseline"][-1], ", ".join(
                "%s per batch %.2fs" % (size, times[-1]) for size, times in entry["function"].items())))
        baseline_counts = entry["counts"]["baseline"]
        entry["counts_match"] = all({k: v for k, v in counts.items() if k in baseline_counts} == baseline_counts
                                    for counts in entry["counts"].values())
        entry["ratio"] = {size: _ratio(median(times), median(entry["baseline"]))
                          for size, times in entry["function"].items()}
        entry["ratio_per_run"] = {size: [round(t / b, 3) for t, b in zip(times, entry["baseline"])]
                                  for size, times in entry["function"].items()}
        return entry

    def compliance_playbook(self, url: str, job: str, extra_vars: dict, check: bool) -> dict:
        variables = dict(extra_vars, compliance_job=job, compliance_triggered_by=TRIGGERED_BY,
                         compliance_execute=not check)
        if self.args.batch_size:
            variables["compliance_batch_size"] = self.args.batch_size
        m = measure({"kind": "playbook", "playbook": str(common.REPO_ROOT / "playbooks" / "compliance.yml"),
                     "check": check, "extra_vars": variables, "env": {"DATABASE_URL": url}})
        summaries = [line["summary"] for line in m["result"]["audit"] if line.get("job") == job]
        if len(summaries) != 1:
            raise RuntimeError("the %s playbook logged %d job summaries, not one" % (job, len(summaries)))
        m["result"] = {"summary": summaries[0]}
        return m

    # ---- reference data ----------------------------------------------------------------------------------
    def reference_writes(self, url: str) -> int:
        """Rows inserted, updated or deleted in the reference tables and views since the stats reset."""
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            return int(conn.execute(
                "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_all_tables"
                " WHERE relname = ANY(%s)", (list(REFERENCE_RELATIONS),)).fetchone()[0])

    def seed(self, schema_template: str, source: str) -> dict:
        entry = {"first_seed": [], "first_seed_check": [], "reseed": [], "reseed_check": [], "baseline": [],
                 "first_seed_read": [], "reseed_rows_written": [], "first_seed_rss_mb": [], "reseed_rss_mb": [],
                 "playbook_reseed": []}
        spec = {"kind": "seed", "source": source, "format": "fixtures"}
        for run in range(self.args.runs):
            for side in (["function", "baseline"] if run % 2 == 0 else ["baseline", "function"]):
                name, url, _seconds = self.copy(schema_template)
                if side == "baseline":
                    m = measure({"kind": "seed-baseline", "dsn": url, "source": source})
                    entry["baseline"].append(m["seconds"])
                    entry.setdefault("baseline_cpu", []).append(m.get("cpu_s"))
                    entry["rows"] = sum(m["result"]["counts"].values())
                else:
                    m = measure(dict(spec, dsn=url, check=True))
                    entry["first_seed_check"].append(m["seconds"])
                    m = measure(dict(spec, dsn=url))
                    entry["first_seed"].append(m["seconds"])
                    entry.setdefault("first_seed_cpu", []).append(m.get("cpu_s"))
                    entry["first_seed_read"].append(m["result"]["read_seconds"])
                    entry["first_seed_rss_mb"].append(m["max_rss_mb"])
                    before = self.reference_writes(url)
                    m = measure(dict(spec, dsn=url))
                    entry["reseed"].append(m["seconds"])
                    entry.setdefault("reseed_cpu", []).append(m.get("cpu_s"))
                    entry["reseed_changed"] = m["result"]["changed"]
                    entry["reseed_rss_mb"].append(m["max_rss_mb"])
                    entry["reseed_rows_written"].append(self.reference_writes(url) - before)
                    m = measure(dict(spec, dsn=url, check=True))
                    entry["reseed_check"].append(m["seconds"])
                    if run < self.args.playbook_runs:
                        m = measure({"kind": "playbook", "playbook": str(common.REPO_ROOT / "playbooks" / "seed.yml"),
                                     "extra_vars": {"onet_seed_fixtures_dir": source}, "env": {"DATABASE_URL": url}})
                        entry["playbook_reseed"].append(m["seconds"])
                self.drop(name)
            log("  seed run %d: first %.2fs (read %.2fs), baseline %.2fs, re-seed %.2fs (%d rows written)" % (
                run + 1, entry["first_seed"][-1], entry["first_seed_read"][-1], entry["baseline"][-1],
                entry["reseed"][-1], entry["reseed_rows_written"][-1]))
        return entry

    def migrate(self) -> dict:
        entry = {"function": [], "check": [], "baseline": [], "playbook": [], "function_rss_mb": []}
        for run in range(self.args.runs):
            for side in (["function", "baseline"] if run % 2 == 0 else ["baseline", "function"]):
                name = self.database("empty")
                url = common.url_for(name)
                if side == "function":
                    m = measure({"kind": "migrate", "dsn": url, "check": True})
                    entry["check"].append(m["seconds"])
                    m = measure({"kind": "migrate", "dsn": url})
                    entry["function"].append(m["seconds"])
                    entry["function_rss_mb"].append(m["max_rss_mb"])
                    entry["applied"] = m["result"]["applied"]
                else:
                    m = measure({"kind": "migrate-baseline", "dsn": url})
                    entry["baseline"].append(m["seconds"])
                self.drop(name)
            if run < self.args.playbook_runs:
                name = self.database("empty")
                m = measure({"kind": "playbook", "playbook": str(common.REPO_ROOT / "playbooks" / "migrate.yml"),
                             "env": {"DATABASE_URL": common.url_for(name)}})
                entry["playbook"].append(m["seconds"])
                self.drop(name)
            log("  migrate run %d: function %.2fs, baseline %.2fs, check %.2fs" % (
                run + 1, entry["function"][-1], entry["baseline"][-1], entry["check"][-1]))
        return entry

    def overhead(self, template: str) -> dict:
        """One job on an empty scope vs community.postgresql.postgresql_query SELECT 1, same playbook shape."""
        entry = {"job_playbook": [], "query_playbook": []}
        name, url, _seconds = self.copy(template)
        params = psycopg.conninfo.conninfo_to_dict(url)
        extra_vars = {"bench_dsn": url, "bench_tenant": EMPTY_TENANT, "bench_db": name,
                      "bench_host": params.get("host", "127.0.0.1"), "bench_port": int(params.get("port", 5432)),
                      "bench_user": params.get("user", "postgres")}
        for run in range(self.args.overhead_runs):
            for side in (["job_playbook", "query_playbook"] if run % 2 == 0 else ["query_playbook", "job_playbook"]):
                playbook = PLAYBOOKS / ("overhead_job.yml" if side == "job_playbook" else "overhead_query.yml")
                m = measure({"kind": "playbook", "playbook": str(playbook), "extra_vars": extra_vars})
                entry[side].append(m["seconds"])
        self.drop(name)
        log("  overhead: job playbook %.2fs, postgresql_query playbook %.2fs (medians)" % (
            median(entry["job_playbook"]), median(entry["query_playbook"])))
        return entry

    # ---- the whole run -----------------------------------------------------------------------------------
    def run(self) -> dict:
        args = self.args
        self.results.update(
            users=args.users, tenants=args.tenants, seed=args.seed, runs=args.runs, batch_size=args.batch_size,
            batch_sizes=args.batch_sizes, layout=args.layout,
            date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), machine=machine(),
            command="bench/.venv/bin/python -m bench.run " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
        jobs = args.jobs
        started = time.perf_counter()
        template = None
        if set(jobs) & (set(COMPLIANCE_JOBS) | {"overhead"}):
            template = self.build_template()
        for short in COMPLIANCE_JOBS:
            if short in jobs and args.batch_sizes:
                log("%s (%s), batch sizes %s" % (short, COMPLIANCE_JOBS[short][0], args.batch_sizes))
                self.results.setdefault("sweep", {})[short] = self.batch_size_sweep(short, template, args.batch_sizes)
            elif short in jobs:
                log("%s (%s)" % (short, COMPLIANCE_JOBS[short][0]))
                self.results["jobs"][short] = self.compliance_job(short, template)
        if "overhead" in jobs:
            log("ansible overhead")
            self.results["jobs"]["overhead"] = self.overhead(template)
        if template:
            self.drop(template)
        if "seed" in jobs:
            log("seed (O*NET-size dataset)")
            from bench import onet_data
            with tempfile.TemporaryDirectory(prefix="sf_bench_onet_") as out:
                counts = onet_data.write_all(out, occupation_count=self.args.onet_occupations)
                schema = self.database("schema")
                common.migrate_schema(common.url_for(schema))
                self.results["jobs"]["seed"] = dict(self.seed(schema, os.path.join(out, "fixtures")), dataset=counts)
                self.drop(schema)
        if "migrate" in jobs:
            log("migrate (empty database)")
            self.results["jobs"]["migrate"] = self.migrate()
        self.results["total_seconds"] = time.perf_counter() - started
        return self.results


def machine() -> dict:
    info = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
        with open("/proc/meminfo", encoding="utf-8") as handle:
            info["memory_gb"] = round(int(handle.readline().split()[1]) / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    with psycopg.connect(common.ADMIN_URL) as conn:
        info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
        info["shared_buffers"] = conn.execute("SHOW shared_buffers").fetchone()[0]
    return info


# ---- report ------------------------------------------------------------------------------------------------
def _fmt(value, pattern="%.2f") -> str:
    if value is None:
        return "-"
    return pattern.format(value) if "{" in pattern else pattern % value


def _ratio(a, b):
    return None if a is None or not b else a / b


def summary_rows(results: dict) -> list:
    """One row per measured pair: (what, collection median, baseline median, ratio, extra)."""
    rows = []
    jobs = results["jobs"]
    for short in COMPLIANCE_JOBS:
        if short not in jobs:
            continue
        e = jobs[short]
        f, b = median(e["function"]), median(e["baseline"])
        rows.append({
            "job": short, "collection_s": f, "baseline_s": b, "ratio": _ratio(f, b),
            "playbook_s": median(e["playbook"]), "check_s": median(e["check"]),
            "check_over_execute": _ratio(median(e["check"]), f), "peak_rss_mb": max(e["function_rss_mb"] or [0]),
            "rows": e["rows"], "rows_per_s_collection": e["rows"] / f if f else None,
            "rows_per_s_baseline": e["rows"] / b if b else None, "counts_match": e.get("counts_match"),
            "same_effect": e.get("same_effect"), "batches": e.get("batches"),
            "cpu_collection_s": median(e.get("function_cpu") or []), "cpu_baseline_s": median(e.get("baseline_cpu") or []),
            "cpu_ratio": _ratio(median(e.get("function_cpu") or []), median(e.get("baseline_cpu") or []))})
    if "seed" in jobs:
        e = jobs["seed"]
        f, b, r = median(e["first_seed"]), median(e["baseline"]), median(e["reseed"])
        rows.append({"job": "first seed", "collection_s": f, "baseline_s": b, "ratio": _ratio(f, b),
                     "check_s": median(e["first_seed_check"]), "check_over_execute": _ratio(median(e["first_seed_check"]), f),
                     "peak_rss_mb": max(e["first_seed_rss_mb"] or [0]), "rows": e.get("rows"),
                     "cpu_collection_s": median(e.get("first_seed_cpu") or []),
                     "cpu_baseline_s": median(e.get("baseline_cpu") or []),
                     "cpu_ratio": _ratio(median(e.get("first_seed_cpu") or []), median(e.get("baseline_cpu") or [])),
                     "rows_per_s_collection": e["rows"] / f if f else None, "read_s": median(e["first_seed_read"])})
        rows.append({"job": "no-change re-seed", "collection_s": r, "ratio_to_first_seed": _ratio(r, f),
                     "check_s": median(e["reseed_check"]), "check_over_execute": _ratio(median(e["reseed_check"]), r),
                     "rows_written": max(e["reseed_rows_written"] or [0]), "changed": e.get("reseed_changed"),
                     "playbook_s": median(e["playbook_reseed"]), "peak_rss_mb": max(e["reseed_rss_mb"] or [0]),
                     "cpu_collection_s": median(e.get("reseed_cpu") or [])})
    if "migrate" in jobs:
        e = jobs["migrate"]
        f, b = median(e["function"]), median(e["baseline"])
        rows.append({"job": "migrate (empty db)", "collection_s": f, "baseline_s": b, "ratio": _ratio(f, b),
                     "check_s": median(e["check"]), "check_over_execute": _ratio(median(e["check"]), f),
                     "playbook_s": median(e["playbook"]), "peak_rss_mb": max(e["function_rss_mb"] or [0])})
    if "overhead" in jobs:
        e = jobs["overhead"]
        j, q = median(e["job_playbook"]), median(e["query_playbook"])
        rows.append({"job": "ansible overhead", "collection_s": j, "baseline_s": q, "ratio": _ratio(j, q)})
    return rows


def print_summary(results: dict) -> None:
    print("\nusers=%d tenants=%d runs=%d (medians, seconds)" % (results["users"], results["tenants"], results["runs"]))
    header = "%-20s %9s %9s %7s %9s %9s %7s %8s %12s %12s" % (
        "job", "coll.", "baseline", "ratio", "playbook", "check", "chk/ex", "RSS MB", "rows/s coll", "rows/s base")
    print(header)
    print("-" * len(header))
    for row in summary_rows(results):
        print("%-20s %9s %9s %7s %9s %9s %7s %8s %12s %12s" % (
            row["job"], _fmt(row.get("collection_s")), _fmt(row.get("baseline_s")),
            _fmt(row.get("ratio") if "ratio" in row else row.get("ratio_to_first_seed")),
            _fmt(row.get("playbook_s")), _fmt(row.get("check_s")), _fmt(row.get("check_over_execute")),
            _fmt(row.get("peak_rss_mb"), "%.0f"), _fmt(row.get("rows_per_s_collection"), "%.0f"),
            _fmt(row.get("rows_per_s_baseline"), "%.0f")))
        notes = {k: (round(row[k], 2) if isinstance(row[k], float) else row[k])
                 for k in ("counts_match", "same_effect", "rows", "rows_written", "changed", "read_s", "batches",
                           "cpu_collection_s", "cpu_baseline_s", "cpu_ratio") if row.get(k) is not None}
        if notes:
            print("%-20s %s" % ("", notes))


def print_batch_sizes(results: dict) -> None:
    for short, entry in results.get("sweep", {}).items():
        print("\n%s at %d users, %d run(s) per side: baseline %.2fs (median); same counts: %s" % (
            short, results["users"], results["runs"], median(entry["baseline"]), entry["counts_match"]))
        print("%-12s %9s %7s %8s %8s  %s" % ("batch size", "coll.", "ratio", "batches", "RSS MB", "ratio per run"))
        for size, times in entry["function"].items():
            print("%-12s %9s %7s %8s %8s  %s" % (size, _fmt(median(times)), _fmt(entry["ratio"][size]),
                                                 entry["batches"][size], _fmt(entry["rss_mb"][size], "%.0f"),
                                                 entry["ratio_per_run"][size]))


def markdown(results: dict) -> str:
    """The summary as a Markdown table (what docs/PERFORMANCE.md shows)."""
    lines = ["| job | collection (s) | baseline (s) | ratio | CPU ratio | playbook (s) | check (s) | check / execute |"
             " peak RSS (MB) | rows | rows/s collection | rows/s baseline |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in summary_rows(results):
        ratio = row.get("ratio") if "ratio" in row else row.get("ratio_to_first_seed")
        rows = row.get("rows") if row.get("rows") is not None else row.get("rows_written")
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row["job"], _fmt(row.get("collection_s")), _fmt(row.get("baseline_s")), _fmt(ratio), _fmt(row.get("cpu_ratio")),
            _fmt(row.get("playbook_s")), _fmt(row.get("check_s")), _fmt(row.get("check_over_execute")),
            _fmt(row.get("peak_rss_mb"), "%.0f"), "-" if rows is None else "{:,}".format(rows),
            _fmt(row.get("rows_per_s_collection"), "{:,.0f}"), _fmt(row.get("rows_per_s_baseline"), "{:,.0f}")))
    return "\n".join(lines)


def growth_markdown(all_results: list) -> str:
    """Median seconds per job and side across scales, and the factor from one scale to the next."""
    all_results = sorted(all_results, key=lambda r: r["users"])
    scales = [r["users"] for r in all_results]
    header = "| job | side | " + " | ".join("{:,} users".format(u) for u in scales) + " | " + " | ".join(
        "x (%s to %s)" % (_short(a), _short(b)) for a, b in zip(scales, scales[1:])) + " |"
    lines = [header, "| --- | --- |" + " ---: |" * (2 * len(scales) - 1)]
    for short in COMPLIANCE_JOBS:
        for key, label in (("function", "collection"), ("baseline", "hand-written SQL"), ("check", "check mode"),
                           ("function_rss_mb", "peak RSS (MB)")):
            values = [median(r["jobs"][short][key]) if short in r["jobs"] and r["jobs"][short].get(key) else None
                      for r in all_results]
            if key == "function_rss_mb":
                values = [max(r["jobs"][short][key]) if short in r["jobs"] else None for r in all_results]
            factors = [_fmt(_ratio(after, before), "%.1f") for before, after in zip(values, values[1:])]
            lines.append("| %s | %s | %s | %s |" % (short, label, " | ".join(_fmt(v) for v in values), " | ".join(factors)))
    return "\n".join(lines)


def _short(users: int) -> str:
    return "%dM" % (users // 1000000) if users >= 1000000 else "%dk" % (users // 1000)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7, help="data generator seed")
    parser.add_argument("--layout", choices=("time", "user"), default="time",
                        help="physical row order of the generated data (see bench.appdata)")
    parser.add_argument("--runs", type=int, default=3, help="runs per job and side (medians are reported)")
    parser.add_argument("--playbook-runs", type=int, default=1, help="runs of the whole playbook per job")
    parser.add_argument("--overhead-runs", type=int, default=5)
    parser.add_argument("--onet-occupations", type=int, default=1016,
                        help="occupations of the reference dataset (O*NET 29.0: 1016)")
    parser.add_argument("--batch-size", type=int, help="the compliance jobs' batch_size (default: theirs)")
    parser.add_argument("--batch-sizes", help="comma-separated batch sizes: run each compliance job of --jobs at "
                                              "each size beside the baseline, instead of the usual comparison")
    parser.add_argument("--jobs", default=",".join(ALL_JOBS), help="comma-separated subset of %s" % ", ".join(ALL_JOBS))
    parser.add_argument("--verify", action=argparse.BooleanOptionalAction, default=None,
                        help="compare table fingerprints after collection and baseline (default: up to 100k users)")
    parser.add_argument("--out", help="results JSON (default bench/results/users-N.json)")
    parser.add_argument("--plot", nargs="+", metavar="RESULTS_JSON", help="only draw the scaling plot from results files")
    parser.add_argument("--markdown", nargs="+", metavar="RESULTS_JSON", help="only print results as Markdown tables")
    parser.add_argument("--png", default=str(common.REPO_ROOT / "docs" / "performance-scaling.png"))
    parser.add_argument("--cleanup", action="store_true", help="only drop every leftover sf_bench_* database")
    args = parser.parse_args(argv)
    if args.cleanup:
        print("dropped: %s" % (", ".join(common.drop_all_bench_databases()) or "nothing"))
        return 0
    if args.markdown:
        for path in args.markdown:
            results = json.loads(Path(path).read_text())
            print("%s users (%s; %d run(s) per side)\n" % ("{:,}".format(results["users"]), path, results["runs"]))
            print(markdown(results) + "\n")
        if len(args.markdown) > 1:
            print(growth_markdown([json.loads(Path(p).read_text()) for p in args.markdown]))
        return 0
    if args.plot:
        from bench import plot
        plot.draw([json.loads(Path(p).read_text()) for p in args.plot], args.png)
        print("wrote %s" % args.png)
        return 0
    args.jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = set(args.jobs) - set(ALL_JOBS)
    if unknown:
        parser.error("unknown job(s): %s" % ", ".join(sorted(unknown)))
    if args.batch_sizes:
        try:
            args.batch_sizes = [int(size) for size in args.batch_sizes.split(",") if size.strip()]
        except ValueError:
            parser.error("--batch-sizes takes integers, e.g. 20000,50000")
        if args.batch_size or not args.batch_sizes or set(args.jobs) - set(COMPLIANCE_JOBS):
            parser.error("--batch-sizes takes compliance jobs only (--jobs %s) and no --batch-size"
                         % ",".join(COMPLIANCE_JOBS))
    if args.verify is None:
        args.verify = args.users <= 100000
    bench = Bench(args)
    try:
        results = bench.run()
    finally:
        bench.drop_all()
    if args.batch_sizes:
        print_batch_sizes(results)
        default_out = "batch-sizes-users-%d.json" % args.users
    else:
        print_summary(results)
        results["summary"] = summary_rows(results)
        default_out = "users-%d.json" % args.users
    out = Path(args.out) if args.out else RESULTS_DIR / default_out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print("results: %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
