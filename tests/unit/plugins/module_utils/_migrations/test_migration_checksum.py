"""Flyway checksum: CRC32 over readLine() lines, BOM dropped, signed 32-bit.

Expected values are computed independently (zlib.crc32 over bytes assembled by hand) or quoted.
"""

from __future__ import annotations

import zlib

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.checksum import (
    checksum_of_bytes,
    checksum_of_file,
    checksum_of_text,
    read_lines,
    to_signed_int32,
)


def signed(crc: int) -> int:
    return crc - (1 << 32) if crc >= (1 << 31) else crc


def test_quoted_crc32_values_as_flyway_signed_ints():
    # Published CRC-32 values: "123456789" -> 0xCBF43926 (the CRC-32 "check" value of the
    # catalogue of parametrised CRC algorithms), "abcd" -> 3984772369 (openfasttrace's
    # TestChecksumCalculator). Flyway stores (int) of that unsigned value.
    assert checksum_of_text("123456789") == 0xCBF43926 - (1 << 32) == -873187034
    assert checksum_of_text("abcd\n") == 3984772369 - (1 << 32) == -310194927


def test_empty_file_is_zero():
    assert checksum_of_text("") == 0
    assert checksum_of_bytes(b"") == 0
    # Only line terminators: every line is empty, no byte is fed to the CRC.
    assert checksum_of_text("\n\r\n\r") == 0


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_line_endings_give_the_same_checksum(ending):
    lines = ["CREATE TABLE a (id int);", "INSERT INTO a VALUES (1);"]
    expected = signed(zlib.crc32("".join(lines).encode()))
    assert checksum_of_text(ending.join(lines)) == expected
    assert checksum_of_text(ending.join(lines) + ending) == expected


def test_mixed_line_endings_and_trailing_newline():
    text = "a\r\nb\rc\nd"
    assert read_lines(text) == ["a", "b", "c", "d"]
    assert checksum_of_text(text) == checksum_of_text("a\nb\nc\nd\n") == signed(zlib.crc32(b"abcd"))


def test_empty_lines_add_nothing_like_flyway():
    # A consequence of Flyway's algorithm (no terminator is hashed) worth knowing: only
    # inserting or removing blank lines does not change the checksum.
    assert checksum_of_text("a\n\n\nb") == checksum_of_text("a\nb")


def test_bom_is_removed_from_first_line_only():
    body = "SELECT 1;\n"
    assert checksum_of_text("\ufeff" + body) == checksum_of_text(body)
    assert checksum_of_bytes(b"\xef\xbb\xbf" + body.encode()) == checksum_of_text(body)
    # A BOM character later in the file is content.
    assert checksum_of_text("x\n\ufeffy") == signed(zlib.crc32(b"x" + "\ufeff".encode() + b"y"))


def test_non_ascii_is_hashed_as_utf8():
    text = "INSERT INTO t VALUES ('Zürich', 'Ωmega', '日本');\n"
    expected = signed(zlib.crc32(text.rstrip("\n").encode("utf-8")))
    assert checksum_of_text(text) == expected
    assert checksum_of_bytes(text.encode("utf-8")) == expected


@pytest.mark.parametrize("char", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"])
def test_only_cr_and_lf_end_lines_unlike_str_splitlines(char):
    text = "a%sb\n" % char
    assert len(text.splitlines()) == 2  # what Python's splitlines would wrongly do
    assert read_lines(text) == ["a%sb" % char]
    assert checksum_of_text(text) == signed(zlib.crc32(("a%sb" % char).encode("utf-8")))


def test_result_is_a_signed_32_bit_int():
    assert to_signed_int32(0xFFFFFFFF) == -1
    assert to_signed_int32(0x7FFFFFFF) == 2147483647
    assert to_signed_int32(0x80000000) == -2147483648
    for text in ("a", "SELECT 1;", "x" * 1000):
        assert -(1 << 31) <= checksum_of_text(text) < (1 << 31)


def test_file_checksum_reads_bytes(tmp_path):
    path = tmp_path / "V1__x.sql"
    path.write_bytes(b"\xef\xbb\xbfCREATE TABLE t (id int);\r\nSELECT 1;\r\n")
    assert checksum_of_file(str(path)) == signed(zlib.crc32(b"CREATE TABLE t (id int);SELECT 1;"))
