#!/usr/bin/env bash
# Launch throughput: time from POST of an app with N instances of `sleep 3600` (cpus 0.01, mem 8)
# until all N are TASK_RUNNING on one agent. Default N: 100 and 1000.
# Usage: bench/launch.sh [N ...]     (BUILD=debug to skip the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-release}
swift build -c "$BUILD" --product pacer >/dev/null
BIN=.build/$BUILD/pacer
STATE=$(mktemp -d /tmp/pacer-bench-XXXX)
PORT=18080; MASTER=15050; AGENT=15051; TASKS=40000
"$BIN" up --state-dir "$STATE" --port $PORT --master-port $MASTER --agent-port $AGENT --task-ports $TASKS \
    --agent-cpus 64 --agent-mem 65536 --log-level "${LOG_LEVEL:-warning}" >"$STATE/up.log" 2>&1 &
UP=$!
trap 'kill -INT $UP 2>/dev/null; wait $UP 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$STATE"' EXIT
# Waits for a condition, failing loudly (with the cluster's log) after a deadline.
wait_for() {
    local what=$1 deadline=$(( $(date +%s) + $2 )); shift 2
    until "$@"; do
        if [ "$(date +%s)" -gt $deadline ]; then echo "timed out waiting for $what; log: $STATE/up.log" >&2; tail -20 "$STATE/up.log" >&2; exit 1; fi
        sleep 0.05
    done
}
API=http://127.0.0.1:$PORT
up() { curl -sf "$API/ping" >/dev/null; }
subscribed() { curl -sf "http://127.0.0.1:$MASTER/state" | grep -q '"connected":true'; }
wait_for "the cluster" 30 up
wait_for "the framework to subscribe" 30 subscribed

all_running() { [ "$(curl -sf "$API/v2/apps/bench-$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["app"]["tasksRunning"])')" = "$1" ]; }
no_tasks() { [ "$(curl -sf "$API/v2/tasks" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tasks"]))')" = 0 ]; }

for N in "${@:-100 1000}"; do
    for n in $N; do
        start=$(date +%s.%N)
        curl -sf -X POST -H 'Content-Type: application/json' "$API/v2/apps" \
            -d "{\"id\":\"/bench-$n\",\"cmd\":\"sleep 3600\",\"instances\":$n,\"cpus\":0.01,\"mem\":8,\"portDefinitions\":[]}" >/dev/null
        wait_for "$n tasks running" 120 all_running $n
        end=$(date +%s.%N)
        python3 -c "d=$end-$start; print(f'instances={$n} all TASK_RUNNING after {d:.2f} s ({$n/d:.0f} launches/s)')"
        curl -sf -X DELETE "$API/v2/apps/bench-$n?force=true" >/dev/null
        wait_for "all tasks gone" 120 no_tasks
    done
done
