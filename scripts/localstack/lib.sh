# Shared by up.sh, down.sh and test.sh: names, paths and small helpers of the LocalStack harness.
LS_HOME=${LOCALSTACK_HOME:-$PWD/.localstack}
LS_FILESYSTEM=$LS_HOME/filesystem
LOCALSTACK_VERSION=4.14.0
# The lambda-runtime-init release LocalStack 4.14.0 looks for (services/lambda_/packages.py).
LAMBDA_INIT_VERSION=v0.1.41-pre
REGISTRY=127.0.0.1:5000
# Tagged by the content of runtime-image/: a change there builds a new image.
RUNTIME_REPO=order-aggregator/lambda-nodejs22
RUNTIME_TAG=$(cat scripts/localstack/runtime-image/* | sha256sum | cut -c1-12)
RUNTIME_IMAGE=localhost:5000/$RUNTIME_REPO:$RUNTIME_TAG
BASE_IMAGE=order-aggregator/debian-bookworm-minbase:1
PG_PORT=${PGHOST_PORT:-5432}
AMQP_PORT=${AMQP_HOST_PORT:-5672}

step_started=0
step() {
  step_started=$SECONDS
  printf '== %s\n' "$1"
}
done_step() { printf '   ok (%ss)\n' "$((SECONDS - step_started))"; }
fail() {
  printf 'localstack harness: %s\n' "$1" >&2
  exit 1
}
port_open() { timeout 1 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null; }
# wait_until <seconds> <command...>: polls once a second.
wait_until() {
  local limit=$1
  shift
  for _ in $(seq 1 "$limit"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  return 1
}
HOSTS_MARK="# order-aggregator localstack harness"
