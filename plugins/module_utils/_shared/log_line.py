# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one JSON log line: a record as one line of JSON with sorted keys, and where it goes.

The compliance jobs (``_compliance.audit.emit``), the queue worker and the audit_json callback all
write their records this way, so a log shipper parses one format. Nothing here imports Ansible.
"""

from __future__ import annotations

import json
import logging


def json_line(record: dict, logger: str | None = None) -> str:
    """``record`` as one line of JSON (keys sorted, anything not JSON as its ``str``), with a
    ``logger`` key naming its source when given."""
    if logger is not None:
        record = dict(record, logger=logger)
    return json.dumps(record, sort_keys=True, default=str)


def emit(record: dict, logger: str, log=None) -> str:
    """Write ``record`` as one JSON line to ``log`` (e.g. ``module.log``), else to the Python
    logger named ``logger``; return the line."""
    line = json_line(record, logger)
    if log is None:
        logging.getLogger(logger).info(line)
    else:
        log(line)
    return line
