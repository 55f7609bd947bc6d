# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Flyway's placeholder options, shared by migrate and migrate_info (a repeatable script's checksum
    depends on them, so both must see the same values)."""

    DOCUMENTATION = r"""
options:
  placeholders:
    description:
      - Flyway's placeholders (C(flyway.placeholders.<name>)) - C(${name}) in a script is replaced by its
        value before the script runs, so scripts written for Flyway run unchanged. Names are
        case-insensitive; an empty value removes the placeholder; a C(${name}) without a value fails
        before anything runs, naming it and its script.
      - The built-ins C(${flyway:defaultSchema}), C(${flyway:user}), C(${flyway:database}),
        C(${flyway:timestamp}), C(${flyway:filename}), C(${flyway:workingDirectory}), C(${flyway:table})
        and C(${flyway:environment}) (the O(env) option, else C(default)) are set from the session.
      - A versioned script's checksum is over its text as written; a repeatable script's over its text
        with the values, so a new value re-applies it - both as Flyway computes them.
      - The values are treated as secrets (never shown in the task's output or log).
    type: dict
    default: {}
  placeholder_replacement:
    description:
      - Replace placeholders at all (Flyway's C(placeholderReplacement), on by default). With V(false) a
        script's C(${...}) is passed to PostgreSQL unchanged.
    type: bool
    default: true
"""
