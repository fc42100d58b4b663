#!/usr/bin/env bash
# Side by side: HAProxy and `pacer lb` in front of the same nginx task, same machine, same run.
# Each proxy is pinned to core 0 (one thread), wrk and nginx to core 1; RUNS runs of DURATION each, medians:
# req/s, p99 latency, requests per CPU-second of the proxy process, and the ratio pacer/HAProxy.
# Modes: L4 (TCP, keep-alive small responses), L7 (HTTP keep-alive small responses),
# L7-1MiB (HTTP, 1 MiB responses), TLS (HTTPS termination, keep-alive small responses).
# MODES="L4 L7" runs a subset. PERF_OUT=FILE samples pacer lb (perf record, cpu-clock) during its
# first run of the first mode and writes the flat profile (demangled) to FILE.
# Needs: haproxy, nginx, wrk (apt-get install -y haproxy nginx wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}; RUNS=${RUNS:-5}; CONNS=${CONNS:-50}; MODES=${MODES:-"L4 L7 L7-1MiB TLS"}
for tool in haproxy nginx wrk taskset; do command -v $tool >/dev/null || { echo "missing $tool: apt-get install -y haproxy nginx wrk" >&2; exit 1; }; done
swift build -c release --product pacer >/dev/null
BIN=$PWD/.build/release/pacer
WORK=$(mktemp -d /tmp/pacer-lbbench-XXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# nginx as the backend task, on the task's two ports: a small response, and 1 MiB at /big. cpus 1 gives it
# the CPU weight wrk has on core 1 (as before tasks ran in cgroups) and no cap.
head -c 1048576 /dev/zero > "$WORK/big"
chmod 755 "$WORK"; chmod 644 "$WORK/big"   # nginx workers run as nobody

# One self-signed certificate for both proxies (RSA 2048, the common case).
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 1 -subj /CN=bench.local 2>/dev/null
cat "$WORK/cert.pem" "$WORK/key.pem" > "$WORK/combined.pem"
cat > "$WORK/nginx.conf.tmpl" <<NGINX
worker_processes 1;
pid SANDBOX/nginx.pid;
error_log /dev/null;
events { worker_connections 4096; }
http {
    access_log off;
    # Temp paths in the sandbox: the task user cannot create nginx's defaults under /var/lib/nginx.
    client_body_temp_path SANDBOX/body; proxy_temp_path SANDBOX/proxy; fastcgi_temp_path SANDBOX/fastcgi;
    uwsgi_temp_path SANDBOX/uwsgi; scgi_temp_path SANDBOX/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:P0; listen 127.0.0.1:P1;
        location / { return 200 "hello from nginx\n"; }
        location = /big { alias $WORK/big; }
    }
}
NGINX
API=18180; L4=18100; L7=18101
# --isolation none: the backend must not be the bottleneck of a proxy comparison (cgroup accounting
# on nginx cost ~20 % of its throughput here); this measures the LB, not task isolation.
"$BIN" up --state-dir "$WORK/state" --port $API --master-port 18150 --agent-port 18151 --task-ports 41000 --isolation none \
    --no-lb --log-level error > "$WORK/up.log" 2>&1 &
