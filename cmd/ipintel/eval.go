package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/schema"
)

func init() {
	register(&command{
		Name:      "eval",
		UsageLine: "ipintel eval -db file [-json] label=file ...",
		Short:     "measure how a database answers labelled address lists",
		Long: `
Eval looks up every address of each labelled file in the database and
reports, per label, the share of its addresses that the database flags in
each category, the share of each action of the default policy, the share
with a provider_name and, per feed, the share whose record lists that feed
in its sources. Use it to see how a build treats addresses whose nature is
known: "vpn=servers.txt crawler=googlebot.txt eyeball=isp.txt".

Each file holds one address or CIDR per line; blank lines and everything
from a "#" to the end of a line are skipped. A CIDR counts as one address,
its first: a label file lists samples, and a network listed whole would
otherwise outweigh the addresses beside it (list several addresses to
weigh a network more). IPv4-mapped IPv6 addresses count as IPv4. A line
that holds neither an address nor a CIDR is reported on standard error as
file:line and counted in bad_lines; the others are still looked up. The
file "-" is standard input.

The table has a column per label and a row per figure. With -json the
output is one object:

	{"database": file,
	 "labels": [{"label": name, "file": path,
	             "addresses": n, "bad_lines": n,
	             "found":      {"count": n, "share": s},
	             "categories": {"tor_exit": {"count": n, "share": s}, ...},
	             "actions":    {"allow": …, "challenge": …, "block": …},
	             "provider_name": {"count": n, "share": s},
	             "feeds":      {feed name: {"count": n, "share": s}, ...}}]}

where a share is count/addresses (0 when there are none), rounded to six
decimals. categories always holds tor_exit, vpn, public_proxy,
residential_proxy, hosting, abuse, crawler, relay and allowlisted; feeds
holds every feed that any label's addresses met.

The exit status is 2 for a usage error (no -db, an argument without "=",
a file that cannot be read) and 0 otherwise, bad lines included.`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
			db := fs.String("db", "", "database `file` (required)")
			asJSON := fs.Bool("json", false, "write one JSON object instead of a table")
			return func(ctx context.Context, e *env, args []string) int {
				return runEval(ctx, e, *db, *asJSON, args)
			}
		},
	})
}

// evalLabel is one LABEL=FILE argument.
type evalLabel struct {
	name, path string
}

// evalCount is one figure of a label: how many of its addresses, and
// which share of them.
type evalCount struct {
	Count int     `json:"count"`
	Share float64 `json:"share"`
}

// evalResult is what eval reports for one label; the field order is the
// JSON key order.
type evalResult struct {
	Label      string               `json:"label"`
	File       string               `json:"file"`
	Addresses  int                  `json:"addresses"`
	BadLines   int                  `json:"bad_lines"`
	Found      evalCount            `json:"found"`
	Categories map[string]evalCount `json:"categories"`
	Actions    map[string]evalCount `json:"actions"`
	Provider   evalCount            `json:"provider_name"`
	Feeds      map[string]evalCount `json:"feeds"`
}

type evalReport struct {
	Database string       `json:"database"`
	Labels   []evalResult `json:"labels"`
}

// evalCategoryName is the name eval gives a single category: the
// category's own, except "allowlisted" for the allow marker, after the
// is_allowlisted key it stands for.
func evalCategoryName(c lookup.Category) string {
	if c == lookup.CategoryAllow {
		return "allowlisted"
	}
	return c.Name()
}

var evalActions = []lookup.Action{lookup.ActionAllow, lookup.ActionChallenge, lookup.ActionBlock}

// hasProvider reports whether rec names the operator of its network (the
// provider_name key).
func hasProvider(rec lookup.Record) bool {
	return rec.Provider != ""
}

func parseEvalLabels(args []string) ([]evalLabel, error) {
	if len(args) == 0 {
		return nil, usageError("no label=file arguments")
	}
	var labels []evalLabel
	seen := map[string]bool{}
	for _, a := range args {
		name, path, ok := strings.Cut(a, "=")
		if !ok || name == "" || path == "" {
			return nil, usageError("argument %q is not label=file", a)
		}
		if seen[name] {
			return nil, usageError("label %q given twice", name)
		}
		seen[name] = true
		labels = append(labels, evalLabel{name, path})
	}
	return labels, nil
}

func runEval(ctx context.Context, e *env, dbPath string, asJSON bool, args []string) int {
	if dbPath == "" {
		return report(e, "eval", usageError("-db is required"))
	}
	labels, err := parseEvalLabels(args)
	if err != nil {
		return report(e, "eval", err)
	}
	// Read every file before opening the database, so that a missing file
	// is a usage error reported at once.
	type input struct {
		addrs []netip.Addr
		bad   int
	}
	inputs := make([]input, len(labels))
	stdinUsed := false
	for i, l := range labels {
		var addrs []netip.Addr
		var bad int
		if l.path == "-" {
			if stdinUsed {
				return report(e, "eval", usageError("standard input given for two labels"))
			}
			stdinUsed = true
			addrs, bad, err = readEvalAddrs(e.stdin, l.path, e.stderr)
		} else {
			var f *os.File
			if f, err = os.Open(l.path); err == nil {
				addrs, bad, err = readEvalAddrs(f, l.path, e.stderr)
				f.Close()
			}
		}
		if err != nil {
			return report(e, "eval", usageError("label %s: %v", l.name, err))
		}
		inputs[i] = input{addrs, bad}
	}
	db, err := lookup.Open(dbPath)
	if err != nil {
		return report(e, "eval", err)
	}
	rep := evalReport{Database: dbPath}
	feedNames := map[string]bool{}
	for i, l := range labels {
		if err := ctx.Err(); err != nil {
			return report(e, "eval", err)
		}
		res := evalAddrs(db, inputs[i].addrs)
		res.Label, res.File, res.BadLines = l.name, l.path, inputs[i].bad
		for f := range res.Feeds {
			feedNames[f] = true
		}
		rep.Labels = append(rep.Labels, res)
	}
	// Every label lists every feed that any label met, so that the
	// columns of the table line up and JSON consumers need no defaults.
	for i := range rep.Labels {
		for f := range feedNames {
			if _, ok := rep.Labels[i].Feeds[f]; !ok {
				rep.Labels[i].Feeds[f] = evalCount{}
			}
		}
	}
	w := bufio.NewWriter(e.stdout)
	if asJSON {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return report(e, "eval", err)
		}
		_, _ = w.Write(append(b, '\n'))
	} else {
		writeEvalTable(w, rep, slices.Sorted(func(yield func(string) bool) {
			for f := range feedNames {
				if !yield(f) {
					return
				}
			}
		}))
	}
	if err := w.Flush(); err != nil {
		return report(e, "eval", fmt.Errorf("write output: %w", err))
	}
	return exitOK
}

