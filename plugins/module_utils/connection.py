# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find and open the SkillForge database: the one connection helper every module uses.

Resolution order (the ops runbook's): the ``dsn`` option, ``SKILLFORGE_<ENV>_DATABASE_URL``,
``DATABASE_URL``, ``SKILLFORGE_DATABASE_URL``, and for ``env: local`` only a localhost fallback.

Prisma-style URLs are accepted as the application uses them: Prisma-only query parameters, which
libpq rejects, are removed, and ``?schema=NAME`` becomes the connection's search path.
Nothing here imports Ansible, so the job code and its tests can use it directly.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

try:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    PSYCOPG_IMPORT_ERROR = None
except ImportError as import_error:  # reported by the modules through missing_required_lib()
    psycopg = None
    PSYCOPG_IMPORT_ERROR = import_error

LOCAL_FALLBACK_URL = "postgresql://postgres:postgres@localhost:5432/skillforge"
LOCAL_ENV = "local"
REDACTED = "********"

# Query parameters Prisma understands and libpq does not (libpq fails on unknown ones).
PRISMA_ONLY_PARAMETERS = frozenset(
    {"schema", "connection_limit", "pool_timeout", "pgbouncer", "statement_cache_size",
     "socket_timeout", "sslaccept", "sslidentity"}
)

ENV_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class DatabaseConfigError(Exception):
    """No usable database URL: nothing configured, or a malformed value."""


class DatabaseConnectionError(Exception):
    """The database did not accept the connection. The message never carries the password."""


def environment_variable(env: str, service: str) -> str:
    """``SKILLFORGE_<ENV>_<SERVICE>_URL`` for an environment name such as ``staging``."""
    return "SKILLFORGE_%s_%s_URL" % (env.upper().replace("-", "_"), service)


def resolve_url(option_value, env, service, environ=None, local_fallback=None):
    """Return ``(url, source)`` by the runbook's order for one service (``DATABASE`` or ``REDIS``).

    ``source`` names where the URL came from (an option or a variable name), never its value.
    """
    if env is not None and not ENV_NAME_PATTERN.match(env):
        raise DatabaseConfigError(
            "env must be a name such as local, ci, staging or production (letters, digits, '-' and '_')"
        )
    environ = os.environ if environ is None else environ
    if option_value:
        return option_value, "option"
    candidates = []
    if env:
        candidates.append(environment_variable(env, service))
    candidates += ["%s_URL" % service, "SKILLFORGE_%s_URL" % service]
    for name in candidates:
        if environ.get(name):
            return environ[name], name
    if env == LOCAL_ENV and local_fallback:
        return local_fallback, "local fallback"
    raise DatabaseConfigError(
        "no %s URL configured for env %s: set the option or one of %s%s"
        % (service.lower(), env or "(not set)", ", ".join(candidates),
           "" if env == LOCAL_ENV else " (the localhost fallback applies to env 'local' only)")
    )


def redact_url(url: str) -> str:
    """The URL or key=value conninfo with any password replaced, for results and messages."""
    if "://" not in url:
        return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1" + REDACTED, url)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _at, hosts = netloc.rpartition("@")
        user, has_password, _password = userinfo.partition(":")
        netloc = "%s%s@%s" % (user, ":" + REDACTED if has_password else "", hosts)
    query = [(key, REDACTED if key == "password" else value)
             for key, value in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*"), parts.fragment))


@dataclass(frozen=True)
class ResolvedDatabase:
    """A database URL made ready for libpq, with what may be shown about it."""

    conninfo: str
    source: str
    redacted_url: str
    host: str
    port: str
    dbname: str
    user: str
    search_path: str | None = None
    dropped_parameters: tuple = field(default_factory=tuple)

    def describe(self) -> dict:
        """What results and logs may say about the connection (no secret in it)."""
        return {
            "source": self.source,
            "url": self.redacted_url,
            "host": self.host,
            "port": self.port,
            "database": self.dbname,
            "user": self.user,
            "schema": self.search_path,
        }

    def where(self) -> str:
        return "database %r on %s:%s" % (self.dbname, self.host, self.port)


def _strip_prisma_parameters(url: str):
    """Remove the query parameters libpq would reject; return (url, schema, dropped names)."""
    if "://" not in url:
        return url, None, ()
    parts = urlsplit(url)
    kept, schema, dropped = [], None, []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "schema":
            schema = value or None
        elif key in PRISMA_ONLY_PARAMETERS:
            dropped.append(key)
        else:
            kept.append((key, value))
    stripped = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), parts.fragment))
    return stripped, schema, tuple(dropped)


def resolve_database(dsn=None, env=None, environ=None) -> ResolvedDatabase:
    """Resolve the database for a module run; raises DatabaseConfigError with a safe message."""
    if PSYCOPG_IMPORT_ERROR is not None:
        raise DatabaseConfigError("the psycopg (version 3) Python package is required")
    url, source = resolve_url(dsn, env, "DATABASE", environ, LOCAL_FALLBACK_URL)
    if "://" in url and not url.startswith(("postgresql://", "postgres://")):
        raise DatabaseConfigError(
            "the database URL from %s is not a postgresql:// URL: %s" % (source, redact_url(url))
        )
    conninfo, schema, dropped = _strip_prisma_parameters(url)
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as error:
        raise DatabaseConfigError(
            "the database URL from %s cannot be parsed: %s"
            % (source, _scrub(str(error).splitlines()[0], url))
        ) from None
    return ResolvedDatabase(
        conninfo=conninfo,
        source=source,
        redacted_url=redact_url(url),
        host=str(params.get("host") or params.get("hostaddr") or "localhost"),
        port=str(params.get("port") or "5432"),
        dbname=str(params.get("dbname") or params.get("user") or ""),
        user=str(params.get("user") or ""),
        search_path=schema,
        dropped_parameters=dropped,
    )


def _scrub(message: str, secret_source: str) -> str:
    """Remove any password that appears in ``secret_source`` from a message."""
    password = None
    try:
        password = conninfo_to_dict(_strip_prisma_parameters(secret_source)[0]).get("password")
    except Exception:  # an unparsable URL has no password we could recognise
        pass
    if password:
        message = message.replace(str(password), REDACTED)
    return message


def connect(resolved: ResolvedDatabase, application_name="skillforge.dataops",
            autocommit=False, connect_timeout=10) -> "psycopg.Connection":
    """Open a psycopg connection; failures become one line naming host and database only."""
    try:
        conn = psycopg.connect(
            make_conninfo(resolved.conninfo, application_name=application_name,
                          connect_timeout=connect_timeout),
            autocommit=autocommit,
        )
    except psycopg.Error as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[-1] if lines else type(error).__name__
        reason = re.sub(r"^(connection failed: )?(connection to server .*? failed: )?", "", reason)
        raise DatabaseConnectionError(
            "cannot connect to %s (URL from %s): %s"
            % (resolved.where(), resolved.source, _scrub(reason, resolved.conninfo))
        ) from None
    if resolved.search_path:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(resolved.search_path)))
        if not autocommit:
            conn.commit()
    return conn
