# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Connection options shared by every skillforge.dataops database module."""

    DOCUMENTATION = r"""
options:
  dsn:
    description:
      - PostgreSQL connection URL (C(postgresql://user:password@host:port/database)) or libpq
        key=value string. Prisma-style URLs are accepted as the application uses them; the
        C(schema) query parameter becomes the search path and other Prisma-only parameters
        (C(connection_limit), C(pool_timeout), C(pgbouncer), ...) are ignored.
      - When not set, the URL is taken from the first of these environment variables that is set
        on the managed host - C(SKILLFORGE_<ENV>_DATABASE_URL) (for example
        C(SKILLFORGE_STAGING_DATABASE_URL) with O(env=staging)), C(DATABASE_URL),
        C(SKILLFORGE_DATABASE_URL) - and, for O(env=local) only, from the development fallback
        C(postgresql://postgres:postgres@localhost:5432/skillforge).
      - The password never appears in results, messages or logs.
    type: str
  env:
    description:
      - The SkillForge environment, such as V(local), V(ci), V(staging) or V(production). It selects
        the C(SKILLFORGE_<ENV>_DATABASE_URL) variable; only V(local) may fall back to the localhost
        development database.
    type: str
  connect_timeout:
    description:
      - Seconds to wait for the database to accept the connection.
    type: int
    default: 10
requirements:
  - psycopg >= 3.1
notes:
  - Results carry a C(database) dictionary saying which source the URL came from, with the
    password redacted.
"""
