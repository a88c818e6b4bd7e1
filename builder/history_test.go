package builder_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/ipintel/ipintel/builder"
	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/internal/testenv"
	"github.com/ipintel/ipintel/schema"
)

const day0 = 1767225600 // 2026-01-01

func dateOf(d int) string { return time.Unix(day0+int64(d)*86400, 0).UTC().Format(time.DateOnly) }

// historyEnv builds a config with a state_dir day after day.
type historyEnv struct {
	dir   string
	cfg   *builder.Config
	out   string
	cache string
}

func newHistoryEnv(t *testing.T, extra string) *historyEnv {
	t.Helper()
	dir := t.TempDir()
	data := `
state_dir = "state"
history_horizon = "20d"
` + extra + `
[[feed]]
name = "abuse"
kind = "abuse"
format = "ip-list"
url = "abuse.txt"
retain = "14d"
max_shrink = 1

[[feed]]
name = "vpn"
kind = "vpn"
format = "ip-list"
url = "vpn.txt"
max_shrink = 1
`
	cfg, err := builder.ParseConfig([]byte(data), filepath.Join(dir, "ipintel.toml"))
	if err != nil {
		t.Fatal(err)
	}
	return &historyEnv{dir: dir, cfg: cfg, out: filepath.Join(dir, "ipintel.mmdb"), cache: filepath.Join(dir, "cache")}
}

func (e *historyEnv) write(t *testing.T, name string, lines []string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *historyEnv) run(ctx context.Context, d int, out string) (*builder.Summary, error) {
	return builder.Run(ctx, e.cfg, builder.RunOptions{Out: out, CacheDir: e.cache, Epoch: day0 + int64(d)*86400})
}

func (e *historyEnv) historyBytes(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, "state", builder.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seenRecord is what the history tests read back.
type seenRecord struct {
	Score     uint16   `maxminddb:"risk_score"`
	Sources   []string `maxminddb:"sources"`
	FirstSeen string   `maxminddb:"network_first_seen"`
	LastSeen  string   `maxminddb:"network_last_seen"`
}

func readSeen(t *testing.T, db *maxminddb.Reader, addr string) (seenRecord, bool) {
	t.Helper()
	res := db.Lookup(netip.MustParseAddr(addr))
	var r seenRecord
	if err := res.Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r, res.Found() && len(r.Sources) > 0
}

// snapshotLines returns the first n addresses of a real blocklist snapshot.
func snapshotLines(t *testing.T, n int) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.SharedFeeds(t), "abuse", "firehol-blocklist_de_2021-01-18.ipset"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(out) < n {
		if s := sc.Text(); s != "" && s[0] != '#' {
			out = append(out, s)
		}
	}
	return out
}

