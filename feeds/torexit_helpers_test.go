package feeds

// Helpers shared by the tests of the Tor formats (tor-exit-addresses,
// tor-consensus, onionoo) and the ASN formats (ip2asn, pyasn, asn-list,
// mmdb). Their names start with "ti" to stay out of the way of the other
// formats' test helpers in this package.

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ipintel/ipintel/internal/testenv"
)

// tiCounts are the numbers `ipintel feeds check` reports (docs/design.md §3).
type tiCounts struct {
	Records, Prefixes, IPv4, IPv6, ASNs, Invalid, Skipped int
}

func (c tiCounts) String() string {
	return fmt.Sprintf("records=%d prefixes=%d ipv4=%d ipv6=%d asns=%d invalid=%d skipped=%d",
		c.Records, c.Prefixes, c.IPv4, c.IPv6, c.ASNs, c.Invalid, c.Skipped)
}

// tiParse parses data and returns every entry, the stats and the error.
func tiParse(f Format, data []byte) ([]Entry, Stats, error) {
	var out []Entry
	st, err := Parse(bytes.NewReader(data), Options{Format: f, Source: "test"}, func(e Entry) {
		out = append(out, e)
	})
	return out, st, err
}

// tiTally counts the distinct prefixes and ASNs of entries.
func tiTally(entries []Entry, st Stats) tiCounts {
	c := tiCounts{Records: st.Records, Invalid: st.Invalid, Skipped: st.Skipped}
	pfxs := map[netip.Prefix]bool{}
	asns := map[uint32]bool{}
	for _, e := range entries {
		if e.Prefix.IsValid() {
			pfxs[e.Prefix] = true
		}
		if e.ASN != 0 {
			asns[e.ASN] = true
		}
	}
	for p := range pfxs {
		if p.Addr().Is4() {
			c.IPv4++
		} else {
			c.IPv6++
		}
	}
	c.Prefixes, c.ASNs = len(pfxs), len(asns)
	return c
}

// tiCheckEntries checks the invariants every entry of format f keeps: a
// valid, masked, unmapped prefix (the zero prefix for asn-list and
// asn-names) and a line.
func tiCheckEntries(tb testing.TB, f Format, entries []Entry) {
	tb.Helper()
	for _, e := range entries {
		if err := tiEntryProblem(f, e); err != nil {
			tb.Fatalf("entry %+v: %v", e, err)
		}
	}
}

func tiEntryProblem(f Format, e Entry) error {
	if e.Line < 1 {
		return errors.New("line < 1")
	}
	if f == FormatASNList || f == FormatASNNames {
		if e.Prefix != (netip.Prefix{}) {
			return fmt.Errorf("%s entry has a prefix", f)
		}
		if e.ASN == 0 {
			return fmt.Errorf("%s entry has ASN 0", f)
		}
		return nil
	}
	p := e.Prefix
	switch {
	case !p.IsValid():
		return errors.New("invalid prefix")
	case p != p.Masked():
		return errors.New("prefix not masked")
	case p.Addr().Is4In6():
		return errors.New("prefix is IPv4-mapped")
	case p.Addr().Zone() != "":
		return errors.New("prefix has a zone")
	}
	return nil
}

// tiFormat renders an entry for table tests: "line prefix ASn org [cats]".
func tiFormat(e Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", e.Line)
	if e.Prefix.IsValid() {
		fmt.Fprintf(&b, " %v", e.Prefix)
	}
	if e.ASN != 0 {
		fmt.Fprintf(&b, " AS%d", e.ASN)
	}
	if e.Org != "" {
		fmt.Fprintf(&b, " %q", e.Org)
	}
	if e.Categories != 0 {
		fmt.Fprintf(&b, " [%v]", e.Categories)
	}
	return b.String()
}

// tiCase is one table-driven parser test.
type tiCase struct {
	name    string
	in      string
	want    []string // tiFormat of each entry, in order
	records int
	skipped int
	bad     []int // lines of the LineErrors, in the order reported
	fatal   bool  // Parse returns an error that is not a LineError
}

// tiRun runs table cases for format f.
func tiRun(t *testing.T, f Format, cases []tiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			entries, st, err := tiParse(f, []byte(tc.in))
			tiCheckEntries(t, f, entries)
			got := make([]string, len(entries))
			for i, e := range entries {
				got[i] = tiFormat(e)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("entries:\n got %q\nwant %q", got, tc.want)
			}
			if st.Records != tc.records || st.Skipped != tc.skipped || st.Invalid != len(tc.bad) {
				t.Errorf("stats = %+v, want records=%d skipped=%d invalid=%d", st, tc.records, tc.skipped, len(tc.bad))
			}
			lines, fatal := tiErrorLines(err)
			if !slices.Equal(lines, tc.bad) {
				t.Errorf("LineError lines = %v, want %v (err %v)", lines, tc.bad, err)
			}
			if fatal != tc.fatal {
				t.Errorf("fatal error = %v, want %v (err %v)", fatal, tc.fatal, err)
			}
		})
	}
}

