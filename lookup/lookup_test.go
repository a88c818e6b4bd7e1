package lookup

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/yl2chen/cidranger"
	"go4.org/netipx"

	"github.com/ipintel/ipintel/internal/testdb"
	"github.com/ipintel/ipintel/internal/testenv"
	"github.com/ipintel/ipintel/schema"
)

func testDataFiles(t *testing.T, pattern string) []string {
	t.Helper()
	dir := filepath.Join(testenv.SharedFeeds(t), "mmdb-testdata")
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s in %s (%v)", pattern, dir, err)
	}
	return files
}

// maxmindBroken reports whether maxminddb-golang itself finds r's file
// broken: Verify fails, or walking or decoding a network fails.
func maxmindBroken(b []byte) bool {
	r, err := maxminddb.OpenBytes(b)
	if err != nil || r.Verify() != nil {
		return true
	}
	for res := range r.Networks() {
		var v any
		if res.Err() != nil || res.Decode(&v) != nil {
			return true
		}
	}
	return false
}

// TestDifferentialTestData compares Lookup with maxminddb-golang around
// every network (aliases included) of every MaxMind test database, and
// membership with a cidranger built from the networks maxminddb-golang
// reads.
func TestDifferentialTestData(t *testing.T) {
	t.Parallel()
	for _, path := range testDataFiles(t, "test-data/*.mmdb") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			db, err := OpenBytes(b)
			if err != nil {
				if !maxmindBroken(b) {
					t.Fatalf("OpenBytes: %v, but maxminddb-golang reads the file", err)
				}
				return
			}
			if err := db.Verify(); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			r, err := maxminddb.OpenBytes(b)
			if err != nil {
				t.Fatal(err)
			}
			o := newOracle(r)
			ranger := cidranger.NewPCTrieRanger()
			rng := rand.New(rand.NewPCG(42, 42))
			var addrs []netip.Addr
			for res := range r.Networks(maxminddb.IncludeAliasedNetworks()) {
				if err := res.Err(); err != nil {
					t.Fatalf("maxminddb Networks: %v", err)
				}
				p := res.Prefix()
				if err := ranger.Insert(cidranger.NewBasicRangerEntry(*netipx.PrefixIPNet(p))); err != nil {
					t.Fatal(err)
				}
				addrs = append(addrs, probes(rng, p)...)
			}
			for _, a := range addrs {
				if !o.check(t, db, a) {
					continue
				}
				if a.Is4() {
					o.check(t, db, netip.AddrFrom16(a.As16())) // the mapped form
				} else {
					o.check(t, db, a.WithZone("eth0"))
				}
				_, ok := db.Lookup(a)
				in, err := ranger.Contains(net.IP(a.AsSlice()))
				if err != nil {
					t.Fatal(err)
				}
				// The ranger holds the networks as maxminddb-golang lists
				// them; for IPv4 in a database whose IPv4 space is one
				// IPv6 network (no IPv4 subtree) it has no IPv4 entries.
				if in != ok && !(db.hasV4Whole && a.Is4()) {
					t.Errorf("Lookup(%v) found = %v, cidranger Contains = %v", a, ok, in)
				}
			}
			checkAll(t, db, r)
		})
	}
}

// checkAll checks that All yields the networks maxminddb-golang's
// Networks yields (IPv4 aliases aside), with their records, in order.
func checkAll(t *testing.T, db *DB, r *maxminddb.Reader) {
	t.Helper()
	var want []netip.Prefix
	for res := range r.Networks() {
		want = append(want, res.Prefix())
	}
	var got []netip.Prefix
	for p, rec := range db.All() {
		if rec.Network != p {
			t.Fatalf("All: record network %v for %v", rec.Network, p)
		}
		if l, ok := db.Lookup(p.Addr()); !ok || l != rec {
			t.Fatalf("All: %v: record %+v, Lookup gives %+v", p, rec, l)
		}
		got = append(got, p)
	}
	if db.hasV4Whole {
		return // Networks skips what aliases the IPv4 record; All does not
	}
	slices.SortFunc(want, comparePrefixAddr)
	for i := 1; i < len(got); i++ {
		if comparePrefixAddr(got[i-1], got[i]) >= 0 {
			t.Errorf("All: %v before %v", got[i-1], got[i])
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("All yields %d networks, Networks %d", len(got), len(want))
	}
}

// comparePrefixAddr orders prefixes by address (IPv4 first), then length.
func comparePrefixAddr(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// TestBadData checks that every malformed file of the MaxMind test suite
// gives errors and never a panic.
func TestBadData(t *testing.T) {
	t.Parallel()
	for _, path := range testDataFiles(t, "bad-data/*/*.mmdb") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyFile(path); err == nil {
				t.Errorf("VerifyFile(%s) = nil, want an error", path)
			}
			db, err := OpenBytes(b)
			if err != nil {
				return
			}
			// Open checks less than VerifyFile; what opens must be sound.
			if err := db.Verify(); err != nil {
				t.Errorf("Verify: %v", err)
			}
			exerciseDB(db)
		})
	}
}

