package builder_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
	"go4.org/netipx"

	"github.com/ipintel/ipintel/builder"
	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/internal/oracle"
	"github.com/ipintel/ipintel/internal/testenv"
	"github.com/ipintel/ipintel/schema"
)

// dbRecord is a record read back with maxminddb-golang.
type dbRecord struct {
	IsAnonymous        bool     `maxminddb:"is_anonymous"`
	IsAnonymousVPN     bool     `maxminddb:"is_anonymous_vpn"`
	IsHostingProvider  bool     `maxminddb:"is_hosting_provider"`
	IsPublicProxy      bool     `maxminddb:"is_public_proxy"`
	IsResidentialProxy bool     `maxminddb:"is_residential_proxy"`
	IsTorExitNode      bool     `maxminddb:"is_tor_exit_node"`
	IsAbuse            bool     `maxminddb:"is_abuse"`
	IsCrawler          bool     `maxminddb:"is_crawler"`
	IsAllowlisted      bool     `maxminddb:"is_allowlisted"`
	IsRelay            bool     `maxminddb:"is_relay"`
	ASN                uint32   `maxminddb:"autonomous_system_number"`
	Org                string   `maxminddb:"autonomous_system_organization"`
	Score              uint16   `maxminddb:"risk_score"`
	Sources            []string `maxminddb:"sources"`
	Provider           string   `maxminddb:"provider_name"`
	Confidence         uint16   `maxminddb:"anonymizer_confidence"`
	FirstSeen          string   `maxminddb:"network_first_seen"`
	LastSeen           string   `maxminddb:"network_last_seen"`
	Cleared            []struct {
		Feed     string `maxminddb:"feed"`
		Category string `maxminddb:"category"`
		By       string `maxminddb:"by"`
	} `maxminddb:"cleared"`
}

func (r dbRecord) answer(found bool) oracle.Answer {
	var c schema.Category
	for _, x := range []struct {
		set bool
		cat schema.Category
	}{
		{r.IsAnonymousVPN, schema.CategoryVPN}, {r.IsHostingProvider, schema.CategoryHosting},
		{r.IsPublicProxy, schema.CategoryPublicProxy}, {r.IsResidentialProxy, schema.CategoryResidentialProxy},
		{r.IsTorExitNode, schema.CategoryTorExit}, {r.IsAbuse, schema.CategoryAbuse},
		{r.IsCrawler, schema.CategoryCrawler}, {r.IsAllowlisted, schema.CategoryAllow},
		{r.IsRelay, schema.CategoryRelay},
	} {
		if x.set {
			c |= x.cat
		}
	}
	var cleared []oracle.Cleared
	for _, x := range r.Cleared {
		cleared = append(cleared, oracle.Cleared{Feed: x.Feed, Category: x.Category, By: x.By})
	}
	return oracle.Answer{Found: found, Categories: c, ASN: r.ASN, Org: r.Org, Sources: r.Sources, Score: r.Score,
		Provider: r.Provider, Confidence: r.Confidence, Cleared: cleared, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen}
}

func lookupDB(t *testing.T, db *maxminddb.Reader, addr netip.Addr) oracle.Answer {
	t.Helper()
	res := db.Lookup(addr)
	var r dbRecord
	if err := res.Decode(&r); err != nil {
		t.Fatalf("Lookup(%v): %v", addr, err)
	}
	if anon := r.IsAnonymous; anon != (r.answer(true).Categories&schema.CategoryAnonymous != 0) {
		t.Errorf("Lookup(%v): is_anonymous = %v with categories %v", addr, anon, r.answer(true).Categories)
	}
	return r.answer(res.Found())
}

func sameAnswer(a, b oracle.Answer) bool {
	return a.Found == b.Found && a.Categories == b.Categories && a.ASN == b.ASN && a.Org == b.Org &&
		a.Score == b.Score && slices.Equal(a.Sources, b.Sources) &&
		a.Provider == b.Provider && a.Confidence == b.Confidence && slices.Equal(a.Cleared, b.Cleared) &&
		a.FirstSeen == b.FirstSeen && a.LastSeen == b.LastSeen
}

