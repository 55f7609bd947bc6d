"""The connection helper without a database: resolution order, Prisma URLs, redaction, and failures
to reach a server that is not there."""

from __future__ import annotations

import psycopg
import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.connection import (
    LOCAL_FALLBACK_URL,
    REDACTED,
    DatabaseConfigError,
    DatabaseConnectionError,
    connect,
    redact_url,
    resolve_database,
)

STAGING = "postgresql://stage:s3cret@db.staging:5432/app"
GENERIC = "postgresql://app:generic-pw@db.generic:5432/app"
FALLBACK = "postgresql://app:fallback-pw@db.fallback:5432/app"


@pytest.mark.parametrize(
    "dsn, env, environ, expected_source",
    [
        ("postgresql://opt@h/db", "staging",
         {"SKILLFORGE_STAGING_DATABASE_URL": STAGING, "DATABASE_URL": GENERIC}, "option"),
        (None, "staging", {"SKILLFORGE_STAGING_DATABASE_URL": STAGING, "DATABASE_URL": GENERIC,
                           "SKILLFORGE_DATABASE_URL": FALLBACK}, "SKILLFORGE_STAGING_DATABASE_URL"),
        (None, "staging", {"DATABASE_URL": GENERIC, "SKILLFORGE_DATABASE_URL": FALLBACK}, "DATABASE_URL"),
        (None, "staging", {"SKILLFORGE_DATABASE_URL": FALLBACK}, "SKILLFORGE_DATABASE_URL"),
        (None, "local", {}, "local fallback"),
        (None, "local", {"SKILLFORGE_LOCAL_DATABASE_URL": STAGING}, "SKILLFORGE_LOCAL_DATABASE_URL"),
        (None, "data-eu", {"SKILLFORGE_DATA_EU_DATABASE_URL": STAGING}, "SKILLFORGE_DATA_EU_DATABASE_URL"),
        (None, "staging", {"SKILLFORGE_STAGING_DATABASE_URL": "", "DATABASE_URL": GENERIC}, "DATABASE_URL"),
    ],
)
def test_resolution_order(dsn, env, environ, expected_source):
    resolved = resolve_database(dsn=dsn, env=env, environ=environ)
    assert resolved.source == expected_source


@pytest.mark.parametrize("env", ["staging", "production", "ci", None])
def test_only_local_falls_back_to_localhost(env):
    with pytest.raises(DatabaseConfigError) as error:
        resolve_database(env=env, environ={})
    message = str(error.value)
    assert "SKILLFORGE_DATABASE_URL" in message and "DATABASE_URL" in message
    if env:
        assert "SKILLFORGE_%s_DATABASE_URL" % env.upper() in message


def test_local_fallback_is_the_documented_url():
    resolved = resolve_database(env="local", environ={})
    assert (resolved.host, resolved.port, resolved.dbname, resolved.user) == (
        "localhost", "5432", "skillforge", "postgres")
    assert resolved.redacted_url == LOCAL_FALLBACK_URL.replace(":postgres@", ":%s@" % REDACTED)


def test_bad_env_name_is_rejected():
    with pytest.raises(DatabaseConfigError, match="env must be a name"):
        resolve_database(env="staging; rm -rf", environ={"DATABASE_URL": GENERIC})


def test_prisma_url_schema_becomes_search_path_and_prisma_parameters_are_dropped():
    url = ("postgresql://app:pw@db:6543/skillforge?schema=tenant_data&connection_limit=5"
           "&pool_timeout=10&pgbouncer=true&sslmode=disable")
    resolved = resolve_database(dsn=url)
    assert resolved.search_path == "tenant_data"
    assert set(resolved.dropped_parameters) == {"connection_limit", "pool_timeout", "pgbouncer"}
    params = psycopg.conninfo.conninfo_to_dict(resolved.conninfo)
    assert params["sslmode"] == "disable"
    assert "schema" not in params and "connection_limit" not in params
    assert resolved.describe()["schema"] == "tenant_data"


