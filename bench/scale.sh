#!/usr/bin/env bash
# Control-plane scale benchmark (issue 12): master + framework + `pacer lb` + simulated agents
# (`pacer agent --simulate N`) on this machine, at N = 100, 800, 2,000 (and further with
# AGENTS=...), with the SQLite store and once with etcd. Prints markdown tables (README, "Scale").
# Usage: bench/scale.sh            AGENTS=100,800,2000 ETCD_AGENTS=2000 bench/scale.sh
# Needs python3 (and etcd-server for the etcd run: apt-get install -y etcd-server).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product pacer >/dev/null
ulimit -n "$(ulimit -Hn)"
python3 bench/scale.py --agents "${AGENTS:-100,800,2000}" --store sqlite "$@"
if command -v etcd >/dev/null; then
    python3 bench/scale.py --agents "${ETCD_AGENTS:-2000}" --store etcd "$@"
else
    echo "etcd not installed: skipping the etcd run" >&2
fi