// samples returns addresses that probe every entry and every inferred
// block: its first and last address, the addresses just outside it, a
// random one inside, and for IPv6 the neighbouring /64s.
func samples(fs []oracle.Feed, r *rand.Rand, random int) []netip.Addr {
	var out []netip.Addr
	add := func(a netip.Addr) {
		if a.IsValid() {
			out = append(out, a)
		}
	}
	for _, f := range fs {
		for _, e := range slices.Concat(f.Entries, oracle.Inferred(f)) {
			if !e.Prefix.IsValid() {
				continue
			}
			rg := netipx.RangeOfPrefix(e.Prefix.Masked())
			add(rg.From())
			add(rg.To())
			add(rg.From().Prev())
			add(rg.To().Next())
			add(randomIn(r, e.Prefix))
			if e.Prefix.Addr().Is6() {
				b := rg.From().As16()
				for _, d := range []int{-1, 1} {
					nb := b
					v := uint64(nb[0])<<56 | uint64(nb[1])<<48 | uint64(nb[2])<<40 | uint64(nb[3])<<32 |
						uint64(nb[4])<<24 | uint64(nb[5])<<16 | uint64(nb[6])<<8 | uint64(nb[7])
					v += uint64(d)
					for i := range 8 {
						nb[i] = byte(v >> (56 - 8*i))
					}
					nb[15] = byte(r.Uint32())
					add(netip.AddrFrom16(nb))
				}
			}
		}
	}
	for range random {
		var b4 [4]byte
		for i := range b4 {
			b4[i] = byte(r.Uint32())
		}
		add(netip.AddrFrom4(b4))
		var b16 [16]byte
		for i := range b16 {
			b16[i] = byte(r.Uint32())
		}
		b16[0] = 0x20 | b16[0]&0x1f // mostly global unicast
		add(netip.AddrFrom16(b16))
	}
	return out
}

