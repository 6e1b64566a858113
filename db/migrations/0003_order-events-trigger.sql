-- Custom migration: records every status change of an order (and every new forwarding attempt)
-- in order_events, whatever code path makes it.
CREATE FUNCTION record_order_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status OR NEW.attempts IS DISTINCT FROM OLD.attempts THEN
    INSERT INTO order_events (order_id, status, attempt, reason)
    VALUES (NEW.id, NEW.status, NEW.attempts, CASE WHEN NEW.status IN ('failed', 'cancelled') THEN NEW.failure_reason END);
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER orders_record_event
AFTER INSERT OR UPDATE OF status, attempts ON orders
FOR EACH ROW EXECUTE FUNCTION record_order_event();
