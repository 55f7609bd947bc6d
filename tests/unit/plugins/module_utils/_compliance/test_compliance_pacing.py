"""The pacing of a compliance run between batches (pacing.Pacer), with a fake clock and a fake
``pg_stat_replication``: no database. The real replica: tests/database/test_compliance_replica.py."""

from __future__ import annotations

import json
import math

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.job import JobInputError
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.pacing import (
    LIMITS,
    Pacer,
    PacingError,
    pacing_options,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._compliance.registry import run_job


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class FakeStandbys:
    """``conn.execute(STANDBY_LAG).fetchall()``: the lags given, one reading after another (the
    last repeats)."""

    def __init__(self, *readings, visible=True):
        self.readings = list(readings)
        self.visible = visible
        self.reads = 0

    def execute(self, _query):
        self.reads += 1
        return self

    def fetchall(self):
        lag = self.readings[min(self.reads - 1, len(self.readings) - 1)]
        return [] if lag is None else [(4242, "replica-a", self.visible, lag, 1024.0)]


class FakeRun:
    id = "a" * 32

    def __init__(self):
        self.batches, self.counts = 0, {"users": 0}
        self.pauses = {"count": 0, "seconds": 0.0}

    def commit(self, users):
        self.batches += 1
        self.counts["users"] += users


def pacer(conn=None, should_stop=None, total_users=None, **options):
    clock = FakeClock()
    records = []
    made = Pacer(conn, "data-retention", options, should_stop=should_stop, progress=records.append,
                 total_users=total_users, clock=clock, sleep=clock.sleep)
    return made, clock, records


def after_batch(made, run, users=3):
    run.commit(users)
    return made.after_batch(run, users)


def test_without_options_nothing_waits_and_the_database_is_not_read():
    made, clock, records = pacer(conn=None, total_users=9)
    run = FakeRun()
    assert after_batch(made, run) is None
    assert clock.sleeps == [] and len(records) == 1
    assert records[0]["event"] == "batch-committed" and records[0]["users_done"] == 3
    assert records[0]["users_total"] == 9 and "replica_lag" not in records[0]


def test_batch_pause_waits_after_every_batch_and_eta_counts_it():
    made, clock, records = pacer(batch_pause=0.2, total_users=9)
    run = FakeRun()
    for _batch in range(3):
        assert after_batch(made, run) is None
    assert clock.sleeps == [0.2, 0.2, 0.2]
    assert [record["eta_seconds"] for record in records] == [0.0, 0.1, 0.0]  # 0.2 s per 3 users, 3 left
    assert records[0]["elapsed_seconds"] == 0.0 and records[1]["elapsed_seconds"] == 0.2


def test_max_runtime_stops_at_the_batch_boundary_once_passed():
    made, clock, _records = pacer(max_runtime=1, batch_pause=0.6)
    run = FakeRun()
    assert after_batch(made, run) is None
    assert after_batch(made, run) is None  # 0.6 s gone: still inside the window
    reason = after_batch(made, run)
    assert reason == "max_runtime of 1 s reached" and clock.sleeps == [0.6, 0.6]


def test_should_stop_is_asked_after_every_batch():
    made, _clock, _records = pacer(should_stop=lambda: "the controller was cancelled")
    assert after_batch(made, FakeRun()) == "the controller was cancelled"


def test_lag_above_the_limit_pauses_until_it_is_at_most_half():
    standbys = FakeStandbys(5.0, 40.0, 35.0, 20.0, 15.0, 2.0)
    made, clock, records = pacer(conn=standbys, max_replica_lag=30)
    run = FakeRun()
    assert after_batch(made, run) is None and clock.sleeps == []  # 5 s: under the limit
    assert after_batch(made, run) is None  # 40 s: paused; 35, 20 (above 15), then 15 resumes
    assert clock.sleeps == [1.0, 1.0] and standbys.reads == 5
    assert run.pauses == {"count": 1, "seconds": 2.0} == made.pauses_record()
    assert [record["event"] for record in records] == [
        "batch-committed", "batch-committed", "lag-pause-started", "lag-pause-ended"]
    assert records[2]["replica_lag"] == {"seconds": 40.0, "bytes": 1024}
    assert records[3]["replica_lag"]["seconds"] == 15.0 and records[3]["pauses"]["count"] == 1


def test_lag_that_stays_up_stops_the_run_after_max_lag_pause():
    made, clock, _records = pacer(conn=FakeStandbys(90.0), max_replica_lag=30, max_lag_pause=3)
    run = FakeRun()
    reason = after_batch(made, run)
    assert "max_lag_pause of 3 s" in reason and "resume mark of 15.0 s" in reason
    assert sum(clock.sleeps) == 3 and run.pauses == {"count": 1, "seconds": 3.0}


def test_max_runtime_also_ends_a_lag_pause():
    made, _clock, _records = pacer(conn=FakeStandbys(90.0), max_replica_lag=30, max_lag_pause=600, max_runtime=5)
    assert after_batch(made, FakeRun()) == "max_runtime of 5 s reached"


def test_no_standby_and_caught_up_standbys_read_as_no_lag():
    made, clock, _records = pacer(conn=FakeStandbys(None), max_replica_lag=1)
    assert after_batch(made, FakeRun()) is None and clock.sleeps == []
    made, clock, _records = pacer(conn=FakeStandbys(0.0), max_replica_lag=1)  # replay_lag NULL: COALESCE 0
    assert after_batch(made, FakeRun()) is None and clock.sleeps == []


def test_hidden_replication_statistics_are_refused_naming_the_option_and_the_role():
    made, _clock, _records = pacer(conn=FakeStandbys(1.0, visible=False), max_replica_lag=30)
    with pytest.raises(PacingError) as raised:
        made.check()
    assert "max_replica_lag" in str(raised.value) and "pg_read_all_stats" in str(raised.value)


def test_progress_goes_to_the_log_as_one_json_line_without_a_progress_callback():
    lines = []
    made = Pacer(None, "data-retention", {}, log=lines.append, total_users=6)
    made.after_batch(FakeRun(), 3)
    record = json.loads(lines[0])
    assert record["logger"] == "skillforge.dataops.compliance.progress" and record["users_done"] == 3


@pytest.mark.parametrize("name", sorted(LIMITS))
@pytest.mark.parametrize("value", [-1, math.nan, math.inf, "soon", True, 10 ** 7])
def test_bad_pacing_options_are_refused_naming_the_option(name, value):
    with pytest.raises(ValueError) as raised:
        pacing_options("data-retention", {name: value})
    assert str(raised.value) == "data-retention: %s must be a number of seconds from 0 to %d" % (name, LIMITS[name])
    with pytest.raises(JobInputError) as raised:  # before the connection is used: None is never read
        run_job(None, "data-retention", {"triggered_by": "dpo@skillforge.com", name: value}, dry_run=False)
    assert name in str(raised.value)


def test_pacing_defaults():
    assert pacing_options("data-retention", {}) == {
        "batch_pause": 0, "max_runtime": 0, "max_replica_lag": 0, "max_lag_pause": 300}
