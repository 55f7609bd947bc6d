# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runs: each job done by the collection and by hand-written SQL, side by side.

One template database per scale (migrated, then filled by bench.appdata); for every job and every run,
identical copies of it (``CREATE DATABASE ... TEMPLATE``), one per side, alternating which side goes
first. Each side runs in its own process (bench.measure), so the reported peak RSS is the
collection's alone. ``Bench.run`` returns the results dict bench.run writes and bench.report prints.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import psycopg
from psycopg import sql

from bench import appdata, common
from bench.common import COMPLIANCE_JOBS
from bench.report import median, ratio

PLAYBOOKS = common.REPO_ROOT / "bench" / "playbooks"
TRIGGERED_BY = "bench"
EMPTY_TENANT = "tenant-empty"

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


class Bench:
    """One benchmark run: ``args`` are bench.run's options, ``command`` the command line to record."""

    def __init__(self, args, command: str):
        self.args = args
        self.command = command
        self.databases = common.database_factory()
        self.results: dict = {"jobs": {}}

    # ---- databases ------------------------------------------------------------------------------------
    def database(self, label: str, template: str | None = None) -> str:
        return self.databases.create(template, label)

    def drop(self, name: str) -> None:
        self.databases.drop(name)

    def drop_all(self) -> None:
        self.databases.drop_all()

    def copy(self, template: str) -> tuple:
        started = time.perf_counter()
        name = self.database("copy", template)
        return name, common.url_for(name), time.perf_counter() - started

    # ---- the application-data template --------------------------------------------------------------
    def build_template(self) -> str:
        """The application-data template: built for this run (and dropped at its end), or with
        ``--template NAME`` built once under that name and kept, and reused by later runs."""
        if self.args.template:
            name = self.args.template
            if common.database_exists(name):
                log("template %s: reused (kept from an earlier run with --template)" % name)
                self.results["generation"] = {"reused": name}
                return name
            common.create_database(name)
        else:
            name = self.database("tpl_%d" % self.args.users)
        url = common.url_for(name)
        started = time.perf_counter()
        common.migrate_schema(url)
        scale = appdata.Scale(users=self.args.users, tenants=self.args.tenants, seed=self.args.seed,
                              layout=self.args.layout, stale_share=self.args.stale_share)
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

    def sweep(self, short: str, template: str, option: str, values: list) -> dict:
        """The job function at each value of ``option`` (batch_size, parallel) beside the baseline,
        each on a fresh copy, the order of the sides rotating run by run: what a value costs against
        the hand-written SQL."""
        job, options, _extra_vars = COMPLIANCE_JOBS[short]
        base = dict(options, triggered_by=TRIGGERED_BY)
        if self.args.batch_size:
            base["batch_size"] = self.args.batch_size
        sides = ["baseline"] + values
        entry = {"job": job, "option": option, "baseline": [], "function": {str(value): [] for value in values},
                 "batches": {}, "rss_mb": {}, "counts": {}, "options": base}
        for run in range(self.args.runs):
            for side in sides[run % len(sides):] + sides[:run % len(sides)]:
                name, url, _seconds = self.copy(template)
                if side == "baseline":
                    m = measure({"kind": "compliance-baseline", "dsn": url, "job": job, "options": options})
                    entry["baseline"].append(m["seconds"])
                else:
                    m = measure({"kind": "compliance", "dsn": url, "job": job, "options": dict(base, **{option: side})})
                    entry["function"][str(side)].append(m["seconds"])
                    entry["batches"][str(side)] = m["result"]["batches"]
                    entry["rss_mb"][str(side)] = max(entry["rss_mb"].get(str(side), 0), m["max_rss_mb"])
                entry["counts"][str(side)] = m["result"]["counts"]
                self.drop(name)
            log("  %s run %d: baseline %.2fs, %s" % (short, run + 1, entry["baseline"][-1], ", ".join(
                "%s %s %.2fs" % (option, size, times[-1]) for size, times in entry["function"].items())))
        baseline_counts = entry["counts"]["baseline"]
        entry["counts_match"] = all({k: v for k, v in counts.items() if k in baseline_counts} == baseline_counts
                                    for counts in entry["counts"].values())
        entry["ratio"] = {size: ratio(median(times), median(entry["baseline"]))
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

    def seed(self, schema_template: str, source: str, source_format: str = "fixtures") -> dict:
        """First seed beside its baseline, then the re-seed and both check modes: from the fixture set
        (baseline: a plain COPY of the JSON) or from the text release (``onet_text``; baseline: the
        typed SQL load, ``baselines.typed_text_load``)."""
        entry = {"first_seed": [], "first_seed_check": [], "reseed": [], "reseed_check": [], "baseline": [],
                 "first_seed_read": [], "reseed_rows_written": [], "first_seed_rss_mb": [], "reseed_rss_mb": [],
                 "playbook_reseed": []}
        spec = {"kind": "seed", "source": source, "format": source_format}
        baseline = "seed-baseline" if source_format == "fixtures" else "seed-text-baseline"
        for run in range(self.args.runs):
            for side in (["function", "baseline"] if run % 2 == 0 else ["baseline", "function"]):
                name, url, _seconds = self.copy(schema_template)
                if side == "baseline":
                    m = measure({"kind": baseline, "dsn": url, "source": source})
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
                    if run < self.args.playbook_runs and source_format == "fixtures":
                        m = measure({"kind": "playbook", "playbook": str(common.REPO_ROOT / "playbooks" / "seed.yml"),
                                     "extra_vars": {"onet_seed_fixtures_dir": source}, "env": {"DATABASE_URL": url}})
                        entry["playbook_reseed"].append(m["seconds"])
                self.drop(name)
            log("  %s run %d: first %.2fs (read %.2fs), baseline %.2fs, re-seed %.2fs (%d rows written)" % (
                source_format, run + 1, entry["first_seed"][-1], entry["first_seed_read"][-1], entry["baseline"][-1],
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
            batch_sizes=args.batch_sizes, parallel=args.parallel, layout=args.layout, stale_share=args.stale_share,
            date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), machine=machine(),
            command=self.command)
        jobs = args.jobs
        started = time.perf_counter()
        template = None
        if set(jobs) & (set(COMPLIANCE_JOBS) | {"overhead"}):
            template = self.build_template()
        for short in COMPLIANCE_JOBS:
            option, values = ("batch_size", args.batch_sizes) if args.batch_sizes else ("parallel", args.parallel)
            if short in jobs and values:
                log("%s (%s), %s %s" % (short, COMPLIANCE_JOBS[short][0], option, values))
                self.results.setdefault("sweep", {})[short] = self.sweep(short, template, option, values)
            elif short in jobs:
                log("%s (%s)" % (short, COMPLIANCE_JOBS[short][0]))
                self.results["jobs"][short] = self.compliance_job(short, template)
        if "overhead" in jobs:
            log("ansible overhead")
            self.results["jobs"]["overhead"] = self.overhead(template)
        if template and not args.template:
            self.drop(template)
        if {"seed", "seed-text"} & set(jobs):
            log("seed (O*NET-size dataset)")
            from bench import onet_data
            with tempfile.TemporaryDirectory(prefix="sf_bench_onet_") as out:
                counts = onet_data.write_all(out, occupation_count=self.args.onet_occupations)
                schema = self.database("schema")
                common.migrate_schema(common.url_for(schema))
                if "seed" in jobs:
                    self.results["jobs"]["seed"] = dict(self.seed(schema, os.path.join(out, "fixtures")), dataset=counts)
                if "seed-text" in jobs:
                    log("seed-text (the same dataset as an O*NET text release)")
                    self.results["jobs"]["seed-text"] = dict(
                        self.seed(schema, os.path.join(out, "db_29_0_text"), "onet_text"), dataset=counts)
                self.drop(schema)
        if "migrate" in jobs:
            log("migrate (empty database)")
            self.results["jobs"]["migrate"] = self.migrate()
        self.results["total_seconds"] = time.perf_counter() - started
        return self.results


# What limits the 1M-user figures (docs/PERFORMANCE.md, "What limits N at 1M users"): recorded with each result.
SERVER_SETTINGS = ("shared_buffers", "max_wal_size", "checkpoint_timeout", "wal_buffers")


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
        for setting in SERVER_SETTINGS:
            info[setting] = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(setting))).fetchone()[0]
    return info
