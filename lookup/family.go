package lookup

import (
	"errors"
	"fmt"
	"math/bits"
)

// The index over a family's ranges is a multibit trie in the manner of
// Poptrie (Asai and Ohara, SIGCOMM 2015): a direct-indexed top level on
// the first 19 (IPv4) or 16 (IPv6) address bits, direct-indexed levels
// sized to the ranges under dense slots, then nodes of 6-bit strides.
// A node holds two 64-bit vectors: vector marks the slots that have a
// child node, leafvec marks the slots where a new run of identical
// leaves starts; children and leaves are stored contiguously, so a
// popcount of the bits below a slot finds either. Nodes hold no
// pointers, only indexes into flat arrays, so the garbage collector
// never scans them.
//
// Unlike Poptrie, most leaves are not next hops: a range leaf names the
// range that contains its slot's first address and how many more ranges
// start inside the slot (at most scan4 or scan6), and the lookup
// finishes by counting the sorted starts that lie at or below the address. The
// trie stops descending as soon as a slot holds few ranges, so it has a
// node only where ranges are dense, and its size follows the number of
// ranges, not the depth of the networks.

// A trie word is a leaf or, with wordInner set, a reference to a node
// or a direct level:
//
//	range leaf   bits 0-23 range index; bit 24 (leafStartIn) set when
//	             that range starts inside the top-level slot, after
//	             its first address; bit 25 (leafNextIn) set when the
//	             range after the leaf's last starts inside the
//	             top-level slot (both IPv4 only, see family4); bits
//	             26-29 the number of further ranges that start inside
//	             the slot
//	record leaf  bit 30 set; bits 0-21 record index, bits 22-29 prefix length
//	node         bit 31 set; bits 0-25 node index; bits 26-30 zero
//	direct       bit 31 set; bits 0-25 offset of the level's first word
//	             in dwords, bits 26-30 the level's width (1 to 16 bits)
//
// A record leaf is written for a slot that lies wholly inside one MMDB
// network, or wholly in a gap (record 0): the lookup ends there without
// reading a range, as a Poptrie leaf holds its next hop.
const (
	wordInner     = 1 << 31
	wordRec       = 1 << 30
	wordIndexBits = 26
	wordIndexMask = 1<<wordIndexBits - 1
	wordRecBits   = 22
	wordRecMask   = 1<<wordRecBits - 1
	stride        = 6

	leafIndexMask = 1<<24 - 1
	leafStartIn   = 1 << 24
	leafNextIn    = 1 << 25
)

// The number of further range starts a range leaf's slot may hold; a
// slot where more ranges start gets a node or a direct level. The count
// fits the 4 bits a range leaf gives it. The scan stops at the first
// start above the address rather than always reading all of them, and a
// lower limit does not pay: the trie levels it adds cost more than the
// shorter scan saves. Memory falls as the limit grows.
const (
	scan4 = 14
	scan6 = 14
)

// A range leaf counts the further starts in 4 bits.
const _ = uint(15-scan4) + uint(15-scan6)

// maxRanges is the number of ranges a family may hold: a range index
// must fit in a leaf word.
const maxRanges = leafIndexMask - 64

// errTrieTooLarge is returned when a trie's nodes or direct levels
// outgrow the 26-bit indexes of its words.
var errTrieTooLarge = errors.New("index too large: more than 2^26 nodes or direct-level words")

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
	dwords  []uint32 // the words of every direct level
	ndirect int      // number of direct levels, for tests and statistics
}

// A direct level is a direct-indexed level under a slot dense with
// ranges: 1<<k words in dwords, indexed by the k address bits that
// follow the slot's. Its size follows the slot's number of ranges (see
// directBits), so it costs memory only where ranges are dense, and it
// replaces the several node levels a dense slot would otherwise need
// with one read. Its words are leaves, nodes or further direct levels.

// directBits returns the width of the direct level for a slot holding n
// ranges (one word per two to four ranges), or 0 when the slot is sparse
// enough for nodes alone.
func directBits(n int) uint {
	if n < 64 {
		return 0
	}
	return uint(min(bits.Len(uint(n))-2, 16))
}

// topBits4 returns the top-level width of an IPv4 trie over n ranges: 19
// bits (2 MiB, where three lookups of a uniformly random address in four
// end, on a record leaf) for a large table, 10 bits for a small one,
// which then costs 4 KiB and builds at once. Each bit more doubles the
// level's memory and ends more lookups there; 19 bits is where that
// trade stops paying for a database built from the shared feeds.
func topBits4(n int) uint {
	if n >= 1<<15 {
		return 19
	}
	return 10
}

