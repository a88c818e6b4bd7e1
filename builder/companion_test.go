package builder

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/internal/testenv"
	"github.com/ipintel/ipintel/schema"
)

const companionEpoch = 1767225600

// companionFeeds is the bundled excerpts the companion tests build from.
var companionFeeds = []struct {
	feed   Feed
	format feeds.Format
	file   string
}{
	{Feed{Name: "ip2asn-v4", Kind: schema.KindASN}, feeds.FormatIP2ASN, "ip2asn-v4-subset.tsv"},
	{Feed{Name: "ip2asn-v6", Kind: schema.KindASN}, feeds.FormatIP2ASN, "ip2asn-v6.tsv.gz"},
	{Feed{Name: "tor-exits", Kind: "tor", Weight: 0.9}, feeds.FormatTorExitAddresses, "tor-exit-addresses.txt"},
	{Feed{Name: "firehol-level1", Kind: "abuse", Weight: 0.6}, feeds.FormatIPList, "firehol_level1.netset"},
	{Feed{Name: "x4bnet-vpn-v4", Kind: "vpn", Weight: 0.5}, feeds.FormatIPList, "x4bnet-vpn-ipv4.txt"},
	{Feed{Name: "x4bnet-vpn-v6", Kind: "vpn", Weight: 0.5}, feeds.FormatIPList, "x4bnet-vpn-ipv6.txt"},
	{Feed{Name: "x4bnet-datacenter-asn", Kind: "hosting", Weight: 0.4}, feeds.FormatASNList, "x4bnet-datacenter-ASN.txt"},
	{Feed{Name: "allowlist", Kind: schema.KindAllow}, feeds.FormatIPList, "allowlist.txt"},
}

// companionBuilder returns a Builder holding the bundled excerpts.
func companionBuilder(t *testing.T) *Builder {
	t.Helper()
	b, err := New(Options{BuildEpoch: companionEpoch})
	if err != nil {
		t.Fatal(err)
	}
	for _, cf := range companionFeeds {
		if err := b.AddFeed(cf.feed); err != nil {
			t.Fatal(err)
		}
	}
	for _, cf := range companionFeeds {
		data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "testdata", "feeds", cf.file))
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = bytes.NewReader(data)
		if strings.HasSuffix(cf.file, ".gz") {
			if r, err = gzip.NewReader(r); err != nil {
				t.Fatal(err)
			}
		}
		var addErr error
		_, err = feeds.Parse(r, feeds.Options{Format: cf.format, Source: cf.file}, func(e feeds.Entry) {
			if err := b.Add(cf.feed.Name, e); err != nil && addErr == nil {
				addErr = err
			}
		})
		if err != nil || addErr != nil {
			t.Fatalf("%s: %v, %v", cf.file, err, addErr)
		}
	}
	return b
}

// writeAll returns the main file and every companion, in Products order.
func writeAll(t *testing.T, b *Builder) (main []byte, comps map[Product][]byte) {
	t.Helper()
	comps = map[Product][]byte{}
	for _, p := range Products() {
		var buf bytes.Buffer
		n, err := b.WriteCompanion(&buf, p)
		if err != nil {
			t.Fatalf("WriteCompanion(%s): %v", p, err)
		}
		if n != int64(buf.Len()) {
			t.Errorf("WriteCompanion(%s) = %d, wrote %d bytes", p, n, buf.Len())
		}
		comps[p] = buf.Bytes()
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), comps
}

// mainRecord is the main file's record in the fields the companions carry.
type mainRecord struct {
	IsAnonymous        bool   `maxminddb:"is_anonymous"`
	IsAnonymousVPN     bool   `maxminddb:"is_anonymous_vpn"`
	IsHostingProvider  bool   `maxminddb:"is_hosting_provider"`
	IsPublicProxy      bool   `maxminddb:"is_public_proxy"`
	IsResidentialProxy bool   `maxminddb:"is_residential_proxy"`
	IsTorExitNode      bool   `maxminddb:"is_tor_exit_node"`
	ASN                uint   `maxminddb:"autonomous_system_number"`
	Org                string `maxminddb:"autonomous_system_organization"`
}

