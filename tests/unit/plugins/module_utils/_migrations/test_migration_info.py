"""flyway info and validate as pure functions: (scripts on disk, history rows) -> states, issues. No database.

The rows follow what test_migration_runner.py sees on a real PostgreSQL for the same situations,
so these tables pin the states and issues the commands are built on.
"""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.files import (
    ResolvedMigration,
    parse_migration_name,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.info import (
    APPLIED_KEYS,
    beyond_target,
    HISTORY_ROW_KEYS,
    PENDING_KEYS,
    build_info,
    current_version,
    migration_dict,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.validation import validate_infos
from ansible_collections.skillforge.dataops.plugins.module_utils._migrations.schema_history import AppliedMigration

V1, V1_1, R_VIEW = "V1__create_people.sql", "V1_1__add_email.sql", "R__people_view.sql"
INSTALLED_ON = datetime.datetime(2026, 1, 2, 3, 4, 5)


def script(name: str, checksum: int = 1) -> ResolvedMigration:
    """A resolved script as the resolver makes it from ``name`` (checksum given, not computed)."""
    version, description = parse_migration_name(name)
    return ResolvedMigration(version, description, name, "/migrations/" + name, checksum, sql="SELECT 1;\n")


def row(rank: int, name: str, checksum: int | None = 1, *, success: bool = True, type: str = "SQL",
        version: str | None = None, description: str | None = None) -> AppliedMigration:
    """A history row for script ``name`` as migrate writes it; BASELINE/SCHEMA/DELETE rows by ``type``."""
    parsed = parse_migration_name(name)
    if parsed is not None:
        parsed_version, parsed_description = parsed
        version = version or (str(parsed_version) if parsed_version is not None else None)
        description = description or parsed_description
    return AppliedMigration(rank, version, description or name, type, name, checksum, "ops", INSTALLED_ON, 7,
                            success)


SCRIPTS = [script(V1), script(V1_1), script(R_VIEW)]
APPLIED = [row(1, V1), row(2, V1_1), row(3, R_VIEW)]
BASELINE_ROW = row(1, "existing schema", None, type="BASELINE", version="1.1")
SCHEMA_ROW = row(0, '"App Schema"', None, type="SCHEMA", description="<< Flyway Schema Creation >>")


def without(name: str) -> list[ResolvedMigration]:
    return [s for s in SCRIPTS if s.script != name]


# (situation, resolved scripts, history rows, expected [(script, state)] in flyway info's order)
STATES = [
    ("nothing applied", SCRIPTS, [],
     [(V1, "Pending"), (V1_1, "Pending"), (R_VIEW, "Pending")]),
    ("all applied", SCRIPTS, APPLIED,
     [(V1, "Success"), (V1_1, "Success"), (R_VIEW, "Success")]),
    ("a new version above the applied ones", SCRIPTS + [script("V2__next.sql")], APPLIED,
     [(V1, "Success"), (V1_1, "Success"), (R_VIEW, "Success"), ("V2__next.sql", "Pending")]),
    ("a changed repeatable", without(R_VIEW) + [script(R_VIEW, 2)], APPLIED,
     [(V1, "Success"), (V1_1, "Success"), (R_VIEW, "Outdated"), (R_VIEW, "Pending")]),
    ("a re-applied repeatable", without(R_VIEW) + [script(R_VIEW, 2)], APPLIED + [row(4, R_VIEW, 2)],
     [(V1, "Success"), (V1_1, "Success"), (R_VIEW, "Superseded"), (R_VIEW, "Success")]),
    ("repeatables pending in description order (Java's: uppercase first)",
     [script("R__b_second.sql"), script("R__a_first.sql"), script("R__Z_upper.sql"), script("V2__late_version.sql")],
     [],
     [("V2__late_version.sql", "Pending"), ("R__Z_upper.sql", "Pending"), ("R__a_first.sql", "Pending"),
      ("R__b_second.sql", "Pending")]),
    ("an applied script removed, lower than the latest script", without(V1), APPLIED,
     [(V1, "Missing"), (V1_1, "Success"), (R_VIEW, "Success")]),
    ("the latest applied script removed", without(V1_1), APPLIED,
     [(V1, "Success"), (V1_1, "Future"), (R_VIEW, "Success")]),
    ("an applied repeatable removed", without(R_VIEW), APPLIED,
     [(V1, "Success"), (V1_1, "Success"), (R_VIEW, "Missing")]),
    ("a failed row (Flyway, non-transactional script)", SCRIPTS + [script("V2__new.sql")],
     APPLIED + [row(4, "V2__new.sql", success=False)],
     [(V1, "Success"), (V1_1, "Success"), (R_VIEW, "Success"), ("V2__new.sql", "Failed")]),
    ("a failed row of a removed script, lower than the latest", without(V1) + [script("V2__new.sql")],
     [row(1, V1, success=False)],
     [(V1, "Failed (Missing)"), (V1_1, "Pending"), ("V2__new.sql", "Pending"), (R_VIEW, "Pending")]),
    ("a failed row above every script", SCRIPTS, APPLIED + [row(4, "V2__new.sql", success=False)],
     [(V1, "Success"), (V1_1, "Success"), (R_VIEW, "Success"), ("V2__new.sql", "Failed (Future)")]),
    ("a failed repeatable", SCRIPTS, APPLIED[:2] + [row(3, R_VIEW, success=False)],
     [(V1, "Success"), (V1_1, "Success"), (R_VIEW, "Failed")]),
    ("a new version below the latest applied", SCRIPTS + [script("V1_0_5__late.sql")], APPLIED,
     [(V1, "Success"), (V1_1, "Success"), (R_VIEW, "Success"), ("V1_0_5__late.sql", "Ignored")]),
    ("applied out of order (by Flyway with outOfOrder)", SCRIPTS, [row(1, V1_1), row(2, V1), row(3, R_VIEW)],
     [(V1_1, "Success"), (V1, "Out of Order"), (R_VIEW, "Success")]),
    ("a baseline", SCRIPTS, [BASELINE_ROW],
     [(V1, "Below Baseline"), ("existing schema", "Baseline"), (R_VIEW, "Pending")]),
    ("a baseline and a later version", SCRIPTS + [script("V2__next.sql")], [BASELINE_ROW, row(2, "V2__next.sql")],
     [(V1, "Below Baseline"), ("existing schema", "Baseline"), ("V2__next.sql", "Success"), (R_VIEW, "Pending")]),
    ("a script at the baseline version that the baseline does not match", [script("V1_1__other.sql"), script(V1)],
     [row(1, "existing schema", None, type="BASELINE", version="1.1")],
     [(V1, "Below Baseline"), ("existing schema", "Baseline")]),
    ("the schema created by migrate (SCHEMA marker)", SCRIPTS, [SCHEMA_ROW] + APPLIED,
     [('"App Schema"', "Success"), (V1, "Success"), (V1_1, "Success"), (R_VIEW, "Success")]),
    ("a missing script marked deleted by repair", without(V1), APPLIED + [row(4, V1, type="DELETE")],
     [(V1, "Deleted"), (V1_1, "Success"), (R_VIEW, "Success")]),
    ("a missing repeatable marked deleted by repair", without(R_VIEW), APPLIED + [row(4, R_VIEW, type="DELETE")],
     [(V1, "Success"), (V1_1, "Success"), (R_VIEW, "Deleted")]),
]


@pytest.mark.parametrize("resolved, rows, expected", [case[1:] for case in STATES], ids=[case[0] for case in STATES])
def test_info_states(resolved, rows, expected):
    assert [(entry.script, entry.state) for entry in build_info(resolved, rows)] == expected


# (situation, resolved scripts, history rows, allow_pending, expected issue kinds, expected warnings)
VALIDATIONS = [
    ("all applied", SCRIPTS, APPLIED, False, [], 0),
    ("pending, not allowed", SCRIPTS, [], False, ["pending", "pending", "pending"], 0),
    ("pending, allowed (what migrate validates with)", SCRIPTS, [], True, [], 0),
    ("a changed repeatable, not allowed", without(R_VIEW) + [script(R_VIEW, 2)], APPLIED, False,
     ["outdated", "pending"], 0),
    ("a changed repeatable, allowed: migrate re-applies it", without(R_VIEW) + [script(R_VIEW, 2)], APPLIED, True,
     [], 0),
    ("a re-applied repeatable", without(R_VIEW) + [script(R_VIEW, 2)], APPLIED + [row(4, R_VIEW, 2)], False, [], 0),
    ("a changed versioned script", without(V1) + [script(V1, 2)], APPLIED, True, ["checksum"], 0),
    ("a line-ending change (same checksum)", SCRIPTS, APPLIED, True, [], 0),
    ("a renamed description", without(V1) + [script("V1__create_persons.sql")], APPLIED, True, ["description"], 0),
    ("a changed type", SCRIPTS, [row(1, V1, type="JDBC")] + APPLIED[1:], True, ["type"], 0),
    ("a missing script", without(V1), APPLIED, True, ["missing"], 0),
    ("a missing repeatable", without(R_VIEW), APPLIED, True, ["missing"], 0),
    ("a future version only warns", without(V1_1), APPLIED, False, [], 1),
    ("a failed future version only warns", SCRIPTS, APPLIED + [row(4, "V2__new.sql", success=False)], False, [], 1),
    ("a failed row", SCRIPTS + [script("V2__new.sql")], APPLIED + [row(4, "V2__new.sql", success=False)], True,
     ["failed"], 0),
    ("a failed row of a removed script", without(V1) + [script("V2__new.sql")], [row(1, V1, success=False)], True,
     ["failed"], 0),
    ("a failed repeatable", SCRIPTS, APPLIED[:2] + [row(3, R_VIEW, success=False)], True, ["failed"], 0),
    ("a new version below the latest applied", SCRIPTS + [script("V1_0_5__late.sql")], APPLIED, True, ["ignored"], 0),
    ("a baseline, later scripts pending", SCRIPTS, [BASELINE_ROW], True, [], 0),
    ("a baseline does not compare its own script", without(V1_1) + [script("V1_1__other.sql", 9)], [BASELINE_ROW],
     True, [], 0),
    ("a missing script marked deleted by repair", without(V1), APPLIED + [row(4, V1, type="DELETE")], False, [], 0),
    ("the SCHEMA marker", SCRIPTS, [SCHEMA_ROW] + APPLIED, False, [], 0),
]


@pytest.mark.parametrize("resolved, rows, allow_pending, kinds, warning_count", [case[1:] for case in VALIDATIONS],
                         ids=[case[0] for case in VALIDATIONS])
def test_validation(resolved, rows, allow_pending, kinds, warning_count):
    issues, warnings = validate_infos(build_info(resolved, rows), allow_pending)
    assert [issue["kind"] for issue in issues] == kinds
    assert len(warnings) == warning_count


@pytest.mark.parametrize("resolved, rows, needle", [
    (without(V1) + [script(V1, 2)], APPLIED,
     "Migration checksum mismatch for migration version 1\n-> Applied to database : 1\n-> Resolved locally    : 2\n"
     "The file /migrations/V1__create_people.sql was changed after it was applied."),
    (without(V1), APPLIED, "Detected applied migration not resolved locally: version 1 (script V1__create_people.sql)"),
    (without(R_VIEW), APPLIED, "not resolved locally: repeatable migration 'people view' (script R__people_view.sql)"),
    (SCRIPTS + [script("V2__new.sql")], APPLIED + [row(4, "V2__new.sql", success=False)],
     "Detected failed migration to version 2 (new) in script V2__new.sql."),
    (SCRIPTS + [script("V1_0_5__late.sql")], APPLIED,
     "Detected resolved migration not applied to database: 1.0.5 (V1_0_5__late.sql). Its version is lower"),
    (without(V1) + [script("V1__create_persons.sql")], APPLIED,
     "Migration description mismatch for migration version 1\n-> Applied to database : create people\n"
     "-> Resolved locally    : create persons"),
    (SCRIPTS, [row(1, V1, type="JDBC")] + APPLIED[1:],
     "Migration type mismatch for migration version 1\n-> Applied to database : JDBC\n-> Resolved locally    : SQL"),
])
def test_validation_messages_say_what_to_do(resolved, rows, needle):
    issues, _warnings = validate_infos(build_info(resolved, rows), allow_pending=True)
    assert needle in issues[0]["message"]


def test_pending_messages_name_version_or_repeatable():
    issues, _warnings = validate_infos(build_info(SCRIPTS, []), allow_pending=False)
    assert [issue["message"] for issue in issues] == [
        "Detected resolved migration not applied to database: 1 (V1__create_people.sql). Run migrate.",
        "Detected resolved migration not applied to database: 1.1 (V1_1__add_email.sql). Run migrate.",
        "Detected resolved repeatable migration not applied to database: people view (R__people_view.sql). "
        "Run migrate.",
    ]


def test_future_warning_names_version_and_script():
    _issues, warnings = validate_infos(build_info(without(V1_1), APPLIED), allow_pending=False)
    assert warnings == ["Schema history has version 1.1, newer than the latest available migration "
                        "(V1_1__add_email.sql)."]


def test_issue_carries_the_migration_and_where_its_file_is():
    [issue], _warnings = validate_infos(build_info(without(V1) + [script(V1, 2)], APPLIED), allow_pending=True)
    assert {key: value for key, value in issue.items() if key != "message"} == {
        "kind": "checksum", "version": "1", "description": "create people", "script": V1,
        "path": "/migrations/" + V1, "state": "Success"}


@pytest.mark.parametrize("resolved, rows, expected", [
    (SCRIPTS, [], None),
    (SCRIPTS, APPLIED, "1.1"),
    (SCRIPTS, [BASELINE_ROW], "1.1"),
    (SCRIPTS, APPLIED + [row(4, "V2__new.sql", success=False)], "1.1"),  # failed rows do not count
    (without(V1_1), [row(1, V1), row(2, V1_1), row(3, V1_1, type="DELETE")], "1"),  # deleted ones do not
    (without(V1_1), APPLIED, "1.1"),  # future ones do
])
def test_current_version(resolved, rows, expected):
    assert current_version(build_info(resolved, rows)) == expected


def test_one_dict_shape_per_use_from_the_one_function():
    resolved, applied = script(V1_1, 5), row(2, V1_1, 5)
    assert migration_dict(resolved, PENDING_KEYS) == {
        "category": "Versioned", "version": "1.1", "description": "add email", "script": V1_1,
        "path": "/migrations/" + V1_1, "checksum": 5, "type": "SQL"}
    assert migration_dict(resolved, APPLIED_KEYS, execution_time=12, installed_rank=2) == {
        "category": "Versioned", "version": "1.1", "description": "add email", "script": V1_1, "checksum": 5,
        "execution_time": 12, "installed_rank": 2}
    assert migration_dict(applied, HISTORY_ROW_KEYS) == {
        "installed_rank": 2, "version": "1.1", "description": "add email", "type": "SQL", "script": V1_1,
        "checksum": 5, "installed_by": "ops", "installed_on": "2026-01-02 03:04:05", "execution_time": 7,
        "success": True}
    assert list(migration_dict(applied, PENDING_KEYS)) == list(PENDING_KEYS)


def test_info_dict_shows_the_applied_row_else_the_script():
    applied_entry, pending_entry = build_info([script(V1), script(R_VIEW)], [row(1, V1)])
    assert applied_entry.as_dict() == {
        "category": "Versioned", "version": "1", "description": "create people", "type": "SQL", "script": V1,
        "checksum": 1, "installed_rank": 1, "installed_on": "2026-01-02 03:04:05", "installed_by": "ops",
        "execution_time": 7, "state": "Success"}
    assert pending_entry.as_dict() == {
        "category": "Repeatable", "version": None, "description": "people view", "type": "SQL", "script": R_VIEW,
        "checksum": 1, "installed_rank": None, "installed_on": None, "installed_by": None, "execution_time": None,
        "state": "Pending"}
    assert [entry.as_dict()["category"] for entry in build_info(SCRIPTS, [SCHEMA_ROW, BASELINE_ROW])][1:3] == ["", ""]


# (target, resolved scripts, history rows, scripts migrate leaves pending above the target)
V2, V3 = "V2__next.sql", "V3__later.sql"
TARGETS = [
    (None, SCRIPTS + [script(V2)], APPLIED, []),
    ("latest", SCRIPTS + [script(V2)], APPLIED, []),
    ("1", SCRIPTS, [], [V1_1]),  # the repeatable is never held back
    ("1.1", SCRIPTS + [script(V2), script(V3)], APPLIED, [V2, V3]),
    ("2", SCRIPTS + [script(V2), script(V3)], [], [V3]),
    ("3", SCRIPTS + [script(V2), script(V3)], [], []),
    ("current", SCRIPTS + [script(V2)], APPLIED, [V2]),
    ("current", SCRIPTS, [], [V1, V1_1]),  # nothing applied: no versioned migration runs
    ("1.0", SCRIPTS, [], [V1_1]),  # 1.0 is version 1
]


@pytest.mark.parametrize("target, resolved, rows, held", TARGETS)
def test_migrations_above_the_target_stay_pending(target, resolved, rows, held):
    assert [entry.script for entry in beyond_target(build_info(resolved, rows), target)] == held


def test_a_target_no_migration_has_is_refused_as_flyway_does():
    with pytest.raises(ValueError, match="No migration with a target version 1.5 could be found"):
        beyond_target(build_info(SCRIPTS, APPLIED), "1.5")