// tiErrorLines splits Parse's joined error into the lines of its
// LineErrors and whether another error came with them.
func tiErrorLines(err error) (lines []int, fatal bool) {
	if err == nil {
		return nil, false
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		if le, ok := errors.AsType[*LineError](e); ok {
			lines = append(lines, le.Line)
		} else {
			fatal = true
		}
	}
	return lines, fatal
}

// tiShared returns the paths of the shared corpus matching the globs, and
// fails when a glob matches nothing: a corpus test must not pass empty.
func tiShared(tb testing.TB, globs ...string) []string {
	tb.Helper()
	dir := testenv.SharedFeeds(tb)
	var out []string
	for _, g := range globs {
		m, err := filepath.Glob(filepath.Join(dir, g))
		if err != nil || len(m) == 0 {
			tb.Fatalf("no shared feed matches %s (%v)", g, err)
		}
		out = append(out, m...)
	}
	return out
}

// tiRead reads a file, gunzipping it when its name ends in .gz.
func tiRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			tb.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			tb.Fatal(err)
		}
	}
	return b
}

// tiCorpus parses every file with the parser (from the raw, possibly
// gzipped, bytes) and compares its counts with those of ref, an
// independent reference computed from the decompressed text. pinned holds
// numbers verified outside Go (shell, the feed corpus's manifest) for known file names.
func tiCorpus(t *testing.T, f Format, files []string, ref func(t *testing.T, data []byte) tiCounts, pinned map[string]tiCounts) {
	t.Helper()
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			entries, st, err := tiParse(f, raw)
			if lines, fatal := tiErrorLines(err); fatal || len(lines) > 0 {
				t.Errorf("Parse error: %v", err)
			}
			tiCheckEntries(t, f, entries)
			got := tiTally(entries, st)
			if want := ref(t, tiRead(t, path)); got != want {
				t.Errorf("Parse counts:\n got %v\nwant %v (reference)", got, want)
			}
			if want, ok := pinned[name]; ok && got != want {
				t.Errorf("Parse counts:\n got %v\nwant %v (pinned)", got, want)
			}
			t.Logf("%s: %v", name, got)
		})
	}
}

// tiPrefixCounts fills the prefix fields of c from a set.
func tiPrefixCounts(c tiCounts, pfxs map[netip.Prefix]bool) tiCounts {
	c.Prefixes = len(pfxs)
	for p := range pfxs {
		if p.Addr().Is4() {
			c.IPv4++
		} else {
			c.IPv6++
		}
	}
	return c
}

// tiFuzzCheck is the body shared by the fuzz targets: parsing never
// panics, every entry keeps the invariants, Stats agree with the errors,
// and the prefixes survive a format-then-parse round trip.
func tiFuzzCheck(t *testing.T, f Format, data []byte) {
	entries, st, err := tiParse(f, data)
	for _, e := range entries {
		if p := tiEntryProblem(f, e); p != nil {
			t.Fatalf("entry %+v: %v", e, p)
		}
	}
	lines, _ := tiErrorLines(err)
	if len(lines) > st.Invalid {
		t.Fatalf("%d LineErrors but Stats.Invalid = %d", len(lines), st.Invalid)
	}
	for _, l := range lines {
		if l < 1 {
			t.Fatalf("LineError line %d < 1", l)
		}
	}
	if st.Records < 0 || st.Skipped < 0 || st.Invalid < 0 {
		t.Fatalf("negative stats %+v", st)
	}
	tiRoundTrip(t, entries)
}

// tiRoundTrip writes the prefixes of entries as a pyasn table and parses
// it back: every prefix must come back unchanged, with its ASN (AS 64496
// stands in when the entry has none).
func tiRoundTrip(t *testing.T, entries []Entry) {
	var doc bytes.Buffer
	var want []string
	for _, e := range entries {
		if !e.Prefix.IsValid() {
			continue
		}
		asn := e.ASN
		if asn == 0 {
			asn = 64496
		}
		fmt.Fprintf(&doc, "%v\t%d\n", e.Prefix, asn)
		want = append(want, fmt.Sprintf("%v AS%d", e.Prefix, asn))
	}
	if len(want) == 0 {
		return // an empty body is not a pyasn table
	}
	back, st, err := tiParse(FormatPyASN, doc.Bytes())
	if err != nil || st.Records != len(want) {
		t.Fatalf("round trip through pyasn: %d of %d records, err %v", st.Records, len(want), err)
	}
	for i, e := range back {
		if got := fmt.Sprintf("%v AS%d", e.Prefix, e.ASN); got != want[i] {
			t.Fatalf("round trip through pyasn: %s came back as %s", want[i], got)
		}
	}
}

// tiSeeds adds every file of testdata matching glob to the fuzz corpus.
func tiSeeds(f *testing.F, glob string) {
	m, err := filepath.Glob(filepath.Join("testdata", glob))
	if err != nil || len(m) == 0 {
		f.Fatalf("no seed files match testdata/%s", glob)
	}
	for _, path := range m {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}
