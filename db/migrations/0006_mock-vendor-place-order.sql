-- Custom migration: a mock vendor's order in one round trip. Atomic: the order row, the stock
-- deductions and the all-or-nothing check happen in one statement, so a shortage rolls all of it
-- back. Idempotent: the order row is inserted first, and a concurrent call with the same key waits
-- on it and then finds the first order.
CREATE FUNCTION mock_vendor.place_order(
  p_vendor text, p_key text, p_id uuid, p_skus text[], p_quantities int[], p_lines jsonb
) RETURNS TABLE (order_id uuid, replayed boolean) LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid;
  v_updated int;
BEGIN
  INSERT INTO mock_vendor.orders (id, vendor_id, idempotency_key, lines)
  VALUES (p_id, p_vendor, p_key, p_lines)
  ON CONFLICT (vendor_id, idempotency_key) DO NOTHING
  RETURNING id INTO v_id;
  IF v_id IS NULL THEN
    SELECT o.id INTO v_id FROM mock_vendor.orders o WHERE o.vendor_id = p_vendor AND o.idempotency_key = p_key;
    RETURN QUERY SELECT v_id, true;
    RETURN;
  END IF;
  UPDATE mock_vendor.stock s SET quantity = s.quantity - w.n
  FROM unnest(p_skus, p_quantities) AS w(sku, n)
  WHERE s.vendor_id = p_vendor AND s.sku = w.sku AND s.quantity >= w.n;
  GET DIAGNOSTICS v_updated = ROW_COUNT;
  IF v_updated <> cardinality(p_skus) THEN
    RAISE EXCEPTION 'out of stock' USING ERRCODE = 'P0409';
  END IF;
  RETURN QUERY SELECT p_id, false;
END
$$;
