#!/usr/bin/env bash
# Benchmarks on the full-size database: builds it from every feed in
# ../shared/feeds (scripts/shared-feeds.toml), then runs the lookup
# benchmarks against it and the parser benchmarks, COUNT times each
# (default 10), and summarises with benchstat. Then, beside the results,
# it prints the machine's dependent-load latency profile (absolute lookup
# times move 2-4x between machines with it) and an interleaved
# comparison: every lookup implementation on the same queries in each
# round, in a rotating order, with per-round ratios to ipintel and their
# spread, which holds up on a noisy shared machine where separate runs
# do not.
#   scripts/bench.sh                   # everything
#   COUNT=6 BENCH='BenchmarkLookup/' scripts/bench.sh ./lookup
#   ROUNDS=0 scripts/bench.sh          # skip the interleaved comparison
#   IMPLS='^(ipintel|ipintel-batch|bart-record|maxminddb)$' scripts/bench.sh ./lookup
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-10}
bench=${BENCH:-.}
rounds=${ROUNDS:-200}
impls=${IMPLS:-'^(ipintel|ipintel-batch|maxminddb|bart|bart-record|netipx)$'}
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
export IPINTEL_BENCH_DB="$(cd "$(dirname "$db")" && pwd)/$(basename "$db")"

echo "== go test -bench $bench -count $count ${pkgs[*]}"
go test -run='^$' -bench="$bench" -benchmem -count="$count" -timeout 60m "${pkgs[@]}" | tee "$out/bench.txt"
go run golang.org/x/perf/cmd/benchstat@latest "$out/bench.txt" | tee "$out/benchstat.txt"

echo "== dependent-load latency (pointer chase, ns per load, by working set)"
go test -run='^$' -bench='^BenchmarkDependentLoad$' -count=3 ./lookup | tee "$out/latency.txt" |
	awk '/^BenchmarkDependentLoad/ { split($1, n, "[/-]"); ns[n[2]] = ns[n[2]] " " $3; if (!(n[2] in seen)) { seen[n[2]] = 1; order[++k] = n[2] } }
	     END { for (i = 1; i <= k; i++) printf "  %-10s %s\n", order[i], ns[order[i]] }'

if [ "$rounds" -gt 0 ]; then
	echo "== interleaved comparison, $rounds rounds"
	IPINTEL_INTERLEAVE="$rounds" IPINTEL_INTERLEAVE_IMPLS="$impls" \
		go test -run='^TestInterleaved$' -v -count=1 -timeout 60m ./lookup |
		grep -v -e '^=== ' -e '^--- ' -e '^PASS' -e '^ok ' -e 'bench_test.go' | tee "$out/interleaved.txt"
fi
