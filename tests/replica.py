"""A real streaming replica for the pacing tests: a second PostgreSQL cluster made with
``pg_basebackup`` on a free port, replaying from a primary.

The primary is the shared test server when it accepts replication connections. When it does not
(its pg_hba.conf has no ``replication`` line, or ``max_wal_senders`` is 0), the shared server is
left alone - changing its configuration is not a test's business - and a private primary is made
with ``initdb`` on another free port instead (``initdb``'s own pg_hba.conf allows replication from
127.0.0.1), migrated with the collection's migrations. Both clusters run as the ``postgres`` OS user
when the tests run as root (PostgreSQL refuses root), in a directory under /tmp that user owns,
and are stopped (``-m immediate``) and removed at the end, whatever happened.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess  # nosec B404 - the PostgreSQL tools, with fixed arguments
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

STARTUP_SECONDS = 60
STREAMING_SECONDS = 60


class ReplicaUnavailable(Exception):
    """The replica cannot be made on this machine; the message says what is missing."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bin_dir(major: int) -> Path:
    wanted = Path("/usr/lib/postgresql/%d/bin" % major)
    if (wanted / "pg_ctl").is_file():
        return wanted
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    raise ReplicaUnavailable("no PostgreSQL %d server binaries (pg_ctl, pg_basebackup) under /usr/lib/postgresql "
                             "(found %s)" % (major, ", ".join(found) or "none"))


def _as_cluster_user() -> list:
    """The prefix running a command as the OS user owning the clusters."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        raise ReplicaUnavailable("running as root and runuser is missing: PostgreSQL refuses to run as root")
    return ["runuser", "-u", "postgres", "--"]


@dataclass
class Cluster:
    """One PostgreSQL cluster the test started: its data directory and port."""

    bin_dir: Path
    data_dir: Path
    port: int
    started: bool = False

    def url(self, dbname: str = "postgres") -> str:
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, dbname)

    def start(self, *settings: str) -> None:
        options = " ".join(["-p %d" % self.port, "-c listen_addresses=127.0.0.1",
                            "-c unix_socket_directories=%s" % self.data_dir, *("-c %s" % s for s in settings)])
        run([str(self.bin_dir / "pg_ctl"), "start", "-w", "-t", str(STARTUP_SECONDS), "-D", str(self.data_dir),
             "-l", str(self.data_dir / "server.log"), "-o", options], as_cluster_user=True, timeout=STARTUP_SECONDS + 10)
        self.started = True

    def stop(self) -> None:
        if self.started:
            subprocess.run(_as_cluster_user() + [str(self.bin_dir / "pg_ctl"), "stop", "-m", "immediate", "-w",  # nosec B603
                                                 "-t", "30", "-D", str(self.data_dir)],
                           check=False, capture_output=True, timeout=40)
            self.started = False

    def log_tail(self) -> str:
        try:
            return (self.data_dir / "server.log").read_text(encoding="utf-8", errors="replace")[-2000:]
        except OSError:
            return ""


def run(command: list, as_cluster_user: bool = False, timeout: float = 120) -> None:
    prefix = _as_cluster_user() if as_cluster_user else []
    done = subprocess.run(prefix + command, capture_output=True, text=True, timeout=timeout, check=False)  # nosec B603
    if done.returncode != 0:
        raise ReplicaUnavailable("%s failed (rc %d): %s" % (Path(command[0]).name, done.returncode,
                                                            (done.stderr or done.stdout).strip()[-800:]))


def accepts_replication(url: str) -> str | None:
    """None if the server at ``url`` takes a replication connection from us, else why not."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        if int(conn.execute("SHOW max_wal_senders").fetchone()[0]) < 2:
            return "max_wal_senders is below 2"
        if conn.execute("SHOW wal_level").fetchone()[0] == "minimal":
            return "wal_level is minimal"
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5, replication="true"):
            return None
    except psycopg.OperationalError as error:
        return str(error).strip().splitlines()[-1]


@dataclass
class Replication:
    """A primary (shared or private) and its streaming replica, both on 127.0.0.1."""

    primary_url: str
    replica: Cluster
    private_primary: Cluster | None = None
    root: Path | None = None
    notes: list = field(default_factory=list)

    def url(self, dbname: str) -> str:
        """``dbname`` on the primary."""
        base = self.private_primary.url(dbname) if self.private_primary else None
        return base or self.primary_url.rsplit("/", 1)[0] + "/" + dbname

    def replica_url(self, dbname: str = "postgres") -> str:
        return self.replica.url(dbname)

    def wait_streaming(self, timeout: float = STREAMING_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5) as conn:
            while time.monotonic() < deadline:
                if conn.execute("SELECT count(*) FROM pg_stat_replication WHERE application_name = %s"
                                " AND state = 'streaming'", (self.replica_name,)).fetchone()[0]:
                    return
                time.sleep(0.1)
        raise ReplicaUnavailable("the replica did not show as streaming in pg_stat_replication within %d s: %s"
                                 % (timeout, self.replica.log_tail()[-600:]))

    @property
    def replica_name(self) -> str:
        return "pacing_replica_%d" % self.replica.port

    def close(self) -> None:
        self.replica.stop()
        if self.private_primary is not None:
            self.private_primary.stop()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


def start_replication(shared_primary_url: str, migrate) -> Replication:
    """A running replica streaming from the shared primary, else from a private primary (see the
    module docstring); ``migrate(url)`` migrates a private primary's database. The caller closes it."""
    with psycopg.connect(shared_primary_url, autocommit=True, connect_timeout=5) as conn:
        major = conn.info.server_version // 10000
    bin_dir = _bin_dir(major)
    root = Path(tempfile.mkdtemp(prefix="skillforge-replica-", dir="/tmp"))
    os.chmod(root, 0o700)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    replication = Replication(primary_url=shared_primary_url, root=root,
                              replica=Cluster(bin_dir, root / "replica", free_port()))
    try:
        refused = accepts_replication(shared_primary_url)
        if refused:
            replication.notes.append("the shared primary refuses replication (%s): a private primary was made" % refused)
            primary = Cluster(bin_dir, root / "primary", free_port())
            run([str(bin_dir / "initdb"), "-D", str(primary.data_dir), "-U", "postgres", "--auth=trust",
                 "--no-sync", "-E", "UTF8", "--locale=C"], as_cluster_user=True)
            replication.private_primary = primary
            primary.start("wal_level=replica", "max_wal_senders=5", "fsync=off", "synchronous_commit=on")
            with psycopg.connect(primary.url(), autocommit=True, connect_timeout=5) as conn:
                conn.execute("CREATE DATABASE pacing")
            migrate(primary.url("pacing"))
            source = primary
        else:
            source = None
        host_port = ["-h", "127.0.0.1", "-p", str(source.port if source else _port_of(shared_primary_url))]
        run([str(bin_dir / "pg_basebackup"), *host_port, "-U", "postgres", "-D", str(replication.replica.data_dir),
             "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"], as_cluster_user=True, timeout=300)
        # Status every second (the default is 10 s): the primary sees replay progress promptly.
        replication.replica.start("hot_standby=on", "wal_receiver_status_interval=1",
                                  "cluster_name=%s" % replication.replica_name, "fsync=off")
        replication.wait_streaming()
    except BaseException:
        replication.close()
        raise
    return replication


def _port_of(url: str) -> int:
    return psycopg.conninfo.conninfo_to_dict(url).get("port") and int(
        psycopg.conninfo.conninfo_to_dict(url)["port"]) or 5432
