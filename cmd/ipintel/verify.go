package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"

	"github.com/ipintel/ipintel/internal/mmdbcheck"
	"github.com/ipintel/ipintel/lookup"
)

func init() {
	register(&command{
		Name:      "verify",
		UsageLine: "ipintel verify -db file",
		Short:     "check a database's structure and schema",
		Long: `
Verify checks a database file in full: the MMDB structure (search tree,
data section, metadata), that ipintel's engine loads it, and the record
schema of docs/design.md §2 for every network: the types of the known keys,
booleans written only when true, risk_score within 0-100, sources sorted
and unique. For databases built by ipintel (with a build manifest) it also
checks is_anonymous against the flags it summarises, that allowlisted
records carry no risk flag and a zero score, that every source is a feed of
the manifest, and the manifest's schema version and build epoch.

It prints a one-line summary and exits 0, or lists the problems on
standard error and exits 1.`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
			db := fs.String("db", "", "database `file` (required)")
			return func(ctx context.Context, e *env, args []string) int {
				if *db == "" {
					return report(e, "verify", usageError("-db is required"))
				}
				if len(args) > 0 {
					return report(e, "verify", usageError("unexpected arguments %q", args))
				}
				return runVerify(ctx, e, *db)
			}
		},
	})
}

// maxProblems is how many schema problems verify lists before summarising.
const maxProblems = 20

func runVerify(ctx context.Context, e *env, path string) int {
	if err := lookup.VerifyFile(path); err != nil {
		return report(e, "verify", err)
	}
	problems, networks, records, manifest, err := mmdbcheck.Schema(ctx, path)
	if err != nil {
		return report(e, "verify", err)
	}
	if len(problems) > 0 {
		for i, p := range problems {
			if i == maxProblems {
				fmt.Fprintf(e.stderr, "ipintel verify: %s: … and %d more problems\n", path, len(problems)-maxProblems)
				break
			}
			fmt.Fprintf(e.stderr, "ipintel verify: %s: %s\n", path, p)
		}
		fmt.Fprintf(e.stderr, "ipintel verify: %s: %d schema problems\n", path, len(problems))
		return exitRuntime
	}
	kind := "no ipintel manifest"
	if manifest != nil {
		kind = fmt.Sprintf("ipintel schema v%d, %d feeds", manifest.SchemaVersion, len(manifest.Feeds))
	}
	fmt.Fprintf(e.stdout, "%s: ok: %d networks, %d distinct records, %s\n", path, networks, records, kind)
	return exitOK
}

// prefixCount returns how many IPv4 addresses or IPv6 /64s pfx covers. An
// IPv6 network longer than /64 counts as the one /64 it lies in. Counts
// saturate at the largest uint64.
func prefixCount(pfx netip.Prefix) (v4, v6 uint64) {
	bits := pfx.Bits()
	if pfx.Addr().Is4() {
		return 1 << (32 - bits), 0
	}
	switch {
	case bits > 64:
		return 0, 1
	case bits == 0:
		return 0, 1<<64 - 1
	default:
		return 0, 1 << (64 - bits)
	}
}
