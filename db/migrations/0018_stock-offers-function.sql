-- Custom migration: what a vendor's stock rows may offer to orders, and placement's read of it.
--
-- `vendor_offered` is the one definition of an offered vendor (enabled, and synced within
-- `stale_after_secs`: invariant 16), used by the read below and by the product listing
-- (core/inventory/stock.ts `offeredVendor`). A SQL function with a RETURN body: inlined where it
-- is used, so it costs nothing over the expression.
CREATE FUNCTION vendor_offered(enabled boolean, last_success_at timestamptz, stale_after_secs double precision)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
RETURN enabled AND last_success_at > now() - make_interval(secs => stale_after_secs);
--> statement-breakpoint
-- What each offered vendor can still promise of these SKUs (core/inventory/stock.ts `loadOffers`),
-- a read for planning only. A function, as `reserve_orders` is (migration 0017), so that its plan
-- is kept for the session: as a statement of its own PostgreSQL planned it at every call, 0.15 of
-- its 0.19 ms.
CREATE FUNCTION stock_offers(skus text[], stale_after_secs double precision)
RETURNS TABLE ("vendorId" text, sku text, available integer)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
    SELECT s.vendor_id, s.sku, s.quantity - s.reserved
    FROM vendor_stock s JOIN vendors v ON v.id = s.vendor_id
    WHERE s.sku = ANY(skus) AND s.quantity > s.reserved
      AND vendor_offered(v.enabled, v.last_success_at, stale_after_secs);
END
$$;
