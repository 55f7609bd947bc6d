-- How a compliance run was paced (plugins/module_utils/_compliance/audit.py, docs/COMPLIANCE.md):
-- {"parallel": sessions the batches ran on, "pauses": {"count", "seconds"} of its waits for replica
-- lag}, kept up to date with every batch. NULL on rows written before this column existed.
ALTER TABLE "ComplianceAuditLog" ADD COLUMN "pacing" JSONB;
