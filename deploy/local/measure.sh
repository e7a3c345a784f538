#!/usr/bin/env bash
# CPU and memory of each process of the local split cluster (deploy/local/cluster.sh) while
# tessera-loadtest drives a gateway: the figures the Kubernetes resource requests come from.
#
#   deploy/local/measure.sh LOADTEST_BIN SCENARIO [LOADTEST FLAGS...]
#   deploy/local/measure.sh target/release/tessera-loadtest assume-role --concurrency 32 --duration 10s
#
# Prints, per process: CPU seconds used during the run, the average cores that is, resident memory
# at the end and at its peak (VmHWM, since the process started), then the loadtest's JSON line.
# Uses the same TESSERA_CLUSTER_DIR / TESSERA_CLUSTER_PORT as cluster.sh; `authorize` goes to
# gateway-1's gRPC port.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
state=${TESSERA_CLUSTER_DIR:-$root/deploy/local/.cluster}
base=${TESSERA_CLUSTER_PORT:-18000}
[[ $# -ge 2 ]] || { echo "usage: $0 LOADTEST_BIN SCENARIO [FLAGS...]" >&2; exit 2; }
loadtest=$1 scenario=$2
shift 2

ticks=$(getconf CLK_TCK)
declare -A start_ticks
names=()
for dir in "$state"/*/; do
  name=$(basename "$dir")
  [[ -f $dir/pid ]] || continue
  pid=$(<"$dir/pid")
  [[ -r /proc/$pid/stat ]] || continue
  names+=("$name")
done
[[ ${#names[@]} -gt 0 ]] || { echo "no running cluster under $state" >&2; exit 1; }

# utime + stime of a pid, in clock ticks (fields 14 and 15, after the parenthesised name).
cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
calc() { awk "BEGIN { print $* }"; }
kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

for name in "${names[@]}"; do start_ticks[$name]=$(cpu_ticks "$(<"$state/$name/pid")"); done
started=$(date +%s.%N)
extra=()
[[ $scenario == authorize ]] && extra=(--grpc-target "http://127.0.0.1:$((base + 11))")
"$loadtest" "$scenario" --target "http://127.0.0.1:$((base + 1))" \
  --root-credentials "$state/identity-1/data/root-credentials.json" "${extra[@]}" "$@" >"$state/measure.out"
elapsed=$(calc "$(date +%s.%N) - $started")

printf '%-14s %10s %8s %9s %9s\n' PROCESS CPU_S CORES RSS_MIB PEAK_MIB
for name in "${names[@]}"; do
  pid=$(<"$state/$name/pid")
  used=$(( $(cpu_ticks "$pid") - start_ticks[$name] ))
  printf '%-14s %10.2f %8.2f %9.1f %9.1f\n' "$name" "$(calc "$used / $ticks")" \
    "$(calc "$used / $ticks / $elapsed")" "$(calc "$(kib "$pid" VmRSS) / 1024")" "$(calc "$(kib "$pid" VmHWM) / 1024")"
done
printf 'wall %.1f s (warm-up included)\n' "$elapsed"
tail -n 1 "$state/measure.out"
