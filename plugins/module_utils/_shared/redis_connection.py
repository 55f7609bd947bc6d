# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find Redis for the BullMQ queues, open bounded clients, and run the asyncio code in one place.

The Redis URL is resolved like the database's (``connection.resolve_url``): the ``redis_url``
option, ``SKILLFORGE_<ENV>_REDIS_URL``, ``REDIS_URL``, ``SKILLFORGE_REDIS_URL`` and, for
``env: local`` only, ``redis://localhost:6379/0``.

The ``bullmq`` Python package is asyncio-based while modules and the job code are not: every
coroutine the collection runs goes through ``run_bounded()``, which owns the event loop, enforces
a deadline and turns Redis failures into one safe line (no password, ever). Nothing here imports
Ansible.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.connection import (
    REDACTED,
    DatabaseConfigError,
    origin,
    redact_url,
    resolve_url,
)

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare
# The modules' redis_timeout default (the options live apart from this file: _queue.options says why).
from ansible_collections.skillforge.dataops.plugins.module_utils._queue.options import (
    DEFAULT_REDIS_TIMEOUT as DEFAULT_TIMEOUT,
)

with declare("redis"):
    import redis.asyncio as aioredis
    from redis import exceptions as redis_errors
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

LOCAL_REDIS_URL = "redis://localhost:6379/0"
REDIS_SCHEMES = ("redis", "rediss", "unix")


class QueueError(Exception):
    """Base of the queue errors; every message is safe to show (no password, no personal data)."""


class QueueConfigError(QueueError):
    """No usable Redis URL or queue setting."""


class QueueConnectionError(QueueError):
    """Redis could not be reached in time, or refused a command."""


@dataclass(frozen=True)
class ResolvedRedis:
    """A Redis URL, where it came from, and what may be shown about it."""

    url: str
    source: str
    redacted_url: str
    host: str
    port: int
    db: int
    timeout: float
    password: str | None = None

    def describe(self) -> dict:
        """What results and logs may say about the connection (no secret in it)."""
        return {"source": self.source, "url": self.redacted_url, "host": self.host,
                "port": self.port, "db": self.db, "timeout": self.timeout}

    def where(self) -> str:
        return "Redis at %s:%s (URL from %s)" % (self.host, self.port, origin(self.source, "redis_url"))

    def scrub(self, message: str) -> str:
        """Remove the password (and the raw URL) from a message."""
        message = message.replace(self.url, self.redacted_url)
        if self.password:
            message = message.replace(self.password, REDACTED)
        return message


MAX_TIMEOUT = 3600  # seconds; NaN and infinity are refused with the rest


def resolve_redis(redis_url=None, env=None, environ=None, timeout=DEFAULT_TIMEOUT) -> ResolvedRedis:
    """Resolve the Redis URL by the runbook's order; raises QueueConfigError with a safe message."""
    try:
        url, source = resolve_url(redis_url, env, "REDIS", environ, LOCAL_REDIS_URL)
    except DatabaseConfigError as error:
        raise QueueConfigError(str(error)) from None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT:
        raise QueueConfigError("redis_timeout must be a number of seconds above 0 and at most %d" % MAX_TIMEOUT)
    parts = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES:
        raise QueueConfigError("the Redis URL from %s is not a redis://, rediss:// or unix:// URL: %s"
                               % (origin(source, "redis_url"), redact_url(url)))
    try:
        port = parts.port or 6379
        db = int(parts.path.strip("/") or 0) if parts.scheme != "unix" else 0
    except ValueError:
        raise QueueConfigError("the Redis URL from %s has a bad port or database number: %s"
                               % (origin(source, "redis_url"), redact_url(url))) from None
    return ResolvedRedis(
        url=url, source=source, redacted_url=redact_url(url),
        host=parts.hostname or (parts.path if parts.scheme == "unix" else "localhost"),
        port=port, db=db, timeout=float(timeout), password=parts.password,
    )


def open_client(resolved: ResolvedRedis, retries: int = 0, socket_timeout: float | None = None):
    """An asyncio Redis client whose every connect and command is bounded by the timeout.

    ``retries=0`` (modules) fails at the first refused connection instead of redis-py's and
    bullmq's default of twenty exponential retries; the long-running worker passes more.
    ``socket_timeout`` must exceed any blocking command's own timeout (the worker's BZPOPMIN).
    """
    return aioredis.Redis.from_url(
        resolved.url,
        decode_responses=True,  # bullmq reads replies as str
        socket_connect_timeout=resolved.timeout,
        socket_timeout=socket_timeout or resolved.timeout,
        retry=Retry(NoBackoff(), retries),
    )


def describe_redis_error(error: BaseException, resolved: ResolvedRedis) -> QueueConnectionError:
    """One safe line for a failed Redis operation."""
    if isinstance(error, (asyncio.TimeoutError, redis_errors.TimeoutError)):
        return QueueConnectionError("%s did not answer within %g seconds"
                                    % (resolved.where(), resolved.timeout))
    reason = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, redis_errors.AuthenticationError) or "WRONGPASS" in reason \
            or "NOAUTH" in reason:
        return QueueConnectionError("%s refused the credentials: %s"
                                    % (resolved.where(), resolved.scrub(reason)))
    if isinstance(error, (redis_errors.ConnectionError, OSError)):
        return QueueConnectionError("cannot connect to %s: %s" % (resolved.where(), resolved.scrub(reason)))
    return QueueConnectionError("%s refused the command: %s" % (resolved.where(), resolved.scrub(reason)))


def _is_redis_failure(error: BaseException) -> bool:
    return isinstance(error, (asyncio.TimeoutError, OSError, redis_errors.RedisError))


def run_bounded(operation, resolved: ResolvedRedis, deadline: float | None = None):
    """Run ``await operation(client)`` on a fresh event loop within ``deadline`` seconds.

    The client is opened with ``open_client`` and always closed. Redis failures and the deadline
    become QueueConnectionError; QueueError from the operation passes through unchanged.
    ``deadline=math.inf`` sets no overall limit (each command is still bounded by the timeout).
    """
    deadline = resolved.timeout if deadline is None else deadline

    async def main():
        client = open_client(resolved)
        try:
            return await asyncio.wait_for(operation(client), None if math.isinf(deadline) else deadline)
        finally:
            try:
                await asyncio.wait_for(client.aclose(), resolved.timeout)
            except Exception:  # closing a client that never connected: nothing to release
                pass

    try:
        return asyncio.run(main())
    except QueueError:
        raise
    except Exception as error:
        if _is_redis_failure(error):
            raise describe_redis_error(error, resolved) from None
        raise