// A month of daily builds: 50 real addresses of a blocklist snapshot
// rotate through the abuse feed (retain 14d), 20 a day, so every day one
// appears and one vanishes; local addresses come and go in both feeds.
// Every day, every address is checked: listed, retained at its faded
// weight, or expired, with its first and last seen dates.
func TestHistoryMonth(t *testing.T) {
	t.Parallel()
	real := snapshotLines(t, 50)
	e := newHistoryEnv(t, "[gates]\nmax_category_shrink = 1\nmax_category_growth = 0\n")
	const (
		gap   = "45.1.1.1" // abuse days 0-2 and 8-29: retained in between
		vpn   = "45.1.1.2" // vpn days 0-4 and 27-29: forgotten after the 20-day horizon
		both  = "45.1.1.3" // abuse days 3-29, vpn days 0-29
		fresh = "45.1.1.4" // abuse from day 12 on
	)
	in := func(d, lo, hi int) bool { return d >= lo && d <= hi }
	for d := range 30 {
		abuse := slicesWindow(real, d, d+20)
		if in(d, 0, 2) || in(d, 8, 29) {
			abuse = append(abuse, gap)
		}
		if in(d, 3, 29) {
			abuse = append(abuse, both)
		}
		if d >= 12 {
			abuse = append(abuse, fresh)
		}
		vpns := []string{both, "45.1.2.0/24"}
		if in(d, 0, 4) || in(d, 27, 29) {
			vpns = append(vpns, vpn)
		}
		e.write(t, "abuse.txt", abuse)
		e.write(t, "vpn.txt", vpns)
		sum, err := e.run(context.Background(), d, e.out)
		if err != nil {
			t.Fatalf("day %d: %v", d, err)
		}
		db, err := maxminddb.Open(e.out)
		if err != nil {
			t.Fatal(err)
		}
		check := func(addr string, wantFound bool, wantScore uint16, first, last int) {
			t.Helper()
			r, found := readSeen(t, db, addr)
			switch {
			case found != wantFound:
				t.Errorf("day %d: Lookup(%s) found = %v, want %v", d, addr, found, wantFound)
			case !found:
			case r.Score != wantScore || r.FirstSeen != dateOf(first) || r.LastSeen != dateOf(last):
				t.Errorf("day %d: Lookup(%s) = score %d, seen %s..%s; want %d, %s..%s",
					d, addr, r.Score, r.FirstSeen, r.LastSeen, wantScore, dateOf(first), dateOf(last))
			}
		}
		for k, addr := range real {
			// Listed on days k-19 .. k.
			first, last := max(0, k-19), k
			switch age := d - last; {
			case d < first:
				check(addr, false, 0, 0, 0)
			case age <= 0:
				check(addr, true, 60, first, d)
			case age < 14:
				check(addr, true, builder.Score([]float64{0.6 * (1 - float64(age)/14)}), first, last)
			default:
				check(addr, false, 0, 0, 0) // expired on the 14th day
			}
		}
		switch {
		case in(d, 0, 2) || in(d, 8, 29):
			check(gap, true, 60, 0, d)
		default:
			check(gap, true, builder.Score([]float64{0.6 * (1 - float64(d-2)/14)}), 0, 2)
		}
		switch {
		case in(d, 0, 4):
			check(vpn, true, 50, 0, d)
		case in(d, 27, 29):
			check(vpn, true, 50, 27, d) // unseen 22 days: forgotten, so first seen again
		default:
			check(vpn, false, 0, 0, 0) // no retain
		}
		if d >= 3 {
			check(both, true, builder.Score([]float64{0.6, 0.5}), 0, d)
		}
		if d >= 12 {
			check(fresh, true, 60, 12, d)
		}
		db.Close()
		if d == 29 && sum.HistoryEntries == 0 {
			t.Errorf("day %d: summary counts no history entries", d)
		}
	}

	// Rebuilding from the same state, inputs and epoch gives the same bytes,
	// database and history alike.
	state := filepath.Join(e.dir, "state", builder.HistoryFile)
	before := e.historyBytes(t)
	outs := []string{filepath.Join(e.dir, "a.mmdb"), filepath.Join(e.dir, "b.mmdb")}
	var dbs, hists [][]byte
	for _, out := range outs {
		if err := os.WriteFile(state, before, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := e.run(context.Background(), 30, out); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(out)
		dbs = append(dbs, b)
		hists = append(hists, e.historyBytes(t))
	}
	if !bytes.Equal(dbs[0], dbs[1]) || !bytes.Equal(hists[0], hists[1]) {
		t.Error("two builds from the same state, inputs and epoch differ")
	}
	if bytes.Equal(hists[0], before) {
		t.Error("a build on a new day left the history as it was")
	}
}

func slicesWindow(s []string, lo, hi int) []string {
	return append([]string(nil), s[min(lo, len(s)):min(hi, len(s))]...)
}

// A build that fails, is cancelled, is killed before its rename or is
// gated leaves the history as it was; the next good build goes on from it.
func TestHistoryUnchangedByFailedBuild(t *testing.T) {
	e := newHistoryEnv(t, "")
	e.write(t, "abuse.txt", []string{"45.1.1.1", "45.1.1.2"})
	e.write(t, "vpn.txt", []string{"45.1.2.1", "45.1.2.2", "45.1.2.3"})
	if _, err := e.run(context.Background(), 0, e.out); err != nil {
		t.Fatal(err)
	}
	e.write(t, "abuse.txt", []string{"45.1.1.3"})
	want := e.historyBytes(t)
	wantDB, _ := os.ReadFile(e.out)

	cancelAt := func(stage string) (context.Context, func(builder.Progress)) {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		return ctx, func(p builder.Progress) {
			if p.Stage == stage {
				cancel()
			}
		}
	}
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"cancelled while merging", func() error {
			ctx, progress := cancelAt("merging")
			_, err := builder.Run(ctx, e.cfg, builder.RunOptions{Out: e.out, CacheDir: e.cache, Epoch: day0 + 86400, Progress: progress})
			return err
		}},
		{"cancelled while writing", func() error {
			ctx, progress := cancelAt("writing")
			_, err := builder.Run(ctx, e.cfg, builder.RunOptions{Out: e.out, CacheDir: e.cache, Epoch: day0 + 86400, Progress: progress})
			return err
		}},
		{"killed before the rename", func() error {
			restore := builder.SetBeforeRename(func(string) error { return errors.New("killed") })
			defer restore()
			_, err := e.run(context.Background(), 1, e.out)
			return err
		}},
		{"gated: vpn lost every network", func() error {
			e.write(t, "vpn.txt", []string{"# nothing today"})
			defer e.write(t, "vpn.txt", []string{"45.1.2.1", "45.1.2.2", "45.1.2.3"})
			cfg := *e.cfg
			cfg.Feeds = append([]builder.FeedConfig(nil), e.cfg.Feeds...)
			cfg.Feeds[1].Optional = true
			// An empty cache: the vpn feed has no last good copy to fall
			// back to, so it is left out and the vpn category vanishes.
			_, err := builder.Run(context.Background(), &cfg, builder.RunOptions{Out: e.out,
				CacheDir: filepath.Join(e.dir, "empty-cache"), Epoch: day0 + 86400})
			if _, ok := errors.AsType[*builder.DatabaseGateError](err); err != nil && !ok {
				return fmt.Errorf("want a *DatabaseGateError, got %w", err)
			}
			return err
		}},
	} {
		err := tc.run()
		if err == nil {
			t.Errorf("%s: Run succeeded", tc.name)
			continue
		}
		if !bytes.Equal(e.historyBytes(t), want) {
			t.Errorf("%s: the history changed (%v)", tc.name, err)
		}
		if got, _ := os.ReadFile(e.out); !bytes.Equal(got, wantDB) {
			t.Errorf("%s: the database changed", tc.name)
		}
	}
	// The next good build starts from the untouched history.
	if _, err := e.run(context.Background(), 1, e.out); err != nil {
		t.Fatal(err)
	}
	db, err := maxminddb.Open(e.out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if r, ok := readSeen(t, db, "45.1.1.1"); !ok || r.LastSeen != dateOf(0) || r.FirstSeen != dateOf(0) {
		t.Errorf("day 1: Lookup(45.1.1.1) = %+v, %v; want retained, last seen %s", r, ok, dateOf(0))
	}
	if r, ok := readSeen(t, db, "45.1.1.3"); !ok || r.FirstSeen != dateOf(1) {
		t.Errorf("day 1: Lookup(45.1.1.3) = %+v, %v; want first seen %s", r, ok, dateOf(1))
	}
}

