"""Every module's documentation holds up against its code: each task in EXAMPLES passes the module's
own argument validation (option names, required options, types, choices, required_if and the
like), and every dict or list in RETURN says what it holds (``contains`` or a ``sample``).

The argument spec is the one ``main()`` gives ``AnsibleModule``: the test runs ``main()`` with an
``AnsibleModule`` that records its arguments and stops, so nothing connects anywhere."""

from __future__ import annotations

import importlib
import pkgutil

import jinja2
import jinja2.meta
import pytest
import yaml
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.skillforge.dataops.plugins import modules as modules_package

COLLECTION = "skillforge.dataops"
MODULE_NAMES = sorted(info.name for info in pkgutil.iter_modules(modules_package.__path__))
# AnsibleModule keyword arguments that ArgumentSpecValidator checks as well.
VALIDATOR_KWARGS = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")
# Stand-ins for a Jinja-templated value, which only has its type at run time.
TEMPLATED_STAND_IN = {"str": "x", "path": "/x", "raw": "x", "int": 1, "float": 1.0, "bool": True,
                      "list": ["x"], "dict": {}, "jsonarg": "{}", "json": "{}", "bytes": "1", "bits": "1"}


class _Recorded(Exception):
    def __init__(self, kwargs):
        super().__init__("AnsibleModule called")
        self.kwargs = kwargs


def module_named(name: str):
    return importlib.import_module("%s.%s" % (modules_package.__name__, name))


def ansible_module_kwargs(name: str, monkeypatch) -> dict:
    """The keyword arguments the module's main() passes to AnsibleModule."""
    def record(self, *args, **kwargs):  # pylint: disable=unused-argument
        assert not args, "AnsibleModule is called with keyword arguments"
        raise _Recorded(kwargs)

    monkeypatch.setattr(AnsibleModule, "__init__", record)
    with pytest.raises(_Recorded) as recorded:
        module_named(name).main()
    return recorded.value.kwargs


def example_tasks(name: str) -> list:
    """The EXAMPLES tasks that call this module, as (task name, arguments)."""
    tasks = yaml.safe_load(module_named(name).EXAMPLES)
    assert isinstance(tasks, list) and tasks, "%s: EXAMPLES is not a list of tasks" % name
    calls = []
    for task in tasks:
        for key in (COLLECTION + "." + name, name):
            if key in task:
                calls.append((task.get("name", "(unnamed)"), task[key]))
    assert calls, "%s: no EXAMPLES task calls the module" % name
    return calls


def untemplated(args: dict, spec: dict) -> dict:
    """``args`` with each Jinja-templated value replaced by a value of the option's type (or its first
    choice): what the arguments look like after templating, as far as validation can know."""
    result = {}
    for option, value in args.items():
        if isinstance(value, str) and "{{" in value and option in spec:
            choices = spec[option].get("choices")
            value = choices[0] if choices else TEMPLATED_STAND_IN[spec[option].get("type", "str")]
        result[option] = value
    return result


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_every_example_task_passes_the_module_argument_validation(name, monkeypatch):
    kwargs = ansible_module_kwargs(name, monkeypatch)
    spec = kwargs["argument_spec"]
    validator = ArgumentSpecValidator(spec, **{k: kwargs[k] for k in VALIDATOR_KWARGS if k in kwargs})
    problems = []
    for task_name, args in example_tasks(name):
        assert isinstance(args, dict), "%s / %s: arguments are not a mapping" % (name, task_name)
        result = validator.validate(untemplated(args, spec))
        problems.extend("%s: %s" % (task_name, message) for message in result.error_messages)
    assert problems == [], "%s EXAMPLES:\n%s" % (name, "\n".join(problems))


# Variables a play always has (role_path is not one: it exists only inside a role), and Jinja globals.
PLAY_VARIABLES = {"playbook_dir", "inventory_dir", "inventory_hostname", "hostvars", "groups", "omit",
                  "ansible_check_mode", "ansible_diff_mode", "lookup", "query", "q", "now", "range"}
CONDITIONAL_KEYWORDS = ("when", "failed_when", "changed_when", "until")


def templated_strings(value):
    if isinstance(value, str):
        if "{{" in value or "{%" in value:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from templated_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from templated_strings(item)


def conditions_of(task: dict) -> list:
    """The task's conditionals (bare Jinja expressions) as templates."""
    conditions = []
    for key in CONDITIONAL_KEYWORDS:
        value = task.get(key, [])
        conditions.extend("{{ %s }}" % c for c in (value if isinstance(value, list) else [value]) if isinstance(c, str))
    return conditions


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_example_templates_use_only_variables_the_examples_define(name):
    """An example that reads ``purge.summary`` needs a task registering ``purge`` before it; one that
    reads ``role_path`` only works inside a role."""
    environment = jinja2.Environment()
    registered = set()
    problems = []
    for task in yaml.safe_load(module_named(name).EXAMPLES):
        known = PLAY_VARIABLES | registered | ({"item"} if "loop" in task else set())
        arguments = [template for key, value in task.items() if key not in CONDITIONAL_KEYWORDS
                     for template in templated_strings(value)]
        # A task's conditionals also see what it registers itself.
        checks = [(t, known) for t in arguments] + [(t, known | {task.get("register")}) for t in conditions_of(task)]
        for template, defined in checks:
            undeclared = jinja2.meta.find_undeclared_variables(environment.parse(template))
            problems.extend("%s: %s is undefined in %r" % (task.get("name"), variable, template)
                            for variable in sorted(undeclared - defined))
        if "register" in task:
            registered.add(task["register"])
    assert problems == [], "%s EXAMPLES:\n%s" % (name, "\n".join(problems))


def return_values_without_contents(values: dict, path: str = "") -> list:
    """Dict and list RETURN values, at any depth, that have neither ``contains`` nor ``sample``."""
    missing = []
    for key, value in (values or {}).items():
        where = path + key
        if value.get("type") in ("dict", "list") and "contains" not in value and "sample" not in value:
            missing.append(where)
        missing.extend(return_values_without_contents(value.get("contains"), where + "."))
    return missing


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_every_dict_or_list_return_value_says_what_it_holds(name):
    returns = yaml.safe_load(module_named(name).RETURN)
    assert return_values_without_contents(returns) == []


def documented_attributes(name: str) -> dict:
    """The module's ``attributes``, with those of the doc fragments it extends."""
    documentation = yaml.safe_load(module_named(name).DOCUMENTATION)
    attributes = {}
    for fragment in documentation.get("extends_documentation_fragment", []):
        # skillforge.dataops.<file>[.<variable>]: the variable defaults to DOCUMENTATION.
        namespace, collection, file_name, *variable = fragment.split(".")
        assert (namespace, collection) == ("skillforge", "dataops"), fragment
        module = importlib.import_module("ansible_collections.skillforge.dataops.plugins.doc_fragments." + file_name)
        text = getattr(module.ModuleDocFragment, (variable or ["documentation"])[0].upper())
        attributes.update(yaml.safe_load(text).get("attributes") or {})
    attributes.update(documentation.get("attributes") or {})
    return attributes


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_every_module_says_how_it_supports_check_and_diff_mode(name):
    attributes = documented_attributes(name)
    for attribute in ("check_mode", "diff_mode"):
        assert attributes.get(attribute, {}).get("support") in ("full", "partial", "none"), (name, attribute)
        assert attributes[attribute].get("description"), (name, attribute)


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_documentation_has_no_placeholder_address(name):
    module = module_named(name)
    for text in (module.DOCUMENTATION, module.EXAMPLES, module.RETURN):
        assert "example.invalid" not in text
