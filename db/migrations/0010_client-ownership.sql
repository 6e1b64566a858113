ALTER TABLE "idempotency_keys" ADD COLUMN "client_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "idempotency_keys" DROP CONSTRAINT "idempotency_keys_pkey";--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_client_id_key_pk" PRIMARY KEY("client_id","key");--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "client_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
CREATE INDEX "orders_client_created_idx" ON "orders" USING btree ("client_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);
