package lookup_test

import (
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"go4.org/netipx"

	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/schema"
)

// exampleDB writes a small ipintel database to a temporary directory and
// returns its path. asn sets the ASN of the Tor exit network, so two
// calls can build two versions of a database.
func exampleDB(dir string, asn uint32) string {
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            schema.DefaultDatabaseType,
		BuildEpoch:              1_767_225_600,
		IncludeReservedNetworks: true, // documentation ranges below
	})
	if err != nil {
		log.Fatal(err)
	}
	insert := func(cidr string, rec mmdbtype.Map) {
		if err := w.Insert(netipx.PrefixIPNet(netip.MustParsePrefix(cidr)), rec); err != nil {
			log.Fatal(err)
		}
	}
	insert("192.0.2.0/24", mmdbtype.Map{
		schema.KeyIsAnonymous:   mmdbtype.Bool(true),
		schema.KeyIsTorExitNode: mmdbtype.Bool(true),
		schema.KeyASN:           mmdbtype.Uint32(asn),
		schema.KeyASOrg:         mmdbtype.String("Example Exit Hosting"),
		schema.KeyRiskScore:     mmdbtype.Uint16(90),
		schema.KeySources:       mmdbtype.Slice{mmdbtype.String("tor-exits")},
	})
	insert("2001:db8::/48", mmdbtype.Map{
		schema.KeyIsAnonymous:       mmdbtype.Bool(true),
		schema.KeyIsHostingProvider: mmdbtype.Bool(true),
		schema.KeyIsAnonymousVPN:    mmdbtype.Bool(true),
		schema.KeyRiskScore:         mmdbtype.Uint16(70),
		schema.KeySources:           mmdbtype.Slice{mmdbtype.String("datacenters"), mmdbtype.String("x4b-vpn")},
	})
	path := filepath.Join(dir, fmt.Sprintf("ipintel-%d.mmdb", asn))
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	return path
}

func ExampleDB_Lookup() {
	dir, err := os.MkdirTemp("", "ipintel-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := lookup.Open(exampleDB(dir, 64496))
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range []string{"192.0.2.77", "::ffff:192.0.2.77", "2001:db8::1", "198.51.100.1"} {
		rec, ok := db.Lookup(netip.MustParseAddr(s))
		if !ok {
			fmt.Printf("%s: not listed\n", s)
			continue
		}
		fmt.Printf("%s: %s %v AS%d score %d sources %v\n",
			s, rec.Network, rec.Categories, rec.ASN, rec.Score, db.SourceNames(rec.Sources))
	}
	// Output:
	// 192.0.2.77: 192.0.2.0/24 tor_exit AS64496 score 90 sources [tor-exits]
	// ::ffff:192.0.2.77: 192.0.2.0/24 tor_exit AS64496 score 90 sources [tor-exits]
	// 2001:db8::1: 2001:db8::/48 vpn,hosting AS0 score 70 sources [datacenters x4b-vpn]
	// 198.51.100.1: not listed
}

// ExampleHandle serves lookups from several goroutines while the database
// is reloaded underneath them.
func ExampleHandle() {
	dir, err := os.MkdirTemp("", "ipintel-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	oldPath, newPath := exampleDB(dir, 64496), exampleDB(dir, 64511)

	var h lookup.Handle // the zero value is ready to use
	if err := h.Reload(oldPath); err != nil {
		log.Fatal(err)
	}
	addr := netip.MustParseAddr("192.0.2.1")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				db := h.Load() // one snapshot per request
				if rec, ok := db.Lookup(addr); !ok || (rec.ASN != 64496 && rec.ASN != 64511) {
					panic("inconsistent answer")
				}
			}
		})
	}
	if err := h.Reload(newPath); err != nil {
		log.Fatal(err)
	}
	wg.Wait()
	if err := h.Reload(filepath.Join(dir, "missing.mmdb")); err != nil {
		fmt.Println("reload failed; still serving the previous database")
	}
	rec, _ := h.Load().Lookup(addr)
	fmt.Printf("AS%d\n", rec.ASN)
	// Output:
	// reload failed; still serving the previous database
	// AS64511
}

func ExamplePolicy_Decide() {
	rec := lookup.Record{
		Network:    netip.MustParsePrefix("2001:db8::/48"),
		Categories: lookup.CategoryVPN | lookup.CategoryHosting,
		Score:      70,
		Scored:     true,
	}
	fmt.Println(lookup.DefaultPolicy().Decide(rec)) // the stored risk_score

	// Recompute with the schema's weights but treat hosting as harmless.
	p := lookup.Policy{Weights: lookup.DefaultWeights(), BlockAt: 90}
	p.Weights[4] = 0 // CategoryHosting is bit 4
	v := p.Decide(rec)
	fmt.Println(v.Action, v.Score, v.Source, v.Reasons)
	// Output:
	// {challenge 70 stored vpn,hosting}
	// challenge 50 policy vpn,hosting
}
