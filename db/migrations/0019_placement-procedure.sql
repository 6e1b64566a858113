-- Custom migration: a relay run asked for in SQL, and placement's reservation and its durability in one round trip (core/orders/
-- place-order.ts `reservation`). `reserve_orders` (migration 0017) writes the batch and takes its
-- stock in a transaction that commits without waiting for its WAL flush, so that the stock rows'
-- locks go as soon as its commit record is written; the transaction after it writes one WAL record
-- (an empty logical message) and commits as the session's `synchronous_commit` asks, which flushes
-- the WAL past the reservation's commit: the call returns once the batch is durable. (A transaction
-- that only takes a transaction id writes no WAL before its commit record, and PostgreSQL commits
-- such a transaction asynchronously: `pg_current_xact_id()` in its place flushed nothing.) A
-- procedure, since a function cannot commit; it must be called outside any transaction block.
--
-- Out: the ids of the outbox messages, in the order of `message_destinations`; when `for_relay`,
-- whether this call asked for a relay run first (the caller then starts one); and the WAL position
-- of its mark, which is on disk when the call returns, and with it every commit before it.
-- Asks for a relay run (core/messaging/relay.ts `askingRelay`): true when this call made the
-- request (its caller starts the run), false when a run is asked for already and has not cleared
-- the request yet. No row is locked when one is asked for already, so concurrent commits do not
-- queue on it. Before the first run there is no row: every commit starts one.
CREATE FUNCTION ask_relay() RETURNS boolean LANGUAGE sql VOLATILE AS $$
  WITH asked AS (UPDATE outbox_relay SET requested_at = now() WHERE requested_at IS NULL RETURNING 1)
  SELECT exists (SELECT FROM asked) OR NOT exists (SELECT FROM outbox_relay)
$$;
--> statement-breakpoint
CREATE PROCEDURE place_orders(
  order_ids uuid[], order_clients text[], order_customers text[], order_correlations text[],
  line_orders uuid[], line_skus text[], line_quantities integer[],
  allocation_orders uuid[], allocation_skus text[], allocation_vendors text[], allocation_quantities integer[],
  message_destinations text[], message_payloads text[], message_correlations text[], for_relay boolean,
  key_clients text[], key_keys text[], key_outcomes text[],
  stock_vendors text[], stock_skus text[], stock_units integer[],
  INOUT message_ids bigint[] DEFAULT NULL, INOUT start_relay boolean DEFAULT NULL,
  INOUT durable_lsn pg_lsn DEFAULT NULL
)
LANGUAGE plpgsql
AS $$
BEGIN
  -- A sequence's values rise in the order the INSERT takes its rows: the messages' order.
  SELECT array_agg(r.id ORDER BY r.id) INTO message_ids
  FROM reserve_orders(
    order_ids, order_clients, order_customers, order_correlations,
    line_orders, line_skus, line_quantities,
    allocation_orders, allocation_skus, allocation_vendors, allocation_quantities,
    message_destinations, message_payloads, message_correlations, for_relay,
    key_clients, key_keys, key_outcomes,
    stock_vendors, stock_skus, stock_units,
    false
  ) AS r;
  COMMIT;
  IF for_relay THEN
    -- The relay publishes the messages (a deployed function has no publisher of its own).
    start_relay := ask_relay();
  END IF;
  durable_lsn := pg_logical_emit_message(true, 'order-aggregator', '');
END
$$;
