package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/ipintel/ipintel/internal/testdb"
	"github.com/ipintel/ipintel/schema"
)

// testEpoch is the build_epoch of every test database: 2026-01-02T03:04:05Z.
const testEpoch = testdb.Epoch

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
// Its records are written out as the builder writes them (docs/design.md
// §2): booleans only when true, is_anonymous with any anonymous category,
// sources sorted.
var sampleNets = []testdb.Record{
	testdb.Net("192.0.2.0/24", map[string]any{
		schema.KeyIsAnonymous:       true,
		schema.KeyIsHostingProvider: true,
		schema.KeyASN:               uint32(64500),
		schema.KeyASOrg:             "Example Hosting",
		schema.KeyRiskScore:         uint16(40),
		schema.KeySources:           []string{"hosting-asn"},
	}),
	testdb.Net("192.0.2.10/32", map[string]any{
		schema.KeyIsAnonymous:       true,
		schema.KeyIsHostingProvider: true,
		schema.KeyIsTorExitNode:     true,
		schema.KeyIsAbuse:           true,
		schema.KeyASN:               uint32(64500),
		schema.KeyASOrg:             "Example Hosting",
		schema.KeyRiskScore:         uint16(98),
		schema.KeySources:           []string{"hosting-asn", "ipsum", "tor-exits"},
	}),
	testdb.Net("198.51.100.0/24", map[string]any{
		schema.KeyIsAnonymous:    true,
		schema.KeyIsAnonymousVPN: true,
		schema.KeyASN:            uint32(64501),
		schema.KeyASOrg:          "Example \"VPN\" <Net>",
		schema.KeyRiskScore:      uint16(50),
		schema.KeySources:        []string{"vpn-ranges"},
	}),
	testdb.Net("198.51.100.128/25", map[string]any{
		schema.KeyIsAllowlisted: true,
		schema.KeyASN:           uint32(64501),
		schema.KeyASOrg:         "Example \"VPN\" <Net>",
		schema.KeyRiskScore:     uint16(0),
		schema.KeySources:       []string{"corp-allow"},
		schema.KeyCleared:       []any{map[string]any{"feed": "vpn-ranges", "category": "vpn", "by": "corp-allow"}},
	}),
	testdb.Net("203.0.113.0/24", map[string]any{
		schema.KeyIsCrawler: true,
		schema.KeyASN:       uint32(64502),
		schema.KeyASOrg:     "Example Search",
		schema.KeyRiskScore: uint16(0),
		schema.KeySources:   []string{"crawlers"},
	}),
	testdb.Net("2001:db8:1::/48", map[string]any{
		schema.KeyIsAnonymous:   true,
		schema.KeyIsPublicProxy: true,
		schema.KeyRiskScore:     uint16(60),
		schema.KeySources:       []string{"proxies"},
	}),
	testdb.Net("2001:db8:2::/64", map[string]any{
		schema.KeyIsAnonymous:   true,
		schema.KeyIsTorExitNode: true,
		schema.KeyASN:           uint32(64503),
		schema.KeyASOrg:         "Tor Host e.V.",
		schema.KeyRiskScore:     uint16(90),
		schema.KeySources:       []string{"tor-exits"},
	}),
}

