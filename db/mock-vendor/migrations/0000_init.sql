-- The mock vendor's books, in its own schema, with its own migration chain recorded in
-- mock_vendor.__drizzle_migrations. Until the split, the service's chain made these objects (its
-- 0000 and 0005 to 0008): a database migrated before the split has them already, so every statement
-- here keeps an existing object (IF NOT EXISTS, OR REPLACE) and brings it to this schema. An empty
-- database and one migrated before the split end the same.
CREATE SCHEMA IF NOT EXISTS "mock_vendor";
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "mock_vendor"."behaviour" (
	"vendor_id" text PRIMARY KEY NOT NULL,
	"latency_ms" integer DEFAULT 0 NOT NULL,
	"failure_rate" double precision DEFAULT 0 NOT NULL,
	"down" boolean DEFAULT false NOT NULL,
	"max_concurrent" integer,
	"max_per_second" double precision
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "mock_vendor"."orders" (
	"id" uuid PRIMARY KEY NOT NULL,
	"vendor_id" text NOT NULL,
	"idempotency_key" text,
	"lines" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"cancelled_at" timestamp with time zone,
	CONSTRAINT "mock_orders_idempotency" UNIQUE("vendor_id","idempotency_key")
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "mock_vendor"."stock" (
	"vendor_id" text NOT NULL,
	"sku" text NOT NULL,
	"name" text NOT NULL,
	"price" numeric(12, 2) NOT NULL,
	"quantity" integer NOT NULL,
	CONSTRAINT "stock_vendor_id_sku_pk" PRIMARY KEY("vendor_id","sku"),
	CONSTRAINT "mock_stock_quantity" CHECK ("mock_vendor"."stock"."quantity" >= 0)
);--> statement-breakpoint
ALTER TABLE "mock_vendor"."behaviour" ADD COLUMN IF NOT EXISTS "max_concurrent" integer;--> statement-breakpoint
ALTER TABLE "mock_vendor"."behaviour" ADD COLUMN IF NOT EXISTS "max_per_second" double precision;--> statement-breakpoint
ALTER TABLE "mock_vendor"."orders" ADD COLUMN IF NOT EXISTS "cancelled_at" timestamp with time zone;--> statement-breakpoint
-- A mock vendor takes the orders that arrive together in one round trip and one
-- commit (its own group commit), instead of one transaction per order. Each order stays all or
-- nothing and idempotent:
-- * every stock row the batch touches is locked first, in (vendor, sku) order, so concurrent
--   batches (other processes) never deadlock and nothing changes between an order's check and its
--   deduction;
-- * an order whose key is known is a replay and deducts nothing; a concurrent call with the same key
--   waits on the unique key and then finds the first order;
-- * an order any line of which is short is refused whole, and later orders of the batch see the
--   stock the earlier ones left.
-- Lines of one order name distinct SKUs (the API merges them).
CREATE OR REPLACE FUNCTION mock_vendor.place_orders(
  -- per order
  p_vendors text[], p_keys text[], p_ids uuid[], p_lines jsonb[], p_first int[], p_count int[],
  -- per line: the lines of order i are p_first[i] .. p_first[i] + p_count[i] - 1
  p_line_vendors text[], p_skus text[], p_quantities int[]
) RETURNS TABLE (ord int, order_id uuid, replayed boolean, short boolean) LANGUAGE plpgsql AS $$
DECLARE
  i int;
  j int;
  v_id uuid;
  v_quantity int;
  v_short boolean;
BEGIN
  PERFORM 1 FROM mock_vendor.stock s
    JOIN unnest(p_line_vendors, p_skus) AS w(vendor_id, sku) ON s.vendor_id = w.vendor_id AND s.sku = w.sku
    ORDER BY s.vendor_id, s.sku
    FOR UPDATE OF s;
  FOR i IN 1 .. coalesce(cardinality(p_vendors), 0) LOOP
    v_id := NULL;
    IF p_keys[i] IS NOT NULL THEN
      SELECT o.id INTO v_id FROM mock_vendor.orders o
      WHERE o.vendor_id = p_vendors[i] AND o.idempotency_key = p_keys[i];
    END IF;
    IF v_id IS NOT NULL THEN
      RETURN QUERY SELECT i, v_id, true, false;
      CONTINUE;
    END IF;
    v_short := false;
    FOR j IN p_first[i] .. p_first[i] + p_count[i] - 1 LOOP
      SELECT s.quantity INTO v_quantity FROM mock_vendor.stock s
      WHERE s.vendor_id = p_vendors[i] AND s.sku = p_skus[j];
      IF NOT FOUND OR v_quantity < p_quantities[j] THEN
        v_short := true;
        EXIT;
      END IF;
    END LOOP;
    IF v_short THEN
      RETURN QUERY SELECT i, NULL::uuid, false, true;
      CONTINUE;
    END IF;
    INSERT INTO mock_vendor.orders (id, vendor_id, idempotency_key, lines)
    VALUES (p_ids[i], p_vendors[i], p_keys[i], p_lines[i])
    ON CONFLICT (vendor_id, idempotency_key) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
      SELECT o.id INTO v_id FROM mock_vendor.orders o
      WHERE o.vendor_id = p_vendors[i] AND o.idempotency_key = p_keys[i];
      RETURN QUERY SELECT i, v_id, true, false;
      CONTINUE;
    END IF;
    FOR j IN p_first[i] .. p_first[i] + p_count[i] - 1 LOOP
      UPDATE mock_vendor.stock s SET quantity = s.quantity - p_quantities[j]
      WHERE s.vendor_id = p_vendors[i] AND s.sku = p_skus[j];
    END LOOP;
    RETURN QUERY SELECT i, v_id, false, false;
  END LOOP;
END
$$;
--> statement-breakpoint
DROP FUNCTION IF EXISTS mock_vendor.place_order(text, text, uuid, text[], int[], jsonb);
