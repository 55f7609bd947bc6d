"""A compliance module that does not queue its job imports none of the queue code.

bullmq, redis, jsonschema and the collection's queue files were about a third of the CPU of a job
module run on an empty scope (docs/PERFORMANCE.md, "A compliance playbook's own overhead"), so
``_compliance.ansible_glue`` imports them only in its ``queue`` branch. A top-level import added
anywhere in the chain would bring the cost back silently: this checks the modules actually loaded,
in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PACKAGE = "ansible_collections.skillforge.dataops.plugins"
QUEUE_CODE = ("bullmq", "redis", "jsonschema", PACKAGE + ".module_utils._queue.", PACKAGE + ".module_utils._shared.redis_connection")
ALLOWED = {PACKAGE + ".module_utils._queue.options"}  # the options every compliance module takes: imports nothing


def loaded_queue_code(*modules: str) -> list:
    """The queue modules loaded once ``modules`` are imported, in a new interpreter with this one's path."""
    code = ("import importlib, json, sys\n"
            "for name in %r:\n    importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))\n" % (modules,))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
    completed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                               check=True)
    return [name for name in json.loads(completed.stdout)
            if name.startswith(QUEUE_CODE) and name not in ALLOWED]


@pytest.mark.parametrize("module", ["consent_revocation", "data_retention", "partner_segregation",
                                    "compliance_audit_info"])
def test_a_compliance_module_loads_no_queue_code(module):
    assert loaded_queue_code(PACKAGE + ".modules." + module) == []


def test_the_queue_branch_still_has_it():
    """What the queue branch imports does load the queue code (so the check above can fail)."""
    loaded = loaded_queue_code(PACKAGE + ".module_utils._queue.ansible_glue")
    assert "bullmq" in loaded and PACKAGE + ".module_utils._queue.jobs" in loaded
