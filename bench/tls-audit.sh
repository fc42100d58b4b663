#!/usr/bin/env bash
# testssl.sh against every TLS listener of a loopback cluster: the master, an agent, the framework,
# the load balancer's admin port (Hummingbird + NIOSSL/BoringSSL) and the LB's HTTPS virtual-host
# listener (libevent + OpenSSL). Prints, per listener, the protocols offered and every finding
# testssl rates LOW or worse. Needs: testssl (apt-get install testssl.sh), openssl.
# BIN=path/to/pacer picks the binary (default: the debug build; TLS does not depend on it).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v testssl >/dev/null || { echo "missing testssl: apt-get install -y testssl.sh" >&2; exit 1; }
BIN=${BIN:-$PWD/.build/debug/pacer}
[ -x "$BIN" ] || swift build --product pacer >/dev/null
WORK=$(mktemp -d /tmp/pacer-tlsaudit-XXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

cd "$WORK"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=audit-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout s.key -out s.csr -subj /CN=127.0.0.1 2>/dev/null
printf "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:app.local" > s.ext
openssl x509 -req -in s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out s.pem -days 2 -extfile s.ext 2>/dev/null
TLS=(--tls-cert "$WORK/s.pem" --tls-key "$WORK/s.key" --ca "$WORK/ca.pem")
M=18710; A=18711; F=18712; LBA=18713; LBS=18714
"$BIN" master --port $M --state-dir "$WORK/m" "${TLS[@]}" > m.log 2>&1 & PIDS+=($!)
"$BIN" agent --port $A --master https://127.0.0.1:$M --state-dir "$WORK/a" --isolation none --cpus 1 --mem 256 \
    --ports 41500-41510 "${TLS[@]}" > a.log 2>&1 & PIDS+=($!)
"$BIN" framework --port $F --master https://127.0.0.1:$M --state-dir "$WORK/f" "${TLS[@]}" > f.log 2>&1 & PIDS+=($!)
cat > lb.yaml <<LB
bind: 127.0.0.1
frameworks: [https://127.0.0.1:$F]
framework_ca: $WORK/ca.pem
admin_port: $LBA
admin_tls_cert: $WORK/s.pem
admin_tls_key: $WORK/s.key
https_port: $LBS
certificates: [{cert: $WORK/s.pem, key: $WORK/s.key}]
workers: 1
LB
"$BIN" lb --config lb.yaml > lb.log 2>&1 & PIDS+=($!)
for p in $M $A $F $LBA; do
    for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done
done
# The LB opens its HTTPS virtual-host listener once an app asks for a virtual host.
for _ in $(seq 50); do
    curl -sf --cacert ca.pem -H 'Content-Type: application/json' https://127.0.0.1:$F/v2/apps -d \
        '{"id":"/audit","cmd":"sleep 3600","instances":1,"cpus":0.1,"mem":16,"portDefinitions":[{"port":0}],"labels":{"HAPROXY_0_MODE":"http","HAPROXY_0_VHOST":"app.local"}}' \
        >/dev/null 2>&1 && break
    sleep 0.2
done
for _ in $(seq 150); do (echo > /dev/tcp/127.0.0.1/$LBS) 2>/dev/null && break; sleep 0.1; done

for target in "master:$M" "agent:$A" "framework:$F" "lb-admin:$LBA" "lb-https:$LBS"; do
    name=${target%%:*}; port=${target##*:}
    testssl --quiet --color 0 --warnings off --fast --protocols --std --server-defaults --vulnerable \
        --jsonfile "$WORK/$name.json" "127.0.0.1:$port" > "$WORK/$name.txt" 2>&1 || true
    offered=$(python3 - "$WORK/$name.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
protocols = [r["id"] for r in rows if r["id"] in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3") and r["finding"].startswith("offered")]
# The certificate's own findings (self-signed test CA, two days' validity, no CRL/OCSP, no DNS CAA)
# say nothing about the server: left out.
ignore = ("cert_", "DNS_CAArecord", "intermediate_cert")
weak = sorted({f'{r["id"]}: {r["finding"]}' for r in rows
               if r.get("severity") in ("LOW", "MEDIUM", "HIGH", "CRITICAL") and not r["id"].startswith(ignore)})
print("offered " + ",".join(protocols) + "; findings LOW or worse: " + ("none" if not weak else "; ".join(weak)))
PY
)
    echo "$name (127.0.0.1:$port): $offered"
done
