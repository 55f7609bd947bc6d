"""Run many module inputs in one Python process: each module's own ``main()`` with the input as
its arguments (``ansible.module_utils.testing.patch_module_args``), its JSON result captured.

The module code is exactly what Ansible runs, without starting an interpreter per input, so every
input of tests/adversarial/cases.py can go through its module in a few seconds. Each input is
bounded by an alarm: one that hangs is reported, not waited for.

    python run_in_process.py inputs.json results.json
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import signal
import sys
import time
import traceback


class Hung(Exception):
    pass


def _alarm(signum, frame):
    raise Hung()


def run_one(module_name: str, args: dict, limit: int) -> dict:
    from ansible.module_utils.testing import patch_module_args

    module = importlib.import_module("ansible_collections.skillforge.dataops.plugins.modules.%s" % module_name)
    output = io.StringIO()
    started = time.monotonic()
    signal.alarm(limit)
    try:
        with patch_module_args(args), contextlib.redirect_stdout(output):
            module.main()
        result = {"failed": True, "msg": "the module returned without exit_json or fail_json"}
    except SystemExit:
        text = output.getvalue().strip()
        try:
            result = json.loads(text.splitlines()[-1]) if text else {"failed": True, "msg": "no output"}
        except ValueError:
            result = {"failed": True, "msg": "MODULE FAILURE: not JSON", "module_stdout": text[-2000:]}
    except Hung:
        result = {"failed": True, "msg": "MODULE FAILURE: no answer within %d s" % limit}
    except BaseException:  # pylint: disable=broad-except  # what Ansible would show as MODULE FAILURE
        result = {"failed": True, "msg": "MODULE FAILURE", "module_stderr": traceback.format_exc()}
    finally:
        signal.alarm(0)
    return {"res": result, "duration": time.monotonic() - started}


def main() -> None:
    inputs = json.loads(open(sys.argv[1], encoding="utf-8").read())
    signal.signal(signal.SIGALRM, _alarm)
    results = {}
    for item in inputs:
        args = dict(item["args"], _ansible_check_mode=item["check"], _ansible_diff=item["diff"])
        results[item["id"]] = run_one(item["module"], args, item["limit"])
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main()
