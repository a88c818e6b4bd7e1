package feeds

// Slow reference parsers for the corpus and fuzz tests. They aim for
// readability above speed and share no code with the parsers under test:
// only strings, strconv, encoding/json, encoding/csv and net/netip, and
// their own range splitting, one bit at a time.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// refEntry is one (line, prefix) pair a reference parser expects.
type refEntry struct {
	line int
	pfx  netip.Prefix
}

// refResult is what a reference parser expects from a whole input.
type refResult struct {
	records, invalid, skipped int
	entries                   []refEntry
}

func (r *refResult) accept(line int, pfxs []netip.Prefix) {
	r.records++
	for _, p := range pfxs {
		r.entries = append(r.entries, refEntry{line, p})
	}
}

// refLines splits text into lines as the feeds see them: split at '\n',
// one trailing '\r' removed, no empty last line after a final '\n', no
// byte order mark at the start.
func refLines(text string) []string {
	lines := strings.Split(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	if len(lines) > 0 {
		lines[0] = strings.TrimPrefix(lines[0], "\ufeff")
	}
	return lines
}

// refCutComment drops everything from the first '#' or ';' and trims.
func refCutComment(s string) string {
	s, _, _ = strings.Cut(s, "#")
	s, _, _ = strings.Cut(s, ";")
	return strings.TrimSpace(s)
}

// refAddr parses an address, brackets allowed, zones refused, unmapped.
func refAddr(s string) (netip.Addr, bool) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// refLast returns the last address of p.
func refLast(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// refRange splits the inclusive range from..to the slow way: at each step
// take the shortest prefix that starts at from and ends at or before to.
func refRange(from, to netip.Addr) ([]netip.Prefix, bool) {
	if from.Is4() != to.Is4() || to.Less(from) {
		return nil, false
	}
	var out []netip.Prefix
	for {
		var p netip.Prefix
		for bits := 0; bits <= from.BitLen(); bits++ {
			c := netip.PrefixFrom(from, bits)
			if c.Masked().Addr() == from && !to.Less(refLast(c)) {
				p = c
				break
			}
		}
		out = append(out, p)
		last := refLast(p)
		if last == to {
			return out, true
		}
		from = last.Next()
	}
}

// refNet parses an address, a CIDR or an a-b range.
func refNet(s string) ([]netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if a, b, ok := strings.Cut(s, "-"); ok {
		from, ok1 := refAddr(strings.TrimSpace(a))
		to, ok2 := refAddr(strings.TrimSpace(b))
		if !ok1 || !ok2 {
			return nil, false
		}
		return refRange(from, to)
	}
	if a, bitsText, ok := strings.Cut(s, "/"); ok {
		addr, ok := refAddr(a)
		if !ok {
			return nil, false
		}
		raw, _ := netip.ParseAddr(strings.Trim(a, "[]"))
		p, err := netip.ParsePrefix(raw.String() + "/" + bitsText)
		if err != nil {
			return nil, false
		}
		bits := p.Bits()
		if raw.Is4In6() {
			if bits < 96 {
				return nil, false
			}
			bits -= 96
		}
		return []netip.Prefix{netip.PrefixFrom(addr, bits).Masked()}, true
	}
	a, ok := refAddr(s)
	if !ok {
		return nil, false
	}
	return []netip.Prefix{netip.PrefixFrom(a, a.BitLen())}, true
}

// refIPList is the reference for the ip-list format.
func refIPList(text string) refResult {
	var r refResult
	for i, line := range refLines(text) {
		s := refCutComment(line)
		if s == "" {
			continue
		}
		if pfxs, ok := refNet(s); ok {
			r.accept(i+1, pfxs)
		} else if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
			a := ap.Addr().Unmap()
			r.accept(i+1, []netip.Prefix{netip.PrefixFrom(a, a.BitLen())})
		} else {
			r.invalid++
		}
	}
	return r
}

// refSpamhaus is the reference for spamhaus-drop, text and NDJSON.
func refSpamhaus(text string) refResult {
	var r refResult
	for i, line := range refLines(text) {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "{") {
			var rec struct {
				Type any `json:"type"`
				CIDR any `json:"cidr"`
			}
			if json.Unmarshal([]byte(t), &rec) != nil {
				r.invalid++
				continue
			}
			if rec.Type == "metadata" {
				continue
			}
			cidr, ok := rec.CIDR.(string)
			if !ok {
				r.invalid++
				continue
			}
			if pfxs, ok := refNet(cidr); ok {
				r.accept(i+1, pfxs)
			} else {
				r.invalid++
			}
			continue
		}
		s := refCutComment(t)
		if s == "" {
			continue
		}
		if pfxs, ok := refNet(s); ok {
			r.accept(i+1, pfxs)
		} else {
			r.invalid++
		}
	}
	return r
}

