-- Custom migration: order_events is written once per statement on orders instead of once per row
-- (0003). A batch of placements, or of status changes, inserts its events with one INSERT ... SELECT
-- from the statement's transition tables, rather than running the trigger function, and an INSERT
-- of its own, for each order. Same events, same rules: every new order, and every change of status
-- or attempts. (A trigger with transition tables cannot name columns, so the update trigger fires
-- for every UPDATE of orders; its join finds no changed rows when neither column changed.)
DROP TRIGGER orders_record_event ON orders;
--> statement-breakpoint
DROP FUNCTION record_order_event();
--> statement-breakpoint
CREATE FUNCTION record_order_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO order_events (order_id, status, attempt, reason)
    SELECT n.id, n.status, n.attempts, CASE WHEN n.status IN ('failed', 'cancelled') THEN n.failure_reason END
    FROM new_orders n;
  ELSE
    INSERT INTO order_events (order_id, status, attempt, reason)
    SELECT n.id, n.status, n.attempts, CASE WHEN n.status IN ('failed', 'cancelled') THEN n.failure_reason END
    FROM new_orders n JOIN old_orders o ON o.id = n.id
    WHERE n.status IS DISTINCT FROM o.status OR n.attempts IS DISTINCT FROM o.attempts;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER orders_record_events_inserted
AFTER INSERT ON orders REFERENCING NEW TABLE AS new_orders
FOR EACH STATEMENT EXECUTE FUNCTION record_order_events();
--> statement-breakpoint
CREATE TRIGGER orders_record_events_updated
AFTER UPDATE ON orders REFERENCING OLD TABLE AS old_orders NEW TABLE AS new_orders
FOR EACH STATEMENT EXECUTE FUNCTION record_order_events();
