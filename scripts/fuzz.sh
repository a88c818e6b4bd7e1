#!/usr/bin/env bash
# Runs every Fuzz target of the module for FUZZTIME each (default 30s).
# Crashers land in the package's testdata/fuzz/ and become seeds: commit them.
#   FUZZTIME=2m scripts/fuzz.sh            # all targets
#   scripts/fuzz.sh ./feeds                # one package
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || mapfile -t pkgs < <(go list ./...)
status=0
for pkg in "${pkgs[@]}"; do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== $pkg $target ($fuzztime)"
		# A capped minimisation keeps large seeds (MMDB files) from eating
		# the whole budget shrinking one interesting input.
		if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -fuzzminimizetime=200x "$pkg"; then
			status=1
		fi
	done
done
exit $status
