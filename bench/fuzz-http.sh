#!/usr/bin/env bash
# Fuzzes the load balancer's HTTP/1.1 parser with libFuzzer + AddressSanitizer.
# Usage: bench/fuzz-http.sh [seconds]   (default 60). Crashes are written to .build/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
OUT=.build/fuzz
mkdir -p "$OUT/corpus"
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name HTTPFuzz \
    Sources/PacerLBCore/HTTP/*.swift Tests/Fuzz/HTTPParserFuzz.swift -o "$OUT/http-fuzz"
# Seeds: a few valid and invalid requests and responses.
printf 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' > "$OUT/corpus/get"
printf 'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;e\r\nhello\r\n0\r\nT: 1\r\n\r\n' > "$OUT/corpus/chunked"
printf 'POST / HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive, x-a\r\nX-A: 1\r\n\r\nabc' > "$OUT/corpus/cl"
printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a=b\r\n\r\nok' > "$OUT/corpus/response"
"$OUT/http-fuzz" -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -artifact_prefix="$OUT/" "$OUT/corpus"
