ALTER TABLE "mock_vendor"."behaviour" ADD COLUMN "max_concurrent" integer;--> statement-breakpoint
ALTER TABLE "mock_vendor"."behaviour" ADD COLUMN "max_per_second" double precision;