// exerciseDB looks up a spread of addresses and walks All.
func exerciseDB(db *DB) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		db.Lookup(netip.AddrFrom16(b))
		db.Lookup(netip.AddrFrom4([4]byte(b[:4])))
	}
	n := 0
	for range db.All() {
		if n++; n > 1000 {
			break
		}
	}
}

// TestOpenErrors covers the error paths of Open.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	if _, err := Open(filepath.Join(t.TempDir(), "missing.mmdb")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
	for _, b := range [][]byte{nil, []byte("not an mmdb"), append([]byte("x"), metadataMarker...)} {
		if _, err := OpenBytes(b); err == nil {
			t.Errorf("OpenBytes(%q) = nil error", b)
		}
	}
}

// writeDB writes a database of nets to a temporary file, the i-th with
// recs[i%len(recs)].
func writeDB(t testing.TB, opts testdb.Options, nets []netip.Prefix, recs []mmdbtype.Map) string {
	t.Helper()
	rs := make([]testdb.Record, len(nets))
	for i, p := range nets {
		rs[i] = testdb.Record{Network: p, Data: recs[i%len(recs)]}
	}
	return testdb.WriteTemp(t, "test.mmdb", opts, rs...)
}

// TestContract sets every field the schema defines, writes, opens and
// looks up, and compares field by field.
func TestContract(t *testing.T) {
	t.Parallel()
	rec := mmdbtype.Map{
		schema.KeyIsAnonymous:          mmdbtype.Bool(true),
		schema.KeyIsAnonymousVPN:       mmdbtype.Bool(true),
		schema.KeyIsHostingProvider:    mmdbtype.Bool(true),
		schema.KeyIsPublicProxy:        mmdbtype.Bool(true),
		schema.KeyIsResidentialProxy:   mmdbtype.Bool(true),
		schema.KeyIsTorExitNode:        mmdbtype.Bool(true),
		schema.KeyIsAbuse:              mmdbtype.Bool(true),
		schema.KeyIsCrawler:            mmdbtype.Bool(true),
		schema.KeyIsAllowlisted:        mmdbtype.Bool(true),
		schema.KeyASN:                  mmdbtype.Uint32(64496),
		schema.KeyASOrg:                mmdbtype.String("Example Org"),
		schema.KeyRiskScore:            mmdbtype.Uint16(97),
		schema.KeyIsRelay:              mmdbtype.Bool(true),
		schema.KeySources:              mmdbtype.Slice{mmdbtype.String("tor-exits"), mmdbtype.String("abuse-a")},
		schema.KeyProviderName:         mmdbtype.String("Example VPN"),
		schema.KeyAnonymizerConfidence: mmdbtype.Uint16(87),
		schema.KeyNetworkFirstSeen:     mmdbtype.String("2025-12-30"),
		schema.KeyNetworkLastSeen:      mmdbtype.String("2026-01-02"),
		schema.KeyCleared: mmdbtype.Slice{mmdbtype.Map{
			"feed": mmdbtype.String("dc"), "category": mmdbtype.String("hosting"), "by": mmdbtype.String("relays"),
		}},
		"unknown_key": mmdbtype.String("ignored"),
	}
	manifest := `{"builder":"ipintel test","schema_version":1,"feeds":[{"name":"tor-exits"}]}`
	path := writeDB(t, testdb.Options{
		DatabaseType: schema.DefaultDatabaseType,
		Description:  map[string]string{"en": "test", schema.ManifestDescriptionKey: manifest},
		Languages:    []string{"en"},
	}, []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")},
		[]mmdbtype.Map{rec})
	if err := VerifyFile(path); err != nil {
		t.Fatalf("VerifyFile: %v", err)
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Verify(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		addr, network string
	}{
		{"203.0.113.9", "203.0.113.0/24"},
		{"::ffff:203.0.113.9", "203.0.113.0/24"},
		{"2001:db8::1", "2001:db8::/32"},
	} {
		got, ok := db.Lookup(netip.MustParseAddr(tt.addr))
		want := Record{
			Network: netip.MustParsePrefix(tt.network),
			Categories: CategoryTorExit | CategoryVPN | CategoryPublicProxy | CategoryResidentialProxy |
				CategoryHosting | CategoryAbuse | CategoryCrawler | CategoryAllow | CategoryRelay,
			Sources:    got.Sources,
			ASN:        64496,
			Org:        "Example Org",
			Provider:   "Example VPN",
			FirstSeen:  mustDate(t, "2025-12-30"),
			LastSeen:   mustDate(t, "2026-01-02"),
			Score:      97,
			Scored:     true,
			Confidence: 87,
		}
		if !ok || got != want {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v", tt.addr, got, ok, want)
		}
		if names := db.SourceNames(got.Sources); !slices.Equal(names, []string{"abuse-a", "tor-exits"}) {
			t.Errorf("SourceNames = %q", names)
		}
	}
	if _, ok := db.Lookup(netip.MustParseAddr("198.51.100.1")); ok {
		t.Error("Lookup(198.51.100.1) found, want a miss")
	}
	md := db.Metadata()
	if md.DatabaseType != schema.DefaultDatabaseType || md.IPVersion != 6 || md.RecordSize != 28 ||
		md.BuildEpoch.Unix() != testdb.Epoch || md.NodeCount == 0 || !slices.Equal(md.Languages, []string{"en"}) ||
		md.Description["en"] != "test" || md.BinaryFormatMajorVersion != 2 {
		t.Errorf("Metadata() = %+v", md)
	}
	m, ok := db.Manifest()
	if !ok || m.Builder != "ipintel test" || m.SchemaVersion != 1 || len(m.Feeds) != 1 || m.Feeds[0].Name != "tor-exits" {
		t.Errorf("Manifest() = %+v, %v", m, ok)
	}
	if db.Len() == 0 || db.Bytes() == 0 {
		t.Errorf("Len() = %d, Bytes() = %d", db.Len(), db.Bytes())
	}
}

// TestRecordTagsMatchSchema keeps the decoding struct's tags in step with
// package schema.
func TestRecordTagsMatchSchema(t *testing.T) {
	t.Parallel()
	keys := []string{schema.KeyASN, schema.KeyASOrg, schema.KeyRiskScore, schema.KeySources,
		schema.KeyProviderName, schema.KeyAnonymizerConfidence, schema.KeyNetworkFirstSeen, schema.KeyNetworkLastSeen}
	for _, c := range schema.Categories() {
		keys = append(keys, c.Key())
	}
	var tags []string
	for _, f := range reflect.VisibleFields(reflectTypeOfRecord()) {
		if tag := f.Tag.Get("maxminddb"); tag != "" {
			tags = append(tags, tag)
		}
	}
	slices.Sort(keys)
	slices.Sort(tags)
	if !slices.Equal(keys, tags) {
		t.Errorf("mmdbRecord tags %q, schema keys %q", tags, keys)
	}
}

// TestWithoutManifest covers third-party databases: no manifest, and an
// IPv4-only search tree.
func TestWithoutManifest(t *testing.T) {
	t.Parallel()
	path := writeDB(t, testdb.Options{IPVersion: 4, RecordSize: 24},
		[]netip.Prefix{netip.MustParsePrefix("1.2.3.0/24")},
		[]mmdbtype.Map{{schema.KeyASOrg: mmdbtype.String("x")}})
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := db.Manifest(); ok {
		t.Error("Manifest() ok without a manifest")
	}
	if r, ok := db.Lookup(netip.MustParseAddr("1.2.3.4")); !ok || r.Org != "x" || r.Network.String() != "1.2.3.0/24" {
		t.Errorf("Lookup = %+v, %v", r, ok)
	}
	if _, ok := db.Lookup(netip.MustParseAddr("2001:db8::1")); ok {
		t.Error("IPv6 found in an IPv4 database")
	}
	if _, ok := db.Lookup(netip.Addr{}); ok {
		t.Error("invalid address found")
	}
}

// randomDB writes a database of random nested networks, dense enough in
// a few places that the index needs nodes at every level.
func randomDB(t testing.TB, seed uint64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 42))
	recs := make([]mmdbtype.Map, 7)
	for i := range recs {
		recs[i] = mmdbtype.Map{
			schema.KeyASN:           mmdbtype.Uint32(i + 1),
			schema.KeyIsAbuse:       mmdbtype.Bool(i%2 == 0),
			schema.KeyRiskScore:     mmdbtype.Uint16(10 * i),
			schema.KeySources:       mmdbtype.Slice{mmdbtype.String("f" + strings.Repeat("x", i%3))},
			schema.KeyIsCrawler:     mmdbtype.Bool(i == 3),
			schema.KeyIsTorExitNode: mmdbtype.Bool(i == 5),
		}
	}
	var nets []netip.Prefix
	add := func(base netip.Prefix, n, minBits, maxBits int) {
		for range n {
			bits := minBits + rng.IntN(maxBits-minBits+1)
			p, _ := randomIn(rng, base).Prefix(bits)
			nets = append(nets, p)
		}
	}
	add(netip.MustParsePrefix("0.0.0.0/0"), 300, 8, 32)
	add(netip.MustParsePrefix("10.20.0.0/16"), 3000, 17, 32) // dense: deep IPv4 nodes
	add(netip.MustParsePrefix("10.20.30.0/24"), 200, 25, 32)
	add(netip.MustParsePrefix("2000::/3"), 300, 16, 64)
	add(netip.MustParsePrefix("2a00:1450::/32"), 2000, 33, 128) // dense: deep IPv6 nodes
	add(netip.MustParsePrefix("2a00:1450:4001:81c::/64"), 2000, 65, 128)
	// Insert less specific networks first so more specific ones paint over them.
	slices.SortStableFunc(nets, func(a, b netip.Prefix) int { return a.Bits() - b.Bits() })
	nets = slices.DeleteFunc(nets, func(p netip.Prefix) bool {
		// mmdbwriter refuses networks inside its IPv4 aliases.
		return p.Overlaps(netip.MustParsePrefix("2002::/16")) || p.Overlaps(netip.MustParsePrefix("2001::/32"))
	})
	return writeDB(t, testdb.Options{RecordSize: []int{24, 28, 32}[seed%3]}, nets, recs)
}

