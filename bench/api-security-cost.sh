#!/usr/bin/env bash
# What TLS and authentication cost the framework API: GET /v2/apps (10 apps) with wrk, 10
# connections, against the same framework binary three ways — plain HTTP without credentials,
# HTTP with a principal (bearer token), HTTPS with the same principal. Prints req/s, p50 and p99.
# Needs: wrk, openssl. BIN=path/to/pacer (default: the release build).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "missing wrk: apt-get install -y wrk" >&2; exit 1; }
swift build -c release --product pacer >/dev/null 2>&1
BIN=${BIN:-$PWD/.build/release/pacer}
DURATION=${DURATION:-5s}
WORK=$(mktemp -d /tmp/pacer-seccost-XXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"
openssl req -x509 -newkey rsa:2048 -nodes -keyout s.key -out s.pem -days 1 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
read -r TOKEN DIGEST < <("$BIN" principal new-token | awk -F': ' '{printf "%s ", $2} END {print ""}')
printf 'principals:\n  - {name: ops, role: admin, token_sha256: "%s"}\n' "$DIGEST" > principals.yaml

measure() {  # name port scheme extra-args...
    local name=$1 port=$2 scheme=$3; shift 3
    "$BIN" framework --port "$port" --state-dir "$WORK/$name" --master http://127.0.0.1:1 "$@" > "$name.log" 2>&1 &
    PIDS+=($!)
    local auth=()
    [ "$name" = plain ] || auth=(-H "Authorization: Bearer $TOKEN")
    for _ in $(seq 100); do curl -sfk "${auth[@]}" "$scheme://127.0.0.1:$port/v2/info" >/dev/null 2>&1 && break; sleep 0.1; done
    for i in $(seq 10); do
        curl -sfk "${auth[@]}" -X POST -H 'Content-Type: application/json' "$scheme://127.0.0.1:$port/v2/apps" \
            -d "{\"id\":\"/a$i\",\"cmd\":\"sleep 1\",\"instances\":0,\"cpus\":0.01,\"mem\":8}" >/dev/null || true
    done
    wrk -t1 -c10 -d2s "${auth[@]}" "$scheme://127.0.0.1:$port/v2/apps" >/dev/null  # warm-up
    local out; out=$(wrk -t1 -c10 -d"$DURATION" --latency "${auth[@]}" "$scheme://127.0.0.1:$port/v2/apps")
    printf "%-22s %10s req/s  p50 %8s  p99 %8s\n" "$name" "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
        "$(echo "$out" | awk '$1=="50%" {print $2}')" "$(echo "$out" | awk '$1=="99%" {print $2}')"
}
measure plain 18720 http
measure auth 18721 http --principals principals.yaml
measure auth+tls 18722 https --principals principals.yaml --tls-cert s.pem --tls-key s.key
