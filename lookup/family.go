package lookup

import (
	"math/bits"
)

// The index over a family's ranges is a multibit trie in the manner of
// Poptrie (Asai and Ohara, SIGCOMM 2015): a direct-indexed top level on
// the first 18 (IPv4) or 16 (IPv6) address bits, direct-indexed levels
// sized to the ranges under dense slots, then nodes of 6-bit strides.
// A node holds
// two 64-bit vectors: vector marks the slots that have a child node,
// leafvec marks the slots where a new run of identical leaves starts;
// children and leaves are stored contiguously, so a popcount of the bits
// below a slot finds either. Nodes hold no pointers, only indexes into
// flat arrays, so the garbage collector never scans them.
//
// Unlike Poptrie, a leaf is not a next hop but a word naming the first
// range that overlaps its slot and how many more ranges start inside it
// (at most maxChunk): the trie stops descending as soon as a slot holds
// few ranges, and the lookup finishes with a short branch-free scan of
// the sorted range starts. The trie therefore has a node only where ranges
// are dense, and its size follows the number of ranges, not the depth of
// the networks.

// A trie word is a leaf or, in the top and direct levels only, a
// reference to a node or a direct level:
//
//	bits 0-25   first range index (leaf), node index (wordNode) or
//	            direct level index (wordDirect)
//	bits 26-31  number of further range starts inside the slot (leaf,
//	            at most maxChunk), wordMiss>>26, wordDirect or wordNode
const (
	wordIndexBits = 26
	wordIndexMask = 1<<wordIndexBits - 1
	wordNode      = 63
	// wordDirect names a direct-indexed level (see direct); it appears in
	// the top level and in direct levels, never in node leaves.
	wordDirect = 61
	// wordMiss is the leaf of a slot that lies wholly in a gap between
	// networks: the lookup ends there without reading a range.
	wordMiss = 62 << wordIndexBits
	// A word whose top two bits are 10 is a record leaf: its slot lies
	// wholly inside one MMDB network, so the leaf holds the record index
	// (bits 0-21) and the network's prefix length (bits 22-29) and the
	// lookup ends without reading a range, as a Poptrie leaf holds its
	// next hop.
	wordRecTag  = 2
	wordRecBits = 22
	wordRecMask = 1<<wordRecBits - 1
	stride      = 6
)

// maxRanges is the number of ranges a family may hold: the range index
// must fit in a trie word.
const maxRanges = wordIndexMask

// node is one trie node; see the comment above.
type node struct {
	vector  uint64 // slots with a child node
	leafvec uint64 // slots that start a run of identical leaves
	base0   uint32 // index of the node's first leaf in leaves
	base1   uint32 // index of the node's first child in nodes
}

// trie is the index of one family.
type trie struct {
	top     []uint32 // 1<<topBits words
	topBits uint     // see topBits4 and topBits6
	nodes   []node
	leaves  []uint32
	directs []direct
	dwords  []uint32 // the words of every direct second level
}

// direct is a direct-indexed level under a slot dense with ranges:
// 1<<bits words at dwords[off:], indexed by the address bits that follow
// the slot's. Its size follows the slot's number of ranges (see
// directBits), so it costs memory only where ranges are dense, and it
// replaces the several node levels a dense slot would otherwise need
// with one read. Its words are leaves, nodes or further direct levels.
type direct struct {
	off  uint32
	bits uint32
}

// directBits returns the width of the direct level for a slot holding n
// ranges (one word per two to four ranges), or 0 when the slot is sparse
// enough for nodes alone.
func directBits(n int) uint {
	if n < 64 {
		return 0
	}
	return uint(min(bits.Len(uint(n))-2, 16))
}

// topBits4 returns the top-level width of an IPv4 trie over n ranges: 18
// bits (1 MiB, where almost every lookup of a full database ends) for a
// large table, 10 bits for a small one, which then costs 4 KiB and builds
// in microseconds.
func topBits4(n int) uint {
	if n >= 1<<15 {
		return 18
	}
	return 10
}

// topBits6 is topBits4 for IPv6. It is 4 modulo the stride, so that no
// node's stride straddles the two 64-bit halves of an address.
func topBits6(n int) uint {
	if n >= 1<<13 {
		return 16
	}
	return 10
}

func (t *trie) bytes() int {
	return 4*len(t.top) + 24*len(t.nodes) + 4*len(t.leaves) + 8*len(t.directs) + 4*len(t.dwords)
}

