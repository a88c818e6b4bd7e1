package lookup

import (
	"net/netip"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/ipintel/ipintel/internal/testdb"
	"github.com/ipintel/ipintel/schema"
)

// TestLookupZone checks the zone rule of the package documentation: a
// zoned address is not found, even where the same address without its
// zone is, in Lookup and in LookupBatch alike.
func TestLookupZone(t *testing.T) {
	t.Parallel()
	rec := mmdbtype.Map{schema.KeyIsAbuse: mmdbtype.Bool(true)}
	path := writeDB(t, testdb.Options{DatabaseType: schema.DefaultDatabaseType},
		[]netip.Prefix{
			netip.MustParsePrefix("203.0.113.0/24"),
			netip.MustParsePrefix("2001:db8::/32"),
			netip.MustParsePrefix("fe80::/10"), // link-local (RFC 4291 §2.5.6), kept by writeDB
		}, []mmdbtype.Map{rec})
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"2001:db8::1", "fe80::1", "::ffff:203.0.113.7"} {
		addr := netip.MustParseAddr(s)
		if _, ok := db.Lookup(addr); !ok {
			t.Fatalf("Lookup(%v) not found; the test needs it found", addr)
		}
		for _, zone := range []string{"eth0", "1"} {
			zoned := addr.WithZone(zone)
			if got, ok := db.Lookup(zoned); ok || got != (Record{}) {
				t.Errorf("Lookup(%v) = %v, %v, want the zero Record, false", zoned, got, ok)
			}
			out := make([]Record, 1)
			if n := db.LookupBatch([]netip.Addr{zoned}, out); n != 0 || out[0] != (Record{}) {
				t.Errorf("LookupBatch(%v) = %d, %v, want 0, the zero Record", zoned, n, out[0])
			}
		}
	}
}
