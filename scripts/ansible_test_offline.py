# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prepare ansible-test's cache so it never needs a download outside the package index.

ansible-test bootstraps pip into each sanity virtualenv with a get-pip script it downloads from its
own file server, unless ``~/.ansible/test/cache/get_pip_<version>.py`` already exists. This puts
``scripts/get_pip_offline.py`` there together with the pip wheel it installs, fetched with
``pip download`` from the configured index. Idempotent; a real get-pip script found there is kept.

Run it with the interpreter of the virtualenv that has ansible-core installed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import types

CACHE_DIRECTORY = os.path.expanduser("~/.ansible/test/cache")
STAND_IN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "get_pip_offline.py")
STAND_IN_MARKER = "Stand-in for the get-pip script"


def wanted_pip_versions(python_versions):
    """Return the pip versions ansible-test bootstraps into virtualenvs of these Python versions."""
    try:
        from ansible_test._internal.python_requirements import get_venv_packages  # pylint: disable=import-outside-toplevel
    except ImportError as ex:
        raise SystemExit("ansible_test_offline: ansible-test is not importable here (%s); use the venv's python" % ex)
    return sorted({get_venv_packages(types.SimpleNamespace(version=version))["pip"] for version in python_versions})


def ensure_wheel(version, cache_directory):
    """Download the pip wheel of that version into the cache unless it is there already."""
    pattern = re.compile(r"^pip-%s-.*\.whl$" % re.escape(version))
    if any(pattern.match(name) for name in os.listdir(cache_directory)):
        return "kept"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--only-binary=:all:", "--dest", cache_directory, "pip==%s" % version],
        check=True,
    )
    return "downloaded"


def ensure_bootstrap_script(version, cache_directory):
    """Install the stand-in as ansible-test's cached get-pip script for that pip version."""
    target = os.path.join(cache_directory, "get_pip_%s.py" % version.replace(".", "_"))
    if os.path.exists(target):
        with open(target, encoding="utf-8", errors="replace") as existing:
            if STAND_IN_MARKER not in existing.read():
                return "kept (not ours)"
        with open(target, "rb") as existing, open(STAND_IN, "rb") as wanted:
            if existing.read() == wanted.read():
                return "kept"
    temporary = target + ".tmp"
    shutil.copyfile(STAND_IN, temporary)
    os.replace(temporary, target)
    return "written"


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--python", action="append", dest="python_versions", metavar="X.Y",
        help="Python version ansible-test will use (repeatable; default: this interpreter's)",
    )
    parser.add_argument("--cache", default=CACHE_DIRECTORY, help="ansible-test cache directory (default: %(default)s)")
    options = parser.parse_args(argv)
    python_versions = options.python_versions or ["%d.%d" % sys.version_info[:2]]

    os.makedirs(options.cache, exist_ok=True)
    for version in wanted_pip_versions(python_versions):
        wheel = ensure_wheel(version, options.cache)
        script = ensure_bootstrap_script(version, options.cache)
        print("ansible-test offline: pip %s wheel %s, bootstrap script %s (%s)" % (version, wheel, script, options.cache))


if __name__ == "__main__":
    main()