// family4 holds the IPv4 ranges. ranges[i] packs range i's first
// address (high 32 bits) and record index (low 32 bits); range i covers
// [start(i), start(i+1)-1]. A sentinel entry with start 0 ends the slice,
// so that start(i+1)-1 is the last address for the last range too. One
// array rather than two keeps a range's start, its record and the next
// start in one cache line.
type family4 struct {
	ranges []uint64
	trie
}

func (f *family4) init(r rangeList) {
	f.ranges = make([]uint64, len(r.starts)+1)
	keys := make([]u128, len(r.starts))
	for i, s := range r.starts {
		f.ranges[i] = s.lo<<32 | uint64(r.vals[i])
		keys[i] = u128{s.lo << 32, 0}
	}
	f.trie = buildTrie(keys, r.vals, topBits4(len(keys)), maxChunk4, 32)
}

func (f *family4) len() int           { return len(f.ranges) - 1 }
func (f *family4) start(i int) uint32 { return uint32(f.ranges[i] >> 32) }
func (f *family4) val(i int) uint32   { return uint32(f.ranges[i]) }
func (f *family4) end(i int) uint32   { return f.start(i+1) - 1 }
func (f *family4) bytes() int         { return 8*len(f.ranges) + f.trie.bytes() }

// find returns the index of the range containing a; or -1 when a lies in
// a gap that a trie word already names (wordMiss); or -2 and the record
// leaf that answers a.
func (f *family4) find(a uint32) (int, uint32) {
	w := f.top[a>>(32-f.topBits&31)]
	d := f.topBits
	for w>>wordIndexBits == wordDirect {
		dt := f.directs[w&wordIndexMask]
		w = f.dwords[dt.off+(a<<(d&31))>>(32-dt.bits&31)]
		d += uint(dt.bits)
	}
	if w>>wordIndexBits == wordNode {
		k := uint64(a) << 32
		n := &f.nodes[w&wordIndexMask]
		for sh := 64 - stride - d; ; sh -= stride {
			bit := uint64(1) << (k >> (sh & 63) & 63)
			if n.vector&bit != 0 {
				n = &f.nodes[n.base1+uint32(bits.OnesCount64(n.vector&(bit-1)))]
				continue
			}
			w = f.leaves[n.base0+uint32(bits.OnesCount64(n.leafvec&(bit|(bit-1))))-1]
			break
		}
	}
	switch {
	case w == wordMiss:
		return -1, 0
	case w>>30 == wordRecTag:
		return -2, w
	}
	lo := int(w & wordIndexMask)
	i := lo
	// A packed entry is ≤ key exactly when its start is ≤ a.
	key := uint64(a)<<32 | 0xFFFFFFFF
	for _, x := range f.ranges[lo+1 : lo+1+int(w>>wordIndexBits)] {
		if x <= key {
			i++
		}
	}
	return i, 0
}

// family6 holds the IPv6 ranges, with a sentinel as family4 does. A
// range's start is stored as its high half beside its value, one 16-byte
// entry, so the scan that ends a lookup and the value it then needs share
// cache lines. Low halves are stored only for the leading starts that
// need them: lo holds the low halves of the first len(lo) starts, and
// every later start has a zero low half. ipintel widens IPv6 to /64, so in
// its databases only the starts inside ::/64 (the aliases of the IPv4
// subtree at ::/96 and ::ffff:0:0/96), which sort first, have one.
type family6 struct {
	r  []range6
	lo []uint64
	trie
}

// range6 is the high half of a range's start and the range's value.
type range6 struct {
	hi  uint64
	val uint32
}

func (f *family6) init(r rangeList) {
	f.r = make([]range6, len(r.starts)+1)
	nlo := 0
	for i, s := range r.starts {
		f.r[i] = range6{s.hi, r.vals[i]}
		if s.lo != 0 {
			nlo = i + 1
		}
	}
	f.lo = make([]uint64, nlo)
	for i := range nlo {
		f.lo[i] = r.starts[i].lo
	}
	f.trie = buildTrie(r.starts, r.vals, topBits6(len(r.starts)), maxChunk6, 128)
}

func (f *family6) len() int { return len(f.r) - 1 }

func (f *family6) start(i int) u128 {
	if i < len(f.lo) {
		return u128{f.r[i].hi, f.lo[i]}
	}
	return u128{f.r[i].hi, 0}
}