// topBits6 is topBits4 for IPv6: IPv6 lookups end deeper, under the
// direct levels of dense /16s, and a wider top level (17 to 20 bits)
// does not make them faster.
func topBits6(n int) uint {
	if n >= 1<<13 {
		return 16
	}
	return 10
}

func (t *trie) bytes() int {
	return 4*len(t.top) + 24*len(t.nodes) + 4*len(t.leaves) + 4*len(t.dwords)
}

// descend32 follows an inner word w of an IPv4 trie, met after the
// first d bits of a, down to its leaf.
func (t *trie) descend32(w uint32, d uint, a uint32) uint32 {
	for {
		k := uint(w >> wordIndexBits & 31)
		if k == 0 {
			break
		}
		w = t.dwords[w&wordIndexMask+(a<<(d&31))>>(32-k&31)]
		d += k
		if w&wordInner == 0 {
			return w
		}
	}
	x := uint64(a) << 32
	n := &t.nodes[w&wordIndexMask]
	for sh := 64 - stride - d; ; sh -= stride {
		bit := uint64(1) << (x >> (sh & 63) & 63)
		if n.vector&bit == 0 {
			return t.leaves[n.base0+uint32(bits.OnesCount64(n.leafvec&(bit|(bit-1))))-1]
		}
		n = &t.nodes[n.base1+uint32(bits.OnesCount64(n.vector&(bit-1)))]
	}
}

// descend128 is descend32 for IPv6.
func (t *trie) descend128(w uint32, d uint, a u128) uint32 {
	for {
		k := uint(w >> wordIndexBits & 31)
		if k == 0 {
			break
		}
		w = t.dwords[w&wordIndexMask+a.bitsAt(d, k)]
		d += k
		if w&wordInner == 0 {
			return w
		}
	}
	n := &t.nodes[w&wordIndexMask]
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
		if n.vector&bit == 0 {
			return t.leaves[n.base0+uint32(bits.OnesCount64(n.leafvec&(bit|(bit-1))))-1]
		}
		n = &t.nodes[n.base1+uint32(bits.OnesCount64(n.vector&(bit-1)))]
	}
}

// family4 holds the IPv4 ranges in two arrays. The hot one, read by
// every lookup that ends on a range, packs range i's start below its
// top-level slot (the low 32-topBits bits, the bits the scan compares)
// above its record index (the low vbits = topBits bits): 4 bytes a
// range, so a leaf's scan and the bounds it needs share a cache line
// more often, and the array is half the size of absolute 8-byte
// entries. A leaf's further ranges all start inside the address's
// top-level slot, so their low bits order them; the range a leaf names
// first, and the one after its last, may start outside it, and two
// flags in the leaf (leafStartIn, leafNextIn) say whether they do. The
// lookup then clips the range to the slot, which does not change the
// network it computes: an address answered by a range has a network no
// larger than its top-level slot (a slot inside one network ends on a
// record leaf), so the largest aligned block around the address inside
// the range lies inside the slot.
//
// The cold array holds the absolute starts, for All, Verify and export.
// Range i covers [starts[i], starts[i+1]-1], the last one up to
// 255.255.255.255.
type family4 struct {
	hot    []uint32
	starts []uint32
	vbits  uint // bits of a hot entry that hold the record index
	trie
}

func (f *family4) init(r rangeList) error {
	n := len(r.starts)
	maxVal := uint32(0)
	for _, v := range r.vals {
		maxVal = max(maxVal, v)
	}
	// The record index must fit below the start's low bits.
	tb := max(topBits4(n), uint(bits.Len32(maxVal)))
	if tb > maxTopBits4 {
		return fmt.Errorf("too many records for the IPv4 index (%d)", maxVal)
	}
	f.vbits = tb
	f.hot = make([]uint32, n)
	f.starts = make([]uint32, n)
	keys := make([]u128, n)
	low := uint32(1)<<(32-tb) - 1
	for i, s := range r.starts {
		a := uint32(s.lo)
		f.starts[i] = a
		f.hot[i] = (a&low)<<tb | r.vals[i]
		keys[i] = u128{s.lo << 32, 0}
	}
	var err error
	f.trie, err = buildTrie(keys, r.vals, tb, scan4, 32, true)
	return err
}