// TestDifferentialRandomDBs compares Lookup with maxminddb-golang around
// every network of random databases with dense regions.
func TestDifferentialRandomDBs(t *testing.T) {
	t.Parallel()
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			testRandomDB(t, seed)
		})
	}
}

func testRandomDB(t *testing.T, seed uint64) {
	{
		path := randomDB(t, seed)
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Verify(); err != nil {
			t.Fatal(err)
		}
		if len(db.v4.nodes) == 0 || len(db.v6.nodes) == 0 || db.v4.ndirect == 0 || db.v6.ndirect == 0 {
			t.Fatalf("seed %d: trie without nodes (v4 %d, v6 %d) or direct levels (v4 %d, v6 %d): the test does not reach the whole index",
				seed, len(db.v4.nodes), len(db.v6.nodes), db.v4.ndirect, db.v6.ndirect)
		}
		r, err := maxminddb.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		o := newOracle(r)
		rng := rand.New(rand.NewPCG(seed, 7))
		bad := 0
		for res := range r.Networks(maxminddb.IncludeAliasedNetworks()) {
			// Every network's edges; the inside of every eighth.
			ps := probes(rng, res.Prefix())
			if rng.IntN(8) != 0 {
				ps = slices.DeleteFunc(ps, func(a netip.Addr) bool { return a != ps[0] && a != ps[1] })
			}
			for _, a := range ps {
				if !o.check(t, db, a) {
					bad++
				}
			}
			if bad > 10 {
				t.Fatal("too many mismatches")
			}
		}
		checkAll(t, db, r)
	}
}

