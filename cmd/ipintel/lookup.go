package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ipintel/ipintel/lookup"
)

func init() {
	register(&command{
		Name:      "lookup",
		UsageLine: "ipintel lookup -db file [-format jsonl|table] [addr ...]",
		Short:     "look addresses up in a database",
		Long: `
Lookup prints what the database knows about each address: one JSON object
per line (JSON Lines) by default, or an aligned table with -format table.
The addresses come from the arguments or, when there are none, from
standard input, one per line (blank lines are skipped).

An address that is not in the database is a success: its object has
"found":false and "network":null. An address that does not parse (or has a
zone) is reported on standard error with its line or argument number; the
others are still looked up and the exit status is 1.

The JSON keys are ip, found, network, the MMDB keys (always present: false,
0 or "" when the record has none), risk_score_source and action (the default
policy's decision). risk_score is the score the action was decided on, and
risk_score_source says whose it is: "stored" when it is the database's
risk_score, "policy" when the database stores none (MaxMind's databases
store none) and the policy computed it from the categories' default
weights, so a Tor exit is blocked whoever built the file. The table's
SCORE and SCORE_SOURCE columns are the same two values.`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
			db := fs.String("db", "", "database `file` (required)")
			format := fs.String("format", "jsonl", "output `format`: jsonl or table")
			return func(ctx context.Context, e *env, args []string) int {
				return runLookup(ctx, e, *db, *format, args)
			}
		},
	})
}

func runLookup(ctx context.Context, e *env, dbPath, format string, args []string) int {
	if dbPath == "" {
		return report(e, "lookup", usageError("-db is required"))
	}
	if format != "jsonl" && format != "table" {
		return report(e, "lookup", usageError("unknown -format %q (want jsonl or table)", format))
	}
	db, err := lookup.Open(dbPath)
	if err != nil {
		return report(e, "lookup", err)
	}
	policy := lookup.DefaultPolicy()

	out := bufio.NewWriter(e.stdout)
	var tw *tabwriter.Writer
	if format == "table" {
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, tableHeader)
	}
	failed := false
	var buf []byte
	one := func(where, s string) {
		addr, err := parseQueryAddr(s)
		if err != nil {
			fmt.Fprintf(e.stderr, "ipintel lookup: %s: %v\n", where, err)
			failed = true
			return
		}
		rec, found := db.Lookup(addr)
		v := policy.Decide(rec)
		names := db.SourceNames(rec.Sources)
		if tw != nil {
			writeTableRow(tw, addr, rec, found, names, v)
			return
		}
		buf = appendAnswer(buf[:0], addr, rec, found, names, v)
		buf = append(buf, '\n')
		_, _ = out.Write(buf)
	}

	if len(args) > 0 {
		for i, a := range args {
			one(fmt.Sprintf("arg %d", i+1), a)
		}
	} else {
		sc := bufio.NewScanner(e.stdin)
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
		for n := 1; sc.Scan(); n++ {
			if ctx.Err() != nil {
				break
			}
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			one("line "+strconv.Itoa(n), line)
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintf(e.stderr, "ipintel lookup: read stdin: %v\n", err)
			failed = true
		}
	}
	if tw != nil {
		_ = tw.Flush()
	}
	if err := out.Flush(); err != nil {
		return report(e, "lookup", fmt.Errorf("write output: %w", err))
	}
	if err := ctx.Err(); err != nil {
		return report(e, "lookup", err)
	}
	if failed {
		return exitRuntime
	}
	return exitOK
}

// tableHeader heads -format table. SCORE is the score the action was
// decided on and SCORE_SOURCE whose it is (stored or policy).
const tableHeader = "IP\tNETWORK\tCATEGORIES\tSCORE\tSCORE_SOURCE\tACTION\tASN\tORGANIZATION\tPROVIDER\tSOURCES"

// writeTableRow writes one address's row of -format table; "-" stands
// for an absent value.
func writeTableRow(w io.Writer, addr netip.Addr, rec lookup.Record, found bool, names []string, v lookup.Verdict) {
	network := "-"
	if found {
		network = rec.Network.String()
	}
	asn := "-"
	if rec.ASN != 0 {
		asn = "AS" + strconv.FormatUint(uint64(rec.ASN), 10)
	}
	sources := "-"
	if len(names) > 0 {
		sources = strings.Join(names, ",")
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", addr, network, rec.Categories, v.Score, v.Source,
		v.Action, asn, orDash(rec.Org), orDash(rec.Provider), sources)
}

// writeAll writes b to w, returning a wrapped error.
func writeAll(w io.Writer, b []byte) error {
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
