# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run ONE measured piece of work in this (fresh) process and print its time and peak memory as JSON.

The harness starts one process per measurement, so the peak RSS reported is that of the work alone
(the collection's job function with its imports and connection, or an ansible-playbook run and all
its children), never the harness's own. ``seconds`` is the wall time of the work itself, from just
before connecting to just after the connection is closed (for a playbook: the whole process).

    python -m bench.measure '{"kind": "compliance", "dsn": "...", "job": "data-retention", "options": {...}}'
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

if __package__ in (None, ""):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from bench import common  # noqa: E402


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec,
    so a child of the (big) harness process would report the harness's size."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _children_peak_rss_mb() -> float:
    """The largest child process's peak RSS (Linux KiB). Children forked from this small process
    inherit at most its own size, so this is the playbook's largest process."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


SERVER_CPU = []  # CPU seconds of each server backend the work used


def _backend_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a local server process (the benchmark runs on the database's machine)."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


@contextlib.contextmanager
def _connect(dsn: str, **kwargs):
    """psycopg.connect, noting the CPU time its backend spends until the work is done (it tells
    CPU-bound work from waiting on disk or locks)."""
    import psycopg
    with psycopg.connect(dsn, **kwargs) as conn:
        pid = conn.info.backend_pid
        before = _backend_cpu_seconds(pid)
        yield conn
        after = _backend_cpu_seconds(pid)
        if before is not None and after is not None:
            SERVER_CPU.append(after - before)


def compliance(spec: dict):
    common.link_collection()
    from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import registry as compliance_registry
    with _connect(spec["dsn"], autocommit=True) as conn:
        summary = compliance_registry.run_job(conn, spec["job"], dict(spec["options"]), spec.get("dry_run", False))
    return {"counts": summary.get("counts"), "batches": summary.get("batches")}


def compliance_baseline(spec: dict):
    from bench import baselines
    with _connect(spec["dsn"]) as conn:
        return {"counts": baselines.COMPLIANCE[spec["job"]](conn, spec["options"])}


def seed(spec: dict):
    """The module's path (``source.seed_source``): the re-seed short cut, else load and seed."""
    common.link_collection()
    from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import source as onet_source
    read = []
    load_source = onet_source.load_source

    def timed_load(*args, **kwargs):
        started = time.perf_counter()
        try:
            return load_source(*args, **kwargs)
        finally:
            read.append(time.perf_counter() - started)

    onet_source.load_source = timed_load
    source = onet_source.SourceSpec(fixtures_dir=spec["source"])
    if spec.get("format") == "onet_text":
        source = onet_source.SourceSpec("onet_text", onet_text_dir=spec["source"], onet_version="29.0")
    with _connect(spec["dsn"], autocommit=True) as conn:
        result = onet_source.seed_source(conn, source, check_mode=spec.get("check", False))
    return {"changed": result.changed, "counts": result.counts, "read_seconds": sum(read),
            "short_cut": result.short_cut}


def seed_baseline(spec: dict):
    from bench import baselines
    with _connect(spec["dsn"]) as conn:
        return {"counts": baselines.copy_fixtures(conn, spec["source"])}


def seed_text_baseline(spec: dict):
    from bench import baselines
    with _connect(spec["dsn"]) as conn:
        return {"counts": baselines.typed_text_load(conn, spec["source"])}


def migrate(spec: dict):
    common.link_collection()
    from ansible_collections.skillforge.dataops.plugins.module_utils._migrations import runner as migration_runner
    with _connect(spec["dsn"]) as conn:
        result = migration_runner.migrate(conn, migration_runner.MigrationSettings(
            locations=[str(common.MIGRATIONS_DIR)]), dry_run=spec.get("check", False))
    return {"changed": result.changed, "applied": len(result.applied), "pending": len(result.pending)}


def migrate_baseline(spec: dict):
    from bench import baselines
    with _connect(spec["dsn"]) as conn:
        return {"files": baselines.apply_migration_files(conn, str(common.MIGRATIONS_DIR))}


def playbook(spec: dict):
    """``ansible-playbook`` from the virtualenv this process runs in, the repository's ansible.cfg.
    The result is what the audit_json callback logged: one summary per compliance job run."""
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), spec["playbook"],
               "-i", str(common.REPO_ROOT / "inventories" / "local")]
    if spec.get("check"):
        command.append("--check")
    if spec.get("extra_vars"):
        command += ["-e", json.dumps(spec["extra_vars"])]
    env = {key: value for key, value in os.environ.items() if not key.endswith(("DATABASE_URL", "REDIS_URL"))}
    env.update(ANSIBLE_CONFIG=str(common.REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", **spec.get("env", {}))
    with tempfile.TemporaryDirectory(prefix="sf-bench-") as directory:
        audit_log = os.path.join(directory, "audit.jsonl")
        env["SKILLFORGE_AUDIT_LOG"] = audit_log  # to a file, as in production, not into the output
        completed = subprocess.run(command, env=env, cwd=str(common.REPO_ROOT), capture_output=True, text=True,
                                   check=False)
        if completed.returncode != 0:
            raise RuntimeError("ansible-playbook failed (rc %d): %s" % (completed.returncode,
                                                                        (completed.stdout + completed.stderr)[-3000:]))
        audit = []
        if os.path.exists(audit_log):
            with open(audit_log, encoding="utf-8") as handle:
                audit = [json.loads(line) for line in handle if line.strip()]
    return {"audit": audit}


KINDS = {"compliance": compliance, "compliance-baseline": compliance_baseline, "seed": seed,
         "seed-baseline": seed_baseline, "seed-text-baseline": seed_text_baseline, "migrate": migrate, "migrate-baseline": migrate_baseline,
         "playbook": playbook}


def main(argv=None) -> int:
    spec = json.loads((argv or sys.argv[1:])[0])
    work = KINDS[spec["kind"]]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started_cpu = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    result = work(spec)
    seconds = time.perf_counter() - started
    # For a playbook: the largest process of the run (ansible-playbook, a worker or the module).
    rss = _children_peak_rss_mb() if spec["kind"] == "playbook" else _peak_rss_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = {"client_cpu_s": round(usage.ru_utime + usage.ru_stime - started_cpu, 3),
           "server_cpu_s": round(sum(SERVER_CPU), 3) if SERVER_CPU else None}
    print(json.dumps(dict(seconds=seconds, max_rss_mb=round(rss, 1), result=result, **cpu), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
