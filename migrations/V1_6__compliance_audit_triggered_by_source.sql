-- Where a compliance run's "triggeredBy" came from (plugins/module_utils/_compliance/job.py,
-- TRIGGERED_BY_SOURCES): 'option' (given by the operator), 'awx' (the AWX user who launched the
-- job), 'producer' (the queued job's triggeredBy), 'queue' (a queued job that named nobody) or
-- 'os-user' (the OS user and host that ran it). NULL on rows written before this column existed,
-- when triggeredBy was always given explicitly.
ALTER TABLE "ComplianceAuditLog" ADD COLUMN "triggeredBySource" TEXT;
