"""The roles' guard against misspelt variables: what it reports, and what it lets through."""

from __future__ import annotations

from ansible_collections.skillforge.dataops.plugins.filter.unknown_variables import unknown_variables

KNOWN = ["compliance_job", "compliance_dry_run", "compliance_execute", "compliance_tenant"]


def test_known_names_pass():
    assert unknown_variables(["compliance_job", "compliance_tenant"], KNOWN) == []


def test_a_misspelt_name_gets_the_closest_known_one():
    assert unknown_variables(["compliance_dryrun"], KNOWN) == [
        "unknown variable compliance_dryrun: did you mean compliance_dry_run?"]


def test_a_renamed_variable_names_its_replacement():
    assert unknown_variables(["compliance_dsn"], KNOWN, {"compliance_dsn": "skillforge_database_url"}) == [
        "unknown variable compliance_dsn: it is skillforge_database_url now"]


def test_a_name_like_nothing_lists_the_known_ones_sorted_once_each():
    messages = unknown_variables(["compliance_zzz", "compliance_zzz"], KNOWN)
    assert messages == ["unknown variable compliance_zzz: known: " + ", ".join(sorted(KNOWN))]
