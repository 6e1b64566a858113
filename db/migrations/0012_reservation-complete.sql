-- Custom migration: the last step of place-order's reservation statement (core/orders/place-order.ts).
-- The statement writes the orders first and runs the guarded stock update last, so a hot row is
-- locked only from that update to the commit; if the update touched fewer rows than were planned
-- (another order or a sync took the units), this raises and the whole statement, orders included,
-- is undone. SQLSTATE OA409 tells the caller to plan again.
CREATE FUNCTION reservation_complete(reserved bigint, planned bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF reserved IS DISTINCT FROM planned THEN
    RAISE EXCEPTION 'stock changed since the plan: % of % stock rows reserved', reserved, planned
      USING ERRCODE = 'OA409';
  END IF;
  RETURN true;
END
$$;
