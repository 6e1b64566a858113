-- Custom migration: the outbox holds only what is still to be published. A message's row is deleted
-- once the broker has confirmed it, instead of being kept with its `published_at` set: the table no
-- longer grows by a row per order for ever, and a publish costs a small DELETE record rather than a
-- new row version with an entry in each of the two indexes (the primary key and
-- outbox_unpublished_idx, which is dropped: every row left is unpublished, and the relay reads the
-- oldest by the primary key). Rows already published are deleted here.
-- mark_sent keeps its name and its rules (0022): found by the key, a row a relay run holds left to it.
DELETE FROM outbox WHERE published_at IS NOT NULL;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION mark_sent(ids bigint[]) RETURNS void
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
BEGIN
  DELETE FROM outbox
  WHERE id = ANY(ARRAY(SELECT id FROM outbox WHERE id = ANY(ids) FOR UPDATE SKIP LOCKED));
END
$$;
--> statement-breakpoint
DROP INDEX "outbox_unpublished_idx";
--> statement-breakpoint
ALTER TABLE "outbox" DROP COLUMN "published_at";