func (f *family6) val(i int) uint32 { return f.r[i].val }
func (f *family6) end(i int) u128   { return f.start(i + 1).subOne() }
func (f *family6) bytes() int       { return 16*len(f.r) + 8*len(f.lo) + f.trie.bytes() }

// find returns what family4.find returns.
func (f *family6) find(a u128) (int, uint32) {
	w := f.top[a.hi>>(64-f.topBits&63)]
	d := f.topBits
	for w>>wordIndexBits == wordDirect {
		dt := f.directs[w&wordIndexMask]
		w = f.dwords[dt.off+a.bitsAt(d, uint(dt.bits))]
		d += uint(dt.bits)
	}
	if w>>wordIndexBits == wordNode {
		n := &f.nodes[w&wordIndexMask]
		for ; ; d += stride {
			var v uint64
			switch {
			case d <= 64-stride:
				v = a.hi >> (64 - stride - d) & 63
			case d < 64: // the stride straddles the two halves
				v = (a.hi<<(d-(64-stride)) | a.lo>>(128-stride-d)) & 63
			case d <= 128-stride:
				v = a.lo >> (128 - stride - d) & 63
			default:
				v = a.lo << (d + stride - 128) & 63
			}
			bit := uint64(1) << v
			if n.vector&bit != 0 {
				n = &f.nodes[n.base1+uint32(bits.OnesCount64(n.vector&(bit-1)))]
				continue
			}
			w = f.leaves[n.base0+uint32(bits.OnesCount64(n.leafvec&(bit|(bit-1))))-1]
			break
		}
	}
	switch {
	case w == wordMiss:
		return -1, 0
	case w>>30 == wordRecTag:
		return -2, w
	}
	lo := int(w & wordIndexMask)
	end := lo + 1 + int(w>>wordIndexBits)
	i := lo
	if lo+1 >= len(f.lo) {
		// Every start in the window has a zero low half, and a start
		// (h, 0) is ≤ a exactly when h ≤ a.hi.
		for _, x := range f.r[lo+1 : end] {
			if x.hi <= a.hi {
				i++
			}
		}
		return i, 0
	}
	for j := lo + 1; j < end; j++ {
		if !a.less(f.start(j)) {
			i++
		}
	}
	return i, 0
}

// trieBuilder builds the trie over sorted range starts, as 128-bit keys
// (IPv4 addresses are left-aligned: their key is the address << 96).
type trieBuilder struct {
	keys      []u128
	vals      []uint32
	maxChunk  int // further range starts a leaf may hold
	directEnd int // a direct level must end by this bit

	t trie
}

// The number of further range starts a leaf may hold before its slot
// gets a node: a leaf's ranges are scanned linearly, 8 bytes each (16 for
// IPv6 tables that are not /64-aligned). Lookup times on a database built
// from the shared feeds vary little between 6 and 30; memory falls as the
// limit grows.
const (
	maxChunk4 = 14
	maxChunk6 = 14
)

// buildTrie indexes the ranges starting at keys (sorted, keys[0] = 0),
// with a top level of 1<<topBits words; vals[i] == 0 marks a gap.
// A direct level must end by bit directEnd: 32 for IPv4, whose lookup
// reads the address as 32 bits, 128 for IPv6.
func buildTrie(keys []u128, vals []uint32, topBits uint, maxChunk, directEnd int) trie {
	b := &trieBuilder{keys: keys, vals: vals, maxChunk: maxChunk, directEnd: directEnd}
	b.t.top = make([]uint32, 1<<topBits)
	b.t.topBits = topBits
	d := int(topBits)
	b.sweep(u128{}, 0, d, 0, func(j, lo, hi int) {
		b.t.top[j] = b.slotWord(slotBase(u128{}, 0, d, j), d, lo, hi)
	})
	return b.t
}

// slotWord returns the word for a slot at base, whose first d bits are
// fixed, overlapping ranges lo to hi: a leaf, a new direct level for a
// dense slot, or a new node.
func (b *trieBuilder) slotWord(base u128, d, lo, hi int) uint32 {
	if hi-lo <= b.maxChunk {
		return b.leafWord(base, d, lo, hi-lo)
	}
	if k := int(directBits(hi - lo)); k > 0 && d+k <= b.directEnd {
		dt := direct{off: uint32(len(b.t.dwords)), bits: uint32(k)}
		w := wordDirect<<wordIndexBits | uint32(len(b.t.directs))
		b.t.directs = append(b.t.directs, dt)
		b.t.dwords = append(b.t.dwords, make([]uint32, 1<<k)...)
		b.sweep(base, d, k, lo, func(j, lo, hi int) {
			b.t.dwords[int(dt.off)+j] = b.slotWord(slotBase(base, d, k, j), d+k, lo, hi)
		})
		return w
	}
	ni := len(b.t.nodes)
	b.t.nodes = append(b.t.nodes, node{})
	b.buildNode(ni, base, d, lo)
	return wordNode<<wordIndexBits | uint32(ni)
}

