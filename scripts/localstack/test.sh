#!/usr/bin/env bash
# `npm run test:localstack`: deploys with the README's own `npm run deploy:local`, then drives the
# deployed stack through the emulated API and awslocal (test/localstack/), ending with
# `npm run destroy:local`. Needs `npm run localstack:up` (or the compose setup) first.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/localstack/lib.sh
curl -sf http://127.0.0.1:4566/_localstack/health >/dev/null ||
  fail "LocalStack is not running on 127.0.0.1:4566: run npm run localstack:up first"

step "npm run deploy:local"
# Two API clients, so the test can show that each sees only its own orders.
export API_CLIENTS=${API_CLIENTS:-alpha,beta}
mkdir -p "$LS_HOME/logs"
if ! npm run --silent deploy:local >"$LS_HOME/logs/deploy.log" 2>&1; then
  grep -v nodedir "$LS_HOME/logs/deploy.log" | tail -n 60
  echo "--- LocalStack's log, last lines:"
  tail -n 40 "$LS_HOME/logs/localstack.log"
  fail "npm run deploy:local failed (all of it: $LS_HOME/logs/deploy.log)"
fi
grep -E 'Bootstrapping|Environment aws|✅|Deployment time|Total time|ApiUrl' "$LS_HOME/logs/deploy.log" || true
done_step

step "the deployed stack, through the API and awslocal"
npx vitest run --config vitest.localstack.config.ts "$@"
done_step
