#!/usr/bin/env bash
# Quick start, offline: build a database from the real feed excerpts in
# testdata/ and look a few addresses up. Prints each command it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
db=${DB:-/tmp/ipintel-quickstart.mmdb}
bin=$(mktemp -d)/ipintel
trap 'rm -rf "$(dirname "$bin")"' EXIT

say() { printf '\n$ %s\n' "$*" >&2; "$@"; }

go build -o "$bin" ./cmd/ipintel
# SOURCE_DATE_EPOCH pins build_epoch, so every run writes the same bytes.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}
say "$bin" build -config testdata/ipintel.toml -out "$db" -offline
# A Tor exit, a VPN range, a Spamhaus DROP network, an ipsum abuser, an
# allowlisted network, a clean address, an IPv6 VPN /64, a Mullvad server
# and a neighbour of it that block inference names, a Googlebot address,
# an iCloud Private Relay exit and an open proxy.
say "$bin" lookup -db "$db" -format table 194.26.192.64 2.26.157.9 1.10.16.5 77.239.124.102 1.1.1.1 8.8.8.8 2001:550:1d05::7 \
	103.108.229.82 103.108.229.7 192.178.4.5 104.28.28.5 144.31.222.106
say "$bin" lookup -db "$db" 194.26.192.64
say "$bin" explain -db "$db" 2001:550:1d05::7
