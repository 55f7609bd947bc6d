"""The one JSON log line: sorted keys, the logger named, anything else as text."""

from __future__ import annotations

import json
import logging
from datetime import date

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.log_line import emit, json_line


def test_a_record_is_one_line_of_sorted_json_naming_its_logger():
    line = json_line({"job": "data-retention", "counts": {"users": 2}, "cutoff": date(2024, 1, 1)}, "some.logger")
    assert "\n" not in line
    assert line == json.dumps({"counts": {"users": 2}, "cutoff": "2024-01-01", "job": "data-retention",
                               "logger": "some.logger"}, sort_keys=True)
    assert json.loads(json_line({"job": "x"})) == {"job": "x"}


def test_emit_writes_to_the_given_log_else_to_the_python_logger(caplog):
    written = []
    line = emit({"job": "x"}, "some.logger", written.append)
    assert written == [line] and json.loads(line) == {"job": "x", "logger": "some.logger"}
    with caplog.at_level(logging.INFO, logger="some.logger"):
        assert emit({"job": "y"}, "some.logger") == caplog.records[-1].getMessage()
