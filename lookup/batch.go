package lookup

import "net/netip"

// batchGroup is the number of addresses LookupBatch carries through each
// stage together: enough independent loads to fill the memory system's
// queue, few enough that the group's state stays in registers and L1.
const batchGroup = 16

// batchKind says which table a batched address goes to.
type batchKind uint8

const (
	batchMiss batchKind = iota // no table: zero or zoned address, or IPv6 in an IPv4-only database
	batch4
	batch6
)

// batchSlot is the state of one address between the stages of LookupBatch.
type batchSlot struct {
	a6   u128
	a4   uint32
	w    uint32 // the trie word reached so far
	v    uint32 // record index, once resolved
	kind batchKind
	pfx  netip.Prefix
}

// LookupBatch looks up every address of addrs and stores in out[i]
// what [DB.Lookup] returns for addrs[i]: the record, or the zero Record
// when Lookup reports false. A found record always has a valid Network,
// so out[i].Network.IsValid() reports whether addrs[i] was found.
// LookupBatch returns the number of addresses found. It panics if out is
// shorter than addrs; out[len(addrs):] is left untouched.
//
// The results are those of calling Lookup on each address, in the same
// order, including the treatment of IPv4-mapped and zoned addresses.
// LookupBatch differs in speed only: it takes the addresses in groups and
// carries each group through the lookup's stages together (the
// top-level read of every address, then the trie walks, then the
// ranges, then the records), so that the memory reads of neighbouring
// lookups overlap instead of each lookup waiting for its own chain of
// reads. It does not allocate or lock.
func (db *DB) LookupBatch(addrs []netip.Addr, out []Record) int {
	out = out[:len(addrs)] // panics if out is too short
	found := 0
	var g [batchGroup]batchSlot
	for len(addrs) > 0 {
		n := min(len(addrs), batchGroup)
		found += db.lookupGroup(addrs[:n], out[:n], g[:n])
		addrs, out = addrs[n:], out[n:]
	}
	return found
}

// lookupGroup is LookupBatch for at most batchGroup addresses; g holds
// one slot for each.
func (db *DB) lookupGroup(addrs []netip.Addr, out []Record, g []batchSlot) int {
	g = g[:len(addrs)]
	out = out[:len(addrs)]
	// Stage 1: make each address canonical, as Lookup does, and read its
	// top-level word. The reads are independent, so they overlap.
	top4, top6 := db.v4.top, db.v6.top
	sh4, sh6 := 32-db.v4.topBits&31, 64-db.v6.topBits&63
	for j, addr := range addrs {
		s := &g[j]
		switch {
		case addr.Is4():
			b := addr.As4()
			s.a4 = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			s.kind = batch4
			s.w = top4[s.a4>>sh4]
		case !addr.Is6() || addr.Zone() != "":
			s.kind = batchMiss
		case addr.Is4In6():
			b := addr.As16()
			s.a4 = uint32(b[12])<<24 | uint32(b[13])<<16 | uint32(b[14])<<8 | uint32(b[15])
			s.kind = batch4
			s.w = top4[s.a4>>sh4]
		case db.v4Only:
			s.kind = batchMiss
		default:
			b := addr.AsSlice() // see match6
			s.a6 = u128{beUint64(b[:8]), beUint64(b[8:16])}
			s.kind = batch6
			s.w = top6[s.a6.hi>>sh6]
		}
	}
	// Stage 2: walk the direct levels and nodes down to a leaf.
	for j := range g {
		s := &g[j]
		if s.w&wordInner == 0 {
			continue
		}
		switch s.kind {
		case batch4:
			s.w = db.v4.descend32(s.w, db.v4.topBits, s.a4)
		case batch6:
			s.w = db.v6.descend128(s.w, db.v6.topBits, s.a6)
		}
	}
	// Stage 3: resolve each leaf to a record index and a network.
	for j, addr := range addrs {
		s := &g[j]
		switch s.kind {
		case batchMiss:
			s.v = 0
		case batch4:
			s.v, s.pfx = db.resolve4(s.a4, s.w)
		case batch6:
			s.v, s.pfx = db.resolve6(addr, s.a6, s.w)
		}
	}
	// Stage 4: read the records and build the results.
	found := 0
	for j := range g {
		v := g[j].v
		if v == 0 {
			out[j] = Record{}
			continue
		}
		found++
		out[j] = db.record(v, g[j].pfx)
	}
	return found
}

// resolve4 finishes match4 for the IPv4 address a from its leaf w.
func (db *DB) resolve4(a, w uint32) (uint32, netip.Prefix) {
	if w&wordRec != 0 {
		v := w & wordRecMask
		switch {
		case v == 0:
			return 0, netip.Prefix{}
		case db.hasV4Whole:
			return v, db.v4Whole
		}
		n := int(w >> wordRecBits & 0xFF)
		return v, netip.PrefixFrom(addr4(a&^(1<<(32-n)-1)), n)
	}
	i := db.v4.scan(a, w)
	v := db.v4.hot[i] & (1<<db.v4.vbits - 1)
	switch {
	case v == 0:
		return 0, netip.Prefix{}
	case db.hasV4Whole:
		return v, db.v4Whole
	}
	s, e := db.v4.bounds(a, i, w)
	k := netBits32(a, s, e)
	return v, netip.PrefixFrom(addr4(a&^(1<<k-1)), 32-int(k))
}

// resolve6 finishes match6 for the IPv6 address addr (a as 128 bits)
// from its leaf w.
func (db *DB) resolve6(addr netip.Addr, a u128, w uint32) (uint32, netip.Prefix) {
	if w&wordRec != 0 {
		v := w & wordRecMask
		if v == 0 {
			return 0, netip.Prefix{}
		}
		return v, prefix6(addr, int(w>>wordRecBits&0xFF))
	}
	i := db.v6.scan(a, w)
	v := db.v6.val(i)
	switch {
	case v == 0:
		return 0, netip.Prefix{}
	case v&valueAlias != 0:
		return db.matchAlias(addr, a, int(v&^valueAlias))
	}
	k := netBits128(a, db.v6.start(i), db.v6.end(i))
	return v, prefix6(addr, 128-k)
}
