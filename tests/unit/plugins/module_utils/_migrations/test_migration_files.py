"""Migration resolver: Flyway naming, version ordering, duplicates."""

from __future__ import annotations

import os

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.files import (
    MigrationFileError,
    MigrationVersion,
    parse_migration_name,
    resolve_migrations,
)


def write(directory, name, text="SELECT 1;\n"):
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_underscore_means_dot_and_display_keeps_digits():
    assert str(MigrationVersion("1_0")) == "1.0"
    assert str(MigrationVersion("2_10_3")) == "2.10.3"
    assert str(MigrationVersion("001")) == "001"


@pytest.mark.parametrize("lower, higher", [
    ("1.9", "1.10"), ("1", "1.1"), ("1.1", "2"), ("9", "10"), ("1.0.1", "1.1"), ("20240101", "20240102"),
])
def test_numeric_ordering(lower, higher):
    assert MigrationVersion(lower) < MigrationVersion(higher)


@pytest.mark.parametrize("a, b", [("1", "1.0"), ("1", "1.0.0"), ("01", "1"), ("1.01", "1.1")])
def test_equal_versions_as_flyway_compares_them(a, b):
    assert MigrationVersion(a) == MigrationVersion(b)
    assert hash(MigrationVersion(a)) == hash(MigrationVersion(b))


def test_parse_names():
    version, description = parse_migration_name("V1_1__create_reference_tables.sql")
    assert str(version) == "1.1" and description == "create reference tables"
    assert parse_migration_name("R__onet_reporting_views.sql") == (None, "onet reporting views")
    assert parse_migration_name("V2.5__Add_Index.sql")[1] == "Add Index"
    assert parse_migration_name("notes.txt") is None
    assert parse_migration_name("U1__undo.sql") is None
    assert parse_migration_name("V3.sql")[1] == ""


@pytest.mark.parametrize("name", ["V__no_version.sql", "V1a__bad.sql", "R1__versioned_repeatable.sql"])
def test_malformed_names_fail(name):
    with pytest.raises(MigrationFileError, match="Wrong"):
        parse_migration_name(name)


def test_resolve_orders_versions_then_repeatables_by_description(tmp_path):
    for name in ["V1_10__ten.sql", "V1_9__nine.sql", "V2__two.sql", "R__b_view.sql", "R__a_view.sql",
                 "V1__one.sql", "README.md"]:
        write(tmp_path, name)
    scripts = [m.script for m in resolve_migrations([str(tmp_path)])]
    assert scripts == ["V1__one.sql", "V1_9__nine.sql", "V1_10__ten.sql", "V2__two.sql",
                       "R__a_view.sql", "R__b_view.sql"]


def test_repeatable_order_is_java_string_order(tmp_path):
    # Java compares UTF-16 code units: uppercase before lowercase, "Z" < "a".
    for name in ["R__a.sql", "R__Z.sql", "R__B.sql"]:
        write(tmp_path, name)
    assert [m.description for m in resolve_migrations([str(tmp_path)])] == ["B", "Z", "a"]


def test_subdirectories_are_scanned_and_script_is_relative(tmp_path):
    write(tmp_path, "core/V1__one.sql")
    write(tmp_path, "V2__two.sql")
    migrations = resolve_migrations([str(tmp_path)])
    assert [m.script for m in migrations] == ["core/V1__one.sql", "V2__two.sql"]


def test_files_read_as_utf8_with_checksum(tmp_path):
    write(tmp_path, "V1__umlaut.sql", "INSERT INTO t VALUES ('Zürich');\n")
    (migration,) = resolve_migrations([str(tmp_path)])
    assert "Zürich" in migration.sql
    assert migration.type == "SQL" and migration.category == "Versioned"


@pytest.mark.parametrize("first, second", [("V1__a.sql", "V1_0__b.sql"), ("V1__a.sql", "V01__b.sql")])
def test_duplicate_versions_fail_naming_both_files(tmp_path, first, second):
    write(tmp_path, first)
    write(tmp_path, second)
    with pytest.raises(MigrationFileError) as caught:
        resolve_migrations([str(tmp_path)])
    assert "more than one migration with version" in str(caught.value)
    assert first in str(caught.value) and second in str(caught.value)


def test_duplicate_across_locations_and_repeatables(tmp_path):
    write(tmp_path / "a", "R__views.sql")
    write(tmp_path / "b", "R__views.sql")
    with pytest.raises(MigrationFileError, match="more than one repeatable migration"):
        resolve_migrations([str(tmp_path / "a"), str(tmp_path / "b")])


def test_missing_location_fails(tmp_path):
    with pytest.raises(MigrationFileError, match="does not exist"):
        resolve_migrations([str(tmp_path / "nope")])


# --- what lies in a location -----------------------------------------------------------------

def _location(tmp_path):
    location = tmp_path / "migrations"
    location.mkdir()
    (location / "V1__ok.sql").write_text("SELECT 1;\n", encoding="utf-8")
    return location


def _dangling_link(location, _tmp_path):
    os.symlink(location / "gone.sql", location / "V2__dangling.sql")


def _fifo(location, _tmp_path):
    os.mkfifo(location / "V2__fifo.sql")


def _link_outside(location, tmp_path):
    (tmp_path / "outside.sql").write_text("SELECT 2;\n", encoding="utf-8")
    os.symlink(tmp_path / "outside.sql", location / "V2__outside.sql")


@pytest.mark.parametrize("make, message", [
    (_dangling_link, "cannot be read"),
    (_fifo, "not a regular file"),
    (_link_outside, "link to a file outside the location"),
])
def test_a_script_that_is_not_a_regular_file_inside_the_location_is_refused_by_name(tmp_path, make, message):
    """A FIFO would block the run for ever, a dangling link crashed it."""
    location = _location(tmp_path)
    make(location, tmp_path)
    with pytest.raises(MigrationFileError, match=message) as error:
        resolve_migrations([str(location)])
    assert "V2__" in str(error.value)


def test_a_directory_named_like_a_script_and_a_link_inside_the_location_are_fine(tmp_path):
    location = _location(tmp_path)
    (location / "V3__a_directory.sql").mkdir()
    (location / "sub").mkdir()
    (location / "sub" / "V2__real.sql").write_text("SELECT 2;\n", encoding="utf-8")
    os.symlink(location / "sub" / "V2__real.sql", location / "V2_1__linked.sql")
    assert [m.script for m in resolve_migrations([str(location)])] == [
        "V1__ok.sql", "sub/V2__real.sql", "V2_1__linked.sql"]


def test_bytes_that_are_not_utf8_are_read_as_flyway_reads_them_and_named(tmp_path):
    location = _location(tmp_path)
    (location / "V2__latin1.sql").write_bytes(b"SELECT 1;\n-- caf\xe9\nSELECT 2;\n")
    migrations = {m.script: m for m in resolve_migrations([str(location)])}
    assert migrations["V1__ok.sql"].decode_warning is None
    warning = migrations["V2__latin1.sql"].decode_warning
    assert "V2__latin1.sql" in warning and "line 2" in warning
    assert "\ufffd" in migrations["V2__latin1.sql"].sql