// sampleNewNets is the "new" sample database for diff: the VPN range
// shrank to a /26, the Tor exit left, a new abuse /64 appeared.
var sampleNewNets = []testdb.Record{
	testdb.Net("192.0.2.0/24", map[string]any{
		schema.KeyIsAnonymous:       true,
		schema.KeyIsHostingProvider: true,
		schema.KeyASN:               uint32(64500),
		schema.KeyASOrg:             "Example Hosting",
		schema.KeyRiskScore:         uint16(40),
		schema.KeySources:           []string{"hosting-asn"},
	}),
	testdb.Net("192.0.2.10/32", map[string]any{
		schema.KeyIsAnonymous:       true,
		schema.KeyIsHostingProvider: true,
		schema.KeyIsAbuse:           true,
		schema.KeyASN:               uint32(64500),
		schema.KeyASOrg:             "Example Hosting",
		schema.KeyRiskScore:         uint16(76),
		schema.KeySources:           []string{"hosting-asn", "ipsum"},
	}),
	testdb.Net("198.51.100.0/26", map[string]any{
		schema.KeyIsAnonymous:    true,
		schema.KeyIsAnonymousVPN: true,
		schema.KeyASN:            uint32(64501),
		schema.KeyASOrg:          "Example \"VPN\" <Net>",
		schema.KeyRiskScore:      uint16(50),
		schema.KeySources:        []string{"vpn-ranges"},
	}),
	testdb.Net("198.51.100.128/25", map[string]any{
		schema.KeyIsAllowlisted: true,
		schema.KeyASN:           uint32(64501),
		schema.KeyASOrg:         "Example \"VPN\" <Net>",
		schema.KeyRiskScore:     uint16(0),
		schema.KeySources:       []string{"corp-allow"},
		schema.KeyCleared:       []any{map[string]any{"feed": "vpn-ranges", "category": "vpn", "by": "corp-allow"}},
	}),
	testdb.Net("203.0.113.0/24", map[string]any{
		schema.KeyIsCrawler: true,
		schema.KeyASN:       uint32(64502),
		schema.KeyASOrg:     "Example Search",
		schema.KeyRiskScore: uint16(0),
		schema.KeySources:   []string{"crawlers"},
	}),
	testdb.Net("2001:db8:1::/48", map[string]any{
		schema.KeyIsAnonymous:   true,
		schema.KeyIsPublicProxy: true,
		schema.KeyRiskScore:     uint16(60),
		schema.KeySources:       []string{"proxies"},
	}),
	testdb.Net("2001:db8:2::/64", map[string]any{
		schema.KeyIsAnonymous:   true,
		schema.KeyIsTorExitNode: true,
		schema.KeyASN:           uint32(64503),
		schema.KeyASOrg:         "Tor Host e.V.",
		schema.KeyRiskScore:     uint16(90),
		schema.KeySources:       []string{"tor-exits"},
	}),
	testdb.Net("2001:db8:3::/64", map[string]any{
		schema.KeyIsAbuse:   true,
		schema.KeyRiskScore: uint16(60),
		schema.KeySources:   []string{"ipsum"},
	}),
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
var plusNets = []testdb.Record{
	testdb.Net("192.0.2.0/24", map[string]any{
		schema.KeyIsRelay:      true,
		schema.KeyASN:          uint32(64510),
		schema.KeyASOrg:        "Example CDN",
		schema.KeyRiskScore:    uint16(0),
		schema.KeySources:      []string{"icloud-relay"},
		schema.KeyProviderName: "iCloud Private Relay",
		schema.KeyCleared:      []any{map[string]any{"feed": "hosting-asn", "category": "hosting", "by": "icloud-relay"}},
	}),
	testdb.Net("198.51.100.0/24", map[string]any{
		schema.KeyIsAnonymous:          true,
		schema.KeyIsAnonymousVPN:       true,
		schema.KeyIsHostingProvider:    true,
		schema.KeyASN:                  uint32(64511),
		schema.KeyASOrg:                "Example Cloud",
		schema.KeyRiskScore:            uint16(70),
		schema.KeySources:              []string{"cdn-ranges", "hosting-asn", "vpn-servers"},
		schema.KeyProviderName:         "Example VPN",
		schema.KeyAnonymizerConfidence: uint16(87),
		schema.KeyNetworkFirstSeen:     "2025-11-20",
		schema.KeyNetworkLastSeen:      "2026-01-02",
		schema.KeyCleared:              []any{map[string]any{"feed": "proxies", "category": "public_proxy", "by": "cdn-ranges"}},
	}),
	testdb.Net("203.0.113.0/24", map[string]any{
		schema.KeyIsCrawler:    true,
		schema.KeyASN:          uint32(64512),
		schema.KeyASOrg:        "Example Search",
		schema.KeyRiskScore:    uint16(0),
		schema.KeySources:      []string{"googlebot"},
		schema.KeyProviderName: "Googlebot",
		schema.KeyCleared:      []any{map[string]any{"feed": "ipsum", "category": "abuse", "by": "googlebot"}},
	}),
	testdb.Net("2001:db8:7::/64", map[string]any{
		schema.KeyIsAnonymous:          true,
		schema.KeyIsTorExitNode:        true,
		schema.KeyIsAbuse:              true,
		schema.KeyRiskScore:            uint16(96),
		schema.KeySources:              []string{"ipsum", "tor-exits"},
		schema.KeyProviderName:         "Tor",
		schema.KeyAnonymizerConfidence: uint16(99),
		schema.KeyNetworkFirstSeen:     "2025-06-01",
		schema.KeyNetworkLastSeen:      "2026-01-02",
	}),
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

// writeTestDB writes a database of recs to path with the metadata of the
// sample databases, and manifest m in its description when m is not nil,
// and returns path.
func writeTestDB(tb testing.TB, path string, recs []testdb.Record, m *schema.Manifest) string {
	tb.Helper()
	desc := map[string]string{"en": "ipintel test database"}
	if m != nil {
		b, err := json.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		desc[schema.ManifestDescriptionKey] = string(b)
	}
	return testdb.Write(tb, path, testdb.Options{
		BuildEpoch:   testEpoch,
		DatabaseType: schema.DefaultDatabaseType,
		Description:  desc,
	}, recs...)
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
