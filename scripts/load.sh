#!/usr/bin/env bash
# Load test of "ipintel serve" on loopback with wrk: builds the binary, a
# database (the full-size one from ../shared/feeds when it is there, else
# the Quick start one), starts serve on a free 127.0.0.1 port, runs wrk
# against GET /v1/ip/{addr} and GET /v1/auth, and stops the server.
#   DURATION=10s CONNECTIONS=32 THREADS=1 scripts/load.sh
# On a 2-core machine wrk and the server share the cores: one wrk thread
# (the default) leaves the server most of the machine; THREADS=2 makes
# them fight and shows scheduling, not ipintel, in the tail latency.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
duration=${DURATION:-10s}
conns=${CONNECTIONS:-32}
threads=${THREADS:-1}
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/ipintel" ./cmd/ipintel
config=testdata/ipintel.toml
[ -d ../shared/feeds ] && config=scripts/shared-feeds.toml
"$work/ipintel" build -config "$config" -out "$work/db.mmdb" -offline -epoch 1767225600 -quiet

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$work/ipintel" serve -db "$work/db.mmdb" -listen "127.0.0.1:$port" 2>"$work/serve.log" &
pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

echo "== $config: GET /v1/ip/{addr}, $threads wrk threads, $conns connections, $duration"
wrk -t"$threads" -c"$conns" -d"$duration" --latency "http://127.0.0.1:$port/v1/ip/185.220.101.1"
echo "== GET /v1/auth with a forwarded client"
wrk -t"$threads" -c"$conns" -d"$duration" --latency -H 'X-Forwarded-For: 185.220.101.1' "http://127.0.0.1:$port/v1/auth"
