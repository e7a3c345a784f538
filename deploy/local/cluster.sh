#!/usr/bin/env bash
# A complete split Tessera cluster on loopback: Redis, two replicas each of the identity, policy,
# sts and authorizer services, and two gateways in front of them (docs/operations.md, "A split
# cluster on one machine").
#
#   deploy/local/cluster.sh up       start what is not running, wait until every process is ready
#   deploy/local/cluster.sh down     stop exactly what `up` started (pid files), Redis included
#   deploy/local/cluster.sh status   each process, its pid and whether /readyz answers 200
#   deploy/local/cluster.sh kill NAME    SIGKILL one process (a crash), e.g. `identity-1`, `redis`
#   deploy/local/cluster.sh start NAME   start one stopped process again and wait until it is ready
#
# Settings (environment):
#   TESSERA_CLUSTER_DIR        state: one directory per process (data, log, pid), the master key;
#                              default deploy/local/.cluster (gitignored)
#   TESSERA_CLUSTER_PORT       base port, default 18000: Redis on BASE; service k (gateway 0,
#                              identity 1, policy 2, sts 3, authorizer 4), replica r (1, 2) has
#                              HTTP on BASE+20k+r and gRPC on BASE+20k+10+r (gateway-1: 18001/18011)
#   TESSERA_CLUSTER_REDIS_URL  use this Redis instead of a private one (it must answer, and must
#                              not hold another cluster's data under another master key)
#   TESSERA_CLUSTER_READY_TIMEOUT  seconds to wait for readiness, default 60
#   TESSERA_BIN                the binary; default target/debug/tessera (built when missing)
#
# Nothing is ever stopped by name: `down` and `kill` signal only the pids recorded in the state
# directory, and only while that pid still runs a command naming this state directory.
set -euo pipefail
# Everything under the state directory is private: it holds the master key and the root key.
umask 077

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
state=${TESSERA_CLUSTER_DIR:-$root/deploy/local/.cluster}
[[ $state == /* ]] || state=$PWD/$state
base=${TESSERA_CLUSTER_PORT:-18000}
ready_timeout=${TESSERA_CLUSTER_READY_TIMEOUT:-60}
bin=${TESSERA_BIN:-$root/target/debug/tessera}
[[ $bin == /* ]] || bin=$PWD/$bin

services=(identity policy sts authorizer)
replicas=(1 2)

die() { echo "cluster: $*" >&2; exit 1; }
say() { echo "cluster: $*" >&2; }

if ! [[ $base =~ ^[0-9]+$ ]] || ((base < 1024 || base > 65000)); then
  die "TESSERA_CLUSTER_PORT must be a port between 1024 and 65000"
fi
[[ $ready_timeout =~ ^[0-9]+$ ]] || die "TESSERA_CLUSTER_READY_TIMEOUT must be a number of seconds"

# The index of a service in the port layout.
service_index() {
  case $1 in
    gateway) echo 0 ;; identity) echo 1 ;; policy) echo 2 ;; sts) echo 3 ;; authorizer) echo 4 ;;
    *) die "unknown service \`$1\`" ;;
  esac
}
http_port() { echo $((base + 20 * $(service_index "$1") + $2)); }
grpc_port() { echo $((base + 20 * $(service_index "$1") + 10 + $2)); }

# Every Tessera process of the cluster, in start order: identity-1 first (it bootstraps the
# account and writes the root credentials), the other services, then the gateways.
all_names() {
  local service replica
  for service in "${services[@]}"; do
    for replica in "${replicas[@]}"; do echo "$service-$replica"; done
  done
  for replica in "${replicas[@]}"; do echo "gateway-$replica"; done
}

redis_port=$base
redis_url() {
  if [[ -n ${TESSERA_CLUSTER_REDIS_URL:-} ]]; then echo "$TESSERA_CLUSTER_REDIS_URL"; else echo "redis://127.0.0.1:$redis_port/0"; fi
}
master_key=$state/master.key
root_credentials=$state/identity-1/data/root-credentials.json

# Whether something accepts TCP connections on 127.0.0.1:PORT.
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The HTTP status code of GET PATH on 127.0.0.1:PORT, or 000 when nothing answers within 2 s.
http_status() {
  local port=$1 path=$2 line
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  line=$(timeout 2 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
    printf "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n" "$1" "$0" >&3
    IFS= read -r line <&3 && printf "%s" "$line"' "$port" "$path" 2>/dev/null) || true
  [[ $line =~ ^HTTP/[0-9.]+\ ([0-9]{3}) ]] && echo "${BASH_REMATCH[1]}" || echo 000
}

# Whether PID runs (a zombie, exited but not yet reaped by init, does not).
alive() {
  local state_field
  kill -0 "$1" 2>/dev/null || return 1
  state_field=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ $state_field != Z ]]
}

# The pid recorded for NAME when that process is alive and is ours (it runs in NAME's directory
# under the state directory, so a recycled pid is never signalled).
live_pid() {
  local file=$state/$1/pid pid
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  # Every process of the cluster runs in its own directory (redis-server chdirs to --dir).
  [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$(cd "$state/$1" && pwd -P)" ]] || return 1
  echo "$pid"
}

# Polls CHECK (a command) until it succeeds or the deadline passes.
wait_for() {
  local deadline=$((SECONDS + ready_timeout))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

ensure_binary() {
  if [[ ! -x $bin ]]; then
    [[ -z ${TESSERA_BIN:-} ]] || die "TESSERA_BIN=$bin is not an executable"
    say "building $bin (cargo build -p tessera)"
    (cd "$root" && cargo build -p tessera) >&2
  fi
}

ensure_master_key() {
  mkdir -p "$state" && chmod 700 "$state"
  if [[ ! -s $master_key ]]; then
    # The key file format of tessera-credentials (`tessera-master-key-v1:` and 32 random bytes in
    # base64), created 0600 (umask 077) before anything is written into it.
    printf 'tessera-master-key-v1:%s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >"$master_key.tmp"
    mv "$master_key.tmp" "$master_key"
    say "generated the master key $master_key (0600)"
  fi
  chmod 600 "$master_key"
}

start_redis() {
  if [[ -n ${TESSERA_CLUSTER_REDIS_URL:-} ]]; then
    local hostport=${TESSERA_CLUSTER_REDIS_URL#*://}
    hostport=${hostport##*@}
    hostport=${hostport%%/*}
    local host=${hostport%%:*} port=${hostport##*:}
    [[ $port != "$hostport" ]] || port=6379
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null || die "TESSERA_CLUSTER_REDIS_URL=$TESSERA_CLUSTER_REDIS_URL does not answer"
    return
  fi
  if live_pid redis >/dev/null; then return; fi
  answers "$redis_port" && die "port $redis_port (Redis) is taken by another process: choose TESSERA_CLUSTER_PORT, or set TESSERA_CLUSTER_REDIS_URL to use that Redis"
  command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server), and TESSERA_CLUSTER_REDIS_URL is not set"
  mkdir -p "$state/redis"
  # Append-only, fsynced on every write: a crash of Redis (the fault tests kill it) loses no
  # write Tessera acknowledged.
  redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" \
    --appendonly yes --appendfsync always --dir "$state/redis" \
    --pidfile "$state/redis/pid" --logfile "$state/redis/log" >/dev/null
  wait_for answers "$redis_port" || die "redis-server did not answer on $redis_port (see $state/redis/log)"
  # --daemonize writes the pid file a moment after the port opens.
  wait_for live_pid redis >/dev/null || die "redis-server wrote no pid file"
  say "redis on 127.0.0.1:$redis_port (pid $(live_pid redis))"
}

# The command line of NAME (`identity-1`, `gateway-2`, ...).
args_of() {
  local name=$1 service=${1%-*} replica=${1##*-} other
  local dir=$state/$name
  local -a args=(serve --service "$service" --store "$(redis_url)" --master-key-file "$master_key"
    --data-dir "$dir/data" --http-addr "127.0.0.1:$(http_port "$service" "$replica")"
    --grpc-addr "127.0.0.1:$(grpc_port "$service" "$replica")"
    --issuer-url "http://127.0.0.1:$(http_port gateway 1)")
  if [[ $service == gateway ]]; then
    # The native gRPC API authenticates its callers, as the HTTP API does (and as the loadtest's
    # `authorize` scenario expects).
    args+=(--grpc-auth)
    for other in "${services[@]}"; do
      for r in "${replicas[@]}"; do args+=(--upstream "$other=http://127.0.0.1:$(grpc_port "$other" "$r")"); done
    done
  fi
  printf '%s\n' "${args[@]}"
}

start_one() {
  local name=$1 dir=$state/$1 port
  if live_pid "$name" >/dev/null; then return; fi
  for port in $(http_port "${name%-*}" "${name##*-}") $(grpc_port "${name%-*}" "${name##*-}"); do
    answers "$port" && die "port $port ($name) is taken by another process: choose another TESSERA_CLUSTER_PORT"
  done
  mkdir -p "$dir/data"
  local -a args
  mapfile -t args < <(args_of "$name")
  # Its own session and no terminal: the process outlives this script and the caller's pipes.
  (cd "$dir" && exec setsid "$bin" "${args[@]}" </dev/null >>"$dir/log" 2>&1) &
  echo $! >"$dir/pid"
}

is_ready() { [[ $(http_status "$(http_port "${1%-*}" "${1##*-}")" /readyz) == 200 ]]; }

# Waits until each NAME is ready; a process that exits meanwhile fails at once, with its log.
wait_ready() {
  local name deadline=$((SECONDS + ready_timeout))
  for name in "$@"; do
    until is_ready "$name"; do
      if ! live_pid "$name" >/dev/null; then
        tail -n 20 "$state/$name/log" >&2 || true
        die "$name exited (log: $state/$name/log)"
      fi
      ((SECONDS < deadline)) || die "$name is not ready after ${ready_timeout}s (log: $state/$name/log)"
      sleep 0.1
    done
  done
}

up() {
  ensure_binary
  ensure_master_key
  start_redis
  # identity-1 alone first: it creates the account and its root key on a fresh store.
  start_one identity-1
  wait_ready identity-1
  local -a rest=()
  mapfile -t rest < <(all_names | grep -vx identity-1 | grep -v '^gateway-')
  local name
  for name in "${rest[@]}"; do start_one "$name"; done
  wait_ready "${rest[@]}"
  for name in gateway-1 gateway-2; do start_one "$name"; done
  wait_ready gateway-1 gateway-2
  local g1 g2
  g1="http://127.0.0.1:$(http_port gateway 1)"
  g2="http://127.0.0.1:$(http_port gateway 2)"
  cat <<MSG
Tessera split cluster is up ($(all_names | wc -l) processes, store $(redis_url)).
  gateways:          $g1  $g2   (gRPC 127.0.0.1:$(grpc_port gateway 1)  127.0.0.1:$(grpc_port gateway 2))
  root credentials:  $root_credentials
  state and logs:    $state
Try it with the AWS CLI:
  aws configure set credential_process "cat $root_credentials" --profile tessera-cluster
  aws --profile tessera-cluster --region us-east-1 --endpoint-url $g1 sts get-caller-identity
  aws --profile tessera-cluster --region us-east-1 --endpoint-url $g2 iam list-users
MSG
  [[ -f $root_credentials ]] || say "note: $root_credentials is missing: the store already held an account when identity-1 first started (set TESSERA_ROOT_ACCESS_KEY_ID/TESSERA_ROOT_SECRET_ACCESS_KEY before the first up to choose the key)"
}

# Stops NAME: SIGTERM (a clean drain), then SIGKILL if it still runs after the deadline.
stop_one() {
  local name=$1 pid deadline
  pid=$(live_pid "$name") || { rm -f "$state/$name/pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 30))
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  if alive "$pid"; then
    say "$name (pid $pid) still runs after 30s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$state/$name/pid"
  say "stopped $name (pid $pid)"
}

down() {
  local -a names
  mapfile -t names < <(all_names | tac)
  local name pids=()
  # Gateways first, then the services, all at once within each group; Redis last.
  for name in "${names[@]}"; do stop_one "$name" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid"; done
  stop_one redis
}

status() {
  local name pid ready port failed=0
  printf '%-14s %-8s %-22s %s\n' PROCESS PID ADDRESS READY
  if pid=$(live_pid redis); then
    printf '%-14s %-8s %-22s %s\n' redis "$pid" "127.0.0.1:$redis_port" "$(answers "$redis_port" && echo yes || echo no)"
  elif [[ -n ${TESSERA_CLUSTER_REDIS_URL:-} ]]; then
    printf '%-14s %-8s %-22s %s\n' redis external "$TESSERA_CLUSTER_REDIS_URL" -
  else
    printf '%-14s %-8s %-22s %s\n' redis - "127.0.0.1:$redis_port" "not running"; failed=1
  fi
  for name in $(all_names); do
    port=$(http_port "${name%-*}" "${name##*-}")
    if pid=$(live_pid "$name"); then
      ready=$(http_status "$port" /readyz)
      if [[ $ready == 200 ]]; then ready=yes; else ready="no (/readyz $ready)" failed=1; fi
    else
      pid=- ready="not running"; failed=1
    fi
    printf '%-14s %-8s %-22s %s\n' "$name" "$pid" "127.0.0.1:$port" "$ready"
  done
  return "$failed"
}

# One process by name, for fault injection.
# (No `all_names | grep -q`: grep quitting early would fail the pipeline under pipefail.)
valid_name() {
  local names
  names=$'\n'$(all_names)$'\n'
  [[ $1 == redis || $names == *$'\n'"$1"$'\n'* ]] || die "no process \`$1\` (redis, $(all_names | paste -sd, -))"
}

kill_one() {
  local pid
  valid_name "$1"
  pid=$(live_pid "$1") || die "$1 is not running"
  kill -KILL "$pid"
  while alive "$pid"; do sleep 0.05; done
  say "killed $1 (pid $pid, SIGKILL)"
}

start_named() {
  valid_name "$1"
  if [[ $1 == redis ]]; then
    start_redis
  else
    ensure_binary
    start_one "$1"
    wait_ready "$1"
  fi
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  kill) [[ -n ${2:-} ]] || die "usage: $0 kill NAME"; kill_one "$2" ;;
  start) [[ -n ${2:-} ]] || die "usage: $0 start NAME"; start_named "$2" ;;
  *) die "usage: $0 up|down|status|kill NAME|start NAME" ;;
esac
