-- Custom migration: the outbox's marks in a function of their own, which finds its rows by the
-- primary key whatever the table's size (`enable_seqscan = off` while its statements are planned).
-- Their plan is made once per session (place_orders forces generic plans): after an ANALYZE of the
-- outbox while (nearly) empty, as in a new deployment, it scanned the whole table at every call
-- until the next ANALYZE. place_orders calls it; otherwise as 0020.
-- A row a relay run holds is left to it (it marks what it publishes): this never waits for one.
CREATE FUNCTION mark_sent(ids bigint[]) RETURNS void
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
BEGIN
  UPDATE outbox SET published_at = now()
  WHERE id = ANY(ARRAY(SELECT id FROM outbox WHERE id = ANY(ids) FOR UPDATE SKIP LOCKED));
END
$$;
--> statement-breakpoint
CREATE OR REPLACE PROCEDURE place_orders(
  order_ids uuid[], order_clients text[], order_customers text[], order_correlations text[],
  line_orders uuid[], line_skus text[], line_quantities integer[],
  allocation_orders uuid[], allocation_skus text[], allocation_vendors text[], allocation_quantities integer[],
  message_destinations text[], message_payloads text[], message_correlations text[], for_relay boolean,
  key_clients text[], key_keys text[], key_outcomes text[],
  stock_vendors text[], stock_skus text[], stock_units integer[],
  published_ids bigint[], flush_at_commit boolean,
  INOUT message_ids bigint[] DEFAULT NULL, INOUT start_relay boolean DEFAULT NULL,
  INOUT durable_lsn pg_lsn DEFAULT NULL
)
LANGUAGE plpgsql
AS $$
DECLARE
  reserved_rows bigint;
BEGIN
  PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
  IF NOT flush_at_commit THEN
    PERFORM set_config('synchronous_commit', 'off', true);
  END IF;
  -- Messages the caller published since its last call, marked sent.
  IF cardinality(published_ids) > 0 THEN
    PERFORM mark_sent(published_ids);
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
