-- A compliance run's receipt (plugins/module_utils/_compliance/receipt.py, docs/COMPLIANCE.md
-- "Receipts"): counts per table, the result of the per-batch verification and a SHA-256 over the
-- run's membership digests; no personal data. NULL on rows written before this column existed.
ALTER TABLE "ComplianceAuditLog" ADD COLUMN "receipt" JSONB;

-- One row per user id a run covered: sha256(UTF-8(auditId || LF || userId)), salted by the run, so
-- a data-protection officer holding a user id can show the run covered it; the ids themselves are
-- not stored. Written in each batch's transaction, after the run's audit row. No foreign key to
-- "ComplianceAuditLog": its per-row check cost a purge batch of 20,000 users as much as the rest of
-- the verification; delete a run's digests with its audit row.
CREATE TABLE "ComplianceErasureDigest" (
    "auditId" TEXT NOT NULL,
    "digest" BYTEA NOT NULL,

    CONSTRAINT "ComplianceErasureDigest_pkey" PRIMARY KEY ("auditId", "digest")
);
