# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Create or drop the throwaway database of one Molecule scenario.

    throwaway_database.py create URL_FILE NAME   # (re)create database NAME, write its URL to URL_FILE
    throwaway_database.py drop URL_FILE          # drop the database URL_FILE names, remove URL_FILE

The server is the one the test suite uses: SKILLFORGE_TEST_ADMIN_URL, by default the local PostgreSQL as
``postgres``. Prints ``created`` / ``dropped`` / ``absent`` (the create and destroy playbooks read it).
"""

from __future__ import annotations

import os
import sys

import psycopg
from psycopg import sql

ADMIN_URL = os.environ.get("SKILLFORGE_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def drop(conn, name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def main(argv: list[str]) -> int:
    action, url_file = argv[1], argv[2]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        if action == "create":
            name = argv[3]
            drop(conn, name)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            with open(url_file, "w", encoding="utf-8") as stream:
                stream.write(psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name))
            print("created")
        elif action == "drop":
            if not os.path.exists(url_file):
                print("absent")
                return 0
            with open(url_file, encoding="utf-8") as stream:
                name = psycopg.conninfo.conninfo_to_dict(stream.read())["dbname"]
            drop(conn, name)
            os.remove(url_file)
            print("dropped")
        else:
            print("unknown action %r" % action, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