// maxTopBits4 bounds the IPv4 top level (64 MiB) and with it the
// records an IPv4 range may name (2^24).
const maxTopBits4 = 24

func (f *family4) len() int           { return len(f.starts) }
func (f *family4) start(i int) uint32 { return f.starts[i] }
func (f *family4) val(i int) uint32   { return f.hot[i] & (1<<f.vbits - 1) }
func (f *family4) bytes() int         { return 4*len(f.hot) + 4*len(f.starts) + f.trie.bytes() }

func (f *family4) end(i int) uint32 {
	if i+1 < len(f.starts) {
		return f.starts[i+1] - 1
	}
	return 1<<32 - 1
}

// find returns the index of the range containing a and the leaf that
// named it, or -1 and the record leaf that answers a.
func (f *family4) find(a uint32) (int, uint32) {
	w := f.top[a>>(32-f.topBits&31)]
	if w&wordInner != 0 {
		w = f.descend32(w, f.topBits, a)
	}
	if w&wordRec != 0 {
		return -1, w
	}
	return f.scan(a, w), w
}

// scan returns the index of the range containing a among the ranges of
// the range leaf w.
func (f *family4) scan(a uint32, w uint32) int {
	i := int(w & leafIndexMask)
	// An entry is ≤ key exactly when its start's low bits are ≤ a's.
	vb := f.vbits & 31
	key := a<<vb | (1<<vb - 1)
	for _, x := range f.hot[i+1 : i+1+int(w>>wordIndexBits)] {
		if x <= key {
			i++
		}
	}
	return i
}

// bounds returns the bounds of range i, found for a through the range
// leaf w, clipped to a's top-level slot.
func (f *family4) bounds(a uint32, i int, w uint32) (start, end uint32) {
	vb := f.vbits & 31
	lowMask := uint32(1)<<(32-vb&31) - 1
	slot := a &^ lowMask
	first := int(w & leafIndexMask)
	start, end = slot, slot|lowMask
	if i != first || w&leafStartIn != 0 {
		start = slot | f.hot[i]>>vb
	}
	if i != first+int(w>>wordIndexBits) || w&leafNextIn != 0 {
		end = slot | (f.hot[i+1]>>vb - 1)
	}
	return start, end
}

// family6 holds the IPv6 ranges. A range's start is stored as its high
// half beside its value, one 16-byte entry, so the scan that ends a
// lookup and the value it then needs share cache lines, which separate
// arrays of high halves and values would not. Low halves are
// stored only for the leading starts that need them: lo holds the low
// halves of the first len(lo) starts, and every later start has a zero
// low half. ipintel widens IPv6 to /64, so in its databases only the
// starts inside ::/64 (the aliases of the IPv4 subtree at ::/96 and
// ::ffff:0:0/96), which sort first, have one. A zero sentinel entry
// ends the slice: start(i+1)-1 then wraps to the last address for the
// last range.
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

func (f *family6) init(r rangeList) error {
	n := len(r.starts)
	f.r = make([]range6, n+1)
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
	var err error
	f.trie, err = buildTrie(r.starts, r.vals, topBits6(n), scan6, 128, false)
	return err
}

func (f *family6) len() int { return len(f.r) - 1 }

func (f *family6) start(i int) u128 {
	if i < len(f.lo) {
		return u128{f.r[i].hi, f.lo[i]}
	}
	return u128{f.r[i].hi, 0}
}

func (f *family6) val(i int) uint32 { return f.r[i].val }

func (f *family6) end(i int) u128 { return f.start(i + 1).subOne() }

func (f *family6) bytes() int { return 16*len(f.r) + 8*len(f.lo) + f.trie.bytes() }

// find returns what family4.find returns.
func (f *family6) find(a u128) (int, uint32) {
	w := f.top[a.hi>>(64-f.topBits&63)]
	if w&wordInner != 0 {
		w = f.descend128(w, f.topBits, a)
	}
	if w&wordRec != 0 {
		return -1, w
	}
	return f.scan(a, w), w
}

