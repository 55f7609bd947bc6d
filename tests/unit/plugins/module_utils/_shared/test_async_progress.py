"""Finding an async task's status file and putting progress in it (_shared/async_progress.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from ansible_collections.skillforge.dataops.plugins.module_utils._shared.async_progress import (
    AsyncProgress,
    async_jid,
    status_file,
)


def test_the_jid_comes_from_an_async_wrapper_command_line(tmp_path):
    wrapper = tmp_path / "async_wrapper.py"
    wrapper.write_text("import time\ntime.sleep(30)\n", encoding="utf-8")
    process = subprocess.Popen([sys.executable, str(wrapper), "j250743272770", "120", "/tmp/AnsiballZ_x.py"])
    try:
        deadline = time.monotonic() + 10
        while async_jid([process.pid]) is None and time.monotonic() < deadline:
            time.sleep(0.05)  # until the interpreter has exec'd
        assert async_jid([process.pid]) == "j250743272770"
    finally:
        process.kill()
        process.wait()
    assert async_jid([1]) is None  # init is no async_wrapper
    assert async_jid() is None  # pytest is not run by one


def test_the_status_file_is_the_one_file_of_the_jid(tmp_path):
    (tmp_path / "j12.300").write_text("{}")
    (tmp_path / "j123.301").write_text("{}")  # another job whose jid starts alike
    (tmp_path / "j12.300.tmp").write_text("{}")
    assert status_file("j12", str(tmp_path)) == str(tmp_path / "j12.300")
    (tmp_path / "j12.302").write_text("{}")
    assert status_file("j12", str(tmp_path)) is None  # two candidates: write nowhere
    assert status_file(None, str(tmp_path)) is None
    assert status_file("j12", str(tmp_path / "missing")) is None


def test_report_replaces_the_file_with_the_running_keys_and_the_progress(tmp_path):
    path = tmp_path / "j7.42"
    path.write_text(json.dumps({"started": True, "finished": False, "ansible_job_id": "j7.42"}))
    AsyncProgress(str(path)).report({"batches": 3})
    assert json.loads(path.read_text()) == {"started": True, "finished": False, "ansible_job_id": "j7.42",
                                            "progress": {"batches": 3}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j7.42"]  # no temporary file left
    AsyncProgress(str(tmp_path / "gone" / "j7.42")).report({"batches": 4})  # cannot write: ignored
    assert not AsyncProgress(find=False).active
