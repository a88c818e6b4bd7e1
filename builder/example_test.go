package builder_test

import (
	"bytes"
	"fmt"
	"log"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/ipintel/ipintel/builder"
	"github.com/ipintel/ipintel/feeds"
)

func ExampleBuilder() {
	b, err := builder.New(builder.Options{BuildEpoch: 1767225600})
	if err != nil {
		log.Fatal(err)
	}
	// Feeds in config order; ASN ties go to the feed declared first.
	for _, f := range []builder.Feed{
		{Name: "asn", Kind: "asn"},
		{Name: "tor-exits", Kind: "tor", Weight: 0.9},
		{Name: "abuse", Kind: "abuse", Weight: 0.6},
		{Name: "hosting-asns", Kind: "hosting", Weight: 0.4},
		{Name: "allow", Kind: "allow"},
	} {
		if err := b.AddFeed(f); err != nil {
			log.Fatal(err)
		}
	}
	add := func(feed string, e feeds.Entry) {
		if err := b.Add(feed, e); err != nil {
			log.Fatal(err)
		}
	}
	add("asn", feeds.Entry{Prefix: netip.MustParsePrefix("45.0.0.0/16"), ASN: 64500, Org: "Hosting Inc"})
	add("asn", feeds.Entry{Prefix: netip.MustParsePrefix("45.0.7.0/24"), ASN: 64501, Org: "Home ISP"})
	add("hosting-asns", feeds.Entry{ASN: 64500}) // an asn-list entry: no prefix
	add("tor-exits", feeds.Entry{Prefix: netip.MustParsePrefix("45.0.1.1/32")})
	add("abuse", feeds.Entry{Prefix: netip.MustParsePrefix("45.0.0.0/22")})
	add("abuse", feeds.Entry{Prefix: netip.MustParsePrefix("10.0.0.0/8")}) // reserved: dropped
	add("allow", feeds.Entry{Prefix: netip.MustParsePrefix("45.0.2.0/24")})

	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		log.Fatal(err)
	}
	db, err := maxminddb.OpenBytes(buf.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range []string{"45.0.1.1", "45.0.2.9", "45.0.7.1", "10.1.2.3"} {
		var r struct {
			ASN       uint32   `maxminddb:"autonomous_system_number"`
			Tor       bool     `maxminddb:"is_tor_exit_node"`
			Hosting   bool     `maxminddb:"is_hosting_provider"`
			Abuse     bool     `maxminddb:"is_abuse"`
			Allow     bool     `maxminddb:"is_allowlisted"`
			RiskScore uint16   `maxminddb:"risk_score"`
			Sources   []string `maxminddb:"sources"`
		}
		res := db.Lookup(netip.MustParseAddr(s))
		if err := res.Decode(&r); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-9s found=%v %+v\n", s, res.Found(), r)
	}
	// Output:
	// 45.0.1.1  found=true {ASN:64500 Tor:true Hosting:true Abuse:true Allow:false RiskScore:98 Sources:[abuse hosting-asns tor-exits]}
	// 45.0.2.9  found=true {ASN:64500 Tor:false Hosting:false Abuse:false Allow:true RiskScore:0 Sources:[allow]}
	// 45.0.7.1  found=true {ASN:64501 Tor:false Hosting:false Abuse:false Allow:false RiskScore:0 Sources:[]}
	// 10.1.2.3  found=false {ASN:0 Tor:false Hosting:false Abuse:false Allow:false RiskScore:0 Sources:[]}
}
