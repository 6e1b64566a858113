-- order_lines and allocations lose their foreign keys to orders (as order_events did in 0019): their
-- rows are written only by place_orders, in the statement that writes their order, and by a re-plan,
-- for an order it read; orders are never deleted. The checks were a lookup and a lock of the order
-- per row. Their plans are made once per session: after an ANALYZE of orders while nearly empty,
-- they scanned the whole table for every row until the next ANALYZE. Placement at 16 clients with an
-- ANALYZE of the new database's empty tables before the load, side by side: 955, 924 -> 1,719, 1,676
-- orders/s (orders: 12,400 sequential scans reading 38 M rows -> 5).
ALTER TABLE "allocations" DROP CONSTRAINT "allocations_order_id_orders_id_fk";
--> statement-breakpoint
ALTER TABLE "order_lines" DROP CONSTRAINT "order_lines_order_id_orders_id_fk";
