package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"go4.org/netipx"

	"github.com/ipintel/ipintel/internal/schema"
	"github.com/ipintel/ipintel/lookup"
)

// testNet is one network of a test database.
type testNet struct {
	cidr    string
	cats    lookup.Category
	asn     uint32
	org     string
	score   uint16
	sources []string
}

// testEpoch is the build_epoch of every test database: 2026-01-02T03:04:05Z.
const testEpoch = 1767323045

// testFeeds is the manifest's feed list of the sample databases.
var testFeeds = []schema.ManifestFeed{
	{Name: "tor-exits", Kind: "tor", Format: "tor-exit-addresses", URL: "feeds/exit-addresses", Weight: 0.9, SHA256: "aa11", Entries: 3, Prefixes: 3, Gate: "ok"},
	{Name: "vpn-ranges", Kind: "vpn", Format: "ip-list", URL: "feeds/vpn.txt", Weight: 0.5, SHA256: "bb22", Entries: 2, Prefixes: 2, Gate: "ok"},
	{Name: "proxies", Kind: "public_proxy", Format: "ip-list", URL: "feeds/proxies.txt", Weight: 0.6, SHA256: "cc33", Entries: 1, Prefixes: 1, Gate: "ok"},
	{Name: "hosting-asn", Kind: "hosting", Format: "asn-list", URL: "feeds/hosting-asn.txt", Weight: 0.4, SHA256: "dd44", Entries: 1, Prefixes: 1, ASNs: 1, Gate: "ok"},
	{Name: "ipsum", Kind: "abuse", Format: "ipsum", URL: "feeds/ipsum.txt", Weight: 0.6, SHA256: "ee55", Entries: 2, Invalid: 1, Prefixes: 2, Gate: "ok"},
	{Name: "crawlers", Kind: "crawler", Format: "ip-list", URL: "feeds/crawlers.txt", Weight: 0, SHA256: "ff66", Entries: 1, Prefixes: 1, Gate: "ok"},
	{Name: "corp-allow", Kind: "allow", Format: "ip-list", URL: "feeds/allow.txt", Weight: 0, SHA256: "0077", Entries: 1, Prefixes: 1, Gate: "ok"},
	{Name: "asn", Kind: "asn", Format: "ip2asn", URL: "feeds/ip2asn.tsv", Weight: 0, SHA256: "1188", Entries: 4, Prefixes: 4, Gate: "ok"},
}

// sampleNets is the "old" sample database, less specific networks first.
var sampleNets = []testNet{
	{cidr: "192.0.2.0/24", cats: lookup.CategoryHosting, asn: 64500, org: "Example Hosting", score: 40, sources: []string{"hosting-asn"}},
	{cidr: "192.0.2.10/32", cats: lookup.CategoryHosting | lookup.CategoryTorExit | lookup.CategoryAbuse, asn: 64500, org: "Example Hosting", score: 98, sources: []string{"hosting-asn", "ipsum", "tor-exits"}},
	{cidr: "198.51.100.0/24", cats: lookup.CategoryVPN, asn: 64501, org: "Example \"VPN\" <Net>", score: 50, sources: []string{"vpn-ranges"}},
	{cidr: "198.51.100.128/25", cats: lookup.CategoryAllow, asn: 64501, org: "Example \"VPN\" <Net>", score: 0, sources: []string{"corp-allow", "vpn-ranges"}},
	{cidr: "203.0.113.0/24", cats: lookup.CategoryCrawler, asn: 64502, org: "Example Search", score: 0, sources: []string{"crawlers"}},
	{cidr: "2001:db8:1::/48", cats: lookup.CategoryPublicProxy, score: 60, sources: []string{"proxies"}},
	{cidr: "2001:db8:2::/64", cats: lookup.CategoryTorExit, asn: 64503, org: "Tor Host e.V.", score: 90, sources: []string{"tor-exits"}},
}

