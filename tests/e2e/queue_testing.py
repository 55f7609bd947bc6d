"""Test helpers for the queue tests: a Redis key prefix of each test's own, a Redis server that
never answers, and the Node.js BullMQ side (tests/node, installed from its package-lock.json).

Tests share the Redis server with other work, so each one uses its own BullMQ ``prefix`` and deletes
only the keys under it; nothing here flushes a database.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = REPO_ROOT / "tests" / "node"
REDIS_URL = os.environ.get("SKILLFORGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def delete_prefix(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match="%s:*" % prefix, count=500))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
    finally:
        client.close()


@pytest.fixture
def queue_prefix():
    """A BullMQ key prefix no other test uses; its keys are deleted afterwards."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        pytest.fail("Redis is not reachable at SKILLFORGE_TEST_REDIS_URL: %s" % error)
    prefix = "sftest-%s" % uuid.uuid4().hex[:12]
    yield prefix
    delete_prefix(prefix)


@pytest.fixture
def silent_redis():
    """``redis://127.0.0.1:<port>/0`` of a server that accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield "redis://127.0.0.1:%d/0" % listener.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    for conn in accepted:
        conn.close()
    listener.close()


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


class NodeBullMQ:
    """Runs tests/node/interop.js commands with the npm ``bullmq`` package."""

    def __init__(self, node: str):
        self.node = node

    def run(self, command: str, timeout: float = 60, redis_url: str = REDIS_URL, **arguments):
        """``redis_url`` may carry an ACL user and its password (tests/e2e/test_redis_acl.py)."""
        completed = subprocess.run(
            [self.node, str(NODE_DIR / "interop.js"), command, json.dumps(arguments)],
            cwd=str(NODE_DIR), env=dict(os.environ, REDIS_URL=redis_url),
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        assert completed.returncode == 0, "node interop.js %s failed: %s" % (command, completed.stderr)
        return json.loads(completed.stdout)


@pytest.fixture(scope="session")
def node_bullmq() -> NodeBullMQ:
    """The Node side, installed once (``npm ci``) and again only when package-lock.json changes."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("the queue interoperability tests need Node.js and npm on PATH")
    lock = NODE_DIR / "package-lock.json"
    marker = NODE_DIR / "node_modules" / ".skillforge-lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    # xdist workers share tests/node: one installs while the others wait for it (at most 10 minutes).
    with open(NODE_DIR / ".install-lock", "w", encoding="utf-8") as install_lock:
        deadline = time.monotonic() + 600
        while True:
            try:
                fcntl.flock(install_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail("another test process held tests/node/.install-lock for 10 minutes")
                time.sleep(0.5)
        if not marker.exists() or marker.read_text() != digest:
            subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=str(NODE_DIR),
                           check=True, timeout=600)
            marker.write_text(digest)
    return NodeBullMQ(node)
