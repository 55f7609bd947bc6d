# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one timestamp format of the collection's results and log lines, and UTC parsing.

Every time the collection itself reports (a job summary's ``started_at``, an audit row read back,
a cutoff, a BullMQ job's ``created_at``, the audit_json callback's ``timestamp``) is UTC as
``YYYY-MM-DDTHH:MM:SS.mmmZ``: milliseconds, as Prisma's ``TIMESTAMP(3)`` columns and BullMQ's
millisecond clocks hold them. The one exception is a migration's ``installed_on``: Flyway's history
table stores it as a ``TIMESTAMP`` without zone in the database server's time zone, and results show
it as that column holds it (see ``_migrations.info``). Nothing here imports Ansible.
"""

from __future__ import annotations

from datetime import date, datetime, timezone


def utc_timestamp(moment) -> str | None:
    """``moment`` (a ``datetime``, naive taken as UTC) as ``2026-11-26T09:00:01.120Z``; None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def utc_timestamp_from_ms(milliseconds) -> str | None:
    """A Unix time in milliseconds (BullMQ's job times) as ``utc_timestamp``; 0 or None: None."""
    if not milliseconds:
        return None
    return utc_timestamp(datetime.fromtimestamp(int(milliseconds) / 1000, timezone.utc))


def utc_now() -> datetime:
    """Now as a naive UTC timestamp in whole milliseconds, as Prisma stores TIMESTAMP(3) values:
    PostgreSQL would round finer values, and a summary (``utc_timestamp`` truncates) must state
    exactly the times the audit row holds."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


def parse_utc(value) -> datetime:
    """An ISO-8601 date or date-time (or a ``date``/``datetime``) as naive UTC; naive input is
    taken as UTC. Raises ``ValueError``."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            raise ValueError("date out of range in UTC") from None
    return moment
