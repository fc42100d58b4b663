#!/usr/bin/env bash
# Failover times on one etcd: three `pacer framework` replicas and two masters, an app of 5 tasks.
# Framework: the leading replica is killed (kill -9) REPS times; measured from the kill until a
# surviving replica answers GET /v2/apps with the app. Master: the leading master is killed REPS
# times; measured until the other one leads (GET /state 200; a follower answers 307) and until the agent is back on it with
# all 5 tasks. After every kill the tasks must be the same ones (none restarted). Median and worst.
# Needs: etcd (apt-get install etcd-server), curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-10}; TTL=${TTL:-2}
command -v etcd >/dev/null || { echo "missing etcd: apt-get install -y etcd-server" >&2; exit 1; }
swift build -c release --product pacer >/dev/null
BIN=$PWD/.build/release/pacer
WORK=$(mktemp -d /tmp/pacer-failover-XXXX); chmod 755 "$WORK"
PIDS=()
# A standalone agent leaves its tasks running when stopped: end them (each task's keeper leads its group).
task_pids() { curl -sf -m 2 "http://127.0.0.1:$AGENT/state" | python3 -c 'import json,sys; print(" ".join(str(t["pid"]) for t in json.load(sys.stdin) if t.get("pid")))' 2>/dev/null || true; }
cleanup() {
    local tasks; tasks=$(task_pids)
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
    for t in $tasks; do kill -9 -- "-$t" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

ETCD=18479; M=(18450 18452); AGENT=18451; F=(18481 18482 18483)
MASTERS="http://127.0.0.1:${M[0]},http://127.0.0.1:${M[1]}"
etcd --name m0 --data-dir "$WORK/etcd" --listen-client-urls http://127.0.0.1:$ETCD --advertise-client-urls http://127.0.0.1:$ETCD \
    --listen-peer-urls http://127.0.0.1:$((ETCD + 1)) --initial-advertise-peer-urls http://127.0.0.1:$((ETCD + 1)) \
    --initial-cluster m0=http://127.0.0.1:$((ETCD + 1)) --log-level warn > "$WORK/etcd.log" 2>&1 &
PIDS+=($!)
declare -A MPID
start_master() {
    "$BIN" master --port "$1" --state-dir "$WORK/m$1" --store etcd://127.0.0.1:$ETCD --log-level warning >> "$WORK/m$1.log" 2>&1 &
    MPID[$1]=$!; PIDS+=($!)
}
for p in "${M[@]}"; do start_master "$p"; done
"$BIN" agent --port $AGENT --master "$MASTERS" --state-dir "$WORK/agent" --cpus 4 --mem 4096 \
    --ports 41000-41100 --isolation none --log-level warning > "$WORK/agent.log" 2>&1 & PIDS+=($!)
declare -A FPID
start_replica() {
    "$BIN" framework --port "$1" --master "$MASTERS" --state-dir "$WORK/f$1" --leader-ttl "$TTL" \
        --store etcd://127.0.0.1:$ETCD --log-level warning >> "$WORK/f$1.log" 2>&1 &
    FPID[$1]=$!; PIDS+=($!)
}
for p in "${F[@]}"; do start_replica "$p"; done
leader() { curl -sf -m 1 "http://127.0.0.1:$1/v2/leader" | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"].split(":")[1])' 2>/dev/null || true; }
until [ -n "$(leader ${F[0]})" ]; do sleep 0.2; done
until curl -sf "http://127.0.0.1:${F[0]}/v2/info?embed=pacer" | grep -q largestAgent; do sleep 0.2; done
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
summary() { sort -n | awk -v what="$1" '{a[NR]=$1} END {printf "%s over %d kills (lease TTL '"$TTL"' s): median %.3f s, worst %.3f s\n", what, NR, a[int((NR+1)/2)], a[NR]}'; }
FRAMEWORK_SUMMARY=$(printf '%s\n' "${TIMES[@]}" | summary "framework failover (API answers again)")

leads() { [ "$(curl -s -o /dev/null -w '%{http_code}' -m 1 "http://127.0.0.1:$1/state")" = 200 ]; }
agent_back() {
    curl -sf -m 1 "http://127.0.0.1:$1/state" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(sum(1 for a in s["agents"] for t in a["tasks"] if t["state"]=="TASK_RUNNING"))' 2>/dev/null || echo 0
}
ELECT=(); BACK=()
for i in $(seq "$REPS"); do
    L=""; for p in "${M[@]}"; do leads "$p" && L=$p; done
    O=$([ "$L" = "${M[0]}" ] && echo "${M[1]}" || echo "${M[0]}")
    kill -9 "${MPID[$L]}"; T0=$(date +%s.%N)
    until leads "$O"; do sleep 0.05; done
    E=$(python3 -c "print(round($(date +%s.%N) - $T0, 3))"); ELECT+=("$E")
    until [ "$(agent_back "$O")" = 5 ]; do sleep 0.05; done
    B=$(python3 -c "print(round($(date +%s.%N) - $T0, 3))"); BACK+=("$B")
    start_master "$L"
    NOW=$(tasks "$(leader ${F[0]})")
    echo "master failover $i: new leader ${E} s, agent back with its tasks ${B} s, tasks $([ "$NOW" = "$BEFORE" ] && echo unchanged || echo CHANGED)"
    [ "$NOW" = "$BEFORE" ] || { echo "tasks changed across a master failover" >&2; exit 1; }
    sleep 1
done
echo "$FRAMEWORK_SUMMARY"
printf '%s\n' "${ELECT[@]}" | summary "master failover (new leader)"
printf '%s\n' "${BACK[@]}" | summary "master failover (agent back with its tasks)"