func openGeoIP2(t *testing.T, data []byte) *geoip2.Reader {
	t.Helper()
	r, err := geoip2.OpenBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCompanionReadersAgreeWithMain(t *testing.T) {
	t.Parallel()
	mainBytes, comps := writeAll(t, companionBuilder(t))
	main, err := maxminddb.OpenBytes(mainBytes)
	if err != nil {
		t.Fatal(err)
	}
	anon := openGeoIP2(t, comps[ProductAnonymousIP])
	plus := openGeoIP2(t, comps[ProductAnonymousPlus])
	asn := openGeoIP2(t, comps[ProductASN])
	raw := map[Product]*maxminddb.Reader{}
	for p, data := range comps {
		r, err := maxminddb.OpenBytes(data)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Verify(); err != nil {
			t.Errorf("%s: Verify: %v", p, err)
		}
		raw[p] = r
	}

	for p, r := range map[Product]*geoip2.Reader{ProductAnonymousIP: anon, ProductAnonymousPlus: plus, ProductASN: asn} {
		md := r.Metadata()
		want := main.Metadata
		if md.DatabaseType != string(p) || md.IPVersion != 6 || md.BuildEpoch != want.BuildEpoch ||
			len(md.Languages) != 1 || md.Languages[0] != "en" || md.Description["en"] == "" {
			t.Errorf("%s metadata = %+v, want database_type %s, ip_version 6, build_epoch %d, languages [en]",
				p, md, p, want.BuildEpoch)
		}
	}
	// The readers choose their methods by database_type.
	if _, err := anon.ASN(netip.MustParseAddr("1.1.1.1")); err == nil {
		t.Error("ASN() on the Anonymous-IP file succeeded")
	}
	if _, err := asn.AnonymousIP(netip.MustParseAddr("1.1.1.1")); err == nil {
		t.Error("AnonymousIP() on the ASN file succeeded")
	}

	var flagged, clean, withASN int
	for res := range main.Networks() {
		var want mainRecord
		if err := res.Decode(&want); err != nil {
			t.Fatal(err)
		}
		pfx := res.Prefix()
		for _, addr := range []netip.Addr{pfx.Addr(), lastAddr(pfx)} {
			a, err := anon.AnonymousIP(addr)
			if err != nil {
				t.Fatal(err)
			}
			gotAnon := mainRecord{IsAnonymous: a.IsAnonymous, IsAnonymousVPN: a.IsAnonymousVPN,
				IsHostingProvider: a.IsHostingProvider, IsPublicProxy: a.IsPublicProxy,
				IsResidentialProxy: a.IsResidentialProxy, IsTorExitNode: a.IsTorExitNode}
			wantAnon := want
			wantAnon.ASN, wantAnon.Org = 0, ""
			if gotAnon != wantAnon {
				t.Errorf("AnonymousIP(%v) = %+v, want %+v", addr, gotAnon, wantAnon)
			}
			found := raw[ProductAnonymousIP].Lookup(addr).Found()
			if found != want.IsAnonymous {
				t.Errorf("Anonymous-IP Lookup(%v).Found() = %v, want %v", addr, found, want.IsAnonymous)
			}
			if want.IsAnonymous {
				flagged++
			} else {
				clean++
			}
			ap, err := plus.AnonymousPlus(addr)
			if err != nil {
				t.Fatal(err)
			}
			if ap.IsAnonymous != a.IsAnonymous || ap.IsAnonymousVPN != a.IsAnonymousVPN ||
				ap.IsHostingProvider != a.IsHostingProvider || ap.IsTorExitNode != a.IsTorExitNode ||
				ap.IsPublicProxy != a.IsPublicProxy || ap.IsResidentialProxy != a.IsResidentialProxy {
				t.Errorf("AnonymousPlus(%v) = %+v, want the flags of %+v", addr, ap, a)
			}
			if got := raw[ProductAnonymousPlus].Lookup(addr).Found(); got != found {
				t.Errorf("Anonymous-Plus Lookup(%v).Found() = %v, want %v", addr, got, found)
			}
			s, err := asn.ASN(addr)
			if err != nil {
				t.Fatal(err)
			}
			if s.AutonomousSystemNumber != want.ASN || s.AutonomousSystemOrganization != want.Org {
				t.Errorf("ASN(%v) = %d %q, want %d %q", addr, s.AutonomousSystemNumber,
					s.AutonomousSystemOrganization, want.ASN, want.Org)
			}
			if got := raw[ProductASN].Lookup(addr).Found(); got != (want.ASN != 0) {
				t.Errorf("ASN Lookup(%v).Found() = %v, want %v", addr, got, want.ASN != 0)
			}
			if want.ASN != 0 {
				withASN++
			}
		}
	}
	if flagged == 0 || clean == 0 || withASN == 0 {
		t.Fatalf("excerpts gave %d flagged, %d clean, %d with an ASN: want some of each", flagged, clean, withASN)
	}

	// Known addresses from the excerpts.
	for _, tc := range []struct {
		addr  string
		tor   bool
		found bool
	}{
		{"171.25.193.25", true, true},     // a Tor exit in tor-exit-addresses.txt
		{"185.241.208.232", false, false}, // a Tor exit, allowlisted
		{"1.1.1.1", false, false},         // Cloudflare: an ASN, no anonymizer flag
		{"192.0.2.1", false, false},       // TEST-NET-1 (RFC 5737)
	} {
		addr := netip.MustParseAddr(tc.addr)
		a, err := anon.AnonymousIP(addr)
		if err != nil {
			t.Fatal(err)
		}
		found := raw[ProductAnonymousIP].Lookup(addr).Found()
		if a.IsTorExitNode != tc.tor || found != tc.found {
			t.Errorf("AnonymousIP(%v) = tor %v found %v, want tor %v found %v", addr, a.IsTorExitNode, found, tc.tor, tc.found)
		}
	}
	if s, _ := asn.ASN(netip.MustParseAddr("1.1.1.1")); s.AutonomousSystemNumber != 13335 {
		t.Errorf("ASN(1.1.1.1) = %d, want 13335", s.AutonomousSystemNumber)
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range a {
		for j := range 8 {
			if i*8+j >= bits {
				a[i] |= 0x80 >> j
			}
		}
	}
	addr, _ := netip.AddrFromSlice(a)
	return addr
}

func TestCompanionDeterministic(t *testing.T) {
	t.Parallel()
	main1, comps1 := writeAll(t, companionBuilder(t))
	main2, comps2 := writeAll(t, companionBuilder(t))
	if !bytes.Equal(main1, main2) {
		t.Error("main file differs between two builds of the same inputs")
	}
	for _, p := range Products() {
		if !bytes.Equal(comps1[p], comps2[p]) {
			t.Errorf("%s differs between two builds of the same inputs", p)
		}
	}
	// The order of the calls changes nothing either.
	b := companionBuilder(t)
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), main1) {
		t.Error("main file written first differs")
	}
	for _, p := range []Product{ProductASN, ProductAnonymousPlus, ProductAnonymousIP} {
		buf.Reset()
		if _, err := b.WriteCompanion(&buf, p); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), comps1[p]) {
			t.Errorf("%s written after the main file differs", p)
		}
	}
}

