-- Compliance jobs walk a tenant's users in primary-key order (keyset pagination, one bounded
-- batch of users per transaction); the unique (tenantId, email) index cannot give that order.
CREATE INDEX "User_tenantId_id_idx" ON "User"("tenantId", "id");
