#!/usr/bin/env bash
# Framework failover: three `pacer framework` replicas on one etcd, an app of 5 tasks; the leader is
# killed (kill -9) REPS times. Measured: from the kill until a surviving replica answers
# GET /v2/apps with the app (through the follower's forwarding or as the new leader), and that
# no task was restarted. Prints each time, the median and the worst.
# Master failover is not measured: masters do not elect a leader yet (issue 5).
# Needs: etcd (apt-get install etcd-server), curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-10}; TTL=${TTL:-2}
command -v etcd >/dev/null || { echo "missing etcd: apt-get install -y etcd-server" >&2; exit 1; }
swift build -c release --product pacer >/dev/null
BIN=$PWD/.build/release/pacer
WORK=$(mktemp -d /tmp/pacer-failover-XXXX); chmod 755 "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

ETCD=18479; MASTER=18450; AGENT=18451; F=(18481 18482 18483)
etcd --name m0 --data-dir "$WORK/etcd" --listen-client-urls http://127.0.0.1:$ETCD --advertise-client-urls http://127.0.0.1:$ETCD \
    --listen-peer-urls http://127.0.0.1:$((ETCD + 1)) --initial-advertise-peer-urls http://127.0.0.1:$((ETCD + 1)) \
    --initial-cluster m0=http://127.0.0.1:$((ETCD + 1)) --log-level warn > "$WORK/etcd.log" 2>&1 &
PIDS+=($!)
"$BIN" master --port $MASTER --state-dir "$WORK/master" --log-level warning > "$WORK/master.log" 2>&1 & PIDS+=($!)
"$BIN" agent --port $AGENT --master http://127.0.0.1:$MASTER --state-dir "$WORK/agent" --cpus 4 --mem 4096 \
    --ports 41000-41100 --isolation none --log-level warning > "$WORK/agent.log" 2>&1 & PIDS+=($!)
declare -A FPID
start_replica() {
    "$BIN" framework --port "$1" --master http://127.0.0.1:$MASTER --state-dir "$WORK/f$1" --leader-ttl "$TTL" \
        --store etcd://127.0.0.1:$ETCD --log-level warning >> "$WORK/f$1.log" 2>&1 &
    FPID[$1]=$!; PIDS+=($!)
}
for p in "${F[@]}"; do start_replica "$p"; done
leader() { curl -sf -m 1 "http://127.0.0.1:$1/v2/leader" | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"].split(":")[1])' 2>/dev/null || true; }
until [ -n "$(leader ${F[0]})" ]; do sleep 0.2; done
until curl -sf "http://127.0.0.1:${F[0]}/v2/info" | grep -q largestAgent; do sleep 0.2; done
curl -sf -X POST -H 'Content-Type: application/json' "http://127.0.0.1:${F[0]}/v2/apps" \
    -d '{"id":"/fo","cmd":"sleep 3600","instances":5,"cpus":0.01,"mem":16,"portDefinitions":[]}' >/dev/null
tasks() { curl -sf -m 2 "http://127.0.0.1:$1/v2/apps/fo/tasks" | python3 -c 'import json,sys; print(" ".join(sorted(t["id"] for t in json.load(sys.stdin)["tasks"] if t["state"]=="TASK_RUNNING")))' 2>/dev/null || true; }
until [ "$(tasks ${F[0]} | wc -w)" = 5 ]; do sleep 0.2; done
BEFORE=$(tasks ${F[0]})

TIMES=()
for i in $(seq "$REPS"); do
    L=$(leader ${F[0]}); [ -n "$L" ] || L=$(leader ${F[1]})
    kill -9 "${FPID[$L]}"; T0=$(date +%s.%N)
    while :; do
        for p in "${F[@]}"; do
            [ "$p" = "$L" ] && continue
            if curl -sf -m 1 "http://127.0.0.1:$p/v2/apps" | grep -q '"/fo"'; then break 2; fi
        done
        sleep 0.05
    done
    T=$(python3 -c "print(round($(date +%s.%N) - $T0, 3))"); TIMES+=("$T")
    start_replica "$L"   # back as a follower, so three replicas stand again
    until [ -n "$(leader "$L")" ] && [ "$(leader "$L")" != "$L" ]; do sleep 0.2; done
    NOW=$(tasks "$(leader "$L")")
    echo "failover $i: ${T} s, tasks $([ "$NOW" = "$BEFORE" ] && echo unchanged || echo CHANGED)"
    [ "$NOW" = "$BEFORE" ] || { echo "tasks changed across a failover" >&2; exit 1; }
done
printf '%s\n' "${TIMES[@]}" | sort -n | awk '{a[NR]=$1} END {printf "framework failover over %d kills (lease TTL '"$TTL"' s): median %.3f s, worst %.3f s\n", NR, a[int((NR+1)/2)], a[NR]}'
echo "master failover: not measured (one master; leader election for masters is not built yet)"
