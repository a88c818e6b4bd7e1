package lookup

import (
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/ipintel/ipintel/internal/testdb"
	"github.com/ipintel/ipintel/schema"
)

// TestLookupAllocs checks that Lookup and Decide never allocate.
func TestLookupAllocs(t *testing.T) {
	path := randomDB(t, 1)
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	pol := Policy{Weights: DefaultWeights()}
	for _, tt := range []struct {
		name  string
		addr  netip.Addr
		found bool
	}{
		{"v4 hit", netip.MustParseAddr("10.20.30.40"), true},
		{"v4 miss", netip.MustParseAddr("0.0.0.1"), false},
		{"v4 mapped", netip.MustParseAddr("::ffff:10.20.30.40"), true},
		{"v6 hit", netip.MustParseAddr("2a00:1450:4001:81c::1"), true},
		{"v6 miss", netip.MustParseAddr("fe80::1"), false},
		{"v6 alias", netip.MustParseAddr("2002:a14:1e28::1"), true},
	} {
		if _, ok := db.Lookup(tt.addr); ok != tt.found {
			t.Fatalf("%s: Lookup(%v) found = %v, want %v", tt.name, tt.addr, ok, tt.found)
		}
		var rec Record
		if n := testing.AllocsPerRun(1000, func() { rec, _ = db.Lookup(tt.addr) }); n != 0 {
			t.Errorf("%s: Lookup allocates %v times", tt.name, n)
		}
		if n := testing.AllocsPerRun(1000, func() { _ = pol.Decide(rec) }); n != 0 {
			t.Errorf("%s: Decide allocates %v times", tt.name, n)
		}
		if n := testing.AllocsPerRun(1000, func() { _ = DefaultPolicy().Decide(rec) }); n != 0 {
			t.Errorf("%s: DefaultPolicy().Decide allocates %v times", tt.name, n)
		}
	}
}

// twoDBs writes two databases that answer every address of 198.51.100.0/24
// differently: ASN 1 in the first, ASN 2 in the second.
func twoDBs(t *testing.T) (a, b string) {
	t.Helper()
	write := func(asn uint32) string {
		return writeDB(t, testdb.Options{}, []netip.Prefix{
			netip.MustParsePrefix("198.51.100.0/24"),
			netip.MustParsePrefix("2001:db8::/48"),
		}, []mmdbtype.Map{{schema.KeyASN: mmdbtype.Uint32(asn)}})
	}
	return write(1), write(2)
}

// TestHandleReloadRace hammers Lookup from several goroutines while
// Reload swaps two databases hundreds of times; every answer must come
// from one of the two.
func TestHandleReloadRace(t *testing.T) {
	pathA, pathB := twoDBs(t)
	var h Handle
	if h.Load() != nil {
		t.Fatal("zero Handle: Load() != nil")
	}
	if err := h.Reload(pathA); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var lookups atomic.Int64
	for g := range 4 {
		wg.Go(func() {
			addrs := []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::1")}
			for i := 0; !stop.Load(); i++ {
				db := h.Load()
				r1, ok1 := db.Lookup(addrs[(i+g)%2])
				r2, ok2 := db.Lookup(addrs[(i+g+1)%2])
				if !ok1 || !ok2 || r1.ASN != r2.ASN || (r1.ASN != 1 && r1.ASN != 2) {
					t.Errorf("inconsistent snapshot: %+v %v, %+v %v", r1, ok1, r2, ok2)
					return
				}
				lookups.Add(2)
			}
		})
	}
	for i := range 300 {
		p := pathA
		if i%2 == 0 {
			p = pathB
		}
		if err := h.Reload(p); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if lookups.Load() == 0 {
		t.Fatal("no lookups ran")
	}
	if r, _ := h.Load().Lookup(netip.MustParseAddr("198.51.100.7")); r.ASN != 1 {
		t.Errorf("after the last reload ASN = %d, want 1", r.ASN)
	}
}

// TestHandleFailedReload checks that a failed reload keeps the old DB.
func TestHandleFailedReload(t *testing.T) {
	t.Parallel()
	pathA, _ := twoDBs(t)
	dbA, err := Open(pathA)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandle(dbA)
	b, err := os.ReadFile(pathA)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.mmdb")
	if err := os.WriteFile(truncated, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{truncated, filepath.Join(t.TempDir(), "missing.mmdb")} {
		if err := h.Reload(p); err == nil {
			t.Errorf("Reload(%s) = nil, want an error", p)
		}
		if h.Load() != dbA {
			t.Fatalf("Reload(%s) replaced the DB", p)
		}
	}
	h.Store(nil)
	if h.Load() != nil {
		t.Error("Store(nil): Load() != nil")
	}
}
