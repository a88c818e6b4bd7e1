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

	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/schema"
)

// testNet is one network of a test database.
type testNet struct {
	cidr       string
	cats       lookup.Category
	asn        uint32
	org        string
	score      uint16
	unscored   bool // no risk_score key
	sources    []string
	provider   string
	confidence uint16
	firstSeen  string
	lastSeen   string
	cleared    []testCleared
}

// testCleared is one element of a record's cleared key: feed's evidence
// for category (comma-separated names) that the feed by outranked.
type testCleared struct{ feed, category, by string }

// testEpoch is the build_epoch of every test database: 2026-01-02T03:04:05Z.
const testEpoch = 1767323045

// testFeeds is the manifest's feed list of the sample databases.
var testFeeds = []schema.ManifestFeed{
	{Name: "tor-exits", Kind: "tor", Format: "tor-exit-addresses", URL: "feeds/exit-addresses", Weight: 0.9, SHA256: "aa11", Records: 3, Entries: 3, Gate: "ok"},
	{Name: "vpn-ranges", Kind: "vpn", Format: "ip-list", URL: "feeds/vpn.txt", Weight: 0.5, SHA256: "bb22", Records: 2, Entries: 2, Gate: "ok"},
	{Name: "proxies", Kind: "public_proxy", Format: "ip-list", URL: "feeds/proxies.txt", Weight: 0.6, SHA256: "cc33", Records: 1, Entries: 1, Gate: "ok"},
	{Name: "hosting-asn", Kind: "hosting", Format: "asn-list", URL: "feeds/hosting-asn.txt", Weight: 0.4, SHA256: "dd44", Records: 1, Entries: 1, ASNs: 1, Gate: "ok"},
	{Name: "ipsum", Kind: "abuse", Format: "ipsum", URL: "feeds/ipsum.txt", Weight: 0.6, SHA256: "ee55", Records: 2, Invalid: 1, Entries: 2, Gate: "ok"},
	{Name: "crawlers", Kind: "crawler", Format: "ip-list", URL: "feeds/crawlers.txt", Weight: 0, SHA256: "ff66", Records: 1, Entries: 1, Gate: "ok"},
	{Name: "corp-allow", Kind: "allow", Format: "ip-list", URL: "feeds/allow.txt", Weight: 0, SHA256: "0077", Records: 1, Entries: 1, Gate: "ok"},
	{Name: "asn", Kind: "asn", Format: "ip2asn", URL: "feeds/ip2asn.tsv", Weight: 0, SHA256: "1188", Records: 4, Entries: 4, Gate: "ok"},
}

// sampleNets is the "old" sample database, less specific networks first.
var sampleNets = []testNet{
	{cidr: "192.0.2.0/24", cats: lookup.CategoryHosting, asn: 64500, org: "Example Hosting", score: 40, sources: []string{"hosting-asn"}},
	{cidr: "192.0.2.10/32", cats: lookup.CategoryHosting | lookup.CategoryTorExit | lookup.CategoryAbuse, asn: 64500, org: "Example Hosting", score: 98, sources: []string{"hosting-asn", "ipsum", "tor-exits"}},
	{cidr: "198.51.100.0/24", cats: lookup.CategoryVPN, asn: 64501, org: "Example \"VPN\" <Net>", score: 50, sources: []string{"vpn-ranges"}},
	{cidr: "198.51.100.128/25", cats: lookup.CategoryAllow, asn: 64501, org: "Example \"VPN\" <Net>", score: 0, sources: []string{"corp-allow"},
		cleared: []testCleared{{"vpn-ranges", "vpn", "corp-allow"}}},
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
	{cidr: "198.51.100.128/25", cats: lookup.CategoryAllow, asn: 64501, org: "Example \"VPN\" <Net>", score: 0, sources: []string{"corp-allow"},
		cleared: []testCleared{{"vpn-ranges", "vpn", "corp-allow"}}},
	{cidr: "203.0.113.0/24", cats: lookup.CategoryCrawler, asn: 64502, org: "Example Search", score: 0, sources: []string{"crawlers"}},
	{cidr: "2001:db8:1::/48", cats: lookup.CategoryPublicProxy, score: 60, sources: []string{"proxies"}},
	{cidr: "2001:db8:2::/64", cats: lookup.CategoryTorExit, asn: 64503, org: "Tor Host e.V.", score: 90, sources: []string{"tor-exits"}},
	{cidr: "2001:db8:3::/64", cats: lookup.CategoryAbuse, score: 60, sources: []string{"ipsum"}},
}

