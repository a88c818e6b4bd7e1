#!/usr/bin/env bash
# The project's checks, exactly as CI runs them: formatting, vet,
# staticcheck, then the whole test suite under the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# The lookup differential tests and benchmarks run on the full-size
# database built from every real feed snapshot when ../shared/feeds is
# there (CI has it), and on a generated one otherwise.
if [ -z "${IPINTEL_BENCH_DB:-}" ] && [ -d ../shared/feeds ]; then
	echo "== building the full-size database from scripts/shared-feeds.toml"
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	go build -o "$work/ipintel" ./cmd/ipintel
	"$work/ipintel" build -config scripts/shared-feeds.toml -out "$work/full.mmdb" -offline -epoch 1767225600 -quiet
	export IPINTEL_BENCH_DB="$work/full.mmdb"
fi

echo "== go test -race"
go test -race -count=1 -timeout 15m ./...
