#!/usr/bin/env bash
# End-to-end check of the LocalStack deployment, for a machine with Docker:
# deploy, sync, place an order, wait for `confirmed`, force a failure, read the DLQ with awslocal.
# Needs: docker compose, awslocal (pip install awscli-local), curl, jq.
set -euo pipefail
cd "$(dirname "$0")/.."

api="http://localhost:4566/_aws/execute-api/order-aggregator/local"
json() { curl -sf -H 'content-type: application/json' "$@"; }

docker compose up -d --wait
npm run deploy:local
key_id=$(awslocal cloudformation describe-stacks --stack-name OrderAggregator \
  --query "Stacks[0].Outputs[?OutputKey=='AdminApiKeyId'].OutputValue" --output text)
key=$(awslocal apigateway get-api-key --include-value --api-key "$key_id" --query value --output text)
admin() { json -H "x-api-key: $key" "$@"; }
# wait_for <order id> <status>: polls the order for two minutes at most.
wait_for() {
  for _ in $(seq 1 60); do
    status=$(json "$api/orders/$1" | jq -r .status)
    [ "$status" = "$2" ] && break
    sleep 2
  done
  echo "order $1: $status"
  [ "$status" = "$2" ]
}

echo "== sync (the EventBridge rule also fires every minute)"
awslocal lambda invoke --function-name order-aggregator-sync-vendors --payload '{"source":"aws.events"}' \
  --cli-binary-format raw-in-base64-out /dev/stdout >/dev/null
json "$api/vendors" | jq -c '.[] | {id, status, skuCount}'

echo "== place an order and wait for confirmed"
order=$(json -X POST "$api/orders" -d '{"lines":[{"sku":"SKU-00002","quantity":1}]}' | jq -r .id)
wait_for "$order" confirmed

echo "== a vendor that refuses: the order fails, its stock is released, a dead letter is recorded"
admin -X PUT "$api/mock-vendors/acme/stock/SKU-00001" -d '{"quantity":1}' >/dev/null
awslocal lambda invoke --function-name order-aggregator-sync-vendors --payload '{"source":"aws.events"}' \
  --cli-binary-format raw-in-base64-out /dev/stdout >/dev/null
failing=$(json -X POST "$api/orders" -d '{"lines":[{"sku":"SKU-00001","quantity":1}]}' | jq -r .id)
admin -X PUT "$api/mock-vendors/acme/stock/SKU-00001" -d '{"quantity":0}' >/dev/null
admin -X PUT "$api/mock-vendors/initech/stock/SKU-00001" -d '{"quantity":0}' >/dev/null
wait_for "$failing" failed

echo "== dead letters: RabbitMQ orders.dlq (records) and the Lambda DLQs in SQS"
awslocal sqs list-queues
awslocal sqs receive-message --queue-url "$(awslocal sqs get-queue-url --queue-name process-order-dlq --query QueueUrl --output text)" \
  --max-number-of-messages 10 || true
