#!/usr/bin/env bash
# `npm run localstack:down`: stops everything `npm run localstack:up` started and leaves nothing
# running: the bridge, LocalStack and its Lambda containers, the relays, the registry, and dockerd
# if up started it. What was built (the runtime image, the rootfs, the virtual environment) stays
# in $LOCALSTACK_HOME for the next `up`. The harness's database and queues are removed, so the next
# deployment starts empty, as a fresh `docker compose up` would.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/localstack/lib.sh
source scripts/localstack/lib.sh

stop() { # name: the process of $LS_HOME/run/<name>.pid, TERM then KILL
  local pidfile="$LS_HOME/run/$1.pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    wait_until 20 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null
    echo "stopped $1"
  fi
  rm -f "$pidfile"
}

stop bridge
stop localstack
if docker info >/dev/null 2>&1; then
  containers=$(docker ps -aq --filter name=localstack-main-lambda-)
  if [ -n "$containers" ]; then
    # shellcheck disable=SC2086
    docker rm -f $containers >/dev/null && echo "removed Lambda containers"
  fi
fi
stop relay-postgres
stop relay-rabbitmq
stop registry

if port_open "$PG_PORT"; then
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc 'drop database if exists orders with (force)' &&
    echo "dropped database orders"
fi
if command -v rabbitmqctl >/dev/null && port_open "$AMQP_PORT"; then
  for queue in $(rabbitmqctl -q list_queues name 2>/dev/null | grep -E '^orders(\.|$)'); do
    rabbitmqctl -q delete_queue "$queue" >/dev/null && echo "deleted queue $queue"
  done
fi

if [ -f "$LS_HOME/run/dockerd.ours" ]; then
  stop dockerd
  rm -f "$LS_HOME/run/dockerd.ours"
fi
if grep -q "$HOSTS_MARK" /etc/hosts 2>/dev/null; then
  grep -v "$HOSTS_MARK" /etc/hosts >/etc/hosts.tmp && cat /etc/hosts.tmp >/etc/hosts && rm -f /etc/hosts.tmp
  echo "removed the harness's names from /etc/hosts"
fi
echo "localstack:down done in ${SECONDS}s"
