package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/serve"
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
standard input, one per line. Blank lines and comments (from # to the end
of the line) are skipped. A line of any length is read, and one too long
to be an address (over 4096 bytes) is reported like any bad line.

An address that is not in the database is a success: its object has
"found":false and "network":null. An address that does not parse (or has a
zone) is reported on standard error with its line or argument number, and
the others are still looked up.

Exit status: 0 when every address was looked up (found or not), 1 when
any line or argument was not an address or standard input could not be
read, 2 for a usage error.

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
	// Addresses are looked up in batches (LookupBatch overlaps their
	// memory reads); a batch is answered when it is full, when the input
	// has nothing more buffered (the next read may wait), and at the end,
	// so no answer waits for input that has not arrived.
	const batch = 256
	pending := make([]netip.Addr, 0, batch)
	recs := make([]lookup.Record, batch)
	flush := func() {
		db.LookupBatch(pending, recs)
		for i, addr := range pending {
			rec := recs[i]
			found := rec.Network.IsValid()
			v := policy.Decide(rec)
			names := db.SourceNames(rec.Sources)
			if tw != nil {
				writeTableRow(tw, addr, rec, found, names, v)
				continue
			}
			buf = serve.AppendAnswer(buf[:0], addr, rec, found, names, v)
			buf = append(buf, '\n')
			_, _ = out.Write(buf)
		}
		pending = pending[:0]
	}
	one := func(where, s string) {
		addr, err := serve.ParseAddr(s)
		if err != nil {
			fmt.Fprintf(e.stderr, "ipintel lookup: %s: %v\n", where, err)
			failed = true
			return
		}
		if pending = append(pending, addr); len(pending) == batch {
			flush()
		}
	}

	if len(args) > 0 {
		for i, a := range args {
			one(fmt.Sprintf("arg %d", i+1), a)
		}
	} else {
		if err := eachQueryLine(ctx, e.stdin, func(n int, line string, tooLong bool) {
			if tooLong {
				fmt.Fprintf(e.stderr, "ipintel lookup: line %d: longer than %d bytes: not an address\n", n, maxQueryLine)
				failed = true
				return
			}
			one("line "+strconv.Itoa(n), line)
		}, flush); err != nil {
			fmt.Fprintf(e.stderr, "ipintel lookup: read stdin: %v\n", err)
			failed = true
		}
	}
	flush()
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

// maxQueryLine is the longest stdin line lookup keeps: an address with
// room for spaces and a comment. A longer line cannot be an address; it is
// read to its end without being held in memory and reported as bad.
const maxQueryLine = 4096

// eachQueryLine calls f with the number and the trimmed text of every line
// of r that is neither blank nor a comment (from # to the end of the
// line), or with tooLong for a line longer than maxQueryLine. Lines may be
// of any length: a long one never stops the loop. It stops early, without
// an error, when ctx is done, and returns the read error, if any. It
// calls idle before a read that may wait for input: when no more of r is
// buffered.
func eachQueryLine(ctx context.Context, r io.Reader, f func(n int, line string, tooLong bool), idle func()) error {
	br := bufio.NewReaderSize(r, maxQueryLine)
	for n := 1; ctx.Err() == nil; n++ {
		if br.Buffered() == 0 {
			idle() // the next read may wait for input
		}
		b, err := br.ReadSlice('\n')
		tooLong := false
		for errors.Is(err, bufio.ErrBufferFull) {
			tooLong = true
			_, err = br.ReadSlice('\n')
		}
		if tooLong {
			f(n, "", true)
		} else {
			line, _, _ := strings.Cut(string(b), "#")
			if line = strings.TrimSpace(line); line != "" {
				f(n, line, false)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}
