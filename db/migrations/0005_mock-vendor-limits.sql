-- Moved to the mock vendor's own chain (db/mock-vendor/migrations): the behaviour limits (max_concurrent, max_per_second).
-- Kept, doing nothing, so that the numbering and the record of the databases migrated before
-- the split stay as they were.
SELECT 1;
