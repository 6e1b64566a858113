CREATE TABLE "outbox_relay" (
	"id" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"requested_at" timestamp with time zone,
	CONSTRAINT "outbox_relay_one_row" CHECK ("outbox_relay"."id")
);
