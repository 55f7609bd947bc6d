# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules a reference value follows, stated once.

``normalise_value`` is the rule book: it returns a column's Python value or raises ValueError
saying what is wrong. ``column_converter`` is the same function built once per column, with a short
path for the clean values sources hold; the dataset's RowCollector uses it record by record and a
whole column at a time, so every rule and every message lives here once.

No Ansible and no psycopg in this file: it is tested on its own.
"""

from __future__ import annotations

import datetime
import decimal
import re
from dataclasses import dataclass

from ansible_collections.skillforge.dataops.plugins.module_utils._shared import errors

ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
MONTH_DATE = re.compile(r"^([0-9]{1,2})/([0-9]{4})$")


@dataclass(frozen=True)
class Column:
    """One column of a reference table and the rule its values follow."""

    name: str
    kind: str  # text | int | decimal | date | flag
    nullable: bool = False
    max_length: int | None = None
    choices: tuple = ()
    pattern: "re.Pattern | None" = None
    scale: int | None = None  # decimal places (NUMERIC(p, s))
    digits: int | None = None  # total digits (NUMERIC(p, s))
    minimum: int | None = None
    maximum: int | None = None

    def numeric_bounds(self) -> tuple:
        """(the smallest magnitude that no longer fits NUMERIC(digits, scale), one unit of the scale)."""
        return decimal.Decimal(10) ** (self.digits - self.scale), decimal.Decimal(1).scaleb(-self.scale)


def canonical(value):
    """The JSON-able canonical form of a normalised value (decimals and dates as text)."""
    if isinstance(value, (decimal.Decimal, datetime.date)):
        return str(value)
    return value


def normalise_value(column: Column, value):
    """Return the column's Python value for ``value`` or raise ValueError saying what is wrong."""
    if value is None or (isinstance(value, str) and value.strip() == "" and column.kind != "text"):
        if column.nullable:
            return None
        raise ValueError("is required")
    kind = column.kind
    if kind in ("text", "flag"):
        if not isinstance(value, str):
            raise ValueError("must be a string, not %s" % type(value).__name__)
        value = value.strip()
        if not value:
            if column.nullable:
                return None
            raise ValueError("must not be empty")
        if "\x00" in value:  # PostgreSQL text cannot hold it: the load would fail mid-transaction
            raise ValueError("must not contain a NUL character")
        if column.max_length and len(value) > column.max_length:
            raise ValueError("is longer than %d characters" % column.max_length)
        if column.pattern is not None and not column.pattern.match(value):
            raise ValueError("%r is not a valid %s" % (value, column.name))
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, str, decimal.Decimal)):
            raise ValueError("must be an integer, not %s" % type(value).__name__)
        try:
            number = decimal.Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise ValueError("%r is not an integer" % (value,)) from None
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError("%r is not an integer" % (value,))
        value = int(number)
        if column.minimum is not None and value < column.minimum:
            raise ValueError("%d is below %d" % (value, column.minimum))
        if column.maximum is not None and value > column.maximum:
            raise ValueError("%d is above %d" % (value, column.maximum))
    elif kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, str, decimal.Decimal, float)):
            raise ValueError("must be a number, not %s" % type(value).__name__)
        try:
            number = decimal.Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise ValueError("%s is not a number" % errors.clip(repr(value), 40)) from None
        if not number.is_finite():
            raise ValueError("%s is not a finite number" % errors.clip(value, 40))
        limit, quantum = column.numeric_bounds()
        # The size first: quantize() cannot represent 1e400 at all (decimal.InvalidOperation).
        if abs(number) >= limit:
            raise ValueError("%s does not fit NUMERIC(%d,%d)" % (errors.clip(value, 40), column.digits, column.scale))
        rounded = number.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN)
        if rounded != number:
            raise ValueError("%s has more than %d decimal places" % (errors.clip(value, 40), column.scale))
        value = rounded
    elif kind == "date":
        value = parse_date(value)
    else:  # pragma: no cover - a programming error in the table definitions
        raise AssertionError(kind)
    if column.choices and value not in column.choices:
        raise ValueError("%r is not one of %s" % (value, ", ".join(column.choices)))
    return value


def parse_date(value) -> datetime.date:
    """``YYYY-MM-DD`` (fixtures) or O*NET's ``MM/YYYY`` (the first of that month)."""
    if isinstance(value, datetime.date):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a date string, not %s" % type(value).__name__)
    text = value.strip()
    match = MONTH_DATE.match(text)
    try:
        if match:
            return datetime.date(int(match.group(2)), int(match.group(1)), 1)
        if ISO_DATE.match(text):
            return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError("%r is not a date (YYYY-MM-DD or MM/YYYY)" % value)


def column_converter(column: Column):
    """``normalise_value`` for one column, built once: a short path for the values sources hold (an
    unpadded string, an int, a Decimal, an ISO date, inside the column's limits) that returns exactly
    what ``normalise_value`` returns, and ``normalise_value`` itself for any other value (a null, a
    value to parse, or one breaking a rule), so every rule and every message stays the one place above.
    The same converter serves record by record and a whole column at a time (``RowCollector``)."""
    # pylint: disable=unidiomatic-typecheck
    # Exact types on purpose: a bool is an int, and a str subclass may strip differently.
    kind, choices = column.kind, frozenset(column.choices)
    if kind in ("text", "flag"):
        max_length, pattern = column.max_length, column.pattern

        def text(value):
            if type(value) is str:
                stripped = value.strip()
                if (stripped and "\x00" not in stripped and (not max_length or len(stripped) <= max_length)
                        and (pattern is None or pattern.match(stripped))
                        and (not choices or stripped in choices)):
                    return stripped
            return normalise_value(column, value)
        return text
    if kind == "int" and not choices:
        low = column.minimum if column.minimum is not None else float("-inf")
        high = column.maximum if column.maximum is not None else float("inf")

        def integer(value):
            if type(value) is int and low <= value <= high:
                return value
            return normalise_value(column, value)
        return integer
    if kind == "decimal" and not choices:
        limit, quantum = column.numeric_bounds()

        def number(value):
            if type(value) is decimal.Decimal and value.is_finite() and abs(value) < limit:
                rounded = value.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN)
                if rounded == value:
                    return rounded
            return normalise_value(column, value)
        return number
    if kind == "date" and not choices:
        def date(value):
            if type(value) is str and ISO_DATE.match(value):
                try:
                    return datetime.date.fromisoformat(value)
                except ValueError:
                    pass
            return normalise_value(column, value)
        return date
    return lambda value: normalise_value(column, value)
