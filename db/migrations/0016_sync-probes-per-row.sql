DROP INDEX "allocations_confirmed_idx";--> statement-breakpoint
DROP INDEX "allocations_refused_idx";--> statement-breakpoint
CREATE INDEX "allocations_confirmed_idx" ON "allocations" USING btree ("vendor_id","sku","confirmed_at");--> statement-breakpoint
CREATE INDEX "allocations_refused_idx" ON "allocations" USING btree ("vendor_id","sku","refused_at") WHERE "allocations"."status" = 'refused';