// syntheticBuilder returns a Builder whose merge result is res, for the
// fields no bundled feed sets yet.
func syntheticBuilder(t *testing.T, res *mergeResult) *Builder {
	t.Helper()
	b, err := New(Options{BuildEpoch: companionEpoch})
	if err != nil {
		t.Fatal(err)
	}
	res.epoch = companionEpoch
	b.written, b.result = true, res
	return b
}

// plusResult holds every field the companions carry, on adjacent networks
// whose companion records are equal but whose main records are not.
func plusResult() *mergeResult {
	vpn := &record{cats: schema.CategoryVPN | schema.CategoryAbuse, asn: 64500, org: "VPN Co",
		sources: []string{"a", "b"}, score: 70, provider: "ExampleVPN", confidence: 30,
		firstSeen: "2026-01-02", lastSeen: "2026-11-30"}
	vpn2 := *vpn
	vpn2.sources, vpn2.score = []string{"a"}, 50 // same companion records, different main record
	all := &record{cats: schema.CategoryAnonymous | schema.CategoryCrawler, asn: 64501, org: "Everything",
		sources: []string{"c"}, score: 99, provider: "Prov", confidence: 99, lastSeen: "2026-12-01"}
	hosting := &record{cats: schema.CategoryHosting, asn: 64502, sources: []string{"d"}, score: 40}
	asnOnly := &record{asn: 64503, org: "Home ISP"}
	return &mergeResult{
		pfxs: []netip.Prefix{
			netip.MustParsePrefix("1.2.3.0/25"),
			netip.MustParsePrefix("1.2.3.128/26"),
			netip.MustParsePrefix("1.2.3.192/26"),
			netip.MustParsePrefix("1.2.4.0/24"),
			netip.MustParsePrefix("1.2.5.0/24"),
			netip.MustParsePrefix("1.2.6.0/24"),
			netip.MustParsePrefix("2001:db8::/48"),
		},
		recOf: []int32{0, 1, 0, 2, 3, 4, 2},
		recs:  []*record{vpn, &vpn2, all, hosting, asnOnly},
	}
}

