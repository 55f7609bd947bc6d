# -*- coding: utf-8 -*-
# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A run's receipt: what it changed and that it was verified, with no personal data, and how a
user id is shown to be covered by it. Pure functions: the definitions a data-protection officer
recomputes (docs/COMPLIANCE.md "Receipts") live here and nowhere else.

* The receipt (``ComplianceAuditLog."receipt"``, JSONB) holds counts and digests only:
  ``users`` (ids the run covered), ``tables`` (rows changed per table), ``verification`` (its
  result, the batches verified, the checks run, and on failure the table and column that still
  held rows) and ``digests_sha256``.
* Each covered user id has one membership digest (``"ComplianceErasureDigest"``):
  ``SHA-256(UTF-8(audit_id + "\\n" + user_id))``. Salted with the run's audit id, so the same user
  has unrelated digests in two runs and nobody can precompute a table of digests; whoever holds a
  user id can test it against a run (that is the point), nobody can list the ids from the digests.
* ``digests_sha256`` is the SHA-256 over the run's membership digests as lower-case hex, sorted,
  each followed by ``"\\n"`` (UTF-8): recomputable from the run's digest rows, or by anyone who holds
  the full list of ids the run covered, without knowing how the run split them into batches.
  It is set when the run ends (succeeded, failed or interrupted), over what committed.
"""

from __future__ import annotations

import hashlib

RECEIPT_FORMAT = 1
DIGEST_DEFINITION = "sha256(utf8(audit_id + LF + user_id))"


def membership_digest(audit_id: str, user_id: str) -> bytes:
    """The digest stored for one covered user id of one run."""
    return hashlib.sha256((audit_id + "\n" + user_id).encode("utf-8")).digest()


def digests_sha256(digests) -> str:
    """The receipt's ``digests_sha256`` over an iterable of membership digests (bytes, any order)."""
    lines = sorted(digest.hex() for digest in digests)
    return hashlib.sha256("".join(line + "\n" for line in lines).encode("ascii")).hexdigest()


class DigestHasher:
    """``digests_sha256`` over digests fed already sorted (a database cursor in index order)."""

    def __init__(self):
        self._hash = hashlib.sha256()

    def update(self, digest: bytes) -> None:
        self._hash.update((digest.hex() + "\n").encode("ascii"))

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def empty_receipt() -> dict:
    """The receipt of a run before its first batch."""
    return {"format": RECEIPT_FORMAT, "users": 0, "tables": {},
            "verification": {"result": "passed", "batches": 0, "checks": [], "enforced": []},
            "digest": DIGEST_DEFINITION, "digests_sha256": None}


def add_batch(receipt, users: int, tables: dict, checks: list, enforced=()) -> dict:
    """A new receipt: ``receipt`` (None: empty) plus one verified batch of ``users`` ids that
    changed ``tables`` rows (table name: count) and passed ``checks`` (their labels); ``enforced``:
    the postconditions PostgreSQL's foreign keys guaranteed (so they were not queried)."""
    receipt = dict(receipt or empty_receipt())
    totals = dict(receipt["tables"])
    for table, count in tables.items():
        totals[table] = totals.get(table, 0) + count
    verification = dict(receipt["verification"])
    verification.update(batches=verification["batches"] + 1,
                        checks=sorted(set(verification["checks"]) | set(checks)),
                        enforced=sorted(set(verification.get("enforced", ())) | set(enforced)))
    receipt.update(users=receipt["users"] + users, tables=totals, verification=verification)
    return receipt


def failed(receipt, label: str) -> dict:
    """A new receipt recording that a batch failed its verification at ``label`` (a table and
    column, or a step): that batch was rolled back, the receipt's counts are what committed."""
    receipt = dict(receipt or empty_receipt())
    receipt["verification"] = dict(receipt["verification"], result="failed", failed=label)
    return receipt


def sealed(receipt, digests_hash: str) -> dict:
    """The receipt as the run ends, with its ``digests_sha256``."""
    return dict(receipt or empty_receipt(), digests_sha256=digests_hash)
