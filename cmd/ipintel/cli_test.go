package main

import (
	"bytes"
	"context"
	"flag"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ipintel/ipintel/internal/testdb"
	"github.com/ipintel/ipintel/internal/testenv"
	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// cliCase is one in-process run of the CLI compared with
// testdata/<name>.golden. In args, $OLD and $NEW are the sample databases,
// $BAD a file that is not a database, $SCHEMA a database that breaks the
// schema, $PLUS a database with providers, confidence, history, relay and
// cleared evidence, $ANON and $ASN MaxMind's test databases.
type cliCase struct {
	name  string
	args  []string
	stdin string
	exit  int
}

var cliCases = []cliCase{
	{name: "lookup-jsonl", args: []string{"lookup", "-db", "$OLD", "192.0.2.10", "198.51.100.200", "::ffff:203.0.113.9", "2001:db8:2::1", "10.1.2.3"}},
	{name: "lookup-bad-args", args: []string{"lookup", "-db", "$OLD", "192.0.2.10", "1.2.3", "fe80::1%eth0", "2001:db8:1::1"}, exit: 1},
	{name: "lookup-stdin", args: []string{"lookup", "-db", "$OLD"}, stdin: "192.0.2.10\n\n  198.51.100.7  \nnot-an-address\n2001:db8:1::5\n", exit: 1},
	{name: "lookup-table", args: []string{"lookup", "-db", "$OLD", "-format", "table", "192.0.2.10", "198.51.100.200", "10.1.2.3"}},
	{name: "lookup-no-db", args: []string{"lookup", "1.2.3.4"}, exit: 2},
	{name: "lookup-bad-format", args: []string{"lookup", "-db", "$OLD", "-format", "xml", "1.2.3.4"}, exit: 2},
	{name: "lookup-bad-db", args: []string{"lookup", "-db", "$BAD", "1.2.3.4"}, exit: 1},
	{name: "lookup-maxmind-anonymous", args: []string{"lookup", "-db", "$ANON", "1.2.0.1", "71.160.223.1", "81.2.69.1", "186.30.236.1", "::1.2.0.1", "abcd:1000::1", "8.8.8.8"}},
	{name: "lookup-maxmind-asn", args: []string{"lookup", "-db", "$ASN", "-format", "table", "1.128.0.1", "2600:6000::1", "8.8.8.8"}},
	{name: "lookup-plus", args: []string{"lookup", "-db", "$PLUS", "192.0.2.1", "198.51.100.9", "203.0.113.5", "2001:db8:7::1", "10.0.0.1"}},
	{name: "lookup-plus-table", args: []string{"lookup", "-db", "$PLUS", "-format", "table", "192.0.2.1", "198.51.100.9", "203.0.113.5", "2001:db8:7::1", "10.0.0.1"}},
	{name: "explain-block", args: []string{"explain", "-db", "$OLD", "192.0.2.10"}},
	{name: "explain-provider", args: []string{"explain", "-db", "$PLUS", "198.51.100.9"}},
	{name: "explain-relay", args: []string{"explain", "-db", "$PLUS", "192.0.2.1"}},
	{name: "explain-crawler-json", args: []string{"explain", "-db", "$PLUS", "-json", "203.0.113.5"}},
	{name: "explain-tor-abuse", args: []string{"explain", "-db", "$PLUS", "2001:db8:7::1"}},
	{name: "explain-allowlisted", args: []string{"explain", "-db", "$OLD", "198.51.100.200"}},
	{name: "explain-miss", args: []string{"explain", "-db", "$OLD", "10.1.2.3"}},
	{name: "explain-json", args: []string{"explain", "-db", "$OLD", "-json", "2001:db8:1::1"}},
	{name: "explain-maxmind", args: []string{"explain", "-db", "$ANON", "81.2.69.1"}},
	{name: "explain-unknown-feed", args: []string{"explain", "-db", "$SCHEMA", "198.51.100.1"}},
	{name: "explain-no-addr", args: []string{"explain", "-db", "$OLD"}, exit: 2},
	{name: "explain-bad-addr", args: []string{"explain", "-db", "$OLD", "1.2.3.4.5"}, exit: 2},
	{name: "info", args: []string{"info", "-db", "$OLD"}},
	{name: "info-json", args: []string{"info", "-db", "$NEW", "-json"}},
	{name: "info-maxmind", args: []string{"info", "-db", "$ANON"}},
	{name: "verify-ok", args: []string{"verify", "-db", "$OLD"}},
	{name: "verify-maxmind", args: []string{"verify", "-db", "$ASN"}},
	{name: "verify-not-mmdb", args: []string{"verify", "-db", "$BAD"}, exit: 1},
	{name: "verify-schema", args: []string{"verify", "-db", "$SCHEMA"}, exit: 1},
	{name: "diff", args: []string{"diff", "$OLD", "$NEW"}},
	{name: "diff-json", args: []string{"diff", "-json", "$OLD", "$NEW"}},
	{name: "diff-same", args: []string{"diff", "$NEW", "$NEW"}},
	{name: "diff-one-arg", args: []string{"diff", "$OLD"}, exit: 2},
	{name: "export-cidr", args: []string{"export", "-db", "$OLD", "-format", "cidr"}},
	{name: "export-cidr-tor", args: []string{"export", "-db", "$OLD", "-format", "cidr", "-category", "tor_exit"}},
	{name: "export-csv", args: []string{"export", "-db", "$OLD", "-format", "csv", "-category", "all"}},
	{name: "export-jsonl", args: []string{"export", "-db", "$NEW", "-format", "jsonl", "-category", "tor_exit,abuse"}},
	{name: "export-nginx-geo", args: []string{"export", "-db", "$OLD", "-format", "nginx-geo"}},
	{name: "export-ipset", args: []string{"export", "-db", "$OLD", "-format", "ipset", "-set-name", "badnets"}},
	{name: "export-bad-format", args: []string{"export", "-db", "$OLD", "-format", "pf"}, exit: 2},
	{name: "export-bad-category", args: []string{"export", "-db", "$OLD", "-format", "cidr", "-category", "spam"}, exit: 2},
	{name: "export-bad-set-name", args: []string{"export", "-db", "$OLD", "-format", "ipset", "-set-name", "no spaces"}, exit: 2},
	{name: "eval-table", args: []string{"eval", "-db", "$OLD", "sample=-"}, stdin: evalStdin},
	{name: "eval-json", args: []string{"eval", "-db", "$OLD", "-json", "sample=-"}, stdin: evalStdin},
	{name: "eval-no-db", args: []string{"eval", "vpn=servers.txt"}, exit: 2},
	{name: "eval-no-label", args: []string{"eval", "-db", "$OLD", "servers.txt"}, exit: 2},
	{name: "eval-missing-file", args: []string{"eval", "-db", "$OLD", "vpn=testdata/no-such-file.txt"}, exit: 2},
	{name: "help-serve", args: []string{"help", "serve"}},
}

// schemaBreakingNets violate docs/design.md §2 in ways only verify notices.
var schemaBreakingNets = []testdb.Record{
	testdb.Net("192.0.2.0/24", map[string]any{
		schema.KeyIsAnonymous:   true,
		schema.KeyIsTorExitNode: true,
		schema.KeyIsAllowlisted: true,
		schema.KeyRiskScore:     uint16(90),
		schema.KeySources:       []string{"corp-allow", "tor-exits"},
	}),
	testdb.Net("198.51.100.0/24", map[string]any{
		schema.KeyIsAnonymous:    true,
		schema.KeyIsAnonymousVPN: true,
		schema.KeyRiskScore:      uint16(50),
		schema.KeySources:        []string{"someone-elses-feed"},
	}),
}

func TestCLIGolden(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{
		"$OLD":    writeTestDB(t, filepath.Join(dir, "old.mmdb"), sampleNets, testManifest(len(sampleNets))),
		"$NEW":    writeTestDB(t, filepath.Join(dir, "new.mmdb"), sampleNewNets, testManifest(len(sampleNewNets))),
		"$SCHEMA": writeTestDB(t, filepath.Join(dir, "schema.mmdb"), schemaBreakingNets, testManifest(2)),
		"$PLUS":   writeTestDB(t, filepath.Join(dir, "plus.mmdb"), plusNets, plusManifest()),
		"$BAD":    filepath.Join(dir, "bad.mmdb"),
	}
	if err := os.WriteFile(vars["$BAD"], []byte("not a database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var maxmind string
	if _, err := os.Stat(filepath.Join(testenv.RepoRoot(), "..", "shared", "feeds", "MANIFEST.md")); err == nil || os.Getenv("CI") == "true" {
		maxmind = filepath.Join(testenv.SharedFeeds(t), "mmdb-testdata", "test-data")
		vars["$ANON"] = filepath.Join(maxmind, "GeoIP2-Anonymous-IP-Test.mmdb")
		vars["$ASN"] = filepath.Join(maxmind, "GeoLite2-ASN-Test.mmdb")
	}
	for _, tc := range cliCases {
		t.Run(tc.name, func(t *testing.T) {
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				if v, ok := vars[a]; ok {
					args[i] = v
					continue
				}
				if a == "$ANON" || a == "$ASN" {
					t.Skip("MaxMind test databases not found (../shared/feeds)")
				}
				args[i] = a
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, strings.NewReader(tc.stdin), &stdout, &stderr)
			got := renderRun(tc.args, code, stdout.String(), stderr.String(), dir, maxmind)
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("ipintel %s: output differs from %s (run with -update to accept)\n--- got ---\n%s--- want ---\n%s",
					strings.Join(tc.args, " "), path, got, want)
			}
			if code != tc.exit {
				t.Errorf("ipintel %s: exit %d, want %d", strings.Join(tc.args, " "), code, tc.exit)
			}
		})
	}
}

// engineFigures match the engine's size in info's output: they belong to
// the lookup package's implementation, not to the CLI's contract.
var engineFigures = regexp.MustCompile(`(engine +)\d+ ranges, \d+ bytes|("(ranges|bytes)": )\d+`)

// renderRun formats one run for a golden file, with temporary paths and
// engine sizes replaced so the file depends neither on where the test ran
// nor on the engine's internals.
func renderRun(args []string, code int, stdout, stderr, dir, maxmind string) string {
	clean := func(s string) string {
		if maxmind != "" {
			s = strings.ReplaceAll(s, maxmind, "$MAXMIND")
		}
		s = engineFigures.ReplaceAllStringFunc(s, func(m string) string {
			if strings.HasPrefix(m, "engine") {
				return m[:strings.IndexAny(m, "0123456789")] + "N ranges, N bytes"
			}
			return m[:strings.Index(m, ": ")+2] + "0"
		})
		return strings.ReplaceAll(s, dir, "$TMP")
	}
	var b strings.Builder
	b.WriteString("$ ipintel " + strings.Join(args, " ") + "\n")
	b.WriteString("exit " + string(rune('0'+code)) + "\n")
	b.WriteString("-- stdout --\n" + clean(stdout))
	b.WriteString("-- stderr --\n" + clean(stderr))
	return b.String()
}

// TestDiffAgainstLookup checks diff's sweep against a brute-force count:
// on random databases, the addresses whose action changed, counted one by
// one over every IPv4 address of a small space, equal what diff reports.
func TestDiffAgainstLookup(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	dir := t.TempDir()
	// One record shape per category, as the builder writes it.
	shapes := []struct {
		source string
		keys   []string
	}{
		{"ftor_exit", []string{schema.KeyIsAnonymous, schema.KeyIsTorExitNode}},
		{"fvpn", []string{schema.KeyIsAnonymous, schema.KeyIsAnonymousVPN}},
		{"fhosting", []string{schema.KeyIsAnonymous, schema.KeyIsHostingProvider}},
		{"fabuse", []string{schema.KeyIsAbuse}},
	}
	randomNets := func() []testdb.Record {
		var nets []testdb.Record
		for range 40 {
			bits := 20 + rng.IntN(13)
			a := netip.AddrFrom4([4]byte{198, 18, byte(rng.IntN(16)), byte(rng.Uint32())})
			shape := shapes[rng.IntN(4)]
			rec := map[string]any{schema.KeyRiskScore: uint16(rng.IntN(101)), schema.KeySources: []string{shape.source}}
			for _, k := range shape.keys {
				rec[k] = true
			}
			nets = append(nets, testdb.Record{Network: netip.PrefixFrom(a, bits).Masked(), Data: rec})
		}
		// Less specific first, so more specific networks override.
		for i := range nets {
			for j := i + 1; j < len(nets); j++ {
				if nets[j].Network.Bits() < nets[i].Network.Bits() {
					nets[i], nets[j] = nets[j], nets[i]
				}
			}
		}
		return nets
	}
	for round := range 5 {
		oldDB, err := lookup.Open(writeTestDB(t, filepath.Join(dir, "o.mmdb"), randomNets(), nil))
		if err != nil {
			t.Fatal(err)
		}
		newDB, err := lookup.Open(writeTestDB(t, filepath.Join(dir, "n.mmdb"), randomNets(), nil))
		if err != nil {
			t.Fatal(err)
		}
		d, err := diffDBs(context.Background(), oldDB, newDB)
		if err != nil {
			t.Fatal(err)
		}
		policy := lookup.DefaultPolicy()
		var changed uint64
		added := map[string]uint64{}
		removed := map[string]uint64{}
		for a := netip.MustParseAddr("198.18.0.0"); netip.MustParsePrefix("198.18.0.0/20").Contains(a); a = a.Next() {
			o, _ := oldDB.Lookup(a)
			n, _ := newDB.Lookup(a)
			if policy.Decide(o).Action != policy.Decide(n).Action {
				changed++
			}
			for _, c := range schema.Categories() {
				if n.Categories&c != 0 && o.Categories&c == 0 {
					added[c.Name()]++
				}
				if o.Categories&c != 0 && n.Categories&c == 0 {
					removed[c.Name()]++
				}
			}
		}
		if d.Changed.IPv4 != changed {
			t.Errorf("round %d: diff says %d addresses changed action, brute force %d", round, d.Changed.IPv4, changed)
		}
		for _, c := range schema.Categories() {
			dc := d.Categories[c.Name()]
			if dc.Added.IPv4 != added[c.Name()] || dc.Removed.IPv4 != removed[c.Name()] {
				t.Errorf("round %d: %s +%d -%d, brute force +%d -%d", round, c.Name(), dc.Added.IPv4, dc.Removed.IPv4, added[c.Name()], removed[c.Name()])
			}
		}
	}
}
