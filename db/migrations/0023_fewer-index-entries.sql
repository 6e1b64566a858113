-- Fewer index entries written per order.
-- order_events is keyed by (order_id, id), the index its only reader (an order's history) uses, in
-- place of a key of id alone and a second index on (order_id, id): one index written per event
-- instead of two, three events an order.
-- allocations_confirmed_idx holds only confirmed allocations: a sync asks it for those confirmed
-- since a time, and a pending allocation's entry (no time yet) was written with every allocation.
-- orders_customer_created_idx holds only orders that name a customer: the listing asks for one
-- customer's orders, and an order without one had an entry written at placement and at each of
-- its status changes (an update of orders writes every index of the row).
DROP INDEX "order_events_order_idx";--> statement-breakpoint
ALTER TABLE "order_events" DROP CONSTRAINT "order_events_pkey";--> statement-breakpoint
ALTER TABLE "order_events" ADD CONSTRAINT "order_events_order_id_id_pk" PRIMARY KEY("order_id","id");--> statement-breakpoint
DROP INDEX "allocations_confirmed_idx";--> statement-breakpoint
CREATE INDEX "allocations_confirmed_idx" ON "allocations" USING btree ("vendor_id","sku","confirmed_at") WHERE "allocations"."confirmed_at" is not null;--> statement-breakpoint
DROP INDEX "orders_customer_created_idx";--> statement-breakpoint
CREATE INDEX "orders_customer_created_idx" ON "orders" USING btree ("customer_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST) WHERE "orders"."customer_id" is not null;
