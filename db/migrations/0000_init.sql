CREATE TABLE "vendor_stock" (
	"vendor_id" text NOT NULL,
	"sku" text NOT NULL,
	"name" text NOT NULL,
	"price" numeric(12, 2) NOT NULL,
	"quantity" integer NOT NULL,
	"reserved" integer DEFAULT 0 NOT NULL,
	"snapshot_at" timestamp with time zone NOT NULL,
	CONSTRAINT "vendor_stock_vendor_id_sku_pk" PRIMARY KEY("vendor_id","sku"),
	CONSTRAINT "vendor_stock_reserved_non_negative" CHECK ("vendor_stock"."reserved" >= 0),
	CONSTRAINT "vendor_stock_quantity_non_negative" CHECK ("vendor_stock"."quantity" >= 0)
);
--> statement-breakpoint
CREATE TABLE "vendors" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"base_url" text NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"last_sync_at" timestamp with time zone,
	"last_success_at" timestamp with time zone,
	"last_sync_status" text DEFAULT 'never' NOT NULL,
	"last_sync_error" text,
	"last_sync_duration_ms" integer,
	"sku_count" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dead_letters" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"order_id" uuid,
	"reason" text NOT NULL,
	"attempts" integer NOT NULL,
	"last_error" text,
	"message" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"redriven_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"destination" text NOT NULL,
	"payload" jsonb NOT NULL,
	"correlation_id" text,
	"delay_ms" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "allocations" (
	"order_id" uuid NOT NULL,
	"sku" text NOT NULL,
	"vendor_id" text NOT NULL,
	"quantity" integer NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"vendor_order_id" text,
	"confirmed_at" timestamp with time zone,
	CONSTRAINT "allocations_order_id_sku_vendor_id_pk" PRIMARY KEY("order_id","sku","vendor_id"),
	CONSTRAINT "allocations_quantity_positive" CHECK ("allocations"."quantity" > 0)
);
--> statement-breakpoint
CREATE TABLE "order_lines" (
	"order_id" uuid NOT NULL,
	"sku" text NOT NULL,
	"quantity" integer NOT NULL,
	CONSTRAINT "order_lines_order_id_sku_pk" PRIMARY KEY("order_id","sku"),
	CONSTRAINT "order_lines_quantity_positive" CHECK ("order_lines"."quantity" > 0)
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"id" uuid PRIMARY KEY NOT NULL,
	"customer_id" text,
	"status" text NOT NULL,
	"failure_reason" text,
	"correlation_id" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"lease_until" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "vendor_stock" ADD CONSTRAINT "vendor_stock_vendor_id_vendors_id_fk" FOREIGN KEY ("vendor_id") REFERENCES "public"."vendors"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "allocations" ADD CONSTRAINT "allocations_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "allocations" ADD CONSTRAINT "allocations_vendor_id_vendors_id_fk" FOREIGN KEY ("vendor_id") REFERENCES "public"."vendors"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "vendor_stock_sku_idx" ON "vendor_stock" USING btree ("sku");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "outbox" USING btree ("id") WHERE "outbox"."published_at" is null;--> statement-breakpoint
CREATE INDEX "allocations_unreflected_idx" ON "allocations" USING btree ("vendor_id","sku") WHERE "allocations"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "allocations_confirmed_idx" ON "allocations" USING btree ("vendor_id","confirmed_at");--> statement-breakpoint
CREATE INDEX "orders_status_idx" ON "orders" USING btree ("status","updated_at");