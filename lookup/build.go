package lookup

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"

	"github.com/oschwald/maxminddb-golang/v2"
)

// This file flattens an MMDB search tree into sorted range tables.
//
// The walk reads the tree's raw node records itself instead of going
// through Reader.Networks: it builds no result per network, it sees alias
// pointers into the IPv4 subtree (which Networks hides, and which Lookup
// follows), and it mirrors exactly what Reader.Lookup does for every
// address, which is the behaviour Lookup must reproduce.

// metadataMarker starts the MMDB metadata section.
var metadataMarker = []byte("\xAB\xCD\xEFMaxMind.com")

// dataSeparator is the size of the zero gap between tree and data section.
const dataSeparator = 16

// tree gives raw access to an MMDB search tree.
type tree struct {
	buf        []byte
	nodeCount  uint32
	recordSize uint
	dataSize   uint // bytes in the data section
}

func newTree(buf []byte, md maxminddb.Metadata) (*tree, error) {
	switch md.RecordSize {
	case 24, 28, 32:
	default:
		return nil, fmt.Errorf("unsupported record size %d", md.RecordSize)
	}
	if md.NodeCount >= 1<<32-dataSeparator-1 {
		return nil, fmt.Errorf("node count %d too large", md.NodeCount)
	}
	end := bytes.LastIndex(buf, metadataMarker)
	if end < 0 {
		return nil, errors.New("metadata marker not found")
	}
	treeSize := md.NodeCount * md.RecordSize / 4
	if treeSize+dataSeparator > uint(end) {
		return nil, errors.New("search tree larger than the file")
	}
	return &tree{
		buf:        buf[:treeSize],
		nodeCount:  uint32(md.NodeCount),
		recordSize: md.RecordSize,
		dataSize:   uint(end) - treeSize - dataSeparator,
	}, nil
}

// children returns the two records of node n (n < nodeCount).
func (t *tree) children(n uint32) (left, right uint32) {
	b := t.buf
	switch t.recordSize {
	case 24:
		o := uint(n) * 6
		b = b[o : o+6]
		left = uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
		right = uint32(b[3])<<16 | uint32(b[4])<<8 | uint32(b[5])
	case 28:
		o := uint(n) * 7
		b = b[o : o+7]
		left = uint32(b[3]&0xF0)<<20 | uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
		right = uint32(b[3]&0x0F)<<24 | uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6])
	default:
		o := uint(n) * 8
		b = b[o : o+8]
		left = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		right = uint32(b[4])<<24 | uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7])
	}
	return left, right
}

// dataOffset resolves a data pointer (> nodeCount) to a data section offset.
func (t *tree) dataOffset(p uint32) (uintptr, error) {
	off := uint(p) - uint(t.nodeCount) - dataSeparator
	if p < t.nodeCount+dataSeparator || off >= t.dataSize {
		return 0, fmt.Errorf("search tree points outside the data section (record %d)", p)
	}
	return uintptr(off), nil
}

// u128 is an address or address offset as a 128-bit unsigned integer.
// IPv4 addresses use lo only.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }
func (a u128) xor(b u128) u128  { return u128{a.hi ^ b.hi, a.lo ^ b.lo} }
func (a u128) and(b u128) u128  { return u128{a.hi & b.hi, a.lo & b.lo} }
func (a u128) or(b u128) u128   { return u128{a.hi | b.hi, a.lo | b.lo} }
func (a u128) not() u128        { return u128{^a.hi, ^a.lo} }

// bitsAt returns the k bits (1 ≤ k ≤ 32) of a that follow its first d.
func (a u128) bitsAt(d, k uint) uint32 {
	switch {
	case d+k <= 64:
		return uint32(a.hi << (d & 63) >> (64 - k&63))
	case d >= 64:
		return uint32(a.lo << (d & 63) >> (64 - k&63))
	default:
		return uint32((a.hi<<(d&63) | a.lo>>(64-d&63)) >> (64 - k&63))
	}
}

func (a u128) addOne() u128 {
	lo, c := bits.Add64(a.lo, 1, 0)
	return u128{a.hi + c, lo}
}

func (a u128) subOne() u128 {
	lo, b := bits.Sub64(a.lo, 1, 0)
	return u128{a.hi - b, lo}
}

// lowMask returns a value with the low k bits set (0 ≤ k ≤ 128).
func lowMask(k int) u128 {
	switch {
	case k >= 128:
		return u128{^uint64(0), ^uint64(0)}
	case k >= 64:
		return u128{1<<(k-64) - 1, ^uint64(0)}
	default:
		return u128{0, 1<<k - 1}
	}
}

// bitAt returns a value with only bit k (from the least significant) set.
func bitAt(k int) u128 {
	if k >= 64 {
		return u128{1 << (k - 64), 0}
	}
	return u128{0, 1 << k}
}

// leaf is one network of the MMDB tree: its first address, prefix length
// and value (a record index, 0 for no data, or an alias; see valueAlias).
type leaf struct {
	start u128
	bits  uint8
	val   uint32
}

// valueAlias marks a range value that is an alias of the whole IPv4
// table: the low bits hold the prefix length at which the 32 IPv4 bits
// start. Record indexes stay below it (maxRecords).
const valueAlias = 1 << 31

