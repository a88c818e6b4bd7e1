package feeds

import (
	"bytes"
	"compress/gzip"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
	"go4.org/netipx"

	"github.com/ipintel/ipintel/schema"
)

// tiNet is one network and its data for tiWriteMMDB.
type tiNet struct {
	pfx  string
	data mmdbtype.DataType
}

// tiWriteMMDB builds an IPv6 MMDB with IPv4 aliasing on (as MaxMind's
// own databases have it), so the aliases of the IPv4 subtree exist.
func tiWriteMMDB(tb testing.TB, dbType string, nets []tiNet) []byte {
	tb.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		Description:             map[string]string{"en": "ipintel feeds test"},
		IPVersion:               6,
		RecordSize:              28,
		IncludeReservedNetworks: true,
		BuildEpoch:              1,
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range nets {
		if err := tree.Insert(netipx.PrefixIPNet(netip.MustParsePrefix(n.pfx)), n.data); err != nil {
			tb.Fatalf("insert %s: %v", n.pfx, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// tiSharedNodesMMDB returns a database that passes maxminddb's Verify but
// whose nodes each have both children pointing to the same next node, so
// that the tree has 2^128 paths to its one data record.
func tiSharedNodesMMDB(tb testing.TB) []byte {
	tb.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "Test", Description: map[string]string{"en": "shared nodes"},
		IPVersion: 6, RecordSize: 24, DisableIPv4Aliasing: true, IncludeReservedNetworks: true, BuildEpoch: 1,
	})
	if err != nil {
		tb.Fatal(err)
	}
	data := mmdbtype.Map{"is_tor_exit_node": mmdbtype.Bool(true)}
	if err := tree.Insert(netipx.PrefixIPNet(netip.MustParsePrefix("2001:db8::1/128")), data); err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	b := buf.Bytes()
	db, err := maxminddb.OpenBytes(b)
	if err != nil {
		tb.Fatal(err)
	}
	empty := uint32(db.Metadata.NodeCount)
	get := func(o int) uint32 { return uint32(b[o])<<16 | uint32(b[o+1])<<8 | uint32(b[o+2]) }
	put := func(o int, v uint32) { b[o], b[o+1], b[o+2] = byte(v>>16), byte(v>>8), byte(v) }
	for i := range int(empty) { // 6 bytes a node: left, right
		l, r := get(6*i), get(6*i+3)
		switch {
		case l == empty:
			put(6*i, r)
		case r == empty:
			put(6*i+3, l)
		}
	}
	if err := db.Verify(); err != nil { // db reads b, patched in place
		tb.Fatalf("patched database fails Verify: %v", err)
	}
	return b
}

func TestParseMMDB(t *testing.T) {
	t.Parallel()
	asnDB := tiWriteMMDB(t, "GeoLite2-ASN", []tiNet{
		{"::1.0.0.0/120", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(13335), "autonomous_system_organization": mmdbtype.String("CLOUDFLARENET")}},
		{"::8.8.8.0/121", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(15169), "autonomous_system_organization": mmdbtype.String("GOOGLE")}},
		{"2001:db8::/32", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(64496), "autonomous_system_organization": mmdbtype.String("DOC")}},
	})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(asnDB)
	zw.Close()
	asnWant := []string{`1 1.0.0.0/24 AS13335 "CLOUDFLARENET"`, `2 8.8.8.0/25 AS15169 "GOOGLE"`, `3 2001:db8::/32 AS64496 "DOC"`}

	cases := []tiCase{
		{
			// Each IPv4 network comes out once, unmapped, though the
			// writer aliased the IPv4 subtree at ::ffff:0:0/96, 2001::/32
			// and 2002::/16.
			name:    "GeoLite2-ASN shape, IPv4 once",
			in:      string(asnDB),
			want:    asnWant,
			records: 3,
		},
		{name: "gzip-compressed", in: gz.String(), want: asnWant, records: 3},
		{
			name: "ISP organisation fallbacks",
			in: string(tiWriteMMDB(t, "GeoIP2-ISP", []tiNet{
				{"::1.0.0.0/120", mmdbtype.Map{"isp": mmdbtype.String("ISP only")}},
				{"::1.0.1.0/120", mmdbtype.Map{"isp": mmdbtype.String("ISP"), "organization": mmdbtype.String("Org")}},
				{"::1.0.2.0/120", mmdbtype.Map{"organization": mmdbtype.String("Org"), "autonomous_system_organization": mmdbtype.String("ASO"), "autonomous_system_number": mmdbtype.Uint32(1)}},
			})),
			want:    []string{`1 1.0.0.0/24 "ISP only"`, `2 1.0.1.0/24 "Org"`, `3 1.0.2.0/24 AS1 "ASO"`},
			records: 3,
		},
		{
			name: "anonymous-IP flags and ipintel's own keys",
			in: string(tiWriteMMDB(t, "GeoIP2-Anonymous-IP", []tiNet{
				{"::1.0.0.0/120", mmdbtype.Map{"is_anonymous": mmdbtype.Bool(true), "is_anonymous_vpn": mmdbtype.Bool(true), "is_hosting_provider": mmdbtype.Bool(true)}},
				{"::1.0.1.0/120", mmdbtype.Map{"is_tor_exit_node": mmdbtype.Bool(true), "is_public_proxy": mmdbtype.Bool(true), "is_residential_proxy": mmdbtype.Bool(true)}},
				{"::1.0.2.0/120", mmdbtype.Map{"is_abuse": mmdbtype.Bool(true), "is_crawler": mmdbtype.Bool(true), "is_allowlisted": mmdbtype.Bool(true), "risk_score": mmdbtype.Uint16(7), "sources": mmdbtype.Slice{mmdbtype.String("a")}}},
				{"::1.0.3.0/120", mmdbtype.Map{"is_anonymous_vpn": mmdbtype.Bool(false), "provider_name": mmdbtype.String("x")}},
			})),
			want: []string{
				"1 1.0.0.0/24 [vpn,hosting]",
				"2 1.0.1.0/24 [tor_exit,public_proxy,residential_proxy]",
				"3 1.0.2.0/24 [abuse,crawler,allow]",
			},
			records: 3,
			skipped: 1, // is_anonymous_vpn false and an unknown key: nothing to use
		},
		{
			name: "residential-proxy database implies the category",
			in: string(tiWriteMMDB(t, "GeoIP-Residential-Proxy", []tiNet{
				{"::1.2.0.4/128", mmdbtype.Map{"provider_name": mmdbtype.String("quickshift")}},
			})),
			want:    []string{"1 1.2.0.4/32 [residential_proxy]"},
			records: 1,
		},
		{
			name: "non-map and empty data are skipped, wrong field types are bad records",
			in: string(tiWriteMMDB(t, "Test", []tiNet{
				{"::1.0.0.0/120", mmdbtype.String("a bare string")},
				{"::1.0.3.0/120", mmdbtype.Map{}},
				{"::1.0.4.0/120", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")}}},
				{"::1.0.1.0/120", mmdbtype.Map{"autonomous_system_number": mmdbtype.String("AS1")}},
				{"::1.0.2.0/120", mmdbtype.Map{"is_tor_exit_node": mmdbtype.Uint16(1)}},
				{"2001:db8::/32", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(64496)}},
			})),
			want:    []string{"6 2001:db8::/32 AS64496"},
			records: 1,
			skipped: 3,
			bad:     []int{2, 3},
		},
		{name: "empty database", in: string(tiWriteMMDB(t, "Test", nil))},
		{
			// Verify accepts shared nodes; walking every path would
			// not end. Nothing is emitted before the file is rejected.
			name:  "shared nodes",
			in:    string(tiSharedNodesMMDB(t)),
			fatal: true,
		},
		{name: "truncated", in: string(asnDB[:len(asnDB)/2]), fatal: true},
		{name: "not an mmdb", in: "1.2.3.4\n", fatal: true},
		{name: "empty input", in: "", fatal: true},
	}
	tiRun(t, FormatMMDB, cases)
}

