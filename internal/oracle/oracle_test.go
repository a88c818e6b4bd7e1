package oracle

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/schema"
)

func entries(ss ...string) []feeds.Entry {
	var out []feeds.Entry
	for _, s := range ss {
		out = append(out, feeds.Entry{Prefix: netip.MustParsePrefix(s)})
	}
	return out
}

func clears(c schema.Category) *schema.Category { return &c }

// TestLookup checks the oracle on cases computed by hand from docs/design.md §4.
func TestLookup(t *testing.T) {
	const (
		hosting = schema.CategoryHosting
		abuse   = schema.CategoryAbuse
		tor     = schema.CategoryTorExit
		vpn     = schema.CategoryVPN
		proxy   = schema.CategoryPublicProxy
	)
	inferVPN := Feed{Name: "vpn-servers", Kind: schema.KindVPN, Weight: 0.5, Confidence: 99, InferPrefix: 24,
		Entries: []feeds.Entry{
			{Prefix: netip.MustParsePrefix("45.1.2.1/32"), Provider: "P"},
			{Prefix: netip.MustParsePrefix("45.1.2.9/32"), Provider: "P"},
			{Prefix: netip.MustParsePrefix("45.1.2.9/32"), Provider: "P"}, // counted once
			{Prefix: netip.MustParsePrefix("45.1.3.1/32"), Provider: "P"},
			{Prefix: netip.MustParsePrefix("45.1.3.1/32"), Provider: "Q"},
			{Prefix: netip.MustParsePrefix("45.1.4.0/23"), Provider: "P"}, // larger than a block
			{Prefix: netip.MustParsePrefix("45.1.4.0/24"), Provider: "P"},
		}}
	asnFeeds := []Feed{
		{Name: "ip2asn", Kind: schema.KindASN, Entries: []feeds.Entry{
			{Prefix: netip.MustParsePrefix("45.0.0.0/8"), ASN: 64500},
			{Prefix: netip.MustParsePrefix("45.1.0.0/16"), ASN: 64501},
			{Prefix: netip.MustParsePrefix("45.2.0.0/16"), ASN: 64502, Org: "Own Org"},
		}},
		{Name: "names-a", Kind: schema.KindASN, Entries: []feeds.Entry{{ASN: 64501, Org: "First Names"}}},
		{Name: "names-b", Kind: schema.KindASN, Entries: []feeds.Entry{
			{ASN: 64500, Org: "Second Names"}, {ASN: 64501, Org: "A Later Name"}, {ASN: 64502, Org: "Other"}}},
		{Name: "bad-asn", Kind: schema.KindHosting, Weight: 0.4, Confidence: 30, Entries: []feeds.Entry{{ASN: 64500}}},
	}
	for _, tc := range []struct {
		name string
		fs   []Feed
		addr string
		want Answer
	}{
		{
			name: "one category counts once, with its largest weight",
			fs: []Feed{
				{Name: "h1", Kind: schema.KindHosting, Weight: 0.3, Entries: entries("45.1.0.0/16")},
				{Name: "h2", Kind: schema.KindHosting, Weight: 0.4, Entries: entries("45.1.2.0/24")},
				{Name: "h3", Kind: schema.KindHosting, Weight: 0.2, Entries: entries("45.1.2.3/32")},
			},
			addr: "45.1.2.3",
			want: Answer{Found: true, Categories: hosting, Sources: []string{"h1", "h2", "h3"}, Score: 40},
		},
		{
			name: "categories combine by noisy-OR",
			fs: []Feed{
				{Name: "tor", Kind: schema.KindTor, Weight: 0.9, Confidence: 99, Entries: entries("45.1.2.3/32")},
				{Name: "abuse", Kind: schema.KindAbuse, Weight: 0.6, Entries: entries("45.1.2.0/24")},
			},
			addr: "45.1.2.3",
			// 1 − 0.1 × 0.4 = 0.96
			want: Answer{Found: true, Categories: tor | abuse, Sources: []string{"abuse", "tor"}, Score: 96, Confidence: 99},
		},
		{
			name: "a crawler is allowed",
			fs: []Feed{
				{Name: "dc", Kind: schema.KindHosting, Weight: 0.4, Provider: "Google Cloud", Entries: entries("45.1.0.0/16")},
				{Name: "ipsum", Kind: schema.KindAbuse, Weight: 0.6, Entries: entries("45.1.2.3/32")},
				{Name: "googlebot", Kind: schema.KindCrawler, Provider: "Googlebot", Entries: entries("45.1.2.0/24")},
			},
			addr: "45.1.2.3",
			want: Answer{Found: true, Categories: schema.CategoryCrawler, Sources: []string{"googlebot"}, Provider: "Googlebot",
				Cleared: []Cleared{{"dc", "hosting", "googlebot"}, {"ipsum", "abuse", "googlebot"}}},
		},
		{
			name: "a relay clears hosting, not abuse",
			fs: []Feed{
				{Name: "cdn", Kind: schema.KindHosting, Weight: 0.4, Entries: entries("45.1.0.0/16")},
				{Name: "icloud", Kind: schema.KindRelay, Provider: "iCloud Private Relay", Entries: entries("45.1.2.0/24")},
			},
			addr: "45.1.2.3",
			want: Answer{Found: true, Categories: schema.CategoryRelay, Sources: []string{"icloud"}, Provider: "iCloud Private Relay",
				Cleared: []Cleared{{"cdn", "hosting", "icloud"}}},
		},
		{
			name: "a relay over hosting and abuse",
			fs: []Feed{
				{Name: "cdn", Kind: schema.KindHosting, Weight: 0.4, Entries: entries("45.1.0.0/16")},
				{Name: "abuse", Kind: schema.KindAbuse, Weight: 0.6, Entries: entries("45.1.2.3/32")},
				{Name: "icloud", Kind: schema.KindRelay, Entries: entries("45.1.2.0/24")},
			},
			addr: "45.1.2.3",
			want: Answer{Found: true, Categories: schema.CategoryRelay | abuse, Sources: []string{"abuse", "icloud"}, Score: 60,
				Cleared: []Cleared{{"cdn", "hosting", "icloud"}}},
		},
		{
			name: "a cloud's own ranges clear scraped proxy lists",
			fs: []Feed{
				{Name: "proxies", Kind: schema.KindPublicProxy, Weight: 0.6, Entries: entries("104.16.1.1/32")},
				{Name: "cloudflare", Kind: schema.KindHosting, Weight: 0.4, Provider: "Cloudflare", Clears: clears(proxy),
					Entries: entries("104.16.0.0/13")},
			},
			addr: "104.16.1.1",
			want: Answer{Found: true, Categories: hosting, Sources: []string{"cloudflare"}, Score: 40, Provider: "Cloudflare",
				Cleared: []Cleared{{"proxies", "public_proxy", "cloudflare"}}},
		},
		{
			name: "clears = [] keeps a crawler's risk categories",
			fs: []Feed{
				{Name: "dc", Kind: schema.KindHosting, Weight: 0.4, Entries: entries("45.1.0.0/16")},
				{Name: "bot", Kind: schema.KindCrawler, Clears: clears(0), Entries: entries("45.1.2.0/24")},
			},
			addr: "45.1.2.3",
			want: Answer{Found: true, Categories: hosting | schema.CategoryCrawler, Sources: []string{"bot", "dc"}, Score: 40},
		},
		{
			name: "allow clears every risk category; every clearing feed is named",
			fs: []Feed{
				{Name: "tor", Kind: schema.KindTor, Weight: 0.9, Confidence: 99, Entries: entries("45.1.2.3/32")},
				{Name: "bot", Kind: schema.KindCrawler, Entries: entries("45.1.2.0/24")},
				{Name: "allow", Kind: schema.KindAllow, Entries: entries("45.1.0.0/16")},
			},
			addr: "45.1.2.3",
			want: Answer{Found: true, Categories: schema.CategoryAllow | schema.CategoryCrawler, Sources: []string{"allow", "bot"},
				Cleared: []Cleared{{"tor", "tor_exit", "allow"}, {"tor", "tor_exit", "bot"}}},
		},
		{
			name: "an allow feed clears every risk category whatever its Clears says",
			fs: []Feed{
				{Name: "tor", Kind: schema.KindTor, Weight: 0.9, Entries: entries("45.1.2.3/32")},
				{Name: "allow", Kind: schema.KindAllow, Clears: clears(0), Entries: entries("45.1.0.0/16")},
			},
			addr: "45.1.2.3",
			want: Answer{Found: true, Categories: schema.CategoryAllow, Sources: []string{"allow"},
				Cleared: []Cleared{{"tor", "tor_exit", "allow"}}},
		},
		{
			name: "feeds that clear each other both go",
			fs: []Feed{
				{Name: "a", Kind: schema.KindHosting, Weight: 0.4, Clears: clears(proxy), Entries: entries("45.1.2.3/32")},
				{Name: "b", Kind: schema.KindPublicProxy, Weight: 0.6, Clears: clears(hosting), Entries: entries("45.1.2.3/32")},
			},
			addr: "45.1.2.3",
			want: Answer{Found: true, Cleared: []Cleared{{"a", "hosting", "b"}, {"b", "public_proxy", "a"}}},
		},
		{
			name: "an import keeps what a relay does not clear",
			fs: []Feed{
				{Name: "import", Kind: schema.KindVPN, Weight: 0.5, Entries: []feeds.Entry{
					{Prefix: netip.MustParsePrefix("45.1.2.0/24"), Categories: hosting | proxy}}},
				{Name: "relay", Kind: schema.KindRelay, Entries: entries("45.1.2.3/32")},
			},
			addr: "45.1.2.3",
			want: Answer{Found: true, Categories: proxy | schema.CategoryRelay, Sources: []string{"import", "relay"}, Score: 50,
				Confidence: 70, Cleared: []Cleared{{"import", "hosting", "relay"}}},
		},
		{
			name: "an anonymizer's provider wins over a more specific one",
			fs: []Feed{
				{Name: "aws", Kind: schema.KindHosting, Weight: 0.4, Provider: "Amazon", Entries: entries("45.1.2.0/24")},
				{Name: "gluetun", Kind: schema.KindVPN, Weight: 0.5, Confidence: 99, Entries: []feeds.Entry{
					{Prefix: netip.MustParsePrefix("45.1.0.0/16"), Provider: "NordVPN"}}},
				{Name: "vpn-list", Kind: schema.KindVPN, Weight: 0.5, Entries: entries("45.1.2.3/32")},
			},
			addr: "45.1.2.3",
			// 1 − 0.6 × 0.5 = 0.7
			want: Answer{Found: true, Categories: hosting | vpn, Sources: []string{"aws", "gluetun", "vpn-list"}, Score: 70,
				Provider: "NordVPN", Confidence: 99},
		},
		{
			name: "the more specific provider, then the feed listed first",
			fs: []Feed{
				{Name: "a", Kind: schema.KindHosting, Weight: 0.4, Provider: "A", Entries: entries("45.1.0.0/16")},
				{Name: "b", Kind: schema.KindHosting, Weight: 0.4, Provider: "B", Entries: entries("45.1.2.0/24")},
				{Name: "c", Kind: schema.KindHosting, Weight: 0.4, Provider: "C", Entries: entries("45.1.2.0/24")},
			},
			addr: "45.1.2.3",
			want: Answer{Found: true, Categories: hosting, Sources: []string{"a", "b", "c"}, Score: 40, Provider: "B"},
		},
		{
			name: "an exact server",
			fs:   []Feed{inferVPN},
			addr: "45.1.2.9",
			want: Answer{Found: true, Categories: vpn, Sources: []string{"vpn-servers"}, Score: 50, Provider: "P", Confidence: 99},
		},
		{
			name: "two servers of one provider make their /24 a block of it",
			fs:   []Feed{inferVPN},
			addr: "45.1.2.200",
			want: Answer{Found: true, Categories: vpn, Sources: []string{"vpn-servers"}, Score: 50, Provider: "P", Confidence: 50},
		},
		{
			name: "one server of each of two providers make no block",
			fs:   []Feed{inferVPN},
			addr: "45.1.3.200",
			want: Answer{},
		},
		{
			name: "an entry larger than the block does not count in it",
			fs:   []Feed{inferVPN},
			addr: "45.1.5.7",
			want: Answer{Found: true, Categories: vpn, Sources: []string{"vpn-servers"}, Score: 50, Provider: "P", Confidence: 99},
		},
		{
			name: "blocks of two providers tie to the smallest name",
			fs: []Feed{{Name: "v", Kind: schema.KindVPN, Weight: 0.5, InferPrefix: 24, Entries: []feeds.Entry{
				{Prefix: netip.MustParsePrefix("45.1.2.1/32"), Provider: "Q"},
				{Prefix: netip.MustParsePrefix("45.1.2.2/32"), Provider: "Q"},
				{Prefix: netip.MustParsePrefix("45.1.2.3/32"), Provider: "P"},
				{Prefix: netip.MustParsePrefix("45.1.2.4/32"), Provider: "P"},
			}}},
			addr: "45.1.2.100",
			want: Answer{Found: true, Categories: vpn, Sources: []string{"v"}, Score: 50, Provider: "P", Confidence: 50},
		},
		{
			name: "an exact entry beats a block of its length",
			fs: []Feed{{Name: "v", Kind: schema.KindVPN, Weight: 0.5, InferPrefix: 24, Entries: []feeds.Entry{
				{Prefix: netip.MustParsePrefix("45.1.2.1/32"), Provider: "P"},
				{Prefix: netip.MustParsePrefix("45.1.2.2/32"), Provider: "P"},
				{Prefix: netip.MustParsePrefix("45.1.2.0/24"), Provider: "Z"},
			}}},
			addr: "45.1.2.100",
			want: Answer{Found: true, Categories: vpn, Sources: []string{"v"}, Score: 50, Provider: "Z", Confidence: 70},
		},
		{
			name: "IPv6 servers count before they are widened to their /64",
			fs: []Feed{{Name: "v", Kind: schema.KindVPN, Weight: 0.5, InferPrefix6: 48,
				Entries: entries("2a00:1:2:3::1/128", "2a00:1:2:3::2/128")}},
			addr: "2a00:1:2:ff::1",
			want: Answer{Found: true, Categories: vpn, Sources: []string{"v"}, Score: 50, Confidence: 50},
		},
		{
			name: "an asn-list flags its ASN, named by the first asn-names feed",
			fs:   asnFeeds,
			addr: "45.3.0.1",
			want: Answer{Found: true, Categories: hosting, ASN: 64500, Org: "Second Names", Sources: []string{"bad-asn"}, Score: 40},
		},
		{
			name: "a more specific ASN is not on the list",
			fs:   asnFeeds,
			addr: "45.1.0.1",
			want: Answer{Found: true, ASN: 64501, Org: "First Names"},
		},
		{
			name: "the winning ASN entry's own organisation",
			fs:   asnFeeds,
			addr: "45.2.0.1",
			want: Answer{Found: true, ASN: 64502, Org: "Own Org"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Lookup(tc.fs, Options{}, netip.MustParseAddr(tc.addr))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Lookup(%s) =\n%+v\nwant\n%+v", tc.addr, got, tc.want)
			}
		})
	}
}