@pytest.mark.parametrize(
    "url, secret",
    [
        ("postgresql://app:Sup3r%40Secret@db:5432/app?schema=x", "Sup3r"),
        ("postgres://app:pw-in-netloc@db/app", "pw-in-netloc"),
        ("postgresql://app@db/app?password=query-secret&sslmode=require", "query-secret"),
        ("host=db dbname=app user=app password=kv-secret", "kv-secret"),
        ("host=db dbname=app password='quoted secret' user=app", "quoted secret"),
    ],
)
def test_redaction_hides_every_password_form(url, secret):
    redacted = redact_url(url)
    assert secret not in redacted
    assert REDACTED in redacted
    resolved = resolve_database(dsn=url)
    assert secret not in repr(resolved.describe())


def test_non_postgres_url_is_a_config_error_without_the_password():
    with pytest.raises(DatabaseConfigError) as error:
        resolve_database(dsn="mysql://root:topsecret@db/app")
    assert "topsecret" not in str(error.value)
    assert "option" in str(error.value)


def test_unreachable_server_fails_quickly_with_host_and_port():
    url = "postgresql://app:pw-never-shown@127.0.0.1:1/appdb"
    with pytest.raises(DatabaseConnectionError) as error:
        connect(resolve_database(dsn=url), connect_timeout=2)
    message = str(error.value)
    assert "127.0.0.1:1" in message and "appdb" in message
    assert "pw-never-shown" not in message and "\n" not in message


# Database URLs as they get pasted by hand: each fails with one line that shows no part of the
# password (nor the text around it), or parses with the password hidden from what is shown.
PASTED_URLS = [
    ("postgresql://u:S3cret%zz@host/db", "S3cret", "cannot be parsed"),
    ("postgresql://u:p4ss word@host/db", "p4ss", "cannot be parsed"),
    ("postgresql://u:Zq9[::1/db", "Zq9", "port that is not a number"),
    ("postgresql://u:pw@host:99999/db", None, "port that is not a number"),
    ("postgresql://u:pw@[::1/db", None, "cannot be parsed"),
    ("host=db dbname=app password=kv-Secret junk", "kv-Secret", "cannot be parsed"),
    ("postgresql://u:pw\x00x@host/db", "pw", "control character"),
    ("postgresql://u:pw\n@host/db", "pw", "control character"),
    ("mysql://root:topsecret@db/app", "topsecret", "not a postgresql:// URL"),
    ("postgresql://u:pw@h/db?schema=" + "s" * 64, None, "not a PostgreSQL schema name"),
]


@pytest.mark.parametrize("url, secret, message", PASTED_URLS)
def test_a_malformed_url_fails_in_one_line_without_any_of_its_password(url, secret, message):
    with pytest.raises(DatabaseConfigError) as error:
        resolve_database(dsn=url)
    text = str(error.value)
    assert message in text and "\n" not in text and len(text) < 400
    if secret:
        assert secret not in text


@pytest.mark.parametrize("url, password", [
    ("postgresql://u:Lm8n#x?y@host/db", "Lm8n#x?y"),      # unencoded '#' and '?': libpq still reads a password
    ("postgresql://u:a%40b@host/db?sslpassword=key-pw", "key-pw"),
    ("postgresql://u:Lm8n@x@host/db?schema=app", "Lm8n"),
])
def test_what_is_shown_is_built_from_what_libpq_parsed(url, password):
    resolved = resolve_database(dsn=url)
    shown = repr(resolved.describe())
    assert password not in shown and REDACTED in shown
    assert password not in redact_url(url)


def test_a_url_without_password_is_shown_whole_and_has_no_secret():
    resolved = resolve_database(dsn="postgresql://app@db.internal:5433/skillforge?sslmode=require")
    assert resolved.describe()["url"] == "postgresql://app@db.internal:5433/skillforge?sslmode=require"
    assert not resolved.has_secret


@pytest.mark.parametrize("timeout", [0, -1, 3601, True, 2.5])
def test_connect_timeout_must_be_bounded(timeout):
    """libpq's 0 means no limit: a server that accepts and never answers would hang the run."""
    with pytest.raises(DatabaseConfigError, match="connect_timeout must be a whole number of seconds from 1"):
        connect(resolve_database(dsn="postgresql://u@127.0.0.1:1/db"), connect_timeout=timeout)
