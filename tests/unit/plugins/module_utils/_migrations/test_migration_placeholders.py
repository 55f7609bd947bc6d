"""Flyway's placeholders without a database: replacement, built-ins, errors, and checksums as Flyway
computes them (a versioned script's as written, a repeatable's with its values)."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.checksum import checksum_of_text
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.files import (
    ResolvedMigration,
    parse_migration_name,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.placeholders import (
    PlaceholderError,
    check_placeholders,
    replace,
    session_placeholders,
    with_placeholders,
)

VALUES = check_placeholders({"Owner": "app_owner", "empty": "", "tablespace": "fast"})


def migration(name: str, sql: str) -> ResolvedMigration:
    version, description = parse_migration_name(name)
    return ResolvedMigration(version=version, description=description, script="sub/" + name, path="/m/sub/" + name,
                             checksum=checksum_of_text(sql), sql=sql)


@pytest.mark.parametrize("text, expected", [
    ("ALTER TABLE t OWNER TO ${owner};", "ALTER TABLE t OWNER TO app_owner;"),
    ("${OWNER} ${Owner} ${owner}", "app_owner app_owner app_owner"),  # names are case-insensitive
    ("CREATE TABLE t () ${empty};", "CREATE TABLE t () ;"),  # an empty value removes it
    ("-- owned by ${owner}\nSELECT '${tablespace}'", "-- owned by app_owner\nSELECT 'fast'"),  # everywhere
    ("SELECT '$1', '{x}', '$ {owner}'", "SELECT '$1', '{x}', '$ {owner}'"),
    ("", ""),
])
def test_replacement_as_flyway_reads_it(text, expected):
    assert replace(text, VALUES) == expected


@pytest.mark.parametrize("text, message", [
    ("GRANT ${role} TO x", r"No value provided for placeholder: \$\{role\}.  Check your configuration!"),
    ("SELECT ${flyway:nothing}", r"Failed to populate value for default placeholder: \$\{flyway:nothing\}"),
    ("SELECT '${unterminated", r"No value provided for placeholder: \$\{unterminated\}"),
])
def test_a_placeholder_without_a_value_is_named(text, message):
    with pytest.raises(PlaceholderError, match=message):
        replace(text, VALUES)


def test_the_built_ins_come_from_the_session():
    values = session_placeholders(schema="app", user="migrator", database="skillforge", table="flyway_schema_history",
                                  environment="production", now=datetime.datetime(2026, 12, 1, 9, 5, 7),
                                  working_directory="/srv")
    text = ("${flyway:defaultSchema} ${flyway:user} ${flyway:database} ${flyway:timestamp} ${flyway:workingDirectory}"
            " ${flyway:table} ${flyway:environment} ${FLYWAY:USER}")
    assert replace(text, values) == ("app migrator skillforge 2026-12-01 09:05:07 /srv flyway_schema_history production"
                                     " migrator")


def test_a_versioned_scripts_checksum_is_its_text_as_written():
    written = migration("V2__grant.sql", "GRANT SELECT ON t TO ${owner};\n")
    placed = with_placeholders(written, VALUES)
    assert placed.sql == "GRANT SELECT ON t TO app_owner;\n"
    assert (placed.checksum, placed.equivalent_checksum) == (written.checksum, None)


def test_a_repeatable_scripts_checksum_follows_its_values_and_its_text_as_written_still_matches():
    written = migration("R__view.sql", "CREATE OR REPLACE VIEW v AS SELECT '${owner}' AS o, '${flyway:filename}' AS f;\n")
    placed = with_placeholders(written, VALUES)
    assert placed.sql == "CREATE OR REPLACE VIEW v AS SELECT 'app_owner' AS o, 'R__view.sql' AS f;\n"
    assert placed.checksum == checksum_of_text(placed.sql) and placed.equivalent_checksum == written.checksum
    assert placed.checksum_matches(written.checksum) and placed.checksum_matches(placed.checksum)
    assert not placed.checksum_matches(checksum_of_text("something else"))
    other = with_placeholders(written, dict(VALUES, owner="someone_else"))
    assert other.checksum != placed.checksum  # a new value re-applies it, as in Flyway


def test_a_missing_value_names_the_script():
    with pytest.raises(PlaceholderError, match=r"\$\{role\}.*\(in sub/V3__role.sql\)"):
        with_placeholders(migration("V3__role.sql", "GRANT ${role} TO x;"), VALUES)


@pytest.mark.parametrize("placeholders, message", [
    ({"": "x"}, "a name must be a non-empty string"),
    ({"a}b": "x"}, "a name must be a non-empty string without"),
    ({"flyway:user": "x"}, "flyway:user is one of Flyway's built-in placeholders"),
    ({"owner": 3}, "the value of owner must be a string"),
    ({"owner": "a\x00b"}, "the value of owner must be a string without NUL"),
])
def test_placeholder_settings_that_cannot_work(placeholders, message):
    with pytest.raises(PlaceholderError, match=message):
        check_placeholders(placeholders)
