#!/usr/bin/env bash
# Benchmarks on the full-size database: builds it from every feed in
# ../shared/feeds (scripts/shared-feeds.toml), then runs the lookup
# benchmarks against it and the parser benchmarks, COUNT times each
# (default 10), and summarises with benchstat.
#   scripts/bench.sh                   # everything
#   COUNT=5 BENCH='BenchmarkLookup/' scripts/bench.sh ./lookup
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-10}
bench=${BENCH:-.}
out=${OUT:-bench-out}
mkdir -p "$out"
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./feeds ./lookup ./lookup/httpguard)

db="$out/full.mmdb"
if [ ! -s "$db" ]; then
	echo "== building the full-size database from scripts/shared-feeds.toml"
	go build -o "$out/ipintel" ./cmd/ipintel
	/usr/bin/time -v "$out/ipintel" build -config scripts/shared-feeds.toml -out "$db" -offline -epoch 1767225600 \
		2> >(tee "$out/build.time" >&2) | tail -n 20
fi
export IPINTEL_BENCH_DB="$PWD/$db"

echo "== go test -bench $bench -count $count ${pkgs[*]}"
go test -run='^$' -bench="$bench" -benchmem -count="$count" -timeout 60m "${pkgs[@]}" | tee "$out/bench.txt"
go run golang.org/x/perf/cmd/benchstat@latest "$out/bench.txt" | tee "$out/benchstat.txt"