// scan returns the index of the range containing a among the ranges of
// the range leaf w.
func (f *family6) scan(a u128, w uint32) int {
	i := int(w & leafIndexMask)
	end := i + 1 + int(w>>wordIndexBits)
	if i+1 >= len(f.lo) {
		// Every start in the scan has a zero low half, and a start
		// (h, 0) is ≤ a exactly when h ≤ a.hi.
		for _, x := range f.r[i+1 : end] {
			if x.hi <= a.hi {
				i++
			}
		}
		return i
	}
	for j := i + 1; j < end; j++ {
		if !a.less(f.start(j)) {
			i++
		}
	}
	return i
}

// trieBuilder builds the trie over sorted range starts, as 128-bit keys
// (IPv4 addresses are left-aligned: their key is the address << 96).
type trieBuilder struct {
	keys      []u128
	vals      []uint32
	scan      int  // further range starts a leaf's slot may hold
	directEnd int  // a direct level must end by this bit
	flags     bool // set leafStartIn and leafNextIn (IPv4)

	t trie
}

// buildTrie indexes the ranges starting at keys (sorted, keys[0] = 0)
// with values vals (0 marks a gap),
// with a top level of 1<<topBits words, leaves whose slots hold at most
// scan further starts, and direct levels that end by bit directEnd: 32
// for IPv4, whose lookup reads the address as 32 bits, 128 for IPv6.
func buildTrie(keys []u128, vals []uint32, topBits uint, scan, directEnd int, flags bool) (trie, error) {
	b := &trieBuilder{keys: keys, vals: vals, scan: scan, directEnd: directEnd, flags: flags}
	b.t.top = make([]uint32, 1<<topBits)
	b.t.topBits = topBits
	d := int(topBits)
	b.sweep(u128{}, 0, d, 0, func(j, lo, hi int) {
		b.t.top[j] = b.slotWord(slotBase(u128{}, 0, d, j), d, lo, hi)
	})
	if len(b.t.nodes) > wordIndexMask || len(b.t.dwords) > wordIndexMask {
		return trie{}, errTrieTooLarge
	}
	return b.t, nil
}

// slotWord returns the word for a slot at base, whose first d bits are
// fixed, overlapping ranges lo to hi: a leaf, a new direct level for a
// dense slot, or a new node.
func (b *trieBuilder) slotWord(base u128, d, lo, hi int) uint32 {
	if hi-lo <= b.scan {
		return b.leafWord(base, d, lo, hi)
	}
	if k := int(directBits(hi - lo)); k > 0 && d+k <= b.directEnd {
		off := len(b.t.dwords)
		b.t.ndirect++
		b.t.dwords = append(b.t.dwords, make([]uint32, 1<<k)...)
		b.sweep(base, d, k, lo, func(j, lo, hi int) {
			b.t.dwords[off+j] = b.slotWord(slotBase(base, d, k, j), d+k, lo, hi)
		})
		return wordInner | uint32(k)<<wordIndexBits | uint32(off&wordIndexMask)
	}
	ni := len(b.t.nodes)
	b.t.nodes = append(b.t.nodes, node{})
	b.buildNode(ni, base, d, lo)
	return wordInner | uint32(ni&wordIndexMask)
}

// leafWord returns the leaf for a slot at base (depth d) overlapping
// ranges lo to hi: a record leaf when the slot lies in one network or in
// a gap, else a range leaf.
func (b *trieBuilder) leafWord(base u128, d, lo, hi int) uint32 {
	v := b.vals[lo]
	switch {
	case hi != lo:
	case v == 0:
		return wordRec
	case v <= wordRecMask: // not an alias (valueAlias), and small enough
		// The network of an address is the largest aligned block around
		// it inside its range (see netBits32); when the block around the
		// slot's first address covers the slot, every address of the
		// slot has that network.
		end := lowMask(128)
		if lo+1 < len(b.keys) {
			end = b.keys[lo+1].subOne()
		}
		if k := netBits128(base, b.keys[lo], end); k >= 128-d {
			return wordRec | uint32(128-k)<<wordRecBits | v
		}
	}
	w := uint32(hi-lo)<<wordIndexBits | uint32(lo)
	if b.flags {
		top := lowMask(128 - int(b.t.topBits))
		first := base.and(top.not())
		if first.less(b.keys[lo]) {
			w |= leafStartIn
		}
		if hi+1 < len(b.keys) && !first.or(top).less(b.keys[hi+1]) {
			w |= leafNextIn
		}
	}
	return w
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
			if hi-lo <= b.scan {
				words[k] = b.leafWord(slotBase(base, d, e, j), d+e, lo, hi)
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
