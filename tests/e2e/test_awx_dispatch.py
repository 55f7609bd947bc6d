"""Every object in awx/ is one that infra.aap_configuration's dispatch role creates: each top-level
variable of each vars file is a ``var`` of the dispatcher's controller roles, and each key of each
object is one the dispatched role reads. The dispatcher includes a role only when its variable is
defined, so a vars file under another name (``controller_organizations`` where 3.x reads
``aap_organizations``) loads without error and creates nothing on a fresh controller.

tests/data/infra_aap_configuration_dispatch.yml says where the names come from (the collection's
tag and commit) and how they were read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from test_awx_job_templates import AWX_DIR, CONTROLLER_VARS_FILE, ControllerVarsLoader, controller_vars_files

DISPATCH = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "data" / "infra_aap_configuration_dispatch.yml").read_text("utf-8"))
# The controller roles only: awx/ configures AWX / Automation Controller objects, and on an AWX without
# a platform gateway docs/OPERATIONS.md limits the dispatcher to these roles.
CONTROLLER_DISPATCH_VARS = set(DISPATCH["dispatch_vars"]["controller_configuration_dispatcher_roles"])
OBJECT_FIELDS = {var: set(fields) for var, fields in DISPATCH["object_fields"].items()}
VARS_FILES = controller_vars_files()


def load(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=ControllerVarsLoader)  # noqa: S506


def test_the_dispatch_names_are_those_of_infra_aap_configuration_3():
    # A guard on the data file itself: 3.x renamed the organizations variable.
    assert "aap_organizations" in CONTROLLER_DISPATCH_VARS
    assert "controller_organizations" not in CONTROLLER_DISPATCH_VARS
    assert {"controller_templates", "controller_credentials", "controller_projects"} <= CONTROLLER_DISPATCH_VARS


def test_every_awx_yaml_file_is_a_vars_file_or_the_execution_environment():
    for path in AWX_DIR.glob("*.yml"):
        assert path.name == "execution-environment.yml" or CONTROLLER_VARS_FILE.match(path.name), (
            "%s is not loaded by the include_vars pattern of docs/OPERATIONS.md (%s)"
            % (path.name, CONTROLLER_VARS_FILE.pattern))
    assert VARS_FILES


@pytest.mark.parametrize("path", VARS_FILES, ids=[p.name for p in VARS_FILES])
def test_every_top_level_variable_is_one_the_dispatcher_reads(path):
    data = load(path)
    assert isinstance(data, dict) and data, path.name
    unknown = sorted(set(data) - CONTROLLER_DISPATCH_VARS)
    assert not unknown, "%s: %s not read by infra.aap_configuration's dispatch role (controller roles: %s)" % (
        path.name, unknown, sorted(CONTROLLER_DISPATCH_VARS))


@pytest.mark.parametrize("path", VARS_FILES, ids=[p.name for p in VARS_FILES])
def test_every_object_key_is_one_the_dispatched_role_reads(path):
    for var, objects in load(path).items():
        assert var in OBJECT_FIELDS, (
            "%s: no object_fields for %s in tests/data/infra_aap_configuration_dispatch.yml" % (path.name, var))
        assert isinstance(objects, list) and objects, "%s: %s is not a list of objects" % (path.name, var)
        for item in objects:
            unknown = sorted(set(item) - OBJECT_FIELDS[var])
            assert not unknown, "%s: %s %r has keys the role never reads: %s" % (
                path.name, var, item.get("name"), unknown)
            assert item.get("name"), "%s: a %s item without a name" % (path.name, var)


def test_every_object_belongs_to_a_defined_organization():
    merged = {}
    for path in VARS_FILES:
        merged.update(load(path))
    organizations = {o["name"] for o in merged["aap_organizations"]}
    for var, objects in merged.items():
        for item in objects:
            if "organization" in item:
                assert item["organization"] in organizations, (var, item["name"], item["organization"])