// walkBudget bounds the node visits of one walk. A search tree visits
// each node once; a crafted file whose nodes share children could
// otherwise make the walk exponential.
func walkBudget(nodeCount uint32) int { return 4*int(nodeCount) + 64 }

type walkFrame struct {
	node  uint32
	depth uint8
	start u128
}

// walk visits the subtree rooted at node (at depth, covering addresses
// from start) in address order, calling emit for every data network and
// every empty record. width is the address width (32 or 128). When
// alias < nodeCount, a pointer to it met at depth ≤ width-32 is emitted as
// an alias leaf instead of being descended, as Reader.Lookup follows it
// into the IPv4 subtree.
func (t *tree) walk(node uint32, depth uint8, start u128, width int, alias uint32,
	rt *recordTable, budget *int, emit func(leaf)) error {
	stack := make([]walkFrame, 0, 130)
	stack = append(stack, walkFrame{node, depth, start})
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for {
			switch {
			case f.node == t.nodeCount:
				emit(leaf{f.start, f.depth, 0})
			case f.node > t.nodeCount:
				off, err := t.dataOffset(f.node)
				if err != nil {
					return err
				}
				ri, err := rt.index(off)
				if err != nil {
					return err
				}
				emit(leaf{f.start, f.depth, ri})
			case f.node == alias && int(f.depth) <= width-32:
				emit(leaf{f.start, f.depth, valueAlias | uint32(f.depth)})
			default:
				if int(f.depth) >= width {
					return fmt.Errorf("invalid search tree: node %d below bit %d", f.node, width)
				}
				if *budget--; *budget < 0 {
					return errors.New("invalid search tree: nodes are shared or the tree is too large")
				}
				l, r := t.children(f.node)
				d := f.depth + 1
				stack = append(stack, walkFrame{r, d, f.start.or(bitAt(width - int(d)))})
				f = walkFrame{l, d, f.start}
				continue
			}
			break
		}
	}
	return nil
}

// ranges is one family's partition of the address space into ranges,
// sorted by start; range i covers [starts[i], starts[i+1]-1] (the last
// runs to the end of the space) and has value vals[i].
type rangeList struct {
	starts []u128
	vals   []uint32
}

// rangeBuilder merges walk leaves into ranges. Adjacent leaves with the
// same record merge only while every leaf stays a maximal aligned block
// of the merged range, so the exact MMDB network of an address can be
// recomputed from its range at lookup time (see netBits). Empty leaves
// always merge. Alias leaves never merge.
type rangeBuilder struct {
	width int
	out   rangeList
	next  u128 // first address not yet covered
	full  bool // the whole space is covered
	// For the open range: its start, value, and the smallest end of the
	// parent block of a leaf that the range would swallow whole.
	curStart    u128
	curVal      uint32
	open        bool
	minParEnd   u128
	hasParLimit bool
}

func newRangeBuilder(width int) *rangeBuilder { return &rangeBuilder{width: width} }

func (b *rangeBuilder) startRange(s u128, val uint32) {
	b.out.starts = append(b.out.starts, s)
	b.out.vals = append(b.out.vals, val)
	b.curStart, b.curVal, b.open = s, val, true
	b.hasParLimit = false
}

// add appends a leaf; leaves must come in address order without overlap.
func (b *rangeBuilder) add(l leaf) {
	if b.full {
		return
	}
	if b.next.less(l.start) {
		b.addLeaf(b.next, 0, 0, l.start.subOne(), true) // gap: no data
	}
	size := b.width - int(l.bits)
	end := l.start.or(lowMask(size))
	b.addLeaf(l.start, l.bits, l.val, end, false)
	if end == lowMask(b.width) {
		b.full = true
	} else {
		b.next = end.addOne()
	}
}

func (b *rangeBuilder) addLeaf(s u128, plen uint8, val uint32, end u128, gap bool) {
	if val == 0 {
		if b.open && b.curVal == 0 {
			return
		}
		b.startRange(s, 0)
		return
	}
	if gap {
		panic("lookup: gap leaf with a value")
	}
	size := b.width - int(plen)
	hasParent := plen > 0
	var parStart, parEnd u128
	if hasParent {
		parStart = s.and(lowMask(size + 1).not())
		parEnd = parStart.or(lowMask(size + 1))
	}
	if b.open && b.curVal == val && val&valueAlias == 0 &&
		!(b.hasParLimit && !end.less(b.minParEnd)) &&
		!(hasParent && !parStart.less(b.curStart) && !end.less(parEnd)) {
		// Extends the open range.
	} else {
		b.startRange(s, val)
	}
	if hasParent && !parStart.less(b.curStart) && end.less(parEnd) {
		if !b.hasParLimit || parEnd.less(b.minParEnd) {
			b.minParEnd, b.hasParLimit = parEnd, true
		}
	}
}

// finish closes the partition and returns it.
func (b *rangeBuilder) finish() rangeList {
	if !b.full {
		b.addLeaf(b.next, 0, 0, lowMask(b.width), true)
	}
	return b.out
}