// leafWord returns the leaf for a slot at base (depth d) overlapping
// range lo and extra more: a miss, a record leaf, or a chunk of ranges.
func (b *trieBuilder) leafWord(base u128, d, lo, extra int) uint32 {
	v := b.vals[lo]
	switch {
	case extra != 0:
	case v == 0:
		return wordMiss
	case v < 1<<wordRecBits: // not an alias (valueAlias), and small enough
		// The network of an address is the largest aligned block around
		// it inside its range (see netBits32); when the block around the
		// slot's first address covers the slot, every address of the
		// slot has that network.
		end := lowMask(128)
		if lo+1 < len(b.keys) {
			end = b.keys[lo+1].subOne()
		}
		if k := netBits128(base, b.keys[lo], end); k >= 128-d {
			return wordRecTag<<30 | uint32(128-k)<<wordRecBits | v
		}
	}
	return uint32(extra)<<wordIndexBits | uint32(lo)
}

// slotBase returns the first key of slot j of the block at base whose
// first d bits are fixed, divided into 1<<e slots.
func slotBase(base u128, d, e, j int) u128 {
	sh := 128 - d - e
	if sh >= 64 {
		return base.or(u128{uint64(j) << (sh - 64), 0})
	}
	v := u128{0, uint64(j) << sh}
	if sh > 0 {
		v.hi = uint64(j) >> (64 - sh)
	}
	return base.or(v)
}

// sweep calls f for each of the 1<<e slots of the block at base (depth d)
// with the indexes of the first and last ranges that overlap the slot;
// lo is the range containing base.
func (b *trieBuilder) sweep(base u128, d, e, lo int, f func(j, lo, hi int)) {
	n := len(b.keys)
	i := lo
	for j := range 1 << e {
		s := slotBase(base, d, e, j)
		last := s.or(lowMask(128 - d - e))
		for i+1 < n && !s.less(b.keys[i+1]) {
			i++
		}
		hi := i
		for hi+1 < n && !last.less(b.keys[hi+1]) {
			hi++
		}
		f(j, i, hi)
		i = hi
	}
}

// buildNode fills nodes[ni] for the block at base (depth d) whose first
// address lies in range lo.
func (b *trieBuilder) buildNode(ni int, base u128, d, lo int) {
	// The last stride of a family may reach past the address width: the
	// lookup then sees the remaining bits followed by zeros, so only the
	// first slot of each group of 1<<pad is reached; the others repeat it
	// and vanish in leaf compression.
	e := min(stride, 128-d)
	pad := stride - e
	var words [1 << stride]uint32
	var child [1 << stride]bool
	var childLo [1 << stride]int
	b.sweep(base, d, e, lo, func(j, lo, hi int) {
		for k := j << pad; k < (j+1)<<pad; k++ {
			if hi-lo <= b.maxChunk {
				words[k] = b.leafWord(slotBase(base, d, e, j), d+e, lo, hi-lo)
			} else {
				child[k], childLo[k] = true, lo
			}
		}
	})
	nd := node{base0: uint32(len(b.t.leaves))}
	prev, havePrev := uint32(0), false
	nchild := 0
	for k := range 1 << stride {
		if child[k] {
			nd.vector |= 1 << k
			nchild++
			continue
		}
		if !havePrev || words[k] != prev {
			nd.leafvec |= 1 << k
			b.t.leaves = append(b.t.leaves, words[k])
			prev, havePrev = words[k], true
		}
	}
	nd.base1 = uint32(len(b.t.nodes))
	b.t.nodes = append(b.t.nodes, make([]node, nchild)...)
	b.t.nodes[ni] = nd
	c := int(nd.base1)
	for k := range 1 << stride {
		if child[k] {
			b.buildNode(c, slotBase(base, d, stride, k), d+stride, childLo[k])
			c++
		}
	}
}
