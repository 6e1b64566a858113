-- Custom migration: a relay run asked for in SQL, finished requests' Idempotency-Keys recorded in
-- SQL, and place-order's reservation as a server-side procedure (core/orders/place-order.ts
-- `reservation`), which does both.
--
-- Asks for a relay run (core/messaging/relay.ts `askingRelay`): true when this call made the
-- request (its caller starts the run), false when a run is asked for already and has not cleared
-- the request yet. No row is locked when one is asked for already, so concurrent commits do not
-- queue on it. Before the first run there is no row: every commit starts one.
CREATE FUNCTION ask_relay() RETURNS boolean LANGUAGE sql VOLATILE AS $$
  WITH asked AS (UPDATE outbox_relay SET requested_at = now() WHERE requested_at IS NULL RETURNING 1)
  SELECT exists (SELECT FROM asked) OR NOT exists (SELECT FROM outbox_relay)
$$;
--> statement-breakpoint
-- Records the outcomes of finished requests under their Idempotency-Keys (core/orders/
-- idempotency.ts `completeKeys`, and the reservation below). The outcome is the domain's (an
-- order, a refusal), not a response: `response_body` holds it, `response_status` is left null.
CREATE FUNCTION complete_keys(client_ids text[], keys text[], outcomes text[]) RETURNS void
LANGUAGE sql VOLATILE AS $$
  UPDATE idempotency_keys k SET status = 'done', response_status = null, response_body = d.outcome::jsonb
  FROM unnest(client_ids, keys, outcomes) AS d(client_id, key, outcome)
  WHERE k.client_id = d.client_id AND k.key = d.key
$$;
--> statement-breakpoint
-- A batch of orders reserved, and made durable, in one round trip. Its first transaction writes
-- the orders, their lines, allocations, outbox messages and Idempotency-Keys' answers first (no lock on
-- a hot row is held while they are written), then locks the stock rows in (vendor, sku) order when
-- there are several, as every writer of several stock rows locks them, so that no two deadlock,
-- then runs the guarded update, which re-checks each row's latest version once it is locked (READ
-- COMMITTED): if it touched fewer rows than planned, the whole call is undone (SQLSTATE OA409:
-- the caller plans again).
--
-- That transaction commits without waiting for its WAL flush, so that the stock rows' locks go as
-- soon as its commit record is written; the next writes one WAL record (an empty logical message)
-- and commits as the session's `synchronous_commit` asks, which flushes the WAL past the
-- reservation's commit: the call returns once the batch is on disk. (A transaction that only
-- takes a transaction id writes no WAL before its commit record, and PostgreSQL commits such a
-- transaction asynchronously: `pg_current_xact_id()` in its place flushed nothing.) With
-- `flush_at_commit` (a database where no statement ever waits for a lock: PGlite) the reservation
-- commits with its flush instead, once the call returns.
--
-- Its statements run on generic plans, kept for the session: as a statement of its own, PostgreSQL
-- made a custom plan of the reservation at every call (it keeps custom plans for a statement whose
-- arrays' lengths only a custom plan knows), 0.38 of its 0.75 ms at one order per call.
-- (`plan_cache_mode` is set for the transaction, since a procedure that commits can have no SET
-- clause.)
--
-- A procedure, since a function cannot commit: called outside any transaction block. Out: the ids
-- of the outbox messages, in the order of `message_destinations`; when `for_relay`, whether this
-- call asked for a relay run (the caller then starts one); and the WAL position of its mark, which
-- is on disk when the call returns, and with it every commit before it.
CREATE PROCEDURE place_orders(
  order_ids uuid[], order_clients text[], order_customers text[], order_correlations text[],
  line_orders uuid[], line_skus text[], line_quantities integer[],
  allocation_orders uuid[], allocation_skus text[], allocation_vendors text[], allocation_quantities integer[],
  message_destinations text[], message_payloads text[], message_correlations text[], for_relay boolean,
  key_clients text[], key_keys text[], key_outcomes text[],
  stock_vendors text[], stock_skus text[], stock_units integer[],
  flush_at_commit boolean,
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
