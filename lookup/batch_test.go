package lookup

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
)

// specialAddrs are the addresses whose canonical form Lookup decides:
// the zero Addr, zoned ones, IPv4-mapped ones, and the IPv6 aliases of
// the IPv4 space.
func specialAddrs() []netip.Addr {
	p := netip.MustParseAddr
	return []netip.Addr{
		{},
		p("1.2.3.4"), p("::ffff:1.2.3.4"), p("::ffff:1.2.3.4").WithZone("eth0"),
		p("::1.2.3.4"), p("::"), p("::1"), p("0.0.0.0"), p("255.255.255.255"),
		p("fe80::1%eth0"), p("fe80::1"), p("2001:db8::1%1"),
		p("2002:0102:0304::1"), p("2002:c000:0201::"), // 6to4 (RFC 3056)
		p("2001:0:4136:e378:8000:63bf:3fff:fdd2"), // Teredo (RFC 4380)
		p("2001::1"), p("2a00:1450:4001:81c::1"), p("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
	}
}

// checkBatch compares LookupBatch on addrs with Lookup on each address,
// in batches of every length up to a few groups and one large batch.
func checkBatch(t *testing.T, db *DB, addrs []netip.Addr) {
	t.Helper()
	want := make([]Record, len(addrs))
	nwant := 0
	for i, a := range addrs {
		var ok bool
		if want[i], ok = db.Lookup(a); ok {
			nwant++
			if !want[i].Network.IsValid() {
				t.Fatalf("Lookup(%v) found a record without a network", a)
			}
		}
	}
	out := make([]Record, len(addrs)+1)
	sentinel := Record{ASN: 0xdead}
	for _, size := range []int{1, 3, batchGroup - 1, batchGroup, batchGroup + 1, 3*batchGroup + 5, len(addrs)} {
		if size == 0 {
			continue
		}
		found := 0
		for lo := 0; lo < len(addrs); lo += size {
			hi := min(lo+size, len(addrs))
			out[hi] = sentinel
			found += db.LookupBatch(addrs[lo:hi], out[lo:hi+1])
			if out[hi] != sentinel {
				t.Fatalf("LookupBatch wrote past len(addrs) (batch %d)", size)
			}
			for i := lo; i < hi; i++ {
				if out[i] != want[i] {
					t.Fatalf("LookupBatch (batch %d): %v = %+v, Lookup gives %+v", size, addrs[i], out[i], want[i])
				}
			}
		}
		if found != nwant {
			t.Errorf("LookupBatch (batch %d) found %d, Lookup %d", size, found, nwant)
		}
	}
}

// TestLookupBatchFullSize checks LookupBatch against Lookup on the
// benchmark database's query sets (the full-size database when
// IPINTEL_BENCH_DB names it) and on the special addresses.
func TestLookupBatchFullSize(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size database in -short mode")
	}
	e := getBenchEnv(t)
	for _, qs := range querySets {
		t.Run(qs, func(t *testing.T) {
			q := e.queries[qs]
			var mixed []netip.Addr
			for i, a := range q {
				mixed = append(mixed, a)
				if i%7 == 0 {
					mixed = append(mixed, specialAddrs()[i%len(specialAddrs())])
				}
				if i%5 == 0 && a.Is4() {
					mixed = append(mixed, netip.AddrFrom16(a.As16()))
				}
			}
			checkBatch(t, e.db, mixed)
		})
	}
	checkBatch(t, e.db, specialAddrs())
}

// TestLookupBatchTestData checks LookupBatch against Lookup around every
// network of every MaxMind test database, with the mapped and zoned
// forms of each probe.
func TestLookupBatchTestData(t *testing.T) {
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
				return // TestDifferentialTestData covers the broken files
			}
			r, err := maxminddb.OpenBytes(b)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(42, 42))
			addrs := specialAddrs()
			for res := range r.Networks(maxminddb.IncludeAliasedNetworks()) {
				for _, a := range probes(rng, res.Prefix()) {
					addrs = append(addrs, a)
					if a.Is4() {
						addrs = append(addrs, netip.AddrFrom16(a.As16()))
					} else {
						addrs = append(addrs, a.WithZone("eth0"))
					}
				}
			}
			checkBatch(t, db, addrs)
		})
	}
}

func TestLookupBatchAllocs(t *testing.T) {
	db, err := Open(randomDB(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	addrs := specialAddrs()
	out := make([]Record, len(addrs))
	if n := testing.AllocsPerRun(1000, func() { db.LookupBatch(addrs, out) }); n != 0 {
		t.Errorf("LookupBatch allocates %v times", n)
	}
}

func TestLookupBatchShortOut(t *testing.T) {
	db, err := Open(randomDB(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("LookupBatch with a short out did not panic")
		}
	}()
	db.LookupBatch(specialAddrs(), make([]Record, 1))
}
