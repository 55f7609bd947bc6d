# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place optional Python packages are imported and their absence recorded.

Private to this collection: nothing under ``plugins/module_utils/_*`` is an API for other
collections, and any of it may change in any release.

Each module imports what it needs inside ``declare``, as community.general's ``deps`` does::

    with declare("psycopg"):
        import psycopg

A missing package does not break the import (``ansible-doc``, ansible-test's import test and the
modules' own failure need the file to load); it is recorded, and the Ansible side
(``_shared.ansible_glue.require``) or the worker's entry point reports every missing package in one
line before anything runs. Code that uses a name at import time (a base class, an ``except``
clause) gives it a stand-in before the ``with``.
"""

from __future__ import annotations

from contextlib import contextmanager

# What to install, as pip and missing_required_lib() name it.
PACKAGES = {
    "psycopg": "psycopg (version 3)",
    "redis": "redis",
    "bullmq": "bullmq",
    "jsonschema": "jsonschema",
}

_FAILED: dict = {}


@contextmanager
def declare(package: str):
    """Import a package of ``PACKAGES`` in the ``with`` block; an ImportError is recorded, not raised."""
    if package not in PACKAGES:
        raise KeyError("undeclared optional package %r" % package)
    try:
        yield
    except ImportError as error:
        _FAILED.setdefault(package, error)


def missing(*packages: str) -> list:
    """Of ``packages`` (all declared ones if none is named), those whose import failed, in order."""
    return [package for package in (packages or tuple(PACKAGES)) if package in _FAILED]


def import_error(package: str):
    """The ImportError recorded for ``package``, or None."""
    return _FAILED.get(package)


def describe(packages: list) -> str:
    """``missing()``'s result as missing_required_lib() and the worker name it: one phrase."""
    return " and ".join(PACKAGES[package] for package in packages)
