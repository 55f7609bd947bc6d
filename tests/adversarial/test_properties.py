"""Property tests of the validation every module runs first (hypothesis: strings, dates, numbers).

For any DSN text: a parsed result or one DatabaseConfigError line, never a traceback, never the
password in the message or in what results show. For any ``before``/``since``: a datetime or one
ValueError/JobInputError line. For any number given as batch_size, lock_timeout, connect_timeout,
redis_timeout, lock_retry_count or a seed's NUMERIC value: accepted within its documented bounds
or refused in one line, at once (validation never waits).
"""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.skillforge.dataops.plugins.module_utils._shared import timestamps
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import connection
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance import data_retention
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import errors
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations import runner as migration_runner
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations import settings as migration_settings
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import dataset as onet_dataset
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import values as onet_values
from ansible_collections.skillforge.dataops.plugins.module_utils._shared import redis_connection
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import (
    MAX_BATCH_SIZE,
    MAX_LOCK_TIMEOUT,
    JobInputError,
    common_options,
)

SETTINGS = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
# A password hypothesis makes: long enough that finding it in a message is not a coincidence.
PASSWORDS = st.text(min_size=6, max_size=40).filter(lambda text: text.strip() == text and len(set(text)) > 3)
FAST = 1.0  # seconds: validation answers at once


def one_line(message: str) -> str:
    assert message and "\n" not in message and len(message) < 400, message[:500]
    assert "Traceback" not in message
    return message


def numbers():
    return st.one_of(st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                     st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
                     st.text(max_size=10))


@SETTINGS
@given(dsn=st.text(max_size=200))
def test_any_dsn_text(dsn):
    try:
        resolved = connection.resolve_database(dsn=dsn or None, env="ci", environ={})
    except connection.DatabaseConfigError as error:
        one_line(str(error))
    else:
        assert connection.REDACTED in resolved.redacted_url or not resolved.has_secret


@SETTINGS
@given(password=PASSWORDS, host=st.sampled_from(["127.0.0.1", "[::1", "h:99999", "", "host/x", "[::1]"]),
       tail=st.sampled_from(["/db", "/db?sslmode=bogus", "/db?schema=", "", "/db?x=%zz", "/%zz"]))
def test_dsn_password_never_shown(password, host, tail):
    dsn = "postgresql://someone:%s@%s%s" % (password, host, tail)
    try:
        resolved = connection.resolve_database(dsn=dsn, env="ci", environ={})
    except connection.DatabaseConfigError as error:
        assert password not in one_line(str(error))
        return
    shown = repr(resolved.describe()) + resolved.where()
    encoded = connection.quote(password, safe="")
    assert password not in shown and encoded not in shown, shown


@settings(max_examples=25, deadline=5000)
@given(password=PASSWORDS.filter(lambda text: "\x00" not in text))  # libpq refuses %00 (test_any_dsn_text)
def test_connection_failure_never_shows_the_password(password, unused_tcp_port):
    """A refused connection: one line naming host and database, the password scrubbed."""
    dsn = "postgresql://someone:%s@127.0.0.1:%d/db" % (connection.quote(password, safe=""), unused_tcp_port)
    resolved = connection.resolve_database(dsn=dsn, env="ci", environ={})
    started = time.monotonic()
    with pytest.raises(connection.DatabaseConnectionError) as caught:
        connection.connect(resolved, connect_timeout=2)
    assert time.monotonic() - started < 5
    assert password not in one_line(str(caught.value)) and "option dsn" in str(caught.value)


@pytest.fixture(scope="module")
def unused_tcp_port() -> int:
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


@SETTINGS
@given(value=st.one_of(st.text(max_size=40), st.datetimes().map(lambda moment: moment.isoformat()),
                       st.dates().map(lambda day: day.isoformat()),
                       st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat())))
def test_any_date(value):
    """``since``/``before`` of the audit and the purge's cutoff: a datetime or one line."""
    try:
        parsed = timestamps.parse_utc(value)
    except ValueError as error:
        one_line(str(error) or "ValueError")
    else:
        assert parsed.tzinfo is None
    try:
        data_retention.parse_cutoff(value)
    except JobInputError as error:
        assert "before" in one_line(str(error))


@SETTINGS
@given(batch_size=numbers(), lock_timeout=numbers())
def test_any_batch_size_and_lock_timeout(batch_size, lock_timeout):
    started = time.monotonic()
    try:
        options = common_options(data_retention.DEFINITION,
                                 {"batch_size": batch_size, "lock_timeout": lock_timeout, "triggered_by": "adversarial-suite"})
    except JobInputError as error:
        message = one_line(str(error))
        assert "batch_size" in message or "lock_timeout" in message
    else:
        assert 1 <= options["batch_size"] <= MAX_BATCH_SIZE
        assert 0 <= options["lock_timeout"] <= MAX_LOCK_TIMEOUT and not math.isnan(options["lock_timeout"])
    assert time.monotonic() - started < FAST


@SETTINGS
@given(seconds=numbers())
def test_any_connect_timeout(seconds):
    try:
        accepted = connection.validate_connect_timeout(seconds)
    except connection.DatabaseConfigError as error:
        assert "connect_timeout" in one_line(str(error))
    else:
        assert 1 <= accepted <= connection.MAX_CONNECT_TIMEOUT


@SETTINGS
@given(seconds=numbers())
def test_any_redis_timeout(seconds):
    try:
        resolved = redis_connection.resolve_redis("redis://127.0.0.1:6379/0", timeout=seconds)
    except redis_connection.QueueError as error:
        assert "redis_timeout" in one_line(str(error))
    else:
        assert 0 < resolved.timeout <= redis_connection.MAX_TIMEOUT


@SETTINGS
@given(count=numbers())
def test_any_lock_retry_count(count):
    try:
        migration_runner.MigrationSettings(locations=["/tmp"], lock_retry_count=count)
    except migration_runner.MigrationConfigError as error:
        assert "lock_retry_count" in one_line(str(error))
    else:
        assert 0 <= count <= migration_settings.MAX_LOCK_RETRY_COUNT


@SETTINGS
@given(value=st.one_of(st.decimals(allow_nan=True, allow_infinity=True), st.floats(), st.text(max_size=30),
                       st.integers(min_value=-(10 ** 500), max_value=10 ** 500)))
def test_any_seed_number(value):
    """A fixture's data_value (NUMERIC): a value that fits, or one short reason (1e400 included)."""
    column = next(column for column in onet_dataset.TABLES_BY_NAME["onet_occupation_skills"].columns
                  if column.name == "data_value")
    try:
        onet_values.normalise_value(column, value)
    except ValueError as error:
        assert len(one_line(str(error))) <= 2 * errors.ECHO_LIMIT + 40
