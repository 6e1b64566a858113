CREATE TABLE "outbox_relay" (
	"id" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"requested_at" timestamp with time zone,
	CONSTRAINT "outbox_relay_one_row" CHECK ("outbox_relay"."id")
);
--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "for_relay" boolean DEFAULT false NOT NULL;