# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one batch of a compliance job costs the database, and the replica behind it (issue 15).

    python -m bench.scaling --users 100000
    python -m bench.scaling --users 1000000 --verification-runs 2

A private PostgreSQL cluster is made for the run (``initdb``, the server's default configuration, so
``fsync`` and ``synchronous_commit`` on, on a free port; tests/replica.py's clusters): the shared
server refuses replication, and a cluster of our own keeps other sessions' WAL out of the figures.
A template database is filled there (bench.appdata), then a streaming replica of the cluster is made
with ``pg_basebackup``. For data-retention and consent-revocation (tenant-000: 20% of the users), at
each batch size, on a fresh copy of the template (after the replica caught up and a CHECKPOINT, so
every run starts alike), the job function (``compliance_registry.run_job``) runs and each batch gets:

* ``seconds``: its transaction, BEGIN to COMMIT (``batches._in_transaction``): how long its row locks
  are held at most (the run's batches one after another on its session: ``parallel`` 1, the default);
* ``wal_bytes``: ``pg_current_wal_lsn()`` after minus before the batch (the cluster has no other writer);
* ``rows``/``users``: what it changed, from the progress records (``progress`` runs after each commit);
* ``pending_bytes``/``replay_lag``: WAL the replica had still to replay, and ``replay_lag`` as
  ``pg_stat_replication`` shows it (what ``max_replica_lag`` reads), right after the commit;
* ``replayed_after``: seconds from the commit until the replica had replayed it (a thread samples
  ``replay_lsn`` every 50 ms).

``--verification-runs N`` then runs the retention purge at the first of ``--retention-batch-sizes``
(by default the job's own default, 20,000) N times with the per-batch erasure verification and N
times without (``JobDefinition.verify`` replaced by a no-op, as bench.erasure_verification does),
alternating which goes first, each on a fresh copy. Medians and p95
per batch size are printed; the results go to bench/results/scaling-users-N.json. Everything made is
removed at the end (the clusters are stopped and deleted), also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import appdata, common  # noqa: E402
from bench.erasure_verification import timed  # noqa: E402

common.link_collection()

import psycopg  # noqa: E402  pylint: disable=wrong-import-position
from psycopg import sql  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import audit, batches, job  # noqa: E402
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import (  # noqa: E402
    JOBS as JOB_DEFINITIONS,
    run_job,
)
from tests import databases, replica  # noqa: E402  the checkout's tests/, on the path as bench/ is

RESULTS_DIR = common.REPO_ROOT / "bench" / "results"
JOBS = {"retention": ("data-retention", {}), "consent": ("consent-revocation", {"tenant": common.LARGE_TENANT})}
# The private primary: PostgreSQL's defaults (as the shared server: shared_buffers 128 MB, max_wal_size
# 1 GB, checkpoint_timeout 5 min, fsync/synchronous_commit/full_page_writes on) plus replication.
PRIMARY_SETTINGS = ("wal_level=replica", "max_wal_senders=5")
REPORTED_SETTINGS = ("shared_buffers", "max_wal_size", "checkpoint_timeout", "fsync", "synchronous_commit",
                     "full_page_writes", "wal_compression", "wal_level", "server_version")
SAMPLE_SECONDS = 0.05
CATCH_UP_SECONDS = 600
LSN = "pg_wal_lsn_diff({}, '0/0')::int8"
POSITIONS = sql.SQL("SELECT {current}, (SELECT {replay} FROM pg_stat_replication WHERE application_name = %s),"
                    " (SELECT EXTRACT(epoch FROM replay_lag)::float8 FROM pg_stat_replication"
                    " WHERE application_name = %s)").format(
    current=sql.SQL(LSN.format("pg_current_wal_lsn()")), replay=sql.SQL(LSN.format("replay_lsn")))


def log(message: str) -> None:
    print("[%s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def percentile(values, fraction: float):
    """Nearest-rank percentile (p95: fraction 0.95) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))]


class Clusters:
    """A private primary and, once ``replicate`` ran, its streaming replica (tests/replica.py's parts)."""

    def __init__(self):
        with psycopg.connect(common.ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            major = conn.info.server_version // 10000
        bin_dir = replica._bin_dir(major)  # pylint: disable=protected-access
        self.root = Path(tempfile.mkdtemp(prefix="sf-bench-scaling-", dir="/tmp"))
        os.chmod(self.root, 0o700)
        if os.geteuid() == 0:
            import shutil  # pylint: disable=import-outside-toplevel
            shutil.chown(self.root, "postgres", "postgres")
        self.primary = replica.Cluster(bin_dir, self.root / "primary", replica.free_port())
        self.standby = replica.Cluster(bin_dir, self.root / "replica", replica.free_port())
        self.replication = replica.Replication(primary_url=self.primary.url(), replica=self.standby,
                                               private_primary=self.primary, root=self.root)
        try:
            replica.run([str(bin_dir / "initdb"), "-D", str(self.primary.data_dir), "-U", "postgres", "--auth=trust",
                         "-E", "UTF8", "--locale=C"], as_cluster_user=True)
            self.primary.start(*PRIMARY_SETTINGS)
        except BaseException:
            self.close()
            raise
        self.factory = databases.DatabaseFactory(self.primary.url(), common.DB_PREFIX,
                                                 file_copy_above=common.FILE_COPY_ABOVE_BYTES)

    @property
    def name(self) -> str:
        return self.replication.replica_name

    def replicate(self) -> None:
        replica.run([str(self.primary.bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary.port),
                     "-U", "postgres", "-D", str(self.standby.data_dir), "-R", "-X", "stream", "--checkpoint=fast",
                     "--no-sync"],
                    as_cluster_user=True, timeout=3600)
        self.standby.start("hot_standby=on", "wal_receiver_status_interval=1", "cluster_name=%s" % self.name)
        self.replication.wait_streaming()

    def settings(self) -> dict:
        with psycopg.connect(self.primary.url(), autocommit=True) as conn:
            return {name: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0]
                    for name in REPORTED_SETTINGS}

    def close(self) -> None:
        self.replication.close()


class Sampler(threading.Thread):
    """Samples (time, replay LSN) of the replica every SAMPLE_SECONDS until stopped."""

    def __init__(self, url: str, name: str):
        super().__init__(daemon=True)
        self.url, self.name = url, name
        self.samples: list = []
        self.halt = threading.Event()
        self.error = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                while True:
                    last = self.halt.is_set()  # one more sample after the halt: the replica caught up
                    row = conn.execute(POSITIONS, (self.name, self.name)).fetchone()
                    self.samples.append((time.perf_counter(), row[1]))
                    if last:
                        return
                    self.halt.wait(SAMPLE_SECONDS)
        except psycopg.Error as error:  # reported by stop()
            self.error = error

    def stop(self) -> None:
        self.halt.set()
        if self.is_alive():
            self.join()
        if self.error is not None:
            raise RuntimeError("the replay sampler failed: %s" % self.error)

    def replayed_at(self, after: float, lsn: int):
        return next((t for t, replayed in self.samples if t >= after and replayed is not None and replayed >= lsn), None)


def positions(conn, name: str) -> tuple:
    """(current WAL LSN, the replica's replay LSN, its replay_lag in seconds) as numbers."""
    return conn.execute(POSITIONS, (name, name)).fetchone()


def wait_caught_up(conn, name: str) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < CATCH_UP_SECONDS:
        current, replayed, _lag = positions(conn, name)
        if replayed is not None and replayed >= current:
            return time.perf_counter() - started
        time.sleep(0.1)
    raise RuntimeError("the replica did not catch up within %d s" % CATCH_UP_SECONDS)


def measured_run(clusters: Clusters, template: str, short: str, batch_size: int, verified: bool = True) -> dict:
    """One run of the job on a fresh copy of the template: its per-batch records and totals."""
    job_name, options = JOBS[short]
    name = clusters.factory.create(template=template, label="copy")
    records, progress, checks, digests = [], [], [], []
    original_batch, original_verify = batches._in_transaction, job.JobDefinition.verify  # pylint: disable=protected-access
    sampler = Sampler(clusters.primary.url(), clusters.name)
    try:
        with psycopg.connect(clusters.primary.url(), autocommit=True) as monitor:
            caught_up = wait_caught_up(monitor, clusters.name)
            monitor.execute("CHECKPOINT")

            def measured_batch(*args, **kwargs):
                before = positions(monitor, clusters.name)[0]
                started = time.perf_counter()
                keys = original_batch(*args, **kwargs)
                ended = time.perf_counter()
                current, replayed, lag = positions(monitor, clusters.name)
                if keys:  # the last transaction finds no users and closes the run
                    records.append({"seconds": ended - started, "wal_bytes": current - before, "lsn": current,
                                    "committed_at": ended, "pending_bytes": current - (replayed or 0),
                                    "replay_lag": lag or 0.0})
                return keys

            batches._in_transaction = measured_batch  # pylint: disable=protected-access
            if verified:
                job.JobDefinition.verify = timed(original_verify, checks)
            else:
                job.JobDefinition.verify = lambda *_args, **_kwargs: None
            with psycopg.connect(clusters.primary.url(name), autocommit=True) as conn:
                execute = conn.execute

                def counting_execute(query, params=None, **kwargs):
                    if query is audit.INSERT_DIGESTS:
                        return timed(execute, digests)(query, params, **kwargs)
                    return execute(query, params, **kwargs)
                conn.execute = counting_execute
                load = os.getloadavg()
                sampler.start()
                started = time.perf_counter()
                summary = run_job(conn, job_name, dict(options, triggered_by="bench", batch_size=batch_size), False,
                                  progress=progress.append)
                seconds = time.perf_counter() - started
            after_run = wait_caught_up(monitor, clusters.name)
    finally:
        batches._in_transaction, job.JobDefinition.verify = original_batch, original_verify  # pylint: disable=protected-access
        try:
            sampler.stop()
        finally:
            clusters.factory.drop(name)
    committed = [record for record in progress if record["event"] == "batch-committed"]
    if len(committed) != len(records):
        raise RuntimeError("%d progress records for %d batches" % (len(committed), len(records)))
    # Rows changed: the steps' counts (consent revocation's "users" counts users, not a row change).
    steps = [step.count for step in JOB_DEFINITIONS[job_name].steps]
    previous = {}
    for batch, record in zip(records, committed):
        batch["counts"] = {key: value - previous.get(key, 0) for key, value in record["counts"].items()}
        batch["rows"] = sum(batch["counts"].get(count, 0) for count in steps)
        batch["users"] = batch["counts"]["users"]
        previous = record["counts"]
        replayed = sampler.replayed_at(batch["committed_at"], batch["lsn"])
        batch["replayed_after"] = None if replayed is None else replayed - batch["committed_at"]
    for batch, check, digest in zip(records, checks, digests if digests else [0.0] * len(checks)):
        batch["verify_seconds"], batch["digest_seconds"] = check, digest
    for batch in records:
        del batch["lsn"], batch["committed_at"]
    return {"job": job_name, "batch_size": batch_size, "verified": verified, "seconds": seconds,
            "users": summary["counts"]["users"], "counts": summary["counts"],
            "batches": records, "load_before": [round(x, 2) for x in load],
            "load_after": [round(x, 2) for x in os.getloadavg()], "replica_caught_up_before": round(caught_up, 2),
            "replica_caught_up_after": round(after_run, 2)}


def batch_stats(runs: list) -> dict:
    """Median, p95 and max per batch of every measured figure, over the batches of ``runs``."""
    batches = [batch for run in runs for batch in run["batches"]]
    wal_per_run = [sum(batch["wal_bytes"] for batch in run["batches"]) for run in runs]
    stats = {"runs": len(runs), "batches": len(batches), "run_seconds": statistics.median(r["seconds"] for r in runs),
             "run_users": runs[0]["users"], "wal_bytes_total": statistics.median(wal_per_run)}
    for key in ("seconds", "wal_bytes", "rows", "users", "pending_bytes", "replay_lag", "replayed_after",
                "verify_seconds", "digest_seconds"):
        values = [batch[key] for batch in batches if batch.get(key) is not None]
        if values:
            stats[key] = {"median": statistics.median(values), "p95": percentile(values, 0.95), "max": max(values)}
    return stats


def verification_cost(runs: list) -> dict:
    """The verified runs against the unverified ones (medians), and the checks' own share."""
    sides = {verified: [run for run in runs if run["verified"] is verified] for verified in (True, False)}
    plain, checked = (statistics.median(run["seconds"] for run in sides[v]) for v in (False, True))
    per_batch = {v: statistics.median(b["seconds"] for run in sides[v] for b in run["batches"]) for v in (False, True)}
    own = statistics.median(sum(b["verify_seconds"] + b["digest_seconds"] for b in run["batches"]) for run in sides[True])
    return {"runs_per_side": len(sides[True]), "unverified_seconds": plain, "verified_seconds": checked,
            "added_percent": 100 * (checked - plain) / plain,
            "batch_seconds_unverified": per_batch[False], "batch_seconds_verified": per_batch[True],
            "checks_and_digests_seconds": own, "checks_and_digests_percent_of_unverified": 100 * own / plain,
            "per_run": [{"verified": r["verified"], "seconds": r["seconds"]} for r in runs]}


def print_stats(label: str, stats: dict) -> None:
    def figure(key, scale=1.0, pattern="%.2f"):
        value = stats.get(key)
        return "-" if value is None else "/".join(pattern % (value[k] * scale) for k in ("median", "p95"))
    print("%-34s %3d batches %8.1f s | per batch (median/p95): %s s, %s MB WAL, %s rows, pending %s MB, "
          "replay_lag %s s, replayed after %s s" % (
              label, stats["batches"], stats["run_seconds"], figure("seconds"), figure("wal_bytes", 1e-6, "%.1f"),
              figure("rows", 1, "%.0f"), figure("pending_bytes", 1e-6, "%.1f"), figure("replay_lag"),
              figure("replayed_after")), flush=True)


def markdown(results: dict) -> str:
    """The per-batch table and the verification comparison of one results file, as in docs/SCALING.md."""
    def pair(stats, key, scale=1.0, pattern="%.2f"):
        value = stats.get(key)
        return "-" if value is None else " / ".join(pattern % (value[k] * scale) for k in ("median", "p95"))
    lines = ["| job | batch_size | batches | run (s) | batch transaction (s) | WAL per batch (MB) | rows per batch | "
             "WAL per user (kB) | WAL per run (MB) | replica pending at commit (MB) | replay_lag at commit (s) | "
             "replayed after commit (s) |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
             "---: | ---: |"]
    users = {(run["job"], str(run["batch_size"])): run["users"] for run in results["runs"]}
    for short, sizes in results["stats"].items():
        for size, stats in sizes.items():
            run_users = users[(JOBS[short][0], size)]
            lines.append("| %s | %s | %d | %.1f | %s | %s | %s | %.1f | %.0f | %s | %s | %s |" % (
                short, "{:,}".format(int(size)), stats["batches"], stats["run_seconds"], pair(stats, "seconds"),
                pair(stats, "wal_bytes", 1e-6, "%.1f"), pair(stats, "rows", 1, "%.0f"),
                stats["wal_bytes_total"] / run_users / 1e3, stats["wal_bytes_total"] / 1e6,
                pair(stats, "pending_bytes", 1e-6, "%.1f"), pair(stats, "replay_lag"), pair(stats, "replayed_after")))
    cost = results.get("verification")
    if cost:
        lines += ["", "| retention, %d runs per side | unverified | verified |" % cost["runs_per_side"],
                  "| --- | ---: | ---: |",
                  "| run (s), median | %.1f | %.1f (%+.1f%%) |" % (
                      cost["unverified_seconds"], cost["verified_seconds"], cost["added_percent"]),
                  "| batch transaction (s), median | %.2f | %.2f |" % (
                      cost["batch_seconds_unverified"], cost["batch_seconds_verified"]),
                  "| checks and digest rows, per run (s) | - | %.2f (%.1f%% of the unverified run) |" % (
                      cost["checks_and_digests_seconds"], cost["checks_and_digests_percent_of_unverified"]),
                  "| runs in order (s) | %s |" % " | ".join(
                      ", ".join("%.1f" % r["seconds"] for r in cost["per_run"] if r["verified"] is side)
                      for side in (False, True))]
    return "\n".join(lines)


def _interrupted(signum, _frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--users", type=int, default=100000)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", default="retention,consent", help="comma-separated subset of %s" % ", ".join(JOBS))
    parser.add_argument("--retention-batch-sizes", default="20000,5000,50000",
                        help="the first (default: the job's default) is also the verification runs' batch size")
    parser.add_argument("--consent-batch-sizes", default="5000,20000")
    parser.add_argument("--verification-runs", type=int, default=0,
                        help="runs per side of the retention purge with and without verification")
    parser.add_argument("--out", help="results JSON (default bench/results/scaling-users-N.json)")
    parser.add_argument("--markdown", nargs="+", metavar="RESULTS_JSON", help="only print results files as Markdown")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.markdown:
        for path in args.markdown:
            results = json.loads(Path(path).read_text())
            print("%s users, %s, load average %s at the start (%s)\n\n%s\n" % (
                "{:,}".format(results["users"]), results["date"], " ".join(map(str, results["load_start"])), path,
                markdown(results)))
        return 0
    sizes = {"retention": [int(s) for s in args.retention_batch_sizes.split(",") if s.strip()],
             "consent": [int(s) for s in args.consent_batch_sizes.split(",") if s.strip()]}
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    if set(jobs) - set(JOBS):
        parser.error("unknown job(s): %s" % ", ".join(sorted(set(jobs) - set(JOBS))))
    results = {"users": args.users, "tenants": args.tenants, "seed": args.seed,
               "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "command": "python -m bench.scaling " + " ".join(shlex.quote(a) for a in argv),
               "load_start": [round(x, 2) for x in os.getloadavg()], "runs": [], "stats": {}}
    # SIGTERM, and SIGINT where a background start ignores it, end the run through ``finally``: the
    # clusters are stopped and removed.
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    clusters = Clusters()
    try:
        results["settings"] = clusters.settings()
        template = clusters.factory.create(label="tpl")
        url = clusters.primary.url(template)
        started = time.perf_counter()
        common.migrate_schema(url)
        generated = appdata.generate(url, appdata.Scale(users=args.users, tenants=args.tenants, seed=args.seed),
                                     progress=lambda line: log("  " + line))
        results["generation_seconds"] = time.perf_counter() - started
        results["database_mb"] = round(common.database_size(url) / 1e6)
        log("template: %d rows, %d MB in %.0f s" % (sum(generated["rows"].values()), results["database_mb"],
                                                    results["generation_seconds"]))
        started = time.perf_counter()
        clusters.replicate()
        results["basebackup_seconds"] = time.perf_counter() - started
        log("replica streaming after %.0f s" % results["basebackup_seconds"])
        for short in jobs:
            for size in sizes[short]:
                run = measured_run(clusters, template, short, size)
                results["runs"].append(run)
                stats = results["stats"].setdefault(short, {})[str(size)] = batch_stats([run])
                print_stats("%s batch_size %d" % (short, size), stats)
        if args.verification_runs:
            pairs = []
            for index in range(args.verification_runs):
                for verified in ((True, False) if index % 2 == 0 else (False, True)):
                    pairs.append(measured_run(clusters, template, "retention", sizes["retention"][0], verified))
                    log("retention %s: %.1f s" % ("verified" if verified else "unverified", pairs[-1]["seconds"]))
            results["verification_runs"] = pairs
            results["verification"] = cost = verification_cost(pairs)
            print("verification, retention at %d users: unverified %.1f s, verified %.1f s (+%.1f%%); checks and "
                  "digest rows %.1f s = %.1f%% of the unverified run" % (
                      args.users, cost["unverified_seconds"], cost["verified_seconds"], cost["added_percent"],
                      cost["checks_and_digests_seconds"], cost["checks_and_digests_percent_of_unverified"]))
    finally:
        clusters.close()
    results["load_end"] = [round(x, 2) for x in os.getloadavg()]
    out = Path(args.out) if args.out else RESULTS_DIR / ("scaling-users-%d.json" % args.users)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print("results: %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