// readEvalAddrs reads one label file: an address or CIDR per line, "#"
// comments and blank lines skipped. Bad lines are reported on stderr as
// name:line and counted.
func readEvalAddrs(r io.Reader, name string, stderr io.Writer) ([]netip.Addr, int, error) {
	var addrs []netip.Addr
	bad := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		addr, err := parseEvalAddr(line)
		if err != nil {
			fmt.Fprintf(stderr, "ipintel eval: %s:%d: %v\n", name, n, err)
			bad++
			continue
		}
		addrs = append(addrs, addr)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", name, err)
	}
	return addrs, bad, nil
}

// parseEvalAddr parses an address, or a CIDR as its first address.
func parseEvalAddr(s string) (netip.Addr, error) {
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("bad address or CIDR %q", s)
		}
		return pfx.Masked().Addr().Unmap(), nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("bad address or CIDR %q", s)
	}
	return addr.Unmap(), nil
}

// evalAddrs looks addrs up in db and counts what the answers say.
func evalAddrs(db *lookup.DB, addrs []netip.Addr) evalResult {
	policy := lookup.DefaultPolicy()
	cats := schema.Categories()
	var found, provider int
	catN := make([]int, len(cats))
	actN := make([]int, len(evalActions))
	feedN := map[string]int{}
	var recs [256]lookup.Record
	for i := range addrs {
		if i%len(recs) == 0 {
			db.LookupBatch(addrs[i:min(i+len(recs), len(addrs))], recs[:])
		}
		rec := recs[i%len(recs)]
		if rec.Network.IsValid() {
			found++
		}
		for i, c := range cats {
			if rec.Categories&c != 0 {
				catN[i]++
			}
		}
		if a := policy.Decide(rec).Action; int(a) < len(actN) {
			actN[a]++
		}
		if hasProvider(rec) {
			provider++
		}
		for _, f := range db.SourceNames(rec.Sources) {
			feedN[f]++
		}
	}
	n := len(addrs)
	res := evalResult{
		Addresses:  n,
		Found:      newEvalCount(found, n),
		Categories: map[string]evalCount{},
		Actions:    map[string]evalCount{},
		Provider:   newEvalCount(provider, n),
		Feeds:      map[string]evalCount{},
	}
	for i, c := range cats {
		res.Categories[evalCategoryName(c)] = newEvalCount(catN[i], n)
	}
	for i, a := range evalActions {
		res.Actions[a.String()] = newEvalCount(actN[i], n)
	}
	for f, k := range feedN {
		res.Feeds[f] = newEvalCount(k, n)
	}
	return res
}

func newEvalCount(k, n int) evalCount {
	if n == 0 {
		return evalCount{Count: k}
	}
	return evalCount{Count: k, Share: math.Round(float64(k)/float64(n)*1e6) / 1e6}
}

// writeEvalTable writes a row per figure and a column per label.
func writeEvalTable(w io.Writer, rep evalReport, feeds []string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(name string, cell func(r evalResult) string) {
		fmt.Fprint(tw, name)
		for _, r := range rep.Labels {
			fmt.Fprint(tw, "\t", cell(r))
		}
		fmt.Fprintln(tw)
	}
	pct := func(c evalCount, n int) string {
		if n == 0 {
			return "-"
		}
		return strconv.FormatFloat(100*float64(c.Count)/float64(n), 'f', 1, 64) + "%"
	}
	row("", func(r evalResult) string { return r.Label })
	row("addresses", func(r evalResult) string { return strconv.Itoa(r.Addresses) })
	row("bad lines", func(r evalResult) string { return strconv.Itoa(r.BadLines) })
	row("found", func(r evalResult) string { return pct(r.Found, r.Addresses) })
	for _, c := range schema.Categories() {
		name := evalCategoryName(c)
		row(name, func(r evalResult) string { return pct(r.Categories[name], r.Addresses) })
	}
	for _, a := range evalActions {
		row("action "+a.String(), func(r evalResult) string { return pct(r.Actions[a.String()], r.Addresses) })
	}
	row("provider_name", func(r evalResult) string { return pct(r.Provider, r.Addresses) })
	for _, f := range feeds {
		row("feed "+f, func(r evalResult) string { return pct(r.Feeds[f], r.Addresses) })
	}
	_ = tw.Flush()
}