// refIPSum is the reference for ipsum with the given minimum count.
func refIPSum(text string, minCount int) refResult {
	var r refResult
	for i, line := range refLines(text) {
		f := strings.FieldsFunc(refCutComment(line), func(r rune) bool { return strings.ContainsRune(" \t\v\f\r", r) })
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 || strings.Trim(f[1], "0123456789") != "" {
			r.invalid++
			continue
		}
		count, err := strconv.Atoi(f[1])
		if err != nil { // only digits, so too large
			count = math.MaxInt
		}
		pfxs, ok := refNet(f[0])
		if !ok {
			r.invalid++
			continue
		}
		if count < minCount {
			r.skipped++
			continue
		}
		r.accept(i+1, pfxs)
	}
	return r
}

// refCSVFile is the reference for the two real csv families, read with
// encoding/csv: a header naming a cidr column selects it, otherwise
// columns 0 and 1 are an inclusive range.
func refCSVFile(t *testing.T, text string) refResult {
	t.Helper()
	var r refResult
	cr := csv.NewReader(strings.NewReader(text))
	cr.FieldsPerRecord = -1
	cidrCol := -1
	for n := 1; ; n++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return r
		}
		if err != nil {
			t.Fatalf("reference csv reader: %v", err)
		}
		if line, _ := cr.FieldPos(0); line != n {
			t.Fatalf("reference csv reader: row %d on line %d; the real files have no multi-line rows", n, line)
		}
		if n == 1 {
			if i := slices.Index(row, "cidr"); i >= 0 {
				cidrCol = i
				continue
			}
		}
		var pfxs []netip.Prefix
		ok := false
		if cidrCol >= 0 {
			pfxs, ok = refNet(row[cidrCol])
		} else if len(row) >= 2 {
			from, ok1 := refAddr(row[0])
			to, ok2 := refAddr(row[1])
			if ok1 && ok2 {
				pfxs, ok = refRange(from, to)
			}
		}
		if ok {
			r.accept(n, pfxs)
		} else {
			r.invalid++
		}
	}
}

// refIPVerse is the reference for one ipverse aggregated.json document.
// It cannot give line numbers, so its entries carry line 0.
func refIPVerse(t *testing.T, text string) (refResult, uint32) {
	t.Helper()
	var doc struct {
		ASN     uint32              `json:"asn"`
		Subnets map[string][]string `json:"subnets"`
	}
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("reference json: %v", err)
	}
	var r refResult
	for _, key := range []string{"ipv4", "ipv6"} {
		for _, s := range doc.Subnets[key] {
			if pfxs, ok := refNet(s); ok {
				r.accept(0, pfxs)
			} else {
				r.invalid++
			}
		}
	}
	return r, doc.ASN
}

// parsed is everything one Parse call produced.
type parsed struct {
	entries  []Entry
	stats    Stats
	lineErrs []*LineError
	fatal    []error
}

// parseText runs Parse on text and sorts its errors into line errors and
// the rest.
func parseText(text string, opts Options) parsed {
	var out parsed
	st, err := Parse(strings.NewReader(text), opts, func(e Entry) { out.entries = append(out.entries, e) })
	out.stats = st
	if err != nil {
		errs := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		}
		for _, e := range errs {
			if le, ok := errors.AsType[*LineError](e); ok {
				out.lineErrs = append(out.lineErrs, le)
			} else {
				out.fatal = append(out.fatal, e)
			}
		}
	}
	return out
}

// refEntries returns the (line, prefix) pairs of entries, for comparison.
func refEntries(entries []Entry, withLines bool) []refEntry {
	out := make([]refEntry, len(entries))
	for i, e := range entries {
		out[i] = refEntry{pfx: e.Prefix}
		if withLines {
			out[i].line = e.Line
		}
	}
	return out
}