// TestDifferentialFullSize compares Lookup with maxminddb-golang for 1M
// random addresses on the full-size benchmark database, and membership
// with cidranger in sampled regions.
func TestDifferentialFullSize(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size database in -short mode")
	}
	e := getBenchEnv(t)
	db := e.db
	if err := db.Verify(); err != nil {
		t.Fatal(err)
	}
	var v6nets []netip.Prefix
	for _, p := range e.nets {
		if p.Addr().Is6() {
			v6nets = append(v6nets, p)
		}
	}
	// Half the addresses uniform IPv4, a quarter inside stored IPv6
	// networks, a quarter anywhere in 2000::/3; two workers, each with
	// its own oracle and generator.
	const n, workers = 1_000_000, 2
	var wg sync.WaitGroup
	var bad atomic.Int32
	for w := range workers {
		wg.Go(func() {
			o := newOracle(e.reader)
			rng := rand.New(rand.NewPCG(42, uint64(w)))
			for i := range n / workers {
				var a netip.Addr
				switch {
				case i%2 == 0:
					a = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
				case i%4 == 1 && len(v6nets) > 0:
					a = randomIn(rng, v6nets[rng.IntN(len(v6nets))])
				default:
					a = randomIn(rng, netip.MustParsePrefix("2000::/3"))
				}
				if !o.check(t, db, a) && bad.Add(1) > 10 {
					t.Error("too many mismatches")
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	rng := rand.New(rand.NewPCG(42, 42))
	// cidranger as an independent oracle of membership, on networks read
	// by maxminddb-golang in a few sampled regions.
	for _, region := range sampleRegions(rng, e.nets) {
		ranger := cidranger.NewPCTrieRanger()
		var nets []netip.Prefix
		for res := range e.reader.NetworksWithin(region) {
			if res.Err() != nil {
				t.Fatal(res.Err())
			}
			nets = append(nets, res.Prefix())
			if err := ranger.Insert(cidranger.NewBasicRangerEntry(*netipx.PrefixIPNet(res.Prefix()))); err != nil {
				t.Fatal(err)
			}
		}
		for range 20_000 {
			var a netip.Addr
			if len(nets) > 0 && rng.IntN(2) == 0 {
				a = randomIn(rng, nets[rng.IntN(len(nets))])
			} else {
				a = randomIn(rng, region)
			}
			_, ok := db.Lookup(a)
			in, err := ranger.Contains(net.IP(a.AsSlice()))
			if err != nil {
				t.Fatal(err)
			}
			if in != ok {
				t.Fatalf("Lookup(%v) found = %v, cidranger = %v (region %v)", a, ok, in, region)
			}
		}
	}
}

// sampleRegions picks a few regions of the database to build cidrangers
// for: the /12 around a random IPv4 network and the /28 around a random
// IPv6 network.
func sampleRegions(rng *rand.Rand, nets []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for len(out) < 4 {
		p := nets[rng.IntN(len(nets))]
		bits := 12
		if p.Addr().Is6() {
			bits = 28
		}
		if p.Bits() < bits {
			continue
		}
		r, _ := p.Addr().Prefix(bits)
		out = append(out, r)
	}
	return out
}

// TestRangeNetworks checks that ranges keep the exact MMDB networks even
// when a tree holds sibling networks with the same record (which the
// canonical decomposition would merge).
func TestRangeNetworks(t *testing.T) {
	t.Parallel()
	p := netip.MustParsePrefix
	leaves := []struct {
		pfx netip.Prefix
		val uint32
	}{
		{p("10.0.0.0/25"), 1},
		{p("10.0.0.128/25"), 1}, // sibling, same record: must stay /25
		{p("10.0.1.0/24"), 1},   // a /23 with the range before would be wrong
		{p("10.0.2.0/23"), 1},
		{p("10.0.4.0/32"), 2},
		{p("10.0.4.1/32"), 1},
		{p("10.0.4.2/31"), 1},
		{p("10.0.4.4/30"), 1},
		{p("10.0.4.8/29"), 0},
		{p("10.0.4.16/28"), 1},
	}
	b := newRangeBuilder(32)
	for _, l := range leaves {
		b.add(leaf{u128{0, uint64(l.pfx.Addr().As4()[0])<<24 | uint64(l.pfx.Addr().As4()[1])<<16 | uint64(l.pfx.Addr().As4()[2])<<8 | uint64(l.pfx.Addr().As4()[3])}, uint8(l.pfx.Bits()), l.val})
	}
	db := &DB{records: []record{{}, {asn: 1}, {asn: 2}}, details: []detail{{}}, srcSets: [][]string{nil}}
	if err := db.v4.init(b.finish()); err != nil {
		t.Fatal(err)
	}
	if err := db.v6.init(newRangeBuilder(128).finish()); err != nil {
		t.Fatal(err)
	}
	if err := db.Verify(); err != nil {
		t.Fatal(err)
	}
	for _, l := range leaves {
		for _, a := range []netip.Addr{l.pfx.Addr(), lastAddr(l.pfx)} {
			got, ok := db.Lookup(a)
			if ok != (l.val != 0) || ok && (got.Network != l.pfx || got.ASN != l.val) {
				t.Errorf("Lookup(%v) = %v %d, %v; want %v %d", a, got.Network, got.ASN, ok, l.pfx, l.val)
			}
		}
	}
	var all []netip.Prefix
	for pfx := range db.All() {
		all = append(all, pfx)
	}
	var want []netip.Prefix
	for _, l := range leaves {
		if l.val != 0 {
			want = append(want, l.pfx)
		}
	}
	if !slices.Equal(all, want) {
		t.Errorf("All() = %v, want %v", all, want)
	}
}

// TestRecordLimits checks the bounds of the 16-byte record: an
// organisation of 65535 bytes reads back whole, a longer one is refused
// with an error rather than cut.
func TestRecordLimits(t *testing.T) {
	t.Parallel()
	nets := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	for _, n := range []int{math.MaxUint16, math.MaxUint16 + 1} {
		org := strings.Repeat("o", n)
		path := writeDB(t, testdb.Options{DatabaseType: "test", RecordSize: 28},
			nets, []mmdbtype.Map{{schema.KeyASOrg: mmdbtype.String(org)}})
		db, err := Open(path)
		if n > math.MaxUint16 {
			if err == nil || !strings.Contains(err.Error(), "organisation name of 65536 bytes") {
				t.Errorf("org of %d bytes: Open error %v, want one naming the length", n, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("org of %d bytes: %v", n, err)
		}
		if rec, _ := db.Lookup(netip.MustParseAddr("192.0.2.1")); rec.Org != org {
			t.Errorf("org of %d bytes reads back as %d bytes", n, len(rec.Org))
		}
	}
}

// TestRecordOrder checks that records are numbered by how many ranges
// use them, so that the most used share cache lines.
func TestRecordOrder(t *testing.T) {
	t.Parallel()
	var nets []netip.Prefix
	var recs []mmdbtype.Map
	// ASN 1 on one network, ASN 2 on three, ASN 3 on two; the networks
	// are apart, so each is its own range.
	for i, asn := range []uint32{1, 2, 3, 2, 3, 2} {
		nets = append(nets, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(2 * i), 0, 0}), 16))
		recs = append(recs, mmdbtype.Map{schema.KeyASN: mmdbtype.Uint32(asn)})
	}
	db, err := Open(writeDB(t, testdb.Options{DatabaseType: "test", RecordSize: 24}, nets, recs))
	if err != nil {
		t.Fatal(err)
	}
	var got []uint32
	for _, r := range db.records[1:] {
		got = append(got, r.asn)
	}
	if want := []uint32{2, 3, 1}; !slices.Equal(got, want) {
		t.Errorf("record ASNs in order %v, want %v", got, want)
	}
	if err := db.Verify(); err != nil {
		t.Error(err)
	}
}
