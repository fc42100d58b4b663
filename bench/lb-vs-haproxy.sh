#!/usr/bin/env bash
# Side by side: HAProxy and `pacer lb` in front of the same nginx task, same machine, same run.
# Each proxy is pinned to core 0, wrk to core 1; 3 runs of DURATION each, medians reported:
# req/s, p99 latency, requests per CPU-second of the proxy process, and the ratio pacer/HAProxy.
# Modes measured: L4 (TCP) with keep-alive small responses. (L7, 1 MiB and TLS modes need the
# L7/TLS data path, which `pacer lb` does not have yet.)
# Needs: haproxy, nginx, wrk (apt-get install -y haproxy nginx wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}; RUNS=${RUNS:-3}; CONNS=${CONNS:-50}
for tool in haproxy nginx wrk taskset; do command -v $tool >/dev/null || { echo "missing $tool: apt-get install -y haproxy nginx wrk" >&2; exit 1; }; done
swift build -c release --product pacer >/dev/null
BIN=$PWD/.build/release/pacer
WORK=$(mktemp -d /tmp/pacer-lbbench-XXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# nginx as the backend task: a small static response over keep-alive.
cat > "$WORK/nginx.conf.tmpl" <<NGINX
worker_processes 1;
pid $WORK/nginx-PORT.pid;
error_log /dev/null;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:PORT; location / { return 200 "hello from nginx\n"; } }
}
NGINX
API=18180; SERVICE=18100
"$BIN" up --state-dir "$WORK/state" --port $API --master-port 18150 --agent-port 18151 --task-ports 41000 \
    --lb-config /nonexistent --log-level error > "$WORK/up.log" 2>&1 &
PIDS+=($!)
until curl -sf "http://127.0.0.1:$API/v2/info" | grep -q largestAgent; do sleep 0.2; done
curl -sf -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$API/v2/apps" -d "{
  \"id\": \"/nginx\", \"instances\": 1, \"cpus\": 0.5, \"mem\": 64, \"portDefinitions\": [{\"port\": $SERVICE}],
  \"cmd\": \"sed s/PORT/\$PORT0/g $WORK/nginx.conf.tmpl > nginx.conf && exec nginx -c \$PWD/nginx.conf -g 'daemon off;'\"}" >/dev/null
BACKEND=""
until [ -n "$BACKEND" ]; do
    BACKEND=$(curl -sf "http://127.0.0.1:$API/v2/apps/nginx/tasks" | python3 -c 'import json,sys; t=json.load(sys.stdin)["tasks"]; print(t[0]["ports"][0] if t and t[0]["state"]=="TASK_RUNNING" else "")')
    sleep 0.2
done
until curl -sf "http://127.0.0.1:$BACKEND/" >/dev/null; do sleep 0.1; done

# HAProxy, mode tcp, on core 0.
cat > "$WORK/haproxy.cfg" <<HAP
global
    maxconn 8000
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
frontend f
    bind 127.0.0.1:18200
    default_backend b
backend b
    server s1 127.0.0.1:$BACKEND
HAP
taskset -c 0 haproxy -f "$WORK/haproxy.cfg" -db > "$WORK/haproxy.log" 2>&1 &
HAPROXY=$!; PIDS+=($HAPROXY)

# pacer lb, one worker, on core 0, following the framework (service port $SERVICE).
cat > "$WORK/lb.yaml" <<LB
bind: 127.0.0.1
frameworks: [http://127.0.0.1:$API]
admin_port: 18290
workers: 1
LB
taskset -c 0 "$BIN" lb --config "$WORK/lb.yaml" --log-level error > "$WORK/lb.log" 2>&1 &
PACER=$!; PIDS+=($PACER)
until curl -sf "http://127.0.0.1:$SERVICE/" >/dev/null 2>&1; do sleep 0.1; done
until curl -sf "http://127.0.0.1:18200/" >/dev/null 2>&1; do sleep 0.1; done

cpu() { awk '{print $14+$15}' /proc/$1/stat; }   # utime+stime in clock ticks
TICKS=$(getconf CLK_TCK)
# Prints "req/s p99_ms requests_per_cpu_second" for one run against port $1, proxy pid $2.
run() {
    local before after out rps p99 total
    before=$(cpu $2)
    out=$(taskset -c 1 wrk -t1 -c$CONNS -d$DURATION --latency "http://127.0.0.1:$1/")
    after=$(cpu $2)
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    total=$(echo "$out" | awk '/requests in/ {print $1}')
    p99=$(echo "$out" | awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; print v}')
    python3 -c "print($rps, $p99, round($total / max(1e-9, ($after - $before) / $TICKS)))"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A R
for name in haproxy pacer; do
    port=$([ $name = haproxy ] && echo 18200 || echo $SERVICE); pid=$([ $name = haproxy ] && echo $HAPROXY || echo $PACER)
    taskset -c 1 wrk -t1 -c$CONNS -d2s "http://127.0.0.1:$port/" >/dev/null  # warm-up
    : > "$WORK/$name.runs"
    for i in $(seq $RUNS); do run $port $pid >> "$WORK/$name.runs"; done
    R[$name.rps]=$(awk '{print $1}' "$WORK/$name.runs" | median)
    R[$name.p99]=$(awk '{print $2}' "$WORK/$name.runs" | median)
    R[$name.cpu]=$(awk '{print $3}' "$WORK/$name.runs" | median)
done
printf "%-8s %-22s %12s %10s %16s\n" mode proxy "req/s" "p99 ms" "req/CPU-s"
printf "%-8s %-22s %12s %10s %16s\n" L4 "HAProxy $(haproxy -v | head -1 | awk '{print $3}')" ${R[haproxy.rps]} ${R[haproxy.p99]} ${R[haproxy.cpu]}
printf "%-8s %-22s %12s %10s %16s\n" L4 "pacer lb" ${R[pacer.rps]} ${R[pacer.p99]} ${R[pacer.cpu]}
python3 -c "print(f'L4 ratio pacer/HAProxy: req/s {${R[pacer.rps]}/${R[haproxy.rps]}:.2f}x, req per CPU-s {${R[pacer.cpu]}/${R[haproxy.cpu]}:.2f}x, p99 {${R[pacer.p99]}/${R[haproxy.p99]}:.2f}x')"