// compareRef fails t when got differs from want in counts or entries.
func compareRef(t *testing.T, name string, got parsed, want refResult, withLines bool) {
	t.Helper()
	if got.stats.Records != want.records || got.stats.Invalid != want.invalid || got.stats.Skipped != want.skipped {
		t.Errorf("%s: records/invalid/skipped = %d/%d/%d, want %d/%d/%d", name,
			got.stats.Records, got.stats.Invalid, got.stats.Skipped, want.records, want.invalid, want.skipped)
	}
	ge := refEntries(got.entries, withLines)
	if !slices.Equal(ge, want.entries) {
		i := 0
		for i < len(ge) && i < len(want.entries) && ge[i] == want.entries[i] {
			i++
		}
		t.Errorf("%s: %d entries, want %d; first difference at %d: %s", name, len(ge), len(want.entries), i, diffAt(ge, want.entries, i))
	}
}

func diffAt(got, want []refEntry, i int) string {
	var b bytes.Buffer
	if i < len(got) {
		fmt.Fprintf(&b, "got line %d %v", got[i].line, got[i].pfx)
	} else {
		b.WriteString("got nothing")
	}
	if i < len(want) {
		fmt.Fprintf(&b, ", want line %d %v", want[i].line, want[i].pfx)
	} else {
		b.WriteString(", want nothing")
	}
	return b.String()
}

// fuzzSeeds adds every testdata file matching pattern to f, followed by
// the extra arguments of the fuzz function.
func fuzzSeeds(f *testing.F, pattern string, extra ...any) {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files match testdata/%s", pattern)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]any{b}, extra...)...)
	}
}

// checkInvariants fails t when a parse of in broke a rule every format
// keeps: entries valid, masked, unmapped and on a real line; counts
// consistent; no file error unless the input is gzip or, for JSON
// documents, malformed. lineRecords says whether each record is one line
// (every format but ipverse-json).
func checkInvariants(t *testing.T, in []byte, got parsed, lineRecords, fatalOK bool) {
	t.Helper()
	lines := bytes.Count(in, []byte{'\n'}) + 1
	for _, e := range got.entries {
		p := e.Prefix
		switch {
		case !p.IsValid():
			t.Fatalf("entry %+v: invalid prefix", e)
		case p != p.Masked():
			t.Fatalf("entry %+v: not masked", e)
		case p.Addr().Is4In6():
			t.Fatalf("entry %+v: IPv4-mapped", e)
		case p.Addr().Zone() != "":
			t.Fatalf("entry %+v: has a zone", e)
		case e.Line < 1 || e.Line > lines:
			t.Fatalf("entry %+v: line outside 1..%d", e, lines)
		}
		if rt, err := ParsePrefix(p.String()); err != nil || rt != p {
			t.Fatalf("entry %v does not round-trip: %v, %v", p, rt, err)
		}
	}
	st := got.stats
	if st.Records < 0 || st.Invalid < 0 || st.Skipped < 0 {
		t.Fatalf("negative stats %+v", st)
	}
	if st.Records > len(got.entries) || (len(got.entries) > 0 && st.Records == 0) {
		t.Fatalf("%d records for %d entries", st.Records, len(got.entries))
	}
	if want := min(st.Invalid, 100); len(got.lineErrs) != want {
		t.Fatalf("%d line errors kept for Invalid %d, want %d", len(got.lineErrs), st.Invalid, want)
	}
	for _, le := range got.lineErrs {
		if le.Line < 1 || le.Line > lines || le.Err == nil {
			t.Fatalf("bad LineError %+v (lines %d)", le, lines)
		}
	}
	if lineRecords {
		distinct := map[int]bool{}
		for _, e := range got.entries {
			distinct[e.Line] = true
		}
		if len(distinct) != st.Records {
			t.Fatalf("entries on %d distinct lines for %d records", len(distinct), st.Records)
		}
		if st.Records+st.Invalid+st.Skipped > lines {
			t.Fatalf("stats %+v exceed %d lines", st, lines)
		}
	}
	gzip := len(in) >= 2 && in[0] == 0x1f && in[1] == 0x8b
	notFeed := len(got.fatal) == 1 && errors.Is(got.fatal[0], ErrNotFeed)
	if notFeed && (len(got.entries) != 0 || st.Records != 0) {
		t.Fatalf("ErrNotFeed with %d entries, %d records", len(got.entries), st.Records)
	}
	if len(got.fatal) != 0 && !gzip && !fatalOK && !notFeed {
		t.Fatalf("file error on plain input: %v", got.fatal)
	}
}

// plainText reports whether in can be compared with a reference parser:
// not gzip, and no line long enough to be cut by the line reader.
func plainText(in []byte) bool {
	if len(in) >= 2 && in[0] == 0x1f && in[1] == 0x8b {
		return false
	}
	for line := range bytes.SplitSeq(in, []byte{'\n'}) {
		if len(line) > maxLineLen {
			return false
		}
	}
	return true
}