func randomIn(r *rand.Rand, p netip.Prefix) netip.Addr {
	p = p.Masked()
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		if r.IntN(2) == 1 {
			b[i/8] |= 1 << (7 - i%8)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func compareAll(t *testing.T, db *maxminddb.Reader, fs []oracle.Feed, opts oracle.Options, addrs []netip.Addr) {
	t.Helper()
	if err := db.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	bad := 0
	for _, a := range addrs {
		want := oracle.Lookup(fs, opts, a)
		got := lookupDB(t, db, a)
		if !sameAnswer(got, want) {
			bad++
			if bad <= 10 {
				t.Errorf("Lookup(%v) = %+v, want %+v", a, got, want)
			}
		}
	}
	if bad > 10 {
		t.Errorf("%d of %d addresses differ", bad, len(addrs))
	}
}

// parseConfigFeeds parses every feed of a config from its file, as the
// oracle needs them.
func parseConfigFeeds(t *testing.T, cfg *builder.Config) []oracle.Feed {
	t.Helper()
	var out []oracle.Feed
	for _, fc := range cfg.Feeds {
		fh, err := os.Open(cfg.Resolve(fc.URL))
		if err != nil {
			t.Fatal(err)
		}
		f := oracle.Feed{Name: fc.Name, Kind: fc.Kind, Weight: cfg.EffectiveWeight(fc), Provider: fc.Provider,
			Confidence: fc.Confidence, Clears: fc.Clears, InferPrefix: fc.InferPrefix, InferPrefix6: fc.InferPrefix6,
			InferMin: fc.InferMin, InferConfidence: fc.InferConfidence}
		if f.Confidence == 0 {
			f.Confidence = formatConfidence(fc.Format)
		}
		_, err = feeds.Parse(fh, feeds.Options{Format: fc.Format, Source: fc.Name, MinCount: fc.MinCount,
			CIDRColumn: fc.CIDRColumn, StartColumn: fc.StartColumn, EndColumn: fc.EndColumn},
			func(e feeds.Entry) { f.Entries = append(f.Entries, e) })
		fh.Close()
		if err != nil {
			t.Logf("parse %s: %v", fc.Name, err)
		}
		out = append(out, f)
	}
	return out
}

// formatConfidence is the confidence docs/design.md §4 gives a feed of the
// format that sets none: vpn-servers and the tor formats 99, asn-list 30,
// every other format 70.
func formatConfidence(f feeds.Format) int {
	switch f {
	case "vpn-servers", feeds.FormatTorExitAddresses, feeds.FormatTorConsensus, feeds.FormatOnionoo:
		return 99
	case feeds.FormatASNList:
		return 30
	}
	return 70
}

func TestOracleTestdata(t *testing.T) {
	t.Parallel()
	cfg, err := builder.LoadConfig(filepath.Join(testenv.RepoRoot(), "testdata", "ipintel.toml"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "ipintel.mmdb")
	if _, err := builder.Run(context.Background(), cfg, builder.RunOptions{Out: out, CacheDir: t.TempDir(), Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	db, err := maxminddb.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fs := parseConfigFeeds(t, cfg)
	addrs := samples(fs, rand.New(rand.NewPCG(1, 2)), 2000)
	for _, s := range []string{"77.90.185.20", "1.1.1.1", "10.1.2.3", "192.168.1.1", "224.0.0.1",
		"2002:4d5a:b914::1", "::ffff:77.90.185.20", "2001:0:4d5a:b914::", "::4d5a:b914"} {
		addrs = append(addrs, netip.MustParseAddr(s))
	}
	if len(addrs) < 2000 {
		t.Fatalf("only %d sample addresses", len(addrs))
	}
	compareAll(t, db, fs, oracle.Options{IPv6Prefix: cfg.IPv6Prefix, IsReserved: builder.IsReserved}, addrs)
}

// synthetic returns random feeds whose entries overlap a lot: nested ASN
// prefixes from three tables and ASN names, every kind, several feeds of
// one category at different weights, asn-lists, allowlists, crawler, relay
// and cloud feeds that clear more or less than their kind's default, feeds
// with providers of their own and per entry, feeds that infer blocks from
// clustered servers, IPv6 entries longer than /64, entries straddling
// reserved and aliased space.
func synthetic(r *rand.Rand) []oracle.Feed {
	v4 := func() netip.Prefix {
		bases := []string{"8.0.0.0/6", "100.0.0.0/8", "223.255.0.0/16", "192.0.0.0/16"}
		base := netip.MustParsePrefix(bases[r.IntN(len(bases))])
		bits := base.Bits() + r.IntN(33-base.Bits())
		if r.IntN(3) == 0 {
			bits = min(32, bits+8)
		}
		return netip.PrefixFrom(randomIn(r, base), bits).Masked()
	}
	v6 := func() netip.Prefix {
		bases := []string{"2a00::/20", "2002:800::/24", "fc00::/6", "2001:db8::/31", "::/90", "::ffff:0:0/95"}
		base := netip.MustParsePrefix(bases[r.IntN(len(bases))])
		bits := base.Bits() + r.IntN(129-base.Bits())
		return netip.PrefixFrom(randomIn(r, base), bits).Masked()
	}
	pfx := func() netip.Prefix {
		if r.IntN(3) == 0 {
			return v6()
		}
		return v4()
	}
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	weights := []float64{0, 0.1, 0.25, 0.3, 0.5, 0.7, 0.9, 1, r.Float64()}
	weight := func() float64 { return weights[r.IntN(len(weights))] }
	confidence := func() int { return []int{0, 0, 30, 70, 99, 1 + r.IntN(99)}[r.IntN(6)] }
	clearsSets := []schema.Category{0, schema.CategoryPublicProxy, schema.CategoryHosting | schema.CategoryAbuse,
		schema.CategoryRisk, schema.CategoryVPN | schema.CategoryTorExit}
	clears := func() *schema.Category {
		if r.IntN(2) == 0 {
			return nil
		}
		c := clearsSets[r.IntN(len(clearsSets))]
		return &c
	}
	providers := []string{"", "", "Alpha VPN", "Beta", "beta"}

	var fs []oracle.Feed
	asns := []uint32{64500, 64501, 64502, 64503, 64504, 64505}
	orgs := []string{"", "Example A", "Example B"}
	for i := range 3 {
		f := oracle.Feed{Name: "asn-" + string(rune('a'+i)), Kind: schema.KindASN}
		for range 60 {
			f.Entries = append(f.Entries, feeds.Entry{Prefix: pfx(), ASN: asns[r.IntN(len(asns))], Org: orgs[r.IntN(len(orgs))]})
		}
		fs = append(fs, f)
	}
	// ASN → name tables (asn-names), each ASN at most once in each.
	for i := range 2 {
		f := oracle.Feed{Name: "asn-names-" + string(rune('a'+i)), Kind: schema.KindASN}
		for _, asn := range asns {
			if r.IntN(2) == 0 {
				f.Entries = append(f.Entries, feeds.Entry{ASN: asn, Org: pick("Names", "Other Names", "Net") + " " + string(rune('a'+i))})
			}
		}
		fs = append(fs, f)
	}
	kinds := []schema.Kind{schema.KindTor, schema.KindVPN, schema.KindPublicProxy, schema.KindResidentialProxy,
		schema.KindHosting, schema.KindHosting, schema.KindHosting, schema.KindAbuse, schema.KindAbuse,
		schema.KindCrawler, schema.KindRelay, schema.KindAllow, schema.KindAllow}
	for i, k := range kinds {
		f := oracle.Feed{Name: string(k) + "-" + string(rune('a'+i)), Kind: k, Weight: weight(), Confidence: confidence()}
		n := 40
		switch k {
		case schema.KindAllow:
			f.Weight, n = 0, 8
		case schema.KindCrawler, schema.KindRelay:
			f.Weight, n = 0, 12
		}
		if k == schema.KindAllow || k == schema.KindCrawler || k == schema.KindRelay || k == schema.KindHosting {
			f.Clears = clears()
		}
		if r.IntN(2) == 0 {
			f.Provider = pick("Cloud", "Crawler Inc", "Zeta")
		}
		for range n {
			f.Entries = append(f.Entries, feeds.Entry{Prefix: pfx()})
		}
		fs = append(fs, f)
	}
	// Server lists that carry their providers and infer blocks: servers
	// cluster in a few blocks, as real providers rent them.
	for i, k := range []schema.Kind{schema.KindVPN, schema.KindResidentialProxy, schema.KindHosting} {
		f := oracle.Feed{Name: "servers-" + string(rune('a'+i)), Kind: k, Weight: weight(), Confidence: confidence(),
			InferPrefix: []int{16, 20, 24, 28, 30}[r.IntN(5)], InferPrefix6: []int{32, 40, 48, 56, 64, 96}[r.IntN(6)],
			InferMin: []int{0, 2, 3}[r.IntN(3)], InferConfidence: []int{0, 40, 60}[r.IntN(3)]}
		if r.IntN(2) == 0 {
			f.Provider = "Feed Provider"
		}
		for range 6 {
			c := pfx()
			n := f.InferPrefix
			if c.Addr().Is6() {
				n = f.InferPrefix6
			}
			if c.Bits() < n {
				c = netip.PrefixFrom(randomIn(r, c), n).Masked()
			}
			for range 1 + r.IntN(4) {
				bits := c.Bits() + r.IntN(c.Addr().BitLen()+1-c.Bits())
				f.Entries = append(f.Entries, feeds.Entry{Prefix: netip.PrefixFrom(randomIn(r, c), bits).Masked(),
					Provider: providers[r.IntN(len(providers))]})
			}
		}
		for range 10 {
			f.Entries = append(f.Entries, feeds.Entry{Prefix: pfx(), Provider: providers[r.IntN(len(providers))]})
		}
		fs = append(fs, f)
	}
	// An mmdb import: entries carry their own categories (or none: the kind's).
	imp := oracle.Feed{Name: "mmdb-import", Kind: schema.KindVPN, Weight: weight(), Provider: "Import"}
	cats := []schema.Category{0, schema.CategoryTorExit, schema.CategoryHosting | schema.CategoryPublicProxy, schema.CategoryAllow}
	for range 20 {
		imp.Entries = append(imp.Entries, feeds.Entry{Prefix: pfx(), Categories: cats[r.IntN(len(cats))]})
	}
	fs = append(fs, imp)
	for i, k := range []schema.Kind{schema.KindHosting, schema.KindVPN} {
		f := oracle.Feed{Name: "asnlist-" + string(rune('a'+i)), Kind: k, Weight: weight(), Confidence: 30}
		if i == 0 {
			f.Provider = "Listed ASN"
		}
		for range 2 {
			f.Entries = append(f.Entries, feeds.Entry{ASN: asns[r.IntN(len(asns))]})
		}
		fs = append(fs, f)
	}
	return fs
}

func buildFeeds(t testing.TB, fs []oracle.Feed, opts builder.Options) []byte {
	t.Helper()
	b, err := builder.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		bf := builder.Feed{Name: f.Name, Kind: f.Kind, Weight: f.Weight, Provider: f.Provider, Confidence: f.Confidence,
			Clears: f.Clears, InferPrefix: f.InferPrefix, InferPrefix6: f.InferPrefix6, InferMin: f.InferMin,
			InferConfidence: f.InferConfidence}
		if err := b.AddFeed(bf); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range fs {
		for _, e := range f.Entries {
			if err := b.Add(f.Name, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOracleSynthetic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts builder.Options
	}{
		{"default", builder.Options{BuildEpoch: 1}},
		{"keep-reserved-v6-48", builder.Options{BuildEpoch: 1, KeepReserved: true, IPv6Prefix: 48}},
		{"v6-128", builder.Options{BuildEpoch: 1, IPv6Prefix: 128}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(42, 42))
			for round := range 4 {
				fs := synthetic(r)
				db, err := maxminddb.OpenBytes(buildFeeds(t, fs, tc.opts))
				if err != nil {
					t.Fatal(err)
				}
				addrs := samples(fs, r, 500)
				compareAll(t, db, fs, oracle.Options{IPv6Prefix: tc.opts.IPv6Prefix, KeepReserved: tc.opts.KeepReserved,
					IsReserved: builder.IsReserved}, addrs)
				if t.Failed() {
					t.Fatalf("round %d failed", round)
				}
			}
		})
	}
}

// historyKey identifies an entry in the history: its prefix as placed, or
// its ASN.
type historyKey struct {
	pfx netip.Prefix
	asn uint32
}

func keyOf(e feeds.Entry, v6 int) historyKey {
	if !e.Prefix.IsValid() {
		return historyKey{asn: e.ASN}
	}
	p := e.Prefix.Masked()
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p.Addr().Is6() && p.Bits() > v6 {
		p = netip.PrefixFrom(p.Addr(), v6).Masked()
	}
	return historyKey{pfx: p}
}

// TestOracleHistory builds synthetic feeds day after day for a month,
// each day's copy a random part of each feed's entries, carrying the
// history from build to build, and compares the last database with the
// oracle given every entry's first and last day: the dates, the retained
// entries and their faded weights.
func TestOracleHistory(t *testing.T) {
	t.Parallel()
	const (
		days    = 30
		horizon = 10
		v6      = 64
	)
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 3 {
		fs := synthetic(r)
		// One entry per key and feed (the history holds one), no block
		// inference (the oracle does not model its history).
		for i := range fs {
			f := &fs[i]
			f.InferPrefix, f.InferPrefix6 = 0, 0
			if f.Kind != schema.KindASN {
				f.Retain = []int{0, 1, 3, 7, 14}[r.IntN(5)]
			}
			seen := map[historyKey]bool{}
			var es []feeds.Entry
			for _, e := range f.Entries {
				if k := keyOf(e, v6); !seen[k] {
					seen[k] = true
					es = append(es, e)
				}
			}
			f.Entries = es
		}
		type dates struct{ first, last int }
		known := make([]map[historyKey]dates, len(fs))
		for i := range known {
			known[i] = map[historyKey]dates{}
		}
		maxRetain := horizon
		for _, f := range fs {
			maxRetain = max(maxRetain, f.Retain)
		}
		var hist = &builder.History{}
		var last []byte
		var today int
		build := func(d int, prev *builder.History, copies [][]feeds.Entry) ([]byte, *builder.History) {
			b, err := builder.New(builder.Options{BuildEpoch: day0 + int64(d)*86400, History: prev, HistoryHorizon: horizon})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fs {
				if err := b.AddFeed(builder.Feed{Name: f.Name, Kind: f.Kind, Weight: f.Weight, Provider: f.Provider,
					Confidence: f.Confidence, Clears: f.Clears, Retain: f.Retain}); err != nil {
					t.Fatal(err)
				}
			}
			for fi, f := range fs {
				for _, e := range copies[fi] {
					if err := b.Add(f.Name, e); err != nil {
						t.Fatal(err)
					}
				}
			}
			var buf bytes.Buffer
			if _, err := b.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes(), b.History()
		}
		var copies [][]feeds.Entry
		for d := range days {
			today = int(day0/86400) + d
			copies = make([][]feeds.Entry, len(fs))
			for fi, f := range fs {
				for _, e := range f.Entries {
					// asn tables are always whole; other feeds list each
					// entry on about two days out of three.
					if f.Kind == schema.KindASN || r.IntN(3) != 0 {
						copies[fi] = append(copies[fi], e)
					}
				}
				if f.Kind == schema.KindASN {
					continue
				}
				for _, e := range copies[fi] {
					k := keyOf(e, v6)
					dt, ok := known[fi][k]
					if !ok {
						dt.first = today
					}
					dt.last = today
					known[fi][k] = dt
				}
				for k, dt := range known[fi] {
					if today-dt.last > maxRetain {
						delete(known[fi], k)
					}
				}
			}
			prev := hist
			last, hist = build(d, prev, copies)
			if d == days-1 {
				// The same inputs, history and epoch give the same bytes.
				again, h2 := build(d, prev, copies)
				var x, y bytes.Buffer
				hist.WriteTo(&x)
				h2.WriteTo(&y)
				if !bytes.Equal(again, last) || !bytes.Equal(x.Bytes(), y.Bytes()) {
					t.Fatalf("round %d: rebuilding from the same history differs", round)
				}
			}
		}
		// The oracle sees every entry the history remembers, with its days;
		// those gone for good are left out.
		ofs := slices.Clone(fs)
		for fi := range ofs {
			f := &ofs[fi]
			if f.Kind == schema.KindASN {
				continue
			}
			var es []feeds.Entry
			var seen []oracle.Seen
			for _, e := range fs[fi].Entries {
				if dt, ok := known[fi][keyOf(e, v6)]; ok {
					es = append(es, e)
					seen = append(seen, oracle.Seen{First: dt.first, Last: dt.last})
				}
			}
			f.Entries, f.Seen = es, seen
		}
		db, err := maxminddb.OpenBytes(last)
		if err != nil {
			t.Fatal(err)
		}
		compareAll(t, db, ofs, oracle.Options{IPv6Prefix: v6, IsReserved: builder.IsReserved, History: true, Today: today},
			samples(ofs, r, 300))
		if t.Failed() {
			t.Fatalf("round %d failed", round)
		}
	}
}