func TestCompanionPlusFieldsAndMerging(t *testing.T) {
	t.Parallel()
	_, comps := writeAll(t, syntheticBuilder(t, plusResult()))
	plus := openGeoIP2(t, comps[ProductAnonymousPlus])
	anon := openGeoIP2(t, comps[ProductAnonymousIP])
	asn := openGeoIP2(t, comps[ProductASN])

	got, err := plus.AnonymousPlus(netip.MustParseAddr("1.2.3.200"))
	if err != nil {
		t.Fatal(err)
	}
	if !got.IsAnonymous || !got.IsAnonymousVPN || got.IsHostingProvider || got.IsTorExitNode ||
		got.ProviderName != "ExampleVPN" || got.AnonymizerConfidence != 30 ||
		got.NetworkLastSeen.Format("2006-01-02") != "2026-11-30" {
		t.Errorf("AnonymousPlus(1.2.3.200) = %+v", got)
	}
	// The three /25-/26 networks have equal companion records: one /24.
	if want := netip.MustParsePrefix("1.2.3.0/24"); got.Network != want {
		t.Errorf("AnonymousPlus(1.2.3.200).Network = %v, want %v", got.Network, want)
	}
	a, err := anon.AnonymousIP(netip.MustParseAddr("1.2.4.1"))
	if err != nil {
		t.Fatal(err)
	}
	want := geoip2.AnonymousIP{IPAddress: netip.MustParseAddr("1.2.4.1"), Network: netip.MustParsePrefix("1.2.4.0/24"),
		IsAnonymous: true, IsAnonymousVPN: true, IsHostingProvider: true, IsPublicProxy: true,
		IsResidentialProxy: true, IsTorExitNode: true}
	if *a != want {
		t.Errorf("AnonymousIP(1.2.4.1) = %+v, want %+v", *a, want)
	}
	// Hosting alone is in the anonymous files, as is_anonymous + is_hosting_provider.
	a, err = anon.AnonymousIP(netip.MustParseAddr("1.2.5.1"))
	if err != nil {
		t.Fatal(err)
	}
	if !a.IsAnonymous || !a.IsHostingProvider || a.IsAnonymousVPN {
		t.Errorf("AnonymousIP(1.2.5.1) = %+v, want is_anonymous and is_hosting_provider", *a)
	}
	// An ASN alone is in the ASN file only.
	for _, tc := range []struct {
		p     Product
		addr  string
		found bool
	}{
		{ProductAnonymousIP, "1.2.6.1", false},
		{ProductAnonymousPlus, "1.2.6.1", false},
		{ProductASN, "1.2.6.1", true},
		{ProductAnonymousIP, "2001:db8::1", true},
		{ProductASN, "2001:db8::1", true},
		{ProductASN, "1.2.7.1", false},
	} {
		r, err := maxminddb.OpenBytes(comps[tc.p])
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Lookup(netip.MustParseAddr(tc.addr)).Found(); got != tc.found {
			t.Errorf("%s: Lookup(%s).Found() = %v, want %v", tc.p, tc.addr, got, tc.found)
		}
	}
	s, err := asn.ASN(netip.MustParseAddr("1.2.3.1"))
	if err != nil {
		t.Fatal(err)
	}
	if s.AutonomousSystemNumber != 64500 || s.AutonomousSystemOrganization != "VPN Co" ||
		s.Network != netip.MustParsePrefix("1.2.3.0/24") {
		t.Errorf("ASN(1.2.3.1) = %+v, want 64500 \"VPN Co\" in 1.2.3.0/24", *s)
	}
	// IPv4 is reachable through mmdbwriter's default aliases.
	s, err = asn.ASN(netip.MustParseAddr("::ffff:1.2.6.1"))
	if err != nil {
		t.Fatal(err)
	}
	if s.AutonomousSystemNumber != 64503 {
		t.Errorf("ASN(::ffff:1.2.6.1) = %d, want 64503", s.AutonomousSystemNumber)
	}
}

