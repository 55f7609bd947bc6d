# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the get-pip script that ansible-test runs to put pip into its empty virtualenvs.

ansible-test (``_util/target/setup/requirements.py``, ``bootstrap()``) downloads
``get-pip-<version>.py`` from its own file server unless ``~/.ansible/test/cache/get_pip_<v_e_r>.py``
exists; this machine reaches package indexes only, so ``scripts/ansible_test_offline.py`` copies this
file there, next to the pip wheel of that version fetched with ``pip download``.

It honours the contract of the real script: ansible-test runs it through ``quiet_pip.py`` (via
``runpy``, with this file's directory first on ``sys.path``) with the venv's interpreter and the
arguments ``--disable-pip-version-check pip==<version> --no-setuptools --no-wheel``; like get-pip it
runs pip from the wheel itself (a wheel is an importable zip) as
``pip install --upgrade --force-reinstall <arguments> pip [setuptools] [wheel]``.
"""

from __future__ import annotations

import glob
import os
import re
import sys


def pip_version(script_path):
    """Return the pip version this copy stands for, from its name ``get_pip_24_2.py``."""
    name = os.path.splitext(os.path.basename(script_path))[0]
    match = re.match(r"^get_pip_(\d+(?:_\d+)*)$", name)
    if not match:
        raise SystemExit("offline get-pip: cannot tell the pip version from the file name %r" % name)
    return match.group(1).replace("_", ".")


def find_wheel(directory, version):
    """Return the path of the pip wheel of that version saved beside this script."""
    wheels = sorted(glob.glob(os.path.join(directory, "pip-%s-*.whl" % version)))
    if not wheels:
        raise SystemExit(
            "offline get-pip: no pip-%s wheel in %s; run scripts/ansible_test_offline.py" % (version, directory)
        )
    return wheels[0]


def is_importable(module_name):
    """Return True if the running interpreter can import the named module."""
    try:
        __import__(module_name)
    except ImportError:
        return False
    return True


def install_arguments(argv, environ, wheel_directory):
    """Build pip's argument list the way get-pip does, preferring the local wheel over the index."""
    args = [arg for arg in argv if arg not in ("--no-setuptools", "--no-wheel")]
    extras = []
    if "--no-setuptools" not in argv and not environ.get("PIP_NO_SETUPTOOLS") and not is_importable("setuptools"):
        extras.append("setuptools")
    if "--no-wheel" not in argv and not environ.get("PIP_NO_WHEEL") and not is_importable("wheel"):
        extras.append("wheel")
    # pip alone comes from the saved wheel without asking any index; setuptools or wheel, which
    # ansible-test never asks for, come from the configured index as get-pip would fetch them.
    source = ["--find-links", wheel_directory] + ([] if extras else ["--no-index"])
    return ["install", "--upgrade", "--force-reinstall"] + source + args + ["pip"] + extras


def main():
    """Install pip into the running interpreter's environment from the saved wheel."""
    directory = os.path.dirname(os.path.abspath(__file__))
    wheel = find_wheel(directory, pip_version(__file__))
    sys.path.insert(0, wheel)

    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel

    sys.exit(pip_main(install_arguments(sys.argv[1:], os.environ, directory)))


if __name__ == "__main__":
    main()
