-- Custom migration: place-order's reservation as a server-side function (core/orders/place-order.ts
-- `reservation`). The same writes as the statement it replaces, in the same order: the orders, their
-- lines, allocations, outbox messages and idempotency answers first, then the stock rows locked in
-- (vendor, sku) order when there are several, then the guarded update, which must touch every
-- planned row or the whole call is undone (SQLSTATE OA409: the caller plans again).
--
-- Why a function: PostgreSQL re-planned the statement at every call (it keeps custom plans for a
-- statement whose arrays' lengths only a custom plan knows), and planning it took 0.38 of its 0.75 ms
-- at one order per call. A function's statements keep their plans for the session, and
-- `plan_cache_mode` set on the function (and on nothing else) makes them generic at once.
CREATE FUNCTION reserve_orders(
  order_ids uuid[], order_clients text[], order_customers text[], order_correlations text[],
  line_orders uuid[], line_skus text[], line_quantities integer[],
  allocation_orders uuid[], allocation_skus text[], allocation_vendors text[], allocation_quantities integer[],
  message_destinations text[], message_payloads text[], message_correlations text[], for_relay boolean,
  key_clients text[], key_keys text[], key_outcomes text[],
  stock_vendors text[], stock_skus text[], stock_units integer[],
  flush_at_commit boolean
) RETURNS TABLE (id bigint, destination text, payload jsonb, "correlationId" text, "delayMs" integer)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
  reserved_rows bigint;
BEGIN
  -- The commit does not wait for its WAL flush: the caller awaits it (`awaitDurable`) once the
  -- stock rows' locks are released. Set for the transaction, it outlives the function.
  IF NOT flush_at_commit THEN
    PERFORM set_config('synchronous_commit', 'off', true);
  END IF;
  -- Every row but the stock's: no lock on a hot row is held while they are written. Their outbox
  -- messages are the function's result (returned once the stock is reserved).
  RETURN QUERY
    WITH o AS (
      INSERT INTO orders (id, client_id, customer_id, correlation_id, status)
      SELECT *, 'reserved' FROM unnest(order_ids, order_clients, order_customers, order_correlations)
    ), l AS (
      INSERT INTO order_lines (order_id, sku, quantity)
      SELECT * FROM unnest(line_orders, line_skus, line_quantities)
    ), a AS (
      INSERT INTO allocations (order_id, sku, vendor_id, quantity, round)
      SELECT *, 0 FROM unnest(allocation_orders, allocation_skus, allocation_vendors, allocation_quantities)
    ), k AS (
      UPDATE idempotency_keys k SET status = 'done', response_status = null, response_body = d.outcome::jsonb
      FROM unnest(key_clients, key_keys, key_outcomes) AS d(client_id, key, outcome)
      WHERE k.client_id = d.client_id AND k.key = d.key
    )
    INSERT INTO outbox AS m (destination, payload, correlation_id, delay_ms, for_relay)
    SELECT d, p::jsonb, c, 0, for_relay FROM unnest(message_destinations, message_payloads, message_correlations) AS x(d, p, c)
    RETURNING m.id, m.destination, m.payload, m.correlation_id, m.delay_ms;
  -- Several rows are locked in (vendor, sku) order first, all of them, as every writer of several
  -- stock rows locks them, so that no two writers deadlock.
  IF cardinality(stock_vendors) > 1 THEN
    PERFORM 1 FROM vendor_stock s
      JOIN unnest(stock_vendors, stock_skus) AS w(vendor_id, sku) ON s.vendor_id = w.vendor_id AND s.sku = w.sku
      ORDER BY s.vendor_id, s.sku FOR UPDATE OF s;
  END IF;
  -- Re-checked on each row's latest version once it is locked (READ COMMITTED): no unit is
  -- promised twice.
  UPDATE vendor_stock s SET reserved = s.reserved + w.n
  FROM unnest(stock_vendors, stock_skus, stock_units) AS w(vendor_id, sku, n)
  WHERE s.vendor_id = w.vendor_id AND s.sku = w.sku AND s.quantity - s.reserved >= w.n;
  GET DIAGNOSTICS reserved_rows = ROW_COUNT;
  PERFORM reservation_complete(reserved_rows, cardinality(stock_vendors));
END
$$;