// A feed that falls back to its last good copy does not advance the
// last-seen dates of its entries: the evidence is as old as the copy.
func TestHistoryFallbackKeepsDates(t *testing.T) {
	t.Parallel()
	e := newHistoryEnv(t, "")
	e.cfg.Feeds[0].MinEntries = 2
	e.write(t, "abuse.txt", []string{"45.1.1.1", "45.1.1.2"})
	e.write(t, "vpn.txt", []string{"45.1.2.1"})
	if _, err := e.run(context.Background(), 0, e.out); err != nil {
		t.Fatal(err)
	}
	e.write(t, "abuse.txt", []string{"45.1.1.1"}) // below min_entries: falls back
	sum, err := e.run(context.Background(), 3, e.out)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Feeds[0].Gate != schema.GateFallback {
		t.Fatalf("abuse gate = %s, want %s", sum.Feeds[0].Gate, schema.GateFallback)
	}
	db, err := maxminddb.Open(e.out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, a := range []string{"45.1.1.1", "45.1.1.2"} {
		if r, ok := readSeen(t, db, a); !ok || r.Score != 60 || r.LastSeen != dateOf(0) {
			t.Errorf("Lookup(%s) = %+v, %v; want score 60, last seen %s", a, r, ok, dateOf(0))
		}
	}
	if r, _ := readSeen(t, db, "45.1.2.1"); r.LastSeen != dateOf(3) {
		t.Errorf("Lookup(45.1.2.1) last seen %s, want %s", r.LastSeen, dateOf(3))
	}
}

// Without a state_dir nothing is dated and no history is written.
func TestHistoryOffWithoutStateDir(t *testing.T) {
	t.Parallel()
	e := newHistoryEnv(t, "")
	e.cfg.StateDir = ""
	e.write(t, "abuse.txt", []string{"45.1.1.1"})
	e.write(t, "vpn.txt", []string{"45.1.2.1"})
	if _, err := e.run(context.Background(), 0, e.out); err != nil {
		t.Fatal(err)
	}
	db, err := maxminddb.Open(e.out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if r, ok := readSeen(t, db, "45.1.1.1"); !ok || r.FirstSeen != "" || r.LastSeen != "" {
		t.Errorf("Lookup(45.1.1.1) = %+v, %v; want listed, no dates", r, ok)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "state")); err == nil {
		t.Error("a state_dir was made")
	}
}

// A damaged history fails the build rather than silently forgetting.
func TestHistoryDamaged(t *testing.T) {
	t.Parallel()
	e := newHistoryEnv(t, "")
	e.write(t, "abuse.txt", []string{"45.1.1.1"})
	e.write(t, "vpn.txt", []string{"45.1.2.1"})
	if _, err := e.run(context.Background(), 0, e.out); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(e.dir, "state", builder.HistoryFile)
	b := e.historyBytes(t)
	if err := os.WriteFile(p, bytes.Replace(b, []byte("45.1.1.1/32"), []byte("45.1.1.9/32"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run(context.Background(), 1, e.out); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("Run with a damaged history = %v, want a checksum error", err)
	}
}

// What a retained entry replays: its provider, its own categories, an
// inferred block's confidence, an asn-list's ASN; and the history file
// reads back to the same bytes.
func TestHistoryReplayAndRoundTrip(t *testing.T) {
	t.Parallel()
	build := func(d int, prev *builder.History, listed bool) ([]byte, *builder.History) {
		t.Helper()
		b, err := builder.New(builder.Options{BuildEpoch: day0 + int64(d)*86400, History: prev})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []builder.Feed{
			{Name: "asn", Kind: "asn"},
			{Name: "servers", Kind: "vpn", Weight: 0.5, Confidence: 99, InferPrefix: 24, Retain: 7},
			{Name: "import", Kind: "vpn", Weight: 0.5, Retain: 7},
			{Name: "bad-asn", Kind: "hosting", Weight: 0.4, Retain: 7},
		} {
			if err := b.AddFeed(f); err != nil {
				t.Fatal(err)
			}
		}
		add := func(feed string, e feeds.Entry) {
			if err := b.Add(feed, e); err != nil {
				t.Fatal(err)
			}
		}
		add("asn", feeds.Entry{Prefix: netip.MustParsePrefix("45.2.0.0/16"), ASN: 64500})
		if listed {
			add("servers", feeds.Entry{Prefix: netip.MustParsePrefix("45.1.1.1/32"), Provider: "Alpha \"VPN\"\t1"})
			add("servers", feeds.Entry{Prefix: netip.MustParsePrefix("45.1.1.2/32"), Provider: "Alpha \"VPN\"\t1"})
			add("import", feeds.Entry{Prefix: netip.MustParsePrefix("2a00:1::/48"), Categories: schema.CategoryTorExit})
			add("bad-asn", feeds.Entry{ASN: 64500})
		}
		var buf bytes.Buffer
		if _, err := b.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), b.History()
	}
	_, h0 := build(0, &builder.History{}, true)
	db1, h1 := build(2, h0, false)
	r, err := maxminddb.OpenBytes(db1)
	if err != nil {
		t.Fatal(err)
	}
	var rec dbRecord
	for _, tc := range []struct {
		addr string
		want func(dbRecord) bool
	}{
		{"45.1.1.1", func(r dbRecord) bool {
			return r.Provider == "Alpha \"VPN\"\t1" && r.Confidence == 99 && r.LastSeen == dateOf(0) && r.Score == 36
		}},
		{"45.1.1.200", func(r dbRecord) bool { return r.IsAnonymousVPN && r.Confidence == 50 && r.LastSeen == dateOf(0) }},
		{"2a00:1::1", func(r dbRecord) bool { return r.IsTorExitNode && !r.IsAnonymousVPN && r.Score == 36 }},
		{"45.2.3.4", func(r dbRecord) bool {
			return r.IsHostingProvider && r.ASN == 64500 && r.Score == 29 && r.FirstSeen == dateOf(0)
		}},
	} {
		if err := r.Lookup(netip.MustParseAddr(tc.addr)).Decode(&rec); err != nil {
			t.Fatal(err)
		}
		if !tc.want(rec) {
			t.Errorf("day 2: Lookup(%s) = %+v", tc.addr, rec)
		}
		rec = dbRecord{}
	}

	dir := t.TempDir()
	var want bytes.Buffer
	if _, err := h1.WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, builder.HistoryFile), want.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := builder.ReadHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	back.WriteTo(&got)
	if !bytes.Equal(got.Bytes(), want.Bytes()) || back.Len() != 5 || back.Date().Format(time.DateOnly) != dateOf(2) {
		t.Errorf("history read back (%d entries, %s):\n%s\nwant\n%s", back.Len(), back.Date(), got.Bytes(), want.Bytes())
	}
	if s := back.Covering(netip.MustParseAddr("45.1.1.1"), 0); len(s) != 2 || s[0].Prefix.Bits() != 24 || s[1].Prefix.Bits() != 32 {
		t.Errorf("Covering(45.1.1.1) = %+v, want the inferred /24 then the /32", s)
	}
	// On the 7th day after they were last listed, everything has expired.
	db7, _ := build(7, h1, false)
	r, err = maxminddb.OpenBytes(db7)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"45.1.1.1", "45.1.1.200", "2a00:1::1"} {
		res := r.Lookup(netip.MustParseAddr(a))
		if res.Found() {
			t.Errorf("day 7: Lookup(%s) found, want expired", a)
		}
	}
}

