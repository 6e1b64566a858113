-- The dashboard's index of events holds outcomes only (confirmed, failed, cancelled), which is what
-- its series reads: the events of an order under way were two index entries of three an order.
DROP INDEX "order_events_at_idx";--> statement-breakpoint
CREATE INDEX "order_events_at_idx" ON "order_events" USING btree ("at") WHERE "order_events"."status" in ('confirmed', 'failed', 'cancelled');