func TestInferred(t *testing.T) {
	f := Feed{Kind: schema.KindVPN, InferPrefix: 24, InferPrefix6: 48, InferMin: 3, Provider: "Feed", Entries: []feeds.Entry{
		{Prefix: netip.MustParsePrefix("45.1.2.1/32")},
		{Prefix: netip.MustParsePrefix("45.1.2.2/31")},
		{Prefix: netip.MustParsePrefix("::ffff:45.1.2.128/121")}, // IPv4-mapped: IPv4
		{Prefix: netip.MustParsePrefix("2a00:1:2:3::1/128")},
		{Prefix: netip.MustParsePrefix("2a00:1:2:4::/64")},
		{Prefix: netip.MustParsePrefix("2a00:1:2:4::1/128"), Provider: "Other"},
		{Prefix: netip.MustParsePrefix("2a00:1:2:5::1/128")},
	}}
	want := []feeds.Entry{
		{Prefix: netip.MustParsePrefix("45.1.2.0/24"), Provider: "Feed"},
		{Prefix: netip.MustParsePrefix("2a00:1:2::/48"), Provider: "Feed"},
	}
	if got := Inferred(f); !reflect.DeepEqual(got, want) {
		t.Errorf("Inferred = %v, want %v", got, want)
	}
}

func TestExactScore(t *testing.T) {
	for _, tc := range []struct {
		ws   []float64
		want uint16
	}{
		{nil, 0},
		{[]float64{0.4}, 40},
		{[]float64{0.9, 0.6}, 96},
		{[]float64{0.1, 0.45}, 51}, // 50.5 exactly, rounds up
		{[]float64{1, 0.2}, 100},
	} {
		if got := ExactScore(tc.ws); got != tc.want {
			t.Errorf("ExactScore(%v) = %d, want %d", tc.ws, got, tc.want)
		}
	}
}