PIDS+=($!)
until curl -sf "http://127.0.0.1:$API/v2/info?embed=pacer" | grep -q largestAgent; do sleep 0.2; done
curl -sf -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$API/v2/apps" -d "{
  \"id\": \"/nginx\", \"instances\": 1, \"cpus\": 1, \"mem\": 64, \"resourceLimits\": {\"cpus\": \"unlimited\"},
  \"portDefinitions\": [{\"port\": $L4}, {\"port\": $L7}],
  \"labels\": {\"HAPROXY_0_MODE\": \"tcp\", \"HAPROXY_1_MODE\": \"http\", \"HAPROXY_1_VHOST\": \"bench.local\"},
  \"cmd\": \"sed -e s/P0/\$PORT0/g -e s/P1/\$PORT1/g -e s,SANDBOX,\$PWD,g $WORK/nginx.conf.tmpl > nginx.conf && exec taskset -c 1 nginx -c \$PWD/nginx.conf -g 'daemon off;'\"}" >/dev/null
PORTS=""; WAITED=0
until [ -n "$PORTS" ]; do
    # The task runs as the agent's unprivileged user: it may write only to its sandbox.
    WAITED=$((WAITED + 1)); [ $WAITED -lt 150 ] || { echo "nginx task did not start:" >&2; cat "$WORK"/state/agent-*/sandboxes/*/stderr >&2; exit 1; }
    PORTS=$(curl -sf "http://127.0.0.1:$API/v2/apps/nginx/tasks" | python3 -c 'import json,sys; t=json.load(sys.stdin)["tasks"]; print(" ".join(map(str, t[0]["ports"])) if t and t[0]["state"]=="TASK_RUNNING" else "")')
    sleep 0.2
done
read -r B0 B1 <<< "$PORTS"
until curl -sf "http://127.0.0.1:$B0/" >/dev/null && curl -sf "http://127.0.0.1:$B1/" >/dev/null; do sleep 0.1; done
[ "$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$B1/big")" = 1048576 ] || { echo "nginx does not serve /big" >&2; exit 1; }

# HAProxy, one thread, on core 0: tcp frontend on 18200, http on 18201 (keep-alive both sides,
# X-Forwarded-For added, as pacer lb does).
cat > "$WORK/haproxy.cfg" <<HAP
global
    maxconn 8000
    nbthread 1
defaults
    timeout connect 2s
    timeout client 60s
    timeout server 60s
frontend f4
    mode tcp
    bind 127.0.0.1:18200
    default_backend b4
backend b4
    mode tcp
    server s1 127.0.0.1:$B0
frontend f7
    mode http
    option forwardfor
    bind 127.0.0.1:18201
    default_backend b7
backend b7
    mode http
    http-reuse safe
    server s1 127.0.0.1:$B1
frontend f7s
    mode http
    option forwardfor
    bind 127.0.0.1:18202 ssl crt $WORK/combined.pem
    default_backend b7
HAP
taskset -c 0 haproxy -f "$WORK/haproxy.cfg" -db > "$WORK/haproxy.log" 2>&1 &
HAPROXY=$!; PIDS+=($HAPROXY)

# pacer lb, one worker, on core 0, following the framework.
cat > "$WORK/lb.yaml" <<LB
bind: 127.0.0.1
frameworks: [http://127.0.0.1:$API]
admin_port: 18290
https_port: 18443
certificates: [{cert: $WORK/cert.pem, key: $WORK/key.pem}]
workers: 1
LB
taskset -c 0 "$BIN" lb --config "$WORK/lb.yaml" --log-level error > "$WORK/lb.log" 2>&1 &
PACER=$!; PIDS+=($PACER)
for p in $L4 $L7 18200 18201; do until curl -sf "http://127.0.0.1:$p/" >/dev/null 2>&1; do sleep 0.1; done; done
for p in 18443 18202; do until curl -sfk -H "Host: bench.local" "https://127.0.0.1:$p/" >/dev/null 2>&1; do sleep 0.1; done; done

cpu() { awk '{print $14+$15}' /proc/$1/stat; }   # utime+stime in clock ticks
TICKS=$(getconf CLK_TCK)
# Prints "req/s p99_ms requests_per_cpu_second" for one run against URL $1, proxy pid $2, $3 connections.
run() {
    local before after out rps p99 total
    before=$(cpu $2)
    out=$(taskset -c 1 wrk -t1 -c$3 -d$DURATION --latency -H "Host: bench.local" "$1")
    after=$(cpu $2)
    if echo "$out" | grep -q "Non-2xx"; then echo "non-2xx responses from $1" >&2; exit 1; fi
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    total=$(echo "$out" | awk '/requests in/ {print $1}')
    p99=$(echo "$out" | awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; print v}')
    python3 -c "print($rps, $p99, round($total / max(1e-9, ($after - $before) / $TICKS)))"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A R
printf "%-8s %-16s %12s %10s %12s\n" mode proxy "req/s" "p99 ms" "req/CPU-s" > "$WORK/table"
for mode in $MODES; do
    case $mode in
        L4) hp=18200; pp=$L4; path=/; conns=$CONNS ;;
        L7) hp=18201; pp=$L7; path=/; conns=$CONNS ;;
        L7-1MiB) hp=18201; pp=$L7; path=/big; conns=10 ;;
        TLS) hp=18202; pp=18443; path=/; conns=$CONNS ;;
    esac
    scheme=$([ $mode = TLS ] && echo https || echo http)
    port_of() { [ $1 = haproxy ] && echo $hp || echo $pp; }
    pid_of() { [ $1 = haproxy ] && echo $HAPROXY || echo $PACER; }
    for name in haproxy pacer; do
        taskset -c 1 wrk -t1 -c$conns -d2s -H "Host: bench.local" "$scheme://127.0.0.1:$(port_of $name)$path" >/dev/null  # warm-up
        : > "$WORK/$name.runs"
    done
    # Runs alternate between the proxies (and which goes first), so drift in the VM's speed over the
    # minute a mode takes lands on both sides instead of on whichever ran later.
    for i in $(seq $RUNS); do
        order=$([ $((i % 2)) = 1 ] && echo "haproxy pacer" || echo "pacer haproxy")
        for name in $order; do
            if [ -n "${PERF_OUT:-}" ] && [ $name = pacer ] && [ $i = 1 ] && [ ! -e "$WORK/perf.data" ]; then
                perf record -q -F 1999 -g -p $PACER -o "$WORK/perf.data" -- sleep 5 >/dev/null 2>&1 &
            fi
            run "$scheme://127.0.0.1:$(port_of $name)$path" $(pid_of $name) $conns >> "$WORK/$name.runs"
        done
    done
    for name in haproxy pacer; do
        R[$mode.$name.rps]=$(awk '{print $1}' "$WORK/$name.runs" | median)
        R[$mode.$name.p99]=$(awk '{print $2}' "$WORK/$name.runs" | median)
        R[$mode.$name.cpu]=$(awk '{print $3}' "$WORK/$name.runs" | median)
        label=$([ $name = haproxy ] && echo "HAProxy $(haproxy -v | head -1 | awk '{print $3}')" || echo "pacer lb")
        printf "%-8s %-16s %12s %10s %12s\n" $mode "$label" ${R[$mode.$name.rps]} ${R[$mode.$name.p99]} ${R[$mode.$name.cpu]} >> "$WORK/table"
    done
done
cat "$WORK/table"
if [ -n "${PERF_OUT:-}" ] && [ -e "$WORK/perf.data" ]; then
    { perf report -i "$WORK/perf.data" --no-children --stdio --sort dso -g none 2>/dev/null
      perf report -i "$WORK/perf.data" --no-children --stdio --percent-limit 0.15 -g none --dsos pacer,libswiftCore.so,libevent-2.1.so.7,libc.so.6 2>/dev/null; } | swift demangle --simplified > "$PERF_OUT"
fi
for mode in $MODES; do
    python3 -c "print(f'$mode ratio pacer/HAProxy: req/s {${R[$mode.pacer.rps]}/${R[$mode.haproxy.rps]}:.2f}x, req per CPU-s {${R[$mode.pacer.cpu]}/${R[$mode.haproxy.cpu]}:.2f}x, p99 {${R[$mode.pacer.p99]}/${R[$mode.haproxy.p99]}:.2f}x')"
done