// sampleNewNets is the "new" sample database for diff: the VPN range
// shrank to a /26, the Tor exit left, a new abuse /64 appeared.
var sampleNewNets = []testNet{
	{cidr: "192.0.2.0/24", cats: lookup.CategoryHosting, asn: 64500, org: "Example Hosting", score: 40, sources: []string{"hosting-asn"}},
	{cidr: "192.0.2.10/32", cats: lookup.CategoryHosting | lookup.CategoryAbuse, asn: 64500, org: "Example Hosting", score: 76, sources: []string{"hosting-asn", "ipsum"}},
	{cidr: "198.51.100.0/26", cats: lookup.CategoryVPN, asn: 64501, org: "Example \"VPN\" <Net>", score: 50, sources: []string{"vpn-ranges"}},
	{cidr: "198.51.100.128/25", cats: lookup.CategoryAllow, asn: 64501, org: "Example \"VPN\" <Net>", score: 0, sources: []string{"corp-allow", "vpn-ranges"}},
	{cidr: "203.0.113.0/24", cats: lookup.CategoryCrawler, asn: 64502, org: "Example Search", score: 0, sources: []string{"crawlers"}},
	{cidr: "2001:db8:1::/48", cats: lookup.CategoryPublicProxy, score: 60, sources: []string{"proxies"}},
	{cidr: "2001:db8:2::/64", cats: lookup.CategoryTorExit, asn: 64503, org: "Tor Host e.V.", score: 90, sources: []string{"tor-exits"}},
	{cidr: "2001:db8:3::/64", cats: lookup.CategoryAbuse, score: 60, sources: []string{"ipsum"}},
}

// testManifest returns the manifest of a sample database with n networks.
func testManifest(n int) *schema.Manifest {
	return &schema.Manifest{
		Builder:       "ipintel test",
		SchemaVersion: schema.SchemaVersion,
		BuildEpoch:    testEpoch,
		DatabaseType:  schema.DefaultDatabaseType,
		ConfigSHA256:  "0123456789abcdef",
		IPv6Prefix:    64,
		Weights: map[string]float64{"tor_exit": 0.9, "vpn": 0.5, "public_proxy": 0.6, "residential_proxy": 0.6,
			"hosting": 0.4, "abuse": 0.6, "crawler": 0},
		Block:     schema.DefaultBlockThreshold,
		Challenge: schema.DefaultChallengeThreshold,
		Feeds:     testFeeds,
		Networks:  n,
	}
}

// writeTestDB writes an ipintel-schema MMDB of nets to path with
// mmdbwriter (booleans only when true, IPv4 at ::/96), with manifest m
// in its description when m is not nil, and returns path.
func writeTestDB(tb testing.TB, path string, nets []testNet, m *schema.Manifest) string {
	tb.Helper()
	desc := map[string]string{"en": "ipintel test database"}
	if m != nil {
		b, err := json.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		desc[schema.ManifestDescriptionKey] = string(b)
	}
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:              testEpoch,
		DatabaseType:            schema.DefaultDatabaseType,
		Description:             desc,
		IncludeReservedNetworks: true, // the documentation ranges of RFC 5737 and RFC 3849
		IPVersion:               6,
		RecordSize:              28,
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range nets {
		pfx := netip.MustParsePrefix(n.cidr)
		if err := tree.Insert(netipx.PrefixIPNet(pfx), testRecord(n)); err != nil {
			tb.Fatalf("insert %s: %v", n.cidr, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

func testRecord(n testNet) mmdbtype.Map {
	m := mmdbtype.Map{}
	for _, c := range schema.Categories() {
		if n.cats&c != 0 {
			m[mmdbtype.String(c.Key())] = mmdbtype.Bool(true)
		}
	}
	if n.cats&lookup.CategoryAnonymous != 0 {
		m[schema.KeyIsAnonymous] = mmdbtype.Bool(true)
	}
	if n.asn != 0 {
		m[schema.KeyASN] = mmdbtype.Uint32(n.asn)
	}
	if n.org != "" {
		m[schema.KeyASOrg] = mmdbtype.String(n.org)
	}
	m[schema.KeyRiskScore] = mmdbtype.Uint16(n.score)
	if len(n.sources) > 0 {
		s := slices.Sorted(slices.Values(n.sources))
		arr := make(mmdbtype.Slice, len(s))
		for i, x := range s {
			arr[i] = mmdbtype.String(x)
		}
		m[schema.KeySources] = arr
	}
	return m
}

// sampleDB writes the sample database into a temporary directory.
func sampleDB(tb testing.TB) string {
	return writeTestDB(tb, filepath.Join(tb.TempDir(), "sample.mmdb"), sampleNets, testManifest(len(sampleNets)))
}
