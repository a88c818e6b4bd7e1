package lookup

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ipintel/ipintel/schema"
	"github.com/oschwald/maxminddb-golang/v2"
)

// want is what maxminddb-golang says about an address, decoded without
// any of the package's own decoding code: the record's fields come from
// a generic map.
type want struct {
	rec     Record // Sources unset
	sources []string
	found   bool
}

// oracle answers lookups with maxminddb-golang, caching decoded records
// by data offset.
type oracle struct {
	r     *maxminddb.Reader
	cache map[uintptr]want
}

func newOracle(r *maxminddb.Reader) *oracle {
	return &oracle{r: r, cache: make(map[uintptr]want)}
}

// lookup returns the expected answer for addr under Lookup's contract:
// an IPv4-mapped address is looked up as IPv4, a zoned one never matches.
func (o *oracle) lookup(tb testing.TB, addr netip.Addr) want {
	tb.Helper()
	if addr.Zone() != "" {
		return want{}
	}
	res := o.r.Lookup(addr.Unmap())
	if res.Err() != nil || !res.Found() {
		return want{}
	}
	w, ok := o.cache[res.Offset()]
	if !ok {
		var v any
		if err := res.Decode(&v); err != nil {
			tb.Fatalf("oracle: decode %v: %v", addr, err)
		}
		w = decodeWant(v)
		o.cache[res.Offset()] = w
	}
	w.rec.Network = res.Prefix()
	return w
}

func decodeWant(v any) want {
	w := want{found: true}
	m, _ := v.(map[string]any)
	for _, c := range schema.Categories() {
		if b, _ := m[c.Key()].(bool); b {
			w.rec.Categories |= c
		}
	}
	if n, ok := schema.Unsigned(m[schema.KeyASN]); ok {
		w.rec.ASN = uint32(n)
	}
	w.rec.Org, _ = m[schema.KeyASOrg].(string)
	if n, ok := schema.Unsigned(m[schema.KeyRiskScore]); ok {
		w.rec.Score = uint8(min(n, 100))
		w.rec.Scored = true
	}
	w.rec.Provider, _ = m[schema.KeyProviderName].(string)
	if n, ok := schema.Unsigned(m[schema.KeyAnonymizerConfidence]); ok {
		w.rec.Confidence = uint8(min(n, 99))
	}
	for _, d := range []struct {
		key string
		to  *Date
	}{{schema.KeyNetworkFirstSeen, &w.rec.FirstSeen}, {schema.KeyNetworkLastSeen, &w.rec.LastSeen}} {
		if s, ok := m[d.key].(string); ok {
			t, err := time.Parse("2006-01-02", s)
			if err != nil {
				panic("oracle: bad date " + s)
			}
			*d.to = Date(t.Unix() / 86400)
		}
	}
	if a, ok := m[schema.KeySources].([]any); ok {
		for _, s := range a {
			w.sources = append(w.sources, s.(string))
		}
		slices.Sort(w.sources)
	}
	return w
}

// check compares db.Lookup(addr) with the oracle.
func (o *oracle) check(tb testing.TB, db *DB, addr netip.Addr) bool {
	tb.Helper()
	w := o.lookup(tb, addr)
	got, ok := db.Lookup(addr)
	names := db.SourceNames(got.Sources)
	got.Sources = 0
	if ok != w.found || got != w.rec || !slices.Equal(names, w.sources) {
		tb.Errorf("Lookup(%v) = %+v %v, %v; want %+v %v, %v", addr, got, names, ok, w.rec, w.sources, w.found)
		return false
	}
	return true
}

// probes returns addresses that exercise p: its first and last address,
// two random ones inside, and the neighbours just outside.
func probes(rng *rand.Rand, p netip.Prefix) []netip.Addr {
	first, last := p.Masked().Addr(), lastAddr(p)
	out := []netip.Addr{first, last, randomIn(rng, p), randomIn(rng, p)}
	if prev := first.Prev(); prev.IsValid() {
		out = append(out, prev)
	}
	if next := last.Next(); next.IsValid() {
		out = append(out, next)
	}
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	host := len(b)*8 - p.Bits()
	for i := len(b) - 1; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		b[i] |= byte(1<<n - 1)
		host -= n
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
