# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the first seed of an O*NET text release spends the server's CPU, beside the typed SQL load.

    bench/.venv/bin/python -m bench.seed_profile --runs 3            # the O*NET-size release (bench.onet_data)

Each side (the collection's ``source.seed_source`` and ``baselines.typed_text_load``) runs in a fresh
migrated database, ``--runs`` times, alternating which goes first. Every statement is timed by the CPU
its server backend used (``/proc/<pid>/stat``: the benchmark runs on the database's machine), which a
loaded machine disturbs far less than wall time; what no ``execute`` covers (the COPYs, and the rows
a cursor streams) is the rest of the backend's CPU. Per statement the smallest of the runs is shown.
Prints one table per side, the totals, the client's CPU, the load average and the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import resource
import sys
import tempfile
from collections import defaultdict

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import common, onet_data  # noqa: E402
from bench.measure import _backend_cpu_seconds  # noqa: E402

import psycopg  # noqa: E402  pylint: disable=wrong-import-order


def _label(query, conn) -> str:
    text = query.as_string(conn) if hasattr(query, "as_string") else str(query)
    return re.sub(r"\s+", " ", text).strip()[:90]


class StatementCPU:
    """Wraps psycopg's execute for one run: the backend CPU seconds of each statement, by label."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self._original = psycopg.Cursor.execute

    def __enter__(self):
        original, seconds = self._original, self.seconds

        def execute(cursor, query, params=None, **kwargs):
            pid = cursor.connection.info.backend_pid
            before = _backend_cpu_seconds(pid)
            try:
                return original(cursor, query, params, **kwargs)
            finally:
                seconds[_label(query, cursor.connection)] += _backend_cpu_seconds(pid) - before
        psycopg.Cursor.execute = execute
        return self

    def __exit__(self, *exc):
        psycopg.Cursor.execute = self._original


def run_side(side: str, url: str, release: str) -> tuple:
    """(statement -> server CPU, total server CPU, client CPU) of one first seed."""
    with psycopg.connect(url, autocommit=True) as conn, StatementCPU() as cpu:
        pid = conn.info.backend_pid
        server, usage = _backend_cpu_seconds(pid), resource.getrusage(resource.RUSAGE_SELF)
        if side == "collection":
            from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import source
            source.seed_source(conn, source.SourceSpec("onet_text", onet_text_dir=release))
        else:
            from bench import baselines
            conn.autocommit = False
            baselines.typed_text_load(conn, release)
            conn.commit()
        server = _backend_cpu_seconds(pid) - server
        after = resource.getrusage(resource.RUSAGE_SELF)
        client = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    return dict(cpu.seconds), server, client


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=12, help="statements shown per side")
    args = parser.parse_args(argv)
    common.link_collection()
    factory = common.database_factory()
    results = {"collection": [], "baseline": []}
    try:
        with tempfile.TemporaryDirectory(prefix="sf_bench_onet_") as out:
            onet_data.write_all(out)
            release = os.path.join(out, "db_29_0_text")
            for run in range(args.runs):
                for side in (("collection", "baseline") if run % 2 == 0 else ("baseline", "collection")):
                    name = factory.create(None, "profile")
                    url = common.url_for(name)
                    common.migrate_schema(url)
                    results[side].append(run_side(side, url, release))
                    factory.drop(name)
    finally:
        factory.drop_all()
    print("%s, load average %s, %d run(s) per side (per statement: the smallest run; totals: medians)"
          % (dt.datetime.now(dt.timezone.utc).isoformat(timespec="minutes"),
             " ".join("%.2f" % load for load in os.getloadavg()), args.runs))
    for side, runs in results.items():
        statements = defaultdict(list)
        for seconds, _server, _client in runs:
            for label, value in seconds.items():
                statements[label].append(value)
        servers = sorted(server for _seconds, server, _client in runs)
        clients = sorted(client for _seconds, _server, client in runs)
        shown = sorted(((min(values), label) for label, values in statements.items()), reverse=True)[:args.top]
        print("\n%s: server CPU %.2f s (runs %s), client CPU %.2f s" % (
            side, servers[len(servers) // 2], ", ".join("%.2f" % s for s in servers), clients[len(clients) // 2]))
        for value, label in shown:
            print("  %5.2f  %s" % (value, label))
        listed = sum(min(values) for values in statements.values())
        print("  %5.2f  (every statement)   %5.2f  (COPY and the rest)" % (listed, servers[0] - listed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
