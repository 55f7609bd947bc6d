"""The one timestamp format of results: UTC, milliseconds, ``Z``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.timestamps import (
    parse_utc,
    utc_now,
    utc_timestamp,
    utc_timestamp_from_ms,
)


def test_naive_times_are_utc_and_shown_to_the_millisecond():
    assert utc_timestamp(datetime(2026, 11, 26, 9, 0, 1, 120999)) == "2026-11-26T09:00:01.120Z"
    assert utc_timestamp(datetime(2026, 11, 26, 9, 0)) == "2026-11-26T09:00:00.000Z"
    assert utc_timestamp(None) is None


def test_aware_times_are_shown_in_utc():
    paris = timezone(timedelta(hours=1))
    assert utc_timestamp(datetime(2026, 11, 26, 10, 0, tzinfo=paris)) == "2026-11-26T09:00:00.000Z"


def test_bullmq_millisecond_times():
    assert utc_timestamp_from_ms(1795683601120) == "2026-11-26T09:00:01.120Z"
    assert utc_timestamp_from_ms(0) is None and utc_timestamp_from_ms(None) is None


def test_now_is_whole_milliseconds_and_reads_back_the_same():
    now = utc_now()
    assert now.tzinfo is None and now.microsecond % 1000 == 0
    assert parse_utc(utc_timestamp(now)) == now
