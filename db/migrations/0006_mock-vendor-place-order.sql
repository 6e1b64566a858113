-- Moved to the mock vendor's own chain (db/mock-vendor/migrations): its place_order function.
-- Kept, doing nothing, so that the numbering and the record of the databases migrated before
-- the split stay as they were.
SELECT 1;
