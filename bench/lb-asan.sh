#!/usr/bin/env bash
# AddressSanitizer build of pacer under load with abrupt disconnects: normal exchanges, resets
# mid-transfer (SO_LINGER 0), connect-and-close, half-closes and large transfers, from several
# threads for SECONDS. Fails if ASan reports anything or the LB's descriptors do not come back.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${SECONDS_TO_RUN:-20}
swift build --sanitize=address --product pacer --scratch-path .build-asan >/dev/null
BIN=$PWD/.build-asan/debug/pacer
WORK=$(mktemp -d /tmp/pacer-asan-XXXX)
trap 'kill -INT $UP 2>/dev/null; wait $UP 2>/dev/null; rm -rf "$WORK"' EXIT
API=18380; SERVICE=18300
cat > "$WORK/lb.yaml" <<LB
bind: 127.0.0.1
frameworks: [http://127.0.0.1:$API]
admin_port: 18390
workers: 2
LB
ASAN_OPTIONS=detect_leaks=0 "$BIN" up --state-dir "$WORK/state" --port $API --master-port 18350 --agent-port 18351 \
    --task-ports 42000 --lb-config "$WORK/lb.yaml" --log-level warning > "$WORK/up.log" 2>&1 &
UP=$!
until curl -sf "http://127.0.0.1:$API/v2/info" | grep -q largestAgent; do sleep 0.2; done
curl -sf -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$API/v2/apps" -d "{\"id\":\"/echo\",\"instances\":2,
  \"cpus\":0.1,\"mem\":64,\"portDefinitions\":[{\"port\":$SERVICE}],
  \"cmd\":\"exec python3 -u -c 'import socketserver,os\nclass H(socketserver.BaseRequestHandler):\n    def handle(self):\n        while True:\n            d=self.request.recv(65536)\n            if not d: break\n            self.request.sendall(d)\nsocketserver.ThreadingTCPServer.allow_reuse_address=True\nsocketserver.ThreadingTCPServer((\\\"127.0.0.1\\\",int(os.environ[\\\"PORT0\\\"])),H).serve_forever()'\"}" >/dev/null
until python3 -c "import socket; s=socket.create_connection(('127.0.0.1',$SERVICE),1); s.sendall(b'x'); assert s.recv(1)==b'x'" 2>/dev/null; do sleep 0.2; done
LBFDS() { ls /proc/$UP/fd | wc -l; }
before=$(LBFDS)
python3 - "$SERVICE" "$SECONDS_TO_RUN" <<'PY'
import random, socket, struct, sys, threading, time
port, duration = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + duration
counts = {"ok": 0, "reset": 0, "empty": 0, "half": 0, "bulk": 0, "errors": 0}
lock = threading.Lock()
def one():
    kind = random.choice(["ok", "reset", "empty", "half", "bulk"])
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if kind == "ok":
            s.sendall(b"ping"); assert s.recv(4) == b"ping"
        elif kind == "reset":
            s.sendall(b"x" * random.randint(1, 300000))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif kind == "half":
            s.sendall(b"bye"); s.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                d = s.recv(65536)
                if not d: break
                got += d
            assert got == b"bye"
        elif kind == "bulk":
            data = bytes(random.getrandbits(8) for _ in range(4096)) * 64
            s.sendall(data); s.shutdown(socket.SHUT_WR)
            got = bytearray()
            while True:
                d = s.recv(65536)
                if not d: break
                got += d
            assert bytes(got) == data
        s.close()
        with lock: counts[kind] += 1
    except Exception:
        with lock: counts["errors"] += 1
def loop():
    while time.time() < end: one()
threads = [threading.Thread(target=loop) for _ in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
print("connections:", counts)
PY
sleep 2
after=$(LBFDS)
echo "descriptors of the pacer process: before $before, after $after"
if grep -q "AddressSanitizer" "$WORK/up.log"; then grep -A30 "AddressSanitizer" "$WORK/up.log" | head -60; echo "ASan: FAILED"; exit 1; fi
[ "$after" -le "$before" ] || { echo "descriptor leak: $before -> $after"; exit 1; }
echo "ASan: no report"
