# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A private PostgreSQL cluster with settings of your choice, to run the benchmarks against a
server configured differently from the shared one (which is left alone):

    python -m bench.private_server start --dir /tmp/sf-tuned --setting max_wal_size=16GB --setting wal_buffers=64MB
    SKILLFORGE_BENCH_ADMIN_URL=postgresql://postgres@127.0.0.1:PORT/postgres python -m bench.run ...
    python -m bench.private_server stop --dir /tmp/sf-tuned     # stops it and removes the directory

``start`` makes the cluster with ``initdb`` (the same PostgreSQL major version as the shared
server, trust authentication on 127.0.0.1 only), starts it on a free port with the settings and
prints the admin URL; the settings not given are PostgreSQL's defaults, as on the shared server.
The clusters of tests/replica.py are reused: run as root, the cluster runs as the ``postgres`` OS user, so the
``--dir`` must be one that user can reach (under /tmp, not under a private home or temp directory).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import common  # noqa: E402

import psycopg  # noqa: E402  pylint: disable=wrong-import-position

from tests import replica  # noqa: E402  the checkout's tests/, on the path as bench/ is


def _cluster(directory: Path, port: int) -> replica.Cluster:
    with psycopg.connect(common.ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        major = conn.info.server_version // 10000
    return replica.Cluster(replica._bin_dir(major), directory / "data", port)  # pylint: disable=protected-access


def start(directory: Path, settings: list) -> str:
    if directory.exists():
        raise SystemExit("%s exists: stop that cluster first, or choose another --dir" % directory)
    directory.mkdir(mode=0o700, parents=True)
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    cluster = _cluster(directory, replica.free_port())
    replica.run([str(cluster.bin_dir / "initdb"), "-D", str(cluster.data_dir), "-U", "postgres", "--auth=trust",
                 "-E", "UTF8", "--locale=C"], as_cluster_user=True)
    cluster.start(*settings)
    (directory / "port").write_text(str(cluster.port), encoding="utf-8")
    return cluster.url()


def stop(directory: Path) -> None:
    if not (directory / "port").is_file():
        raise SystemExit("%s holds no cluster started by bench.private_server" % directory)
    cluster = _cluster(directory, int((directory / "port").read_text(encoding="utf-8")))
    cluster.started = True
    cluster.stop()
    shutil.rmtree(directory)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--dir", required=True, type=Path, help="the cluster's directory (created by start)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a server setting (postgres -c), repeatable")
    args = parser.parse_args(argv)
    if args.action == "start":
        print("SKILLFORGE_BENCH_ADMIN_URL=%s" % start(args.dir, args.setting))
    else:
        stop(args.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
