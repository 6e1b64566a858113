ALTER TABLE "allocations" ADD COLUMN "round" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "allocations" ADD COLUMN "refused_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "allocations" ADD COLUMN "unanswered" boolean DEFAULT false NOT NULL;