// wireKinds collects the MMDB kind of every key of the maps it decodes.
type wireKinds map[string]mmdbdata.Kind

func (k wireKinds) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	mc, err := c.Map()
	if err != nil {
		return c, err
	}
	var next mmdbdata.Cursor
	for {
		key, val, ok := mc.Next(next)
		if !ok {
			break
		}
		kind, err := val.Kind()
		if err != nil {
			return c, err
		}
		k[string(key)] = kind
		if next, err = val.Skip(); err != nil {
			return c, err
		}
	}
	return mc.End()
}

func fileKinds(t *testing.T, r *maxminddb.Reader) wireKinds {
	t.Helper()
	kinds := wireKinds{}
	for res := range r.Networks() {
		if err := res.Decode(&kinds); err != nil {
			t.Fatal(err)
		}
	}
	return kinds
}

// TestCompanionWireTypes checks every key of each companion against
// MaxMind's own test database of the product: the same keys, each of the
// same MMDB type, and the same metadata shape.
func TestCompanionWireTypes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(testenv.SharedFeeds(t), "mmdb-testdata", "test-data")
	_, comps := writeAll(t, syntheticBuilder(t, plusResult()))
	for _, p := range Products() {
		theirs, err := maxminddb.Open(filepath.Join(dir, string(p)+"-Test.mmdb"))
		if err != nil {
			t.Fatal(err)
		}
		ours, err := maxminddb.OpenBytes(comps[p])
		if err != nil {
			t.Fatal(err)
		}
		tm, om := theirs.Metadata, ours.Metadata
		if tm.DatabaseType != om.DatabaseType || tm.IPVersion != om.IPVersion ||
			fmt.Sprint(tm.Languages) != fmt.Sprint(om.Languages) || tm.RecordSize != om.RecordSize {
			t.Errorf("%s: metadata %+v, MaxMind's %+v", p, om, tm)
		}
		want, got := fileKinds(t, theirs), fileKinds(t, ours)
		t.Logf("%s: %v", p, got)
		if len(got) != len(want) {
			t.Errorf("%s: keys %v, MaxMind's %v", p, got, want)
		}
		for key, k := range got {
			if wk, ok := want[key]; !ok || wk != k {
				t.Errorf("%s: %s is %v, MaxMind's is %v (present %v)", p, key, k, wk, ok)
			}
		}
	}
}

func TestWriteOutputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outs := []OutputConfig{
		{Path: filepath.Join(dir, "anon.mmdb"), Product: ProductAnonymousIP},
		{Path: filepath.Join(dir, "plus.mmdb"), Product: ProductAnonymousPlus},
		{Path: filepath.Join(dir, "asn.mmdb"), Product: ProductASN},
	}
	b := syntheticBuilder(t, plusResult())
	sums, err := writeOutputs(context.Background(), b, outs)
	if err != nil {
		t.Fatal(err)
	}
	wantNetworks := map[Product]int{ProductAnonymousIP: 4, ProductAnonymousPlus: 4, ProductASN: 5}
	for i, s := range sums {
		data, err := os.ReadFile(outs[i].Path)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := b.WriteCompanion(&buf, outs[i].Product); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, buf.Bytes()) {
			t.Errorf("%s differs from WriteCompanion's bytes", s.Path)
		}
		want := OutputSummary{Path: outs[i].Path, Product: outs[i].Product, Networks: wantNetworks[outs[i].Product], Size: int64(len(data))}
		if s != want {
			t.Errorf("summary %d = %+v, want %+v", i, s, want)
		}
		st, err := os.Stat(outs[i].Path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s mode %v, want 0644", s.Path, st.Mode().Perm())
		}
	}
	assertNoTemps(t, dir)
}

func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	tmps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	if len(tmps) > 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

// TestWriteOutputsAllOrNothing: when one output cannot be written, none is
// replaced and no temporary file is left.
func TestWriteOutputsAllOrNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := filepath.Join(dir, "anon.mmdb")
	old := []byte("the previous build's file")
	if err := os.WriteFile(first, old, 0o644); err != nil {
		t.Fatal(err)
	}
	outs := []OutputConfig{
		{Path: first, Product: ProductAnonymousIP},
		{Path: filepath.Join(dir, "missing-dir", "asn.mmdb"), Product: ProductASN},
	}
	if _, err := writeOutputs(context.Background(), syntheticBuilder(t, plusResult()), outs); err == nil {
		t.Fatal("writeOutputs with an unwritable second output succeeded")
	} else if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "asn.mmdb") {
		t.Errorf("writeOutputs error = %v, want the second output's missing directory", err)
	}
	if got, _ := os.ReadFile(first); !bytes.Equal(got, old) {
		t.Errorf("first output = %q, want its previous bytes %q", got, old)
	}
	assertNoTemps(t, dir)

	// An unknown product fails the same way, before anything is renamed.
	outs[1] = OutputConfig{Path: filepath.Join(dir, "x.mmdb"), Product: "GeoIP2-City"}
	if _, err := writeOutputs(context.Background(), syntheticBuilder(t, plusResult()), outs); err == nil {
		t.Fatal("writeOutputs with an unknown product succeeded")
	}
	if got, _ := os.ReadFile(first); !bytes.Equal(got, old) {
		t.Errorf("first output = %q, want its previous bytes %q", got, old)
	}
	assertNoTemps(t, dir)
}

// TestWriteBuild: the main file is published with the companions, and
// kept with them when one fails.
func TestWriteBuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "ipintel.mmdb")
	old := []byte("the previous build's file")
	if err := os.WriteFile(out, old, 0o644); err != nil {
		t.Fatal(err)
	}
	outs := []OutputConfig{
		{Path: filepath.Join(dir, "asn.mmdb"), Product: ProductASN},
		{Path: filepath.Join(dir, "missing-dir", "anon.mmdb"), Product: ProductAnonymousIP},
	}
	if _, _, err := writeBuild(context.Background(), syntheticBuilder(t, plusResult()), out, outs); err == nil {
		t.Fatal("writeBuild with an unwritable output succeeded")
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, old) {
		t.Errorf("main file = %q, want its previous bytes %q", got, old)
	}
	if _, err := os.Stat(outs[0].Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("first output published by a failed build: %v", err)
	}
	assertNoTemps(t, dir)

	outs[1].Path = filepath.Join(dir, "anon.mmdb")
	b := syntheticBuilder(t, plusResult())
	size, sums, err := writeBuild(context.Background(), b, out, outs)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, buf.Bytes()) || size != int64(buf.Len()) {
		t.Errorf("main file: %d bytes, size %d; want WriteTo's %d bytes", len(got), size, buf.Len())
	}
	if len(sums) != 2 || sums[0].Product != ProductASN || sums[1].Product != ProductAnonymousIP {
		t.Errorf("summaries = %+v", sums)
	}
	assertNoTemps(t, dir)
}

// TestWriteBuildInterrupted: a build stopped after every file was
// written, before the renames, leaves every path as it was. Not parallel:
// it sets the beforeRename hook.
func TestWriteBuildInterrupted(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ipintel.mmdb")
	outs := []OutputConfig{{Path: filepath.Join(dir, "asn.mmdb"), Product: ProductASN}}
	for _, p := range []string{out, outs[0].Path} {
		if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	calls := 0
	old := beforeRename
	beforeRename = func(tmp string) error {
		calls++
		if calls == 2 {
			return errors.New("killed")
		}
		return nil
	}
	defer func() { beforeRename = old }()
	if _, _, err := writeBuild(context.Background(), syntheticBuilder(t, plusResult()), out, outs); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("writeBuild = %v, want the hook's error", err)
	}
	for _, p := range []string{out, outs[0].Path} {
		if got, _ := os.ReadFile(p); string(got) != p {
			t.Errorf("%s = %q, want its previous bytes", p, got)
		}
	}
	assertNoTemps(t, dir)
}

func TestParseProduct(t *testing.T) {
	t.Parallel()
	for _, p := range Products() {
		if got, ok := ParseProduct(p.String()); !ok || got != p {
			t.Errorf("ParseProduct(%q) = %q, %v", p, got, ok)
		}
	}
	for _, s := range []string{"", "GeoIP2-City", "geolite2-asn", "ipintel"} {
		if got, ok := ParseProduct(s); ok {
			t.Errorf("ParseProduct(%q) = %q, true; want false", s, got)
		}
	}
	if s := Product("x").String(); s != `Product("x")` {
		t.Errorf(`Product("x").String() = %s`, s)
	}
}

// TestCompanionPython reads the companions with MaxMind's Python reader
// (Debian's python3-geoip2); skipped when it is missing, except under
// CI=true.
func TestCompanionPython(t *testing.T) {
	t.Parallel()
	const python = "/usr/bin/python3" // Debian's python3-geoip2 installs for it alone
	if err := exec.Command(python, "-c", "import geoip2.database").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-geoip2 is required under CI=true (apt-get install python3-geoip2): %v", err)
		}
		t.Skipf("python3-geoip2 not available: %v", err)
	}
	dir := t.TempDir()
	_, comps := writeAll(t, syntheticBuilder(t, plusResult()))
	for p, data := range comps {
		if err := os.WriteFile(filepath.Join(dir, string(p)+".mmdb"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const script = `
import sys, geoip2.database, geoip2.errors
d = sys.argv[1]
anon = geoip2.database.Reader(d + "/GeoIP2-Anonymous-IP.mmdb")
asn = geoip2.database.Reader(d + "/GeoLite2-ASN.mmdb")
print(anon.metadata().database_type, asn.metadata().database_type)
for ip in ["1.2.3.200", "1.2.4.1", "2001:db8::1"]:
    r = anon.anonymous_ip(ip)
    # is_residential_proxy is newer than some packaged readers: read it when known.
    print(ip, r.is_anonymous, r.is_anonymous_vpn, r.is_hosting_provider, r.is_public_proxy,
          r.is_tor_exit_node, r.raw.get("is_residential_proxy", False))
try:
    anon.anonymous_ip("1.2.6.1")
    print("1.2.6.1 found")
except geoip2.errors.AddressNotFoundError:
    print("1.2.6.1 not found")
for ip in ["1.2.3.1", "1.2.6.1"]:
    r = asn.asn(ip)
    print(ip, r.autonomous_system_number, r.autonomous_system_organization)
`
	out, err := exec.Command(python, "-c", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	want := `GeoIP2-Anonymous-IP GeoLite2-ASN
1.2.3.200 True True False False False False
1.2.4.1 True True True True True True
2001:db8::1 True True True True True True
1.2.6.1 not found
1.2.3.1 64500 VPN Co
1.2.6.1 64503 Home ISP
`
	if string(out) != want {
		t.Errorf("python3-geoip2 read:\n%s\nwant:\n%s", out, want)
	}
}
