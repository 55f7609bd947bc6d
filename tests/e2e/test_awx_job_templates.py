"""The controller configuration in awx/ (infra.aap_configuration vars files) is consistent with the
collection: every survey variable is one the playbook's roles accept (name, type, choices), every answer
a survey can give passes the role's own argument validation, and every name a template refers to exists."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

REPO_ROOT = Path(__file__).resolve().parents[2]
AWX_DIR = REPO_ROOT / "awx"


class ControllerVarsLoader(yaml.SafeLoader):
    """YAML as Ansible reads these files: ``!unsafe`` marks a string Ansible must not template."""


ControllerVarsLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


# The infra.aap_configuration vars files: every awx/*.yml but ansible-builder's execution environment
# definition. docs/OPERATIONS.md loads them with include_vars' files_matching, this same pattern.
CONTROLLER_VARS_FILE = re.compile(r"^(aap|controller)_.*\.yml$")


def controller_vars_files() -> list[Path]:
    return sorted(path for path in AWX_DIR.glob("*.yml") if CONTROLLER_VARS_FILE.match(path.name))


def load_controller_vars() -> dict:
    merged = {}
    for path in controller_vars_files():
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=ControllerVarsLoader)  # noqa: S506
        assert not set(data) & set(merged), "%s redefines %s" % (path.name, set(data) & set(merged))
        merged.update(data)
    return merged


CONTROLLER = load_controller_vars()
TEMPLATES = CONTROLLER["controller_templates"]
SURVEYED = [t for t in TEMPLATES if t.get("survey_enabled")]

# What AWX passes for each survey question type, and the argument spec types that accept it.
COMPATIBLE_TYPES = {
    "text": {"str", "raw", "list", "path"},        # a list option splits a text answer on commas
    "textarea": {"str", "raw", "path"},
    "password": {"str", "raw"},
    "integer": {"int", "float", "raw"},
    "float": {"float", "raw"},
    "multiplechoice": {"str", "raw", "bool"},
    "multiselect": {"list"},
}
SAMPLE_TEXT = {"compliance_user": "3f2c8a1e-user-1,3f2c8a1e-user-2", "compliance_before": "2024-01-31T00:00:00Z",
               "onet_seed_release_date": "2024-08-01", "onet_seed_onet_text_dir": "/srv/onet/db_29_0_text"}


def role_options(playbook: str) -> dict:
    """The merged ``main`` argument spec options of every role the playbook applies."""
    plays = yaml.safe_load((REPO_ROOT / playbook).read_text(encoding="utf-8"))
    options = {}
    for play in plays:
        for role in play.get("roles", []):
            name = role["role"] if isinstance(role, dict) else role
            short = name.rsplit(".", 1)[-1]
            specs = yaml.safe_load((REPO_ROOT / "roles" / short / "meta" / "argument_specs.yml").read_text("utf-8"))
            options.update(specs["argument_specs"]["main"]["options"])
    return options


def choices_of(question) -> list:
    choices = question.get("choices") or []
    return choices.splitlines() if isinstance(choices, str) else list(choices)


def test_every_survey_variable_is_a_role_option_of_a_compatible_type():
    assert SURVEYED, "no job template has a survey"
    for template in SURVEYED:
        options = role_options(template["playbook"])
        assert options, "%s: playbook %s applies no role with an argument spec" % (
            template["name"], template["playbook"])
        for question in template["survey_spec"]["spec"]:
            variable, kind = question["variable"], question["type"]
            where = "%s / %s" % (template["name"], variable)
            assert variable in options, "%s: not an option of the playbook's roles" % where
            option = options[variable]
            option_type = option.get("type", "str")
            assert option_type in COMPATIBLE_TYPES[kind], "%s: survey %s for option type %s" % (
                where, kind, option_type)
            if option.get("choices"):
                assert set(choices_of(question)) <= {str(c) for c in option["choices"]}, where
            if option_type == "bool":
                assert kind == "multiplechoice" and set(choices_of(question)) <= {"yes", "no", "true", "false"}, where
            if "default" in question:
                assert question["default"] in choices_of(question) or kind not in ("multiplechoice",), where


def test_required_role_options_are_required_survey_questions():
    for template in SURVEYED:
        options = role_options(template["playbook"])
        questions = {q["variable"]: q for q in template["survey_spec"]["spec"]}
        for name, option in options.items():
            if name == "skillforge_env":  # set by the inventory the template's AWX inventory is synced from
                assert inventory_env(template["inventory"]) in ("staging", "production"), template["name"]
            elif option.get("required"):
                assert name in questions and questions[name]["required"], "%s: %s is required by the role" % (
                    template["name"], name)


def survey_answers(template):
    """Every answer combination of the survey's choice questions, with sample text for the rest,
    shaped as AWX sends them (blank optional questions are left out)."""
    questions = template["survey_spec"]["spec"]
    choice_questions = [q for q in questions if q["type"] in ("multiplechoice", "multiselect")]
    fixed = {}
    for question in questions:
        if question["type"] in ("text", "textarea", "password"):
            fixed[question["variable"]] = SAMPLE_TEXT.get(question["variable"], "sample-%s" % question["variable"])
        elif question["type"] == "integer":
            fixed[question["variable"]] = question.get("min") or 1
    for combination in itertools.product(*(choices_of(q) for q in choice_questions)):
        answers = dict(fixed)
        for question, choice in zip(choice_questions, combination):
            answers[question["variable"]] = [choice] if question["type"] == "multiselect" else choice
        yield answers


@pytest.mark.parametrize("template", SURVEYED, ids=[t["name"] for t in SURVEYED])
def test_survey_answers_pass_the_role_argument_validation(template):
    validator = ArgumentSpecValidator(role_options(template["playbook"]))
    for answers in survey_answers(template):
        result = validator.validate(dict(answers, skillforge_env=inventory_env(template["inventory"])))
        assert result.error_messages == [], (answers, result.error_messages)
        for variable, value in result.validated_parameters.items():
            if variable in answers and isinstance(value, bool):
                assert value is (answers[variable] in ("yes", "true"))


def test_compliance_survey_answers_become_the_role_types():
    [template] = [t for t in SURVEYED if t["playbook"] == "playbooks/compliance.yml"][:1]
    answers = next(a for a in survey_answers(template) if a["compliance_execute"] == "yes")
    validated = ArgumentSpecValidator(role_options(template["playbook"])).validate(answers).validated_parameters
    assert validated["compliance_execute"] is True
    assert validated["compliance_user"] == ["3f2c8a1e-user-1", "3f2c8a1e-user-2"]


def test_compliance_survey_covers_the_operator_questions():
    for template in (t for t in TEMPLATES if t["playbook"] == "playbooks/compliance.yml"):
        variables = {q["variable"] for q in template["survey_spec"]["spec"]}
        assert variables >= {"compliance_job", "compliance_tenant", "compliance_user", "compliance_before",
                             "compliance_reason", "compliance_triggered_by", "compliance_execute"}
        execute = next(q for q in template["survey_spec"]["spec"] if q["variable"] == "compliance_execute")
        assert execute["default"] == "no"  # a launch that changes nothing unless someone says so


def test_templates_refer_to_existing_objects():
    names = {key: {item["name"] for item in CONTROLLER[key]} for key in (
        "controller_projects", "controller_inventories", "controller_execution_environments",
        "controller_credentials", "controller_credential_types", "aap_organizations")}
    for template in TEMPLATES:
        assert template["project"] in names["controller_projects"]
        assert template["inventory"] in names["controller_inventories"]
        assert template["execution_environment"] in names["controller_execution_environments"]
        assert template["organization"] in names["aap_organizations"]
        assert set(template["credentials"]) <= names["controller_credentials"]
        assert "SkillForge audit log" in template["credentials"]
        assert (REPO_ROOT / template["playbook"]).is_file(), template["playbook"]
    for credential in CONTROLLER["controller_credentials"]:
        assert credential["credential_type"] in names["controller_credential_types"]
    for source in CONTROLLER["controller_inventory_sources"]:
        assert source["inventory"] in names["controller_inventories"]
        assert (REPO_ROOT / source["source_path"]).is_file(), source["source_path"]


def inventory_env(inventory_name: str) -> str:
    """skillforge_env of the repository inventory an AWX inventory is synced from."""
    [source] = [s for s in CONTROLLER["controller_inventory_sources"] if s["inventory"] == inventory_name]
    group_vars = REPO_ROOT / Path(source["source_path"]).parent / "group_vars" / "all.yml"
    return yaml.safe_load(group_vars.read_text(encoding="utf-8"))["skillforge_env"]


def test_connection_credentials_inject_the_variables_of_the_template_environment():
    types = {t["name"]: t for t in CONTROLLER["controller_credential_types"]}
    credentials = {c["name"]: c for c in CONTROLLER["controller_credentials"]}
    for template in TEMPLATES:
        env = inventory_env(template["inventory"]).upper()
        injected = {}
        for name in template["credentials"]:
            credential_type = types[credentials[name]["credential_type"]]
            injected.update(credential_type["injectors"]["env"])
            secret_fields = {f["id"] for f in credential_type["inputs"]["fields"] if f.get("secret")}
            for variable, value in credential_type["injectors"]["env"].items():
                if variable.endswith("_URL"):  # connection URLs carry passwords: only from secret fields
                    assert value.strip("{} ") in secret_fields, (template["name"], variable)
                if variable.endswith("_QUEUE_SIGNING_KEY"):  # a secret too
                    assert value.strip("{} ").split(" |")[0] in secret_fields, (template["name"], variable)
        assert "SKILLFORGE_%s_DATABASE_URL" % env in injected, template["name"]
        assert "SKILLFORGE_%s_REDIS_URL" % env in injected, template["name"]
        assert "SKILLFORGE_%s_QUEUE_SIGNING_KEY" % env in injected, template["name"]
        assert "SKILLFORGE_AUDIT_LOG" in injected
        other_envs = {v for v in injected if v.startswith("SKILLFORGE_") and v.endswith("_DATABASE_URL")}
        assert other_envs == {"SKILLFORGE_%s_DATABASE_URL" % env}, template["name"]
