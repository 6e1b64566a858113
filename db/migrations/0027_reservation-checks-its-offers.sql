-- Custom migration: place_orders checks the offers its batch was planned on, so that placement can
-- plan on offers it remembers instead of reading them first: one round trip a batch, not two.
--
-- The caller passes the SKUs of the batch (`planned_skus`) and the offers it planned on for them
-- (vendor, sku, units available: what stock_offers returned, less what the caller's own earlier
-- batches took). Before anything is written the procedure reads stock_offers for those SKUs; if
-- that differs from what was passed (a sync, a cancellation, a re-plan or another process changed
-- a row; a vendor went stale), it writes nothing and returns the current offers with
-- `stale = true`, and the caller plans the batch again on them: two round trips, as before. The
-- check only keeps the plan what a fresh read would have made; the guarded update still keeps
-- every unit from being promised twice (a change after the check is a lost race, OA409).
-- Without `planned_skus` (NULL) there is no check, as before.
--
-- Placement at one client on PostgreSQL (the runtime in process, as bench/place-order.ts runs it,
-- 8 s after a warm-up), two runs each: 872 / 855 -> 1,007 / 1,014 orders/s; with no check at all
-- 1,088 / 1,110. The check is one statement: the current offers joined with those passed.
DROP PROCEDURE place_orders(
  uuid[], text[], text[], text[], uuid[], text[], integer[], uuid[], text[], text[], integer[],
  text[], text[], text[], boolean, text[], text[], text[], text[], text[], integer[], bigint[], boolean,
  bigint[], boolean, pg_lsn
);
--> statement-breakpoint
CREATE PROCEDURE place_orders(
  order_ids uuid[], order_clients text[], order_customers text[], order_correlations text[],
  line_orders uuid[], line_skus text[], line_quantities integer[],
  allocation_orders uuid[], allocation_skus text[], allocation_vendors text[], allocation_quantities integer[],
  message_destinations text[], message_payloads text[], message_correlations text[], for_relay boolean,
  key_clients text[], key_keys text[], key_outcomes text[],
  stock_vendors text[], stock_skus text[], stock_units integer[],
  published_ids bigint[], flush_at_commit boolean,
  planned_skus text[], offer_vendors text[], offer_skus text[], offer_units integer[],
  stale_after_secs double precision,
  INOUT message_ids bigint[] DEFAULT NULL, INOUT start_relay boolean DEFAULT NULL,
  INOUT durable_lsn pg_lsn DEFAULT NULL, INOUT stale boolean DEFAULT NULL,
  INOUT current_vendors text[] DEFAULT NULL, INOUT current_skus text[] DEFAULT NULL,
  INOUT current_units integer[] DEFAULT NULL
)
LANGUAGE plpgsql
AS $$
DECLARE
  reserved_rows bigint;
  offered bigint;
  unmatched bigint;
BEGIN
  PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
  IF NOT flush_at_commit THEN
    PERFORM set_config('synchronous_commit', 'off', true);
  END IF;
  -- Messages the caller published since its last call, marked sent (whatever follows).
  IF cardinality(published_ids) > 0 THEN
    PERFORM mark_sent(published_ids);
  END IF;
  IF planned_skus IS NOT NULL THEN
    -- The current offers, each matched with the one passed for its (vendor, sku): the same set if
    -- every one matches with the same units, and as many were passed.
    SELECT count(*), count(*) FILTER (WHERE o.units IS DISTINCT FROM c.available)
    INTO offered, unmatched
    FROM stock_offers(planned_skus, stale_after_secs) c
    LEFT JOIN unnest(offer_vendors, offer_skus, offer_units) AS o(vendor_id, sku, units)
      ON o.vendor_id = c."vendorId" AND o.sku = c.sku;
    IF unmatched > 0 OR offered <> cardinality(offer_vendors) THEN
      stale := true;
      SELECT coalesce(array_agg(c."vendorId"), '{}'), coalesce(array_agg(c.sku), '{}'),
             coalesce(array_agg(c.available), '{}')
      INTO current_vendors, current_skus, current_units
      FROM stock_offers(planned_skus, stale_after_secs) c;
      RETURN;
    END IF;
    stale := false;
  END IF;
  -- A sequence's values rise in the order the INSERT takes its rows: the messages' order.
  WITH o AS (
    INSERT INTO orders (id, client_id, customer_id, correlation_id, status)
    SELECT *, 'reserved' FROM unnest(order_ids, order_clients, order_customers, order_correlations)
  ), l AS (
    INSERT INTO order_lines (order_id, sku, quantity)
    SELECT * FROM unnest(line_orders, line_skus, line_quantities)
  ), a AS (
    INSERT INTO allocations (order_id, sku, vendor_id, quantity, round)
    SELECT *, 0 FROM unnest(allocation_orders, allocation_skus, allocation_vendors, allocation_quantities)
  ), m AS (
    INSERT INTO outbox (destination, payload, correlation_id, delay_ms, for_relay)
    SELECT d, p::jsonb, c, 0, for_relay FROM unnest(message_destinations, message_payloads, message_correlations) AS x(d, p, c)
    RETURNING id
  )
  SELECT array_agg(m.id ORDER BY m.id) INTO message_ids FROM m;
  IF cardinality(key_clients) > 0 THEN
    PERFORM complete_keys(key_clients, key_keys, key_outcomes);
  END IF;
  IF cardinality(stock_vendors) > 1 THEN
    PERFORM 1 FROM vendor_stock s
      JOIN unnest(stock_vendors, stock_skus) AS w(vendor_id, sku) ON s.vendor_id = w.vendor_id AND s.sku = w.sku
      ORDER BY s.vendor_id, s.sku FOR UPDATE OF s;
  END IF;
  UPDATE vendor_stock s SET reserved = s.reserved + w.n
  FROM unnest(stock_vendors, stock_skus, stock_units) AS w(vendor_id, sku, n)
  WHERE s.vendor_id = w.vendor_id AND s.sku = w.sku AND s.quantity - s.reserved >= w.n;
  GET DIAGNOSTICS reserved_rows = ROW_COUNT;
  PERFORM reservation_complete(reserved_rows, cardinality(stock_vendors));
  IF NOT flush_at_commit THEN
    COMMIT;
  END IF;
  IF for_relay THEN
    -- The relay publishes the messages (a deployed function has no publisher of its own).
    start_relay := ask_relay();
  END IF;
  IF NOT flush_at_commit THEN
    durable_lsn := pg_logical_emit_message(true, 'order-aggregator', '');
  END IF;
END
$$;
