-- The sweep's index holds the unfinished orders only (reserved, forwarding), by when they were last
-- touched: the sweep asks for those, oldest first. orders_status_idx held every order, a confirmed
-- one's entry written at its last update and read by nothing.
DROP INDEX "orders_status_idx";--> statement-breakpoint
CREATE INDEX "orders_unfinished_idx" ON "orders" USING btree ("updated_at") WHERE "orders"."status" in ('reserved', 'forwarding');