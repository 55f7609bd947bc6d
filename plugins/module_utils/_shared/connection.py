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
from urllib.parse import quote, unquote, urlencode

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare, missing
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.errors import clip, echo

with declare("psycopg"):
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

LOCAL_FALLBACK_URL = "postgresql://postgres:postgres@localhost:5432/skillforge"
APPLICATION_NAME = "skillforge.dataops"
LOCAL_ENV = "local"
REDACTED = "********"

# Query parameters Prisma understands and libpq does not (libpq fails on unknown ones).
PRISMA_ONLY_PARAMETERS = frozenset(
    {"schema", "connection_limit", "pool_timeout", "pgbouncer", "statement_cache_size",
     "socket_timeout", "sslaccept", "sslidentity"}
)

ENV_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# PostgreSQL truncates longer identifiers (NAMEDATALEN - 1).
MAX_IDENTIFIER_BYTES = 63
# libpq's connect_timeout of 0 (or none) means no limit at all.
MAX_CONNECT_TIMEOUT = 3600


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


def origin(source: str, option: str) -> str:
    """Where a URL came from, as a message says it: ``option dsn`` (the option by name, so the
    operator knows what to correct), else the environment variable's name."""
    return "option %s" % option if source == "option" else source


def _userinfo_end(rest: str) -> int:
    """Where a URL's ``user:password@`` part ends in ``rest`` (the text after ``://``), or -1.

    libpq takes the credentials up to the first ``@`` before any ``/``; a password with an
    unencoded ``#``, ``?`` or ``@`` is still a password to it (urlsplit would cut it short and
    show the rest). The last such ``@`` is taken here: never too little is hidden."""
    slash = rest.find("/")
    head = rest if slash < 0 else rest[:slash]
    return head.rfind("@")


def redact_url(url: str) -> str:
    """The URL or key=value conninfo with any password replaced, for results and messages.

    Everything between the user name and the last ``@`` of the credentials is hidden, whatever
    characters it holds, and so is a ``password=`` query parameter."""
    if "://" not in url:
        return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1" + REDACTED, url)
    scheme, _sep, rest = url.partition("://")
    at = _userinfo_end(rest)
    if at >= 0:
        user, has_password, _password = rest[:at].partition(":")
        rest = "%s%s%s" % (user, ":" + REDACTED if has_password else "", rest[at:])
    return "%s://%s" % (scheme, re.sub(r"(?<=[?&])([^&=]*password=)[^&]*", r"\1" + REDACTED, rest))


def _safe_parse_error(error) -> str:
    """libpq's reason a connection string cannot be parsed, without the text it quotes (which can
    be part of a password)."""
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    # From the first quote to the last: libpq's own words hold no quote, a quoted token may (a
    # password with '"' in it), so nothing between the two is shown.
    return re.sub(r'".*"|".*$', '"..."', reason)


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
    has_secret: bool = True  # a password (or sslpassword) is part of the URL

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
        return "database %s on %s:%s" % (echo(self.dbname), clip(self.host), clip(self.port, 20))


def _strip_prisma_parameters(url: str):
    """Remove the query parameters libpq would reject; return (url, schema, dropped names).

    The query is found as libpq finds it (after the credentials, at the first ``?``), and kept
    parameters are kept as written, so nothing is re-encoded."""
    if "://" not in url:
        return url, None, ()
    scheme, _sep, rest = url.partition("://")
    at = _userinfo_end(rest)
    question = rest.find("?", at + 1)
    if question < 0:
        return url, None, ()
    kept, schema, dropped = [], None, []
    for pair in rest[question + 1:].split("&"):
        key, _eq, value = pair.partition("=")
        name = unquote(key)
        if name == "schema":
            schema = unquote(value) or None
        elif name in PRISMA_ONLY_PARAMETERS:
            dropped.append(name)
        elif pair:
            kept.append(pair)
    stripped = "%s://%s%s" % (scheme, rest[:question], "?" + "&".join(kept) if kept else "")
    return stripped, schema, tuple(dropped)


def _shown_url(params: dict) -> str:
    """A postgresql:// URL for results and messages, built from what libpq parsed (never from the
    text given), with the password replaced."""
    user = quote(str(params.get("user") or ""), safe="")
    credentials = user + (":" + REDACTED if params.get("password") else "")
    hosts = str(params.get("host") or params.get("hostaddr") or "").split(",")
    ports = str(params.get("port") or "").split(",")
    netloc = ",".join(
        ("[%s]" % host if ":" in host else quote(host, safe="/")) + (":" + port if port else "")
        for host, port in zip(hosts, ports + [ports[-1]] * (len(hosts) - len(ports))))
    query = [(key, REDACTED if "password" in key else str(value)) for key, value in sorted(params.items())
             if key not in ("user", "password", "host", "hostaddr", "port", "dbname")]
    dbname = quote(str(params.get("dbname") or ""), safe="")
    return "postgresql://%s%s/%s%s" % (credentials + "@" if credentials else "", netloc, dbname,
                                       "?" + urlencode(query, safe="*") if query else "")


def resolve_database(dsn=None, env=None, environ=None) -> ResolvedDatabase:
    """Resolve the database for a module run; raises DatabaseConfigError with a safe message."""
    if missing("psycopg"):
        raise DatabaseConfigError("the psycopg (version 3) Python package is required")
    url, source = resolve_url(dsn, env, "DATABASE", environ, LOCAL_FALLBACK_URL)
    shown = origin(source, "dsn")
    if CONTROL_CHARACTERS.search(url):
        raise DatabaseConfigError("the database URL from %s contains a control character (a NUL, a line "
                                  "break, ...): check how it was pasted" % shown)
    if "://" in url and not url.startswith(("postgresql://", "postgres://")):
        raise DatabaseConfigError(
            "the database URL from %s is not a postgresql:// URL (it starts %r)" % (shown, url.split("://")[0][:20])
        )
    conninfo, schema, dropped = _strip_prisma_parameters(url)
    try:
        params = conninfo_to_dict(conninfo)
    except (psycopg.Error, ValueError) as error:
        raise DatabaseConfigError(
            "the database URL from %s cannot be parsed (%s); percent-encode special characters in the "
            "user name and password (%%40 for @, %%23 for #, %%3F for ?, %%2F for /, %%25 for %%)"
            % (shown, _safe_parse_error(error))
        ) from None
    ports = [port for port in str(params.get("port") or "").split(",") if port]
    if not all(port.isdigit() and 1 <= int(port) <= 65535 for port in ports):
        raise DatabaseConfigError("the database URL from %s has a port that is not a number from 1 to 65535 (an "
                                  "unencoded character in the password can make it look like one)" % shown)
    if schema is not None and (len(schema.encode("utf-8")) > MAX_IDENTIFIER_BYTES or CONTROL_CHARACTERS.search(schema)):
        raise DatabaseConfigError("the database URL from %s has a ?schema= that is not a PostgreSQL schema name "
                                  "(at most %d bytes, no control characters)" % (shown, MAX_IDENTIFIER_BYTES))
    return ResolvedDatabase(
        conninfo=conninfo,
        source=source,
        redacted_url=_shown_url(params),
        host=str(params.get("host") or params.get("hostaddr") or "localhost"),
        port=str(params.get("port") or "5432"),
        dbname=str(params.get("dbname") or params.get("user") or ""),
        user=str(params.get("user") or ""),
        search_path=schema,
        dropped_parameters=dropped,
        has_secret=any("password" in key and value for key, value in params.items()),
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


def validate_connect_timeout(seconds) -> int:
    """Whole seconds from 1 to MAX_CONNECT_TIMEOUT: libpq's 0 would wait for ever on a server that
    accepts the connection and never answers."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_CONNECT_TIMEOUT:
        raise DatabaseConfigError("connect_timeout must be a whole number of seconds from 1 to %d, got %s"
                                  % (MAX_CONNECT_TIMEOUT, echo(seconds, 20)))
    return seconds


def application_name(component=None) -> str:
    """The one spelling of what the collection's sessions call themselves in pg_stat_activity:
    ``skillforge.dataops/<component>`` (the module, the job or the worker)."""
    return APPLICATION_NAME + ("/%s" % component if component else "")


def sibling_conninfo(conn, application_name_: str, connect_timeout: int = 10) -> str:
    """The conninfo of another session to ``conn``'s server and database, as the same user with
    the same password and settings, that calls itself ``application_name_``. It holds the password:
    pass it to ``psycopg.connect``, never to a message."""
    return make_conninfo(conn.info.dsn, password=conn.info.password, connect_timeout=max(1, int(connect_timeout)),
                         application_name=application_name_)


def open_sibling(conn, component: str, autocommit: bool = False, connect_timeout: int = 10) -> "psycopg.Connection":
    """A second session like ``conn`` (``sibling_conninfo``) with ``conn``'s ``search_path``, named
    ``skillforge.dataops/<component>``; a failure is ``psycopg``'s (the caller reports it)."""
    search_path = conn.execute("SELECT current_setting('search_path')").fetchone()[0]
    sibling = psycopg.connect(sibling_conninfo(conn, application_name(component), connect_timeout), autocommit=True)
    try:
        sibling.execute("SELECT set_config('search_path', %s, false)", (search_path,))
    except BaseException:
        sibling.close()
        raise
    sibling.autocommit = autocommit
    return sibling


def connect(resolved: ResolvedDatabase, application_name=None,
            autocommit=False, connect_timeout=10, require_schema=True) -> "psycopg.Connection":
    """Open a psycopg connection; failures become one line naming host and database only.

    With a Prisma ``?schema=``, the schema must exist unless ``require_schema`` is false (the
    migrate commands create it): otherwise every statement would fail on an unnamed table."""
    validate_connect_timeout(connect_timeout)
    try:
        conn = psycopg.connect(
            make_conninfo(resolved.conninfo, application_name=application_name or APPLICATION_NAME,
                          connect_timeout=connect_timeout),
            autocommit=autocommit,
        )
    except psycopg.Error as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[-1] if lines else type(error).__name__
        reason = re.sub(r"^(connection failed: )?(connection to server .*? failed: )?", "", reason)
        raise DatabaseConnectionError(
            "cannot connect to %s (URL from %s): %s"
            % (resolved.where(), origin(resolved.source, "dsn"), _scrub(reason, resolved.conninfo))
        ) from None
    if resolved.search_path:
        exists = conn.execute("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)",
                              (resolved.search_path,)).fetchone()[0]
        if require_schema and not exists:
            conn.close()
            raise DatabaseConnectionError(
                "schema %r (the URL's ?schema=, from %s) does not exist in %s: migrate the database first "
                "(skillforge.dataops.migrate creates it) or correct the URL"
                % (resolved.search_path, origin(resolved.source, "dsn"), resolved.where()))
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(resolved.search_path)))
        if not autocommit:
            conn.commit()
    return conn