// plusFeeds is the manifest's feed list of the plus database: named
// providers, two feeds of one category, and clearing feeds.
var plusFeeds = []schema.ManifestFeed{
	{Name: "tor-exits", Kind: "tor", Format: "tor-exit-addresses", URL: "feeds/exit-addresses", Weight: 0.9, SHA256: "aa11", Records: 1, Entries: 1, Gate: "ok"},
	{Name: "vpn-servers", Kind: "vpn", Format: "vpn-servers", URL: "feeds/vpn-servers.csv", Weight: 0.5, SHA256: "bb22", Records: 1, Entries: 1, Gate: "ok"},
	{Name: "proxies", Kind: "public_proxy", Format: "ip-list", URL: "feeds/proxies.txt", Weight: 0.6, SHA256: "cc33", Records: 1, Entries: 1, Gate: "ok"},
	{Name: "hosting-asn", Kind: "hosting", Format: "asn-list", URL: "feeds/hosting-asn.txt", Weight: 0.4, SHA256: "dd44", Records: 2, Entries: 2, ASNs: 2, Gate: "ok"},
	{Name: "cdn-ranges", Kind: "hosting", Format: "ip-list", URL: "feeds/cdn.txt", Weight: 0.3, SHA256: "ee55", Records: 1, Entries: 1, Gate: "ok"},
	{Name: "ipsum", Kind: "abuse", Format: "ipsum", URL: "feeds/ipsum.txt", Weight: 0.6, SHA256: "ff66", Records: 2, Entries: 2, Gate: "ok"},
	{Name: "icloud-relay", Kind: "relay", Format: "csv", URL: "feeds/egress-ip-ranges.csv", Weight: 0, SHA256: "0077", Records: 1, Entries: 1, Gate: "ok"},
	{Name: "googlebot", Kind: "crawler", Format: "json-prefixes", URL: "feeds/googlebot.json", Weight: 0, SHA256: "1188", Records: 1, Entries: 1, Gate: "ok"},
	{Name: "asn", Kind: "asn", Format: "ip2asn", URL: "feeds/ip2asn.tsv", Weight: 0, SHA256: "2299", Records: 3, Entries: 3, Gate: "ok"},
}

// plusNets is the plus database: a VPN with its provider, confidence and
// history, hosting from two feeds and a proxy listing cleared by a CDN's
// own ranges; a relay egress whose hosting the relay cleared; a crawler
// that cleared an abuse listing.
var plusNets = []testNet{
	{cidr: "192.0.2.0/24", cats: lookup.CategoryRelay, asn: 64510, org: "Example CDN", provider: "iCloud Private Relay",
		sources: []string{"icloud-relay"}, cleared: []testCleared{{"hosting-asn", "hosting", "icloud-relay"}}},
	{cidr: "198.51.100.0/24", cats: lookup.CategoryVPN | lookup.CategoryHosting, asn: 64511, org: "Example Cloud", score: 70,
		provider: "Example VPN", confidence: 87, firstSeen: "2025-11-20", lastSeen: "2026-01-02",
		sources: []string{"cdn-ranges", "hosting-asn", "vpn-servers"}, cleared: []testCleared{{"proxies", "public_proxy", "cdn-ranges"}}},
	{cidr: "203.0.113.0/24", cats: lookup.CategoryCrawler, asn: 64512, org: "Example Search", provider: "Googlebot",
		sources: []string{"googlebot"}, cleared: []testCleared{{"ipsum", "abuse", "googlebot"}}},
	{cidr: "2001:db8:7::/64", cats: lookup.CategoryTorExit | lookup.CategoryAbuse, score: 96, provider: "Tor", confidence: 99,
		firstSeen: "2025-06-01", lastSeen: "2026-01-02", sources: []string{"ipsum", "tor-exits"}},
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
	if !n.unscored {
		m[schema.KeyRiskScore] = mmdbtype.Uint16(n.score)
	}
	if n.provider != "" {
		m[schema.KeyProviderName] = mmdbtype.String(n.provider)
	}
	if n.confidence != 0 {
		m[schema.KeyAnonymizerConfidence] = mmdbtype.Uint16(n.confidence)
	}
	if n.firstSeen != "" {
		m[schema.KeyNetworkFirstSeen] = mmdbtype.String(n.firstSeen)
	}
	if n.lastSeen != "" {
		m[schema.KeyNetworkLastSeen] = mmdbtype.String(n.lastSeen)
	}
	if len(n.cleared) > 0 {
		arr := make(mmdbtype.Slice, len(n.cleared))
		for i, c := range n.cleared {
			arr[i] = mmdbtype.Map{"feed": mmdbtype.String(c.feed), "category": mmdbtype.String(c.category), "by": mmdbtype.String(c.by)}
		}
		m[schema.KeyCleared] = arr
	}
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

// plusManifest returns the manifest of the plus database.
func plusManifest() *schema.Manifest {
	m := testManifest(len(plusNets))
	m.Feeds = plusFeeds
	m.Weights["relay"] = 0
	return m
}

// sampleDB writes the sample database into a temporary directory.
func sampleDB(tb testing.TB) string {
	return writeTestDB(tb, filepath.Join(tb.TempDir(), "sample.mmdb"), sampleNets, testManifest(len(sampleNets)))
}
