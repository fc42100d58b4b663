import Foundation

/// Backend programs that tests deploy as tasks. Each is written to a file in the test's directory
/// and run with python3 (installed by `make test`), so task specs stay free of quoting puzzles.
public enum Backends {
    /// An HTTP/1.1 server that records every request it receives (connection, request line,
    /// headers, body) and answers with that record. `GET /__log` (sent straight to the task, not
    /// through the LB) returns the records as JSON lines; `/bad/<kind>` answers with a malformed
    /// response; `/slow/<s>` waits before answering; `/big/<n>` streams n bytes; `/ws` speaks a
    /// minimal WebSocket echo after the handshake.
    public static let httpRecorder = #"""
        import socket, threading, os, json, time, base64, hashlib
        LOG = []
        LOCK = threading.Lock()
        def read_head(conn, buf):
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data: return None, buf
                buf += data
            head, rest = buf.split(b"\r\n\r\n", 1)
            return head, rest
        def read_exact(conn, buf, n):
            while len(buf) < n:
                data = conn.recv(65536)
                if not data: raise EOFError
                buf += data
            return buf[:n], buf[n:]
        def read_chunked(conn, buf):
            body = b""
            while True:
                while b"\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data: raise EOFError
                    buf += data
                line, buf = buf.split(b"\r\n", 1)
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while not buf.startswith(b"\r\n"):
                        if b"\r\n" in buf: buf = buf.split(b"\r\n", 1)[1]; continue
                        buf += conn.recv(65536)
                    return body, buf[2:]
                chunk, buf = read_exact(conn, buf, size + 2)
                body += chunk[:-2]
        def respond(conn, status, body, extra=b""):
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)
        BAD = {
            "cl-te": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "two-cl": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!",
            "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
            "crlf-value": b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok",
            "early-close": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
            "no-answer": b"",
        }
        def websocket(conn, key, rest):
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            # Not a full WebSocket: echoes raw bytes, enough to prove the tunnel carries both ways.
            if rest: conn.sendall(rest)
            while True:
                data = conn.recv(65536)
                if not data: break
                conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
        def handle(conn, peer):
            buf = b""
            try:
                while True:
                    head, buf = read_head(conn, buf)
                    if head is None: return
                    lines = head.split(b"\r\n")
                    method, target, version = lines[0].split(b" ", 2)
                    headers = [l.split(b":", 1) for l in lines[1:]]
                    headers = [(k.decode("latin1"), v.strip().decode("latin1")) for k, v in headers]
                    low = {k.lower(): v for k, v in headers}
                    if "content-length" in low:
                        body, buf = read_exact(conn, buf, int(low["content-length"]))
                    elif low.get("transfer-encoding", "").lower() == "chunked":
                        body, buf = read_chunked(conn, buf)
                    else:
                        body = b""
                    path = target.decode("latin1")
                    if path == "/__log":
                        with LOCK: out = "".join(json.dumps(r) + "\n" for r in LOG).encode()
                        respond(conn, b"200 OK", out); return
                    record = {"conn": peer[1], "line": lines[0].decode("latin1"), "headers": headers,
                              "body": body.decode("latin1"), "task": os.environ.get("PACER_TASK_ID", "")}
                    with LOCK: LOG.append(record)
                    if path.startswith("/bad/"):
                        conn.sendall(BAD[path[5:]]); return
                    if path.startswith("/slow/"):
                        time.sleep(float(path[6:]))
                    if path.startswith("/big/"):
                        n = int(path[5:])
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: " + str(n).encode() + b"\r\n\r\n")
                        block = b"x" * 65536
                        while n > 0:
                            conn.sendall(block[:min(n, 65536)]); n -= 65536
                        continue
                    if path == "/ws" and low.get("upgrade", "").lower() == "websocket":
                        websocket(conn, low.get("sec-websocket-key", "").encode(), buf); return
                    if path == "/echo":
                        respond(conn, b"200 OK", body); continue
                    respond(conn, b"200 OK", json.dumps(record).encode(), b"Content-Type: application/json\r\n")
                    if low.get("connection", "").lower() == "close": return
            except (EOFError, ConnectionError, ValueError):
                pass
            finally:
                conn.close()
        def serve(port):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(256)
            while True:
                c, a = s.accept()
                threading.Thread(target=handle, args=(c, a), daemon=True).start()
        ports = [int(os.environ[k]) for k in ("PORT0", "PORT1") if k in os.environ]
        for p in ports[1:]:
            threading.Thread(target=serve, args=(p,), daemon=True).start()
        serve(ports[0])
        """#

    /// Writes a backend program into `dir` and returns the task command that runs it.
    public static func command(_ script: String, name: String, in dir: String) throws -> String {
        let path = dir + "/" + name + ".py"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        return "exec python3 -u \(path)"
    }
}
