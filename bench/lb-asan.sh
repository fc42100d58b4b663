#!/usr/bin/env bash
# AddressSanitizer build of pacer under load with abrupt disconnects, on the TCP path (normal
# exchanges, resets mid-transfer (SO_LINGER 0), connect-and-close, half-closes, large transfers) and
# the HTTP path (keep-alive GETs, pipelining, chunked and sized POSTs, garbage, resets mid-head and
# mid-body, clients gone before the answer), from several threads for SECONDS_TO_RUN. Fails if ASan
# reports anything or the LB's descriptors do not come back.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${SECONDS_TO_RUN:-20}
swift build --sanitize=address --product pacer --scratch-path .build-asan >/dev/null
BIN=$PWD/.build-asan/debug/pacer
WORK=$(mktemp -d /tmp/pacer-asan-XXXX)
chmod 755 "$WORK"   # tasks run as the agent's unprivileged user and read web.py from here
trap 'kill -INT $UP 2>/dev/null; wait $UP 2>/dev/null; rm -rf "$WORK"' EXIT
API=18380; SERVICE=18300; HTTPSERVICE=18301
cat > "$WORK/lb.yaml" <<LB
bind: 127.0.0.1
frameworks: [http://127.0.0.1:$API]
admin_port: 18390
workers: 2
LB
ASAN_OPTIONS=detect_leaks=0 "$BIN" up --state-dir "$WORK/state" --port $API --master-port 18350 --agent-port 18351 \
    --task-ports 42000 --lb-config "$WORK/lb.yaml" --log-level warning > "$WORK/up.log" 2>&1 &
UP=$!
until curl -sf "http://127.0.0.1:$API/v2/info?embed=pacer" | grep -q largestAgent; do sleep 0.2; done
curl -sf -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$API/v2/apps" -d "{\"id\":\"/echo\",\"instances\":2,
  \"cpus\":0.1,\"mem\":64,\"resourceLimits\":{\"cpus\":\"unlimited\"},\"portDefinitions\":[{\"port\":$SERVICE}],
  \"cmd\":\"exec python3 -u -c 'import socketserver,os\nclass H(socketserver.BaseRequestHandler):\n    def handle(self):\n        while True:\n            d=self.request.recv(65536)\n            if not d: break\n            self.request.sendall(d)\nsocketserver.ThreadingTCPServer.allow_reuse_address=True\nsocketserver.ThreadingTCPServer((\\\"127.0.0.1\\\",int(os.environ[\\\"PORT0\\\"])),H).serve_forever()'\"}" >/dev/null
cat > "$WORK/web.py" <<'PY'
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, body):
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_GET(self): self.reply(b"x" * (200000 if self.path == "/big" else 20))
    def do_POST(self):
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0: self.rfile.readline(); break
                body += self.rfile.read(size); self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.reply(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT0"])), H).serve_forever()
PY
curl -sf -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$API/v2/apps" -d "{\"id\":\"/web\",\"instances\":2,
  \"cpus\":0.1,\"mem\":64,\"resourceLimits\":{\"cpus\":\"unlimited\"},\"portDefinitions\":[{\"port\":$HTTPSERVICE}],\"labels\":{\"HAPROXY_0_MODE\":\"http\"},
  \"cmd\":\"exec python3 -u $WORK/web.py\"}" >/dev/null
until python3 -c "import socket; s=socket.create_connection(('127.0.0.1',$SERVICE),1); s.sendall(b'x'); assert s.recv(1)==b'x'" 2>/dev/null; do sleep 0.2; done
until curl -sf "http://127.0.0.1:$HTTPSERVICE/" >/dev/null 2>&1; do sleep 0.2; done
LBFDS() { ls /proc/$UP/fd | wc -l; }
before=$(LBFDS)
python3 - "$SERVICE" "$SECONDS_TO_RUN" "$HTTPSERVICE" <<'PY'
import random, socket, struct, sys, threading, time
port, duration, hport = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
end = time.time() + duration
counts = {"ok": 0, "reset": 0, "empty": 0, "half": 0, "bulk": 0, "errors": 0,
          "http-keepalive": 0, "http-pipeline": 0, "http-post": 0, "http-chunked": 0, "http-garbage": 0,
          "http-reset-head": 0, "http-reset-body": 0, "http-gone": 0, "http-errors": 0}
errors = {}
def read_all(s):
    got = b""
    while True:
        d = s.recv(65536)
        if not d: return got
        got += d
def http_one():
    kind = random.choice(["http-keepalive", "http-pipeline", "http-post", "http-chunked", "http-garbage",
                          "http-reset-head", "http-reset-body", "http-gone"])
    try:
        s = socket.create_connection(("127.0.0.1", hport), timeout=5)
        if kind == "http-keepalive":
            for i in range(5):
                s.sendall(b"GET /%s HTTP/1.1\r\nHost: a\r\n\r\n" % (b"big" if i == 2 else b"s"))
                head = b""
                while b"\r\n\r\n" not in head: head += s.recv(65536)
                h, rest = head.split(b"\r\n\r\n", 1)
                n = int([l for l in h.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
                while len(rest) < n: rest += s.recv(65536)
        elif kind == "http-pipeline":
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" * 3 + b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            assert read_all(s).count(b"HTTP/1.1 200") == 4
        elif kind == "http-post":
            body = b"p" * random.randint(0, 300000)
            s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            assert read_all(s).endswith(body)
        elif kind == "http-chunked":
            s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            assert read_all(s).endswith(b"hello")
        elif kind == "http-garbage":
            s.sendall(bytes(random.getrandbits(8) for _ in range(random.randint(1, 3000))) + b"\r\n\r\n")
            read_all(s)
        elif kind == "http-reset-head":
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: " + b"b" * random.randint(0, 5000))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif kind == "http-reset-body":
            s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n" + b"q" * random.randint(0, 200000))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif kind == "http-gone":
            s.sendall(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        s.close()
        with lock: counts[kind] += 1
    except Exception as e:
        with lock:
            counts["http-errors"] += 1
            errors[kind + ":" + type(e).__name__] = errors.get(kind + ":" + type(e).__name__, 0) + 1
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
def loop(work):
    while time.time() < end: work()
threads = [threading.Thread(target=loop, args=(one,)) for _ in range(4)] + [threading.Thread(target=loop, args=(http_one,)) for _ in range(4)]
[t.start() for t in threads]; [t.join() for t in threads]
print("connections:", counts)
print("http errors by kind:", errors)
PY
# Pooled backend connections close after upstream_idle (10 s), lingering clients after 2 s.
for i in $(seq 30); do after=$(LBFDS); [ "$after" -le "$before" ] && break; sleep 1; done
after=$(LBFDS)
echo "descriptors of the pacer process: before $before, after $after"
if grep -q "AddressSanitizer" "$WORK/up.log"; then grep -A30 "AddressSanitizer" "$WORK/up.log" | head -60; echo "ASan: FAILED"; exit 1; fi
[ "$after" -le "$before" ] || { echo "descriptor leak: $before -> $after"; exit 1; }
echo "ASan: no report"