// tiMMDBWant holds the counts of a real test database as computed by
// testdata/mmdb_reference.py, a walk of the search tree with the pure
// Python reader of python3-maxminddb (Debian package), independent of
// maxminddb-golang. cats counts networks per category key, in the order
// tor_exit, vpn, public_proxy, residential_proxy, hosting, abuse, crawler,
// allow.
type tiMMDBWant struct {
	file                                         string
	records, prefixes, ipv4, ipv6, asns, skipped int
	cats                                         [8]int
}

var tiMMDBWants = []tiMMDBWant{
	{"GeoIP-Anonymous-Plus-Test.mmdb", 32, 32, 30, 2, 0, 615, [8]int{3, 24, 5, 2, 3, 0, 0, 0}},
	{"GeoIP-Residential-Proxy-Test.mmdb", 29, 29, 15, 14, 0, 0, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoIP2-Anonymous-IP-Test.mmdb", 12, 12, 10, 2, 0, 587, [8]int{3, 4, 5, 2, 3, 0, 0, 0}},
	{"GeoIP2-City-Shield-Test.mmdb", 0, 0, 0, 0, 0, 250, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoIP2-City-Test.mmdb", 0, 0, 0, 0, 0, 250, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoIP2-Connection-Type-Test.mmdb", 0, 0, 0, 0, 0, 25, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoIP2-Country-Shield-Test.mmdb", 0, 0, 0, 0, 0, 345, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoIP2-Country-Test.mmdb", 0, 0, 0, 0, 0, 345, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoIP2-DensityIncome-Test.mmdb", 0, 0, 0, 0, 0, 2, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoIP2-Domain-Test.mmdb", 0, 0, 0, 0, 0, 91, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoIP2-Enterprise-Shield-Test.mmdb", 0, 0, 0, 0, 0, 32, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoIP2-Enterprise-Test.mmdb", 0, 0, 0, 0, 0, 32, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoIP2-IP-Risk-Test.mmdb", 8, 8, 7, 1, 0, 5, [8]int{2, 4, 1, 2, 2, 0, 0, 0}},
	{"GeoIP2-ISP-Test.mmdb", 2129, 2129, 1899, 230, 95, 0, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoIP2-Precision-Enterprise-Shield-Test.mmdb", 0, 0, 0, 0, 0, 59, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoIP2-Precision-Enterprise-Test.mmdb", 0, 0, 0, 0, 0, 59, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoIP2-Static-IP-Score-Test.mmdb", 0, 0, 0, 0, 0, 586, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoIP2-User-Count-Test.mmdb", 0, 0, 0, 0, 0, 586, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoLite2-ASN-Test.mmdb", 412, 412, 182, 230, 95, 0, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoLite2-City-Test.mmdb", 0, 0, 0, 0, 0, 242, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"GeoLite2-Country-Test.mmdb", 0, 0, 0, 0, 0, 244, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-no-ipv4-search-tree.mmdb", 0, 0, 0, 0, 0, 1, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-string-value-entries.mmdb", 0, 0, 0, 0, 0, 6, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-test-decoder.mmdb", 0, 0, 0, 0, 0, 8, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-test-ipv4-24.mmdb", 0, 0, 0, 0, 0, 6, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-test-ipv4-28.mmdb", 0, 0, 0, 0, 0, 6, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-test-ipv4-32.mmdb", 0, 0, 0, 0, 0, 6, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-test-ipv6-24.mmdb", 0, 0, 0, 0, 0, 5, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-test-ipv6-28.mmdb", 0, 0, 0, 0, 0, 5, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-test-ipv6-32.mmdb", 0, 0, 0, 0, 0, 5, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-test-metadata-pointers.mmdb", 0, 0, 0, 0, 0, 308, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-test-mixed-24.mmdb", 0, 0, 0, 0, 0, 11, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-test-mixed-28.mmdb", 0, 0, 0, 0, 0, 11, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-test-mixed-32.mmdb", 0, 0, 0, 0, 0, 11, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-test-nested.mmdb", 0, 0, 0, 0, 0, 6, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
	{"MaxMind-DB-test-pointer-decoder.mmdb", 0, 0, 0, 0, 0, 2, [8]int{0, 0, 0, 0, 0, 0, 0, 0}},
}

// tiMMDBBroken are the intentionally broken databases of test-data: each
// must be an error.
var tiMMDBBroken = []string{
	"GeoIP2-City-Test-Broken-Double-Format.mmdb",
	"GeoIP2-City-Test-Invalid-Node-Count.mmdb",
	"MaxMind-DB-test-broken-pointers-24.mmdb",
	"MaxMind-DB-test-broken-search-tree-24.mmdb",
}

func TestCorpusMMDB(t *testing.T) {
	t.Parallel()
	wants := map[string]tiMMDBWant{}
	for _, w := range tiMMDBWants {
		wants[w.file] = w
	}
	for _, path := range tiShared(t, "mmdb-testdata/test-data/*.mmdb") {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			entries, st, err := tiParse(FormatMMDB, raw)
			if slices.Contains(tiMMDBBroken, name) {
				if err == nil {
					t.Fatalf("Parse(%s) = nil error, want one", name)
				}
				return
			}
			w, ok := wants[name]
			if !ok {
				t.Fatalf("no reference counts for %s: run testdata/mmdb_reference.py", name)
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tiCheckEntries(t, FormatMMDB, entries)
			got := tiTally(entries, st)
			want := tiCounts{Records: w.records, Prefixes: w.prefixes, IPv4: w.ipv4, IPv6: w.ipv6, ASNs: w.asns, Skipped: w.skipped}
			if got != want {
				t.Errorf("Parse counts:\n got %v\nwant %v", got, want)
			}
			wantCats := w.cats
			if name == "GeoIP-Residential-Proxy-Test.mmdb" {
				wantCats[3] = w.records // implied by the database type
			}
			var gotCats [8]int
			for _, e := range entries {
				for i, c := range schema.Categories() {
					if e.Categories&c != 0 {
						gotCats[i]++
					}
				}
			}
			if gotCats != wantCats {
				t.Errorf("networks per category = %v, want %v", gotCats, wantCats)
			}
		})
	}
}

func TestCorpusMMDBBadData(t *testing.T) {
	t.Parallel()
	for _, path := range tiShared(t, "mmdb-testdata/bad-data/*/*.mmdb") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			entries, _, err := tiParse(FormatMMDB, raw)
			if err == nil {
				t.Fatalf("Parse = %d entries and no error, want an error", len(entries))
			}
			if lines, fatal := tiErrorLines(err); !fatal {
				t.Errorf("Parse error has only LineErrors %v, want the file rejected: %v", lines, err)
			}
		})
	}
}

func FuzzParseMMDB(f *testing.F) {
	tiSeeds(f, "mmdb-*.mmdb") // real MaxMind test databases, the small ones: GeoIP2-Anonymous-IP, an IPv4 tree
	// A database written here with every key the parser reads.
	f.Add(tiWriteMMDB(f, "ipintel", []tiNet{
		{"::1.0.0.0/120", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(1), "is_tor_exit_node": mmdbtype.Bool(true)}},
		{"2001:db8::/32", mmdbtype.String("not a map")},
	}))
	f.Add([]byte("\xab\xcd\xefMaxMind.com")) // the metadata marker alone
	f.Fuzz(func(t *testing.T, data []byte) {
		tiFuzzCheck(t, FormatMMDB, data)
	})
}