// The Anonymous-Plus companion carries network_last_seen from the history.
func TestHistoryAnonymousPlus(t *testing.T) {
	t.Parallel()
	e := newHistoryEnv(t, "[[output]]\npath = \"plus.mmdb\"\ntype = \"GeoIP-Anonymous-Plus\"\n")
	e.write(t, "abuse.txt", []string{"45.1.1.1"})
	e.write(t, "vpn.txt", []string{"45.1.2.1"})
	for d := range 3 {
		if _, err := e.run(context.Background(), d, e.out); err != nil {
			t.Fatal(err)
		}
		e.write(t, "vpn.txt", []string{"45.1.2.1", "45.1.2.2"})
	}
	db, err := maxminddb.Open(filepath.Join(e.dir, "plus.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for addr, want := range map[string]string{"45.1.2.1": dateOf(2), "45.1.2.2": dateOf(2)} {
		var r struct {
			LastSeen string `maxminddb:"network_last_seen"`
		}
		if err := db.Lookup(netip.MustParseAddr(addr)).Decode(&r); err != nil {
			t.Fatal(err)
		}
		if r.LastSeen != want {
			t.Errorf("Anonymous-Plus Lookup(%s) network_last_seen = %q, want %q", addr, r.LastSeen, want)
		}
	}
}
