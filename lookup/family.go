package lookup

import (
	"sort"
	"unsafe"
)

const recordSize = unsafe.Sizeof(Record{})

// family4 holds the IPv4 ranges: range i covers [starts[i], end(i)].
type family4 struct {
	starts []uint32
	vals   []uint32
}

func (f *family4) init(r rangeList) {
	f.starts = make([]uint32, len(r.starts))
	for i, s := range r.starts {
		f.starts[i] = uint32(s.lo)
	}
	f.vals = r.vals
}

func (f *family4) end(i int) uint32 {
	if i+1 < len(f.starts) {
		return f.starts[i+1] - 1
	}
	return ^uint32(0)
}

// find returns the range containing a and its bounds.
func (f *family4) find(a uint32) (i int, start, end uint32) {
	i = sort.Search(len(f.starts), func(j int) bool { return f.starts[j] > a }) - 1
	return i, f.starts[i], f.end(i)
}

func (f *family4) bytes() int { return 4*len(f.starts) + 4*len(f.vals) }

// family6 holds the IPv6 ranges.
type family6 struct {
	starts []u128
	vals   []uint32
}

func (f *family6) init(r rangeList) {
	f.starts = r.starts
	f.vals = r.vals
}

func (f *family6) end(i int) u128 {
	if i+1 < len(f.starts) {
		return f.starts[i+1].subOne()
	}
	return lowMask(128)
}

func (f *family6) find(a u128) (i int, start, end u128) {
	i = sort.Search(len(f.starts), func(j int) bool { return a.less(f.starts[j]) }) - 1
	return i, f.starts[i], f.end(i)
}

func (f *family6) bytes() int { return 16*len(f.starts) + 4*len(f.vals) }
