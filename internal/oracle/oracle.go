// Package oracle is a slow, obviously correct reference for the builder's
// merge semantics (DESIGN.md §4), for differential tests only. For one
// address it scans every entry of every feed; it shares no code with the
// builder's sweep.
package oracle

import (
	"math/big"
	"net/netip"
	"slices"
	"strconv"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/internal/schema"
)

// Feed is one feed with all its parsed entries, in config order.
type Feed struct {
	Name    string
	Kind    string
	Weight  float64 // effective weight
	Entries []feeds.Entry
}

// Options mirror the config's merge settings.
type Options struct {
	IPv6Prefix   int                   // default 64
	KeepReserved bool                  // keep reserved space
	IsReserved   func(netip.Addr) bool // the reserved space; nil means none
}

// Answer is what a database built from the feeds should say for one address.
type Answer struct {
	Found      bool
	Categories schema.Category
	ASN        uint32
	Org        string
	Sources    []string
	Score      uint16
}

// MMDBAddr returns the address whose record an MMDB with IPv4 aliasing
// returns for addr: IPv4 for IPv4-mapped (::ffff:0:0/96), IPv4-compatible
// (::/96), Teredo (2001::/32, the server address in bits 32-63) and 6to4
// (2002::/16, bits 16-47) addresses, which the tree aliases to its IPv4
// subtree; addr itself otherwise.
func MMDBAddr(addr netip.Addr) netip.Addr {
	if addr.Is4() {
		return addr
	}
	b := addr.As16()
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[i+1], b[i+2], b[i+3]}) }
	switch {
	case addr.Is4In6():
		return addr.Unmap()
	case netip.MustParsePrefix("::/96").Contains(addr):
		return v4(12)
	case netip.MustParsePrefix("2001::/32").Contains(addr):
		return v4(4)
	case netip.MustParsePrefix("2002::/16").Contains(addr):
		return v4(2)
	}
	return addr
}

// effective returns an entry's prefix as the builder uses it: IPv6
// prefixes longer than the aggregation length are widened to it.
func effective(p netip.Prefix, v6 int) netip.Prefix {
	p = p.Masked()
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p.Addr().Is6() && p.Bits() > v6 {
		p = netip.PrefixFrom(p.Addr(), v6).Masked()
	}
	return p
}

// Lookup answers for addr by scanning every entry.
func Lookup(fs []Feed, opts Options, addr netip.Addr) Answer {
	if opts.IPv6Prefix == 0 {
		opts.IPv6Prefix = 64
	}
	addr = MMDBAddr(addr.Unmap())
	if !opts.KeepReserved && opts.IsReserved != nil && opts.IsReserved(addr) {
		return Answer{}
	}

	// ASN: the most specific covering prefix over the asn feeds; ties to
	// the feed listed first, then the lowest ASN, then the smallest org.
	best := -1
	var bestASN uint32
	var bestOrg string
	bestFeed := 0
	for fi, f := range fs {
		if f.Kind != schema.KindASN {
			continue
		}
		for _, e := range f.Entries {
			if !e.Prefix.IsValid() || e.ASN == 0 {
				continue
			}
			p := effective(e.Prefix, opts.IPv6Prefix)
			if !p.Contains(addr) {
				continue
			}
			better := p.Bits() > best ||
				p.Bits() == best && (fi < bestFeed ||
					fi == bestFeed && (e.ASN < bestASN || e.ASN == bestASN && e.Org < bestOrg))
			if better {
				best, bestFeed, bestASN, bestOrg = p.Bits(), fi, e.ASN, e.Org
			}
		}
	}

	var cats schema.Category
	contributing := map[string]float64{}
	allowed := false
	for _, f := range fs {
		if f.Kind == schema.KindASN {
			continue
		}
		kindCat, _ := schema.KindCategory(f.Kind)
		for _, e := range f.Entries {
			var c schema.Category
			switch {
			case !e.Prefix.IsValid():
				if best < 0 || e.ASN != bestASN {
					continue
				}
				c = kindCat
			case effective(e.Prefix, opts.IPv6Prefix).Contains(addr):
				c = kindCat
				if ec := e.Categories &^ schema.CategoryAllow; ec != 0 && f.Kind != schema.KindAllow {
					c = ec
				}
			default:
				continue
			}
			cats |= c
			if f.Kind == schema.KindAllow {
				allowed = true
			}
			contributing[f.Name] = f.Weight
			if f.Kind == schema.KindAllow {
				contributing[f.Name] = -1 // no score term
			}
		}
	}
	a := Answer{Categories: cats}
	if best >= 0 {
		a.ASN, a.Org = bestASN, bestOrg
	}
	for name := range contributing {
		a.Sources = append(a.Sources, name)
	}
	slices.Sort(a.Sources)
	if allowed {
		a.Categories &^= schema.CategoryRisk
	} else {
		var ws []float64
		for _, w := range contributing {
			ws = append(ws, w)
		}
		a.Score = ExactScore(ws)
	}
	a.Found = cats != 0 || best >= 0
	return a
}

// ExactScore computes round(100 × (1 − Π(1 − wᵢ))) in exact rational
// arithmetic, halves rounding up. Each weight is taken as the decimal it
// is written as (0.9 is 9/10, not the binary float nearest to it), which
// is what a config author means.
func ExactScore(weights []float64) uint16 {
	p := big.NewRat(1, 1)
	one := big.NewRat(1, 1)
	for _, w := range weights {
		r, _ := new(big.Rat).SetString(strconv.FormatFloat(w, 'g', -1, 64))
		p.Mul(p, new(big.Rat).Sub(one, r))
	}
	v := new(big.Rat).Sub(one, p)
	v.Mul(v, big.NewRat(100, 1))
	v.Add(v, big.NewRat(1, 2))
	q := new(big.Int).Quo(v.Num(), v.Denom()) // floor, v ≥ 0
	return uint16(q.Int64())
}
