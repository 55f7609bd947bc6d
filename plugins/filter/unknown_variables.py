# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: unknown_variables
short_description: Name the variables a role does not know, with what was probably meant
version_added: 0.2.0
author: SkillForge Data Operations (@skillforge)
description:
  - Given the names of the variables that start with a role's prefix (for example from
    C(query('ansible.builtin.varnames', '^compliance_'))), returns one message for each name the
    role does not know, saying which variable was probably meant.
  - A misspelt C(-e compliance_dryrun=true) would otherwise be ignored in silence; the roles of this
    collection fail on these messages before they touch anything.
options:
  _input:
    description: The variable names to check.
    type: list
    elements: str
    required: true
  known:
    description: The variable names the role takes or sets (its argument spec's options and its outputs).
    type: list
    elements: str
    required: true
  renamed:
    description: Old or other names mapped to the variable that replaced them.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Refuse unknown compliance_* variables
  ansible.builtin.assert:
    that: compliance_unknown_variables | length == 0
    fail_msg: "{{ compliance_unknown_variables | join('; ') }}"
  vars:
    compliance_unknown_variables: >-
      {{ query('ansible.builtin.varnames', '^compliance_')
         | skillforge.dataops.unknown_variables(['compliance_job', 'compliance_tenant'],
                                                {'compliance_dsn': 'skillforge_database_url'}) }}
"""

RETURN = r"""
_value:
  description:
    - "One message per unknown name, sorted, such as
      C(unknown variable compliance_dryrun: did you mean compliance_dry_run?); empty when every
      name is known."
  type: list
  elements: str
"""

import difflib
import os.path


def unknown_variables(names, known, renamed=None):
    """Messages for the names in ``names`` that are neither ``known`` nor ``renamed``'s old names."""
    known, renamed = set(known), dict(renamed or {})
    messages = []
    for name in sorted(set(names) - known):
        if name in renamed:
            hint = "it is %s now" % renamed[name]
        else:
            # Compare what follows the shared prefix: every candidate starts with "compliance_".
            prefix = len(os.path.commonprefix(sorted(known) + [name]))
            by_rest = {candidate[prefix:]: candidate for candidate in sorted(known)}
            close = difflib.get_close_matches(name[prefix:], list(by_rest), n=1, cutoff=0.6)
            hint = ("did you mean %s?" % by_rest[close[0]] if close
                    else "known: %s" % ", ".join(sorted(known)))
        messages.append("unknown variable %s: %s" % (name, hint))
    return messages


class FilterModule:
    def filters(self):
        return {"unknown_variables": unknown_variables}
