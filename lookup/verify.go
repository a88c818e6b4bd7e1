package lookup

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/ipintel/ipintel/schema"
	"github.com/oschwald/maxminddb-golang/v2"
)

// Verify checks the engine's invariants: each family's ranges partition
// its address space in order, every value names a record or a valid
// alias, records are in range, and the index finds every range at its
// first and last address. A DB returned by [Open] always passes; Verify
// exists for tests and for `ipintel verify`. It checks the engine, not the
// file it came from: [Open] does not run maxminddb-golang's Reader.Verify
// (it would dominate the open time), [VerifyFile] does.
func (db *DB) Verify() error {
	for _, check := range [...]func() error{
		db.verifyRecords,
		db.verifyDetails,
		db.verifySourceSets,
		db.verifyV4,
		db.verifyV6,
	} {
		if err := check(); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
	}
	return nil
}

// verifyRecords checks that record 0 is the empty record and that every
// record's fields are in range.
func (db *DB) verifyRecords() error {
	if len(db.records) == 0 || db.records[0] != (record{}) {
		return errors.New("record 0 is not the empty record")
	}
	for i, r := range db.records[1:] {
		if r.score > 100 {
			return fmt.Errorf("record %d: score %d above 100", i+1, r.score)
		}
		if int(r.src) >= len(db.srcSets) {
			return fmt.Errorf("record %d: source set %d out of range", i+1, r.src)
		}
		if int(r.det) >= len(db.details) {
			return fmt.Errorf("record %d: detail %d out of range", i+1, r.det)
		}
		if r.conf > 99 {
			return fmt.Errorf("record %d: confidence %d above 99", i+1, r.conf)
		}
	}
	return nil
}

// verifyDetails checks that detail 0 is the empty detail and that every
// detail's strings lie inside the names table.
func (db *DB) verifyDetails() error {
	if len(db.details) == 0 || db.details[0] != (detail{}) {
		return errors.New("detail 0 is not the empty detail")
	}
	for i, d := range db.details {
		if uint64(d.orgOff)+uint64(d.orgLen) > uint64(len(db.names)) {
			return fmt.Errorf("detail %d: organisation out of range", i)
		}
		if uint64(d.provOff)+uint64(d.provLen) > uint64(len(db.names)) {
			return fmt.Errorf("detail %d: provider out of range", i)
		}
	}
	return nil
}

// verifySourceSets checks that set 0, and only set 0, is empty, and that
// every set is sorted.
func (db *DB) verifySourceSets() error {
	for i, s := range db.srcSets {
		if (i == 0) != (len(s) == 0) || !slices.IsSorted(s) {
			return fmt.Errorf("source set %d is empty or unsorted", i)
		}
	}
	return nil
}

// verifyV4 checks that the IPv4 ranges partition the address space in
// order, with the hot array in step, and that the index finds every range
// at its first and last address with the network it belongs to.
func (db *DB) verifyV4() error {
	nrec := uint32(len(db.records))
	f4 := &db.v4
	n4 := f4.len()
	if n4 < 1 || f4.start(0) != 0 || len(f4.hot) != n4 {
		return errors.New("IPv4 ranges do not start at 0.0.0.0 or the hot array is out of step")
	}
	lowBits := 32 - f4.vbits
	for i := range n4 {
		if f4.hot[i]>>f4.vbits != f4.starts[i]&(1<<lowBits-1) {
			return fmt.Errorf("IPv4 range %d: hot entry out of step with its start", i)
		}
	}
	for i := range n4 {
		s := f4.start(i)
		if i > 0 && s <= f4.start(i-1) {
			return fmt.Errorf("IPv4 range %d out of order", i)
		}
		if f4.val(i) >= nrec {
			return fmt.Errorf("IPv4 range %d: record %d out of range", i, f4.val(i))
		}
		for _, a := range [2]uint32{s, f4.end(i)} {
			j, w := f4.find(a)
			k := netBits32(a, s, f4.end(i))
			ok := j == i || j < 0 && w&wordRecMask == f4.val(i) &&
				(w&wordRecMask == 0 || int(w>>wordRecBits&0xFF) == 32-int(k))
			if j == i {
				// The bounds clipped to the top-level slot give the same network.
				cs, ce := f4.bounds(a, j, w)
				ok = netBits32(a, cs, ce) == k
			}
			if !ok {
				return fmt.Errorf("IPv4 index finds range %d (%#x) for %d, want %d", j, w, a, i)
			}
		}
	}
	return nil
}

// verifyV6 checks that the IPv6 ranges partition the address space in
// order up to the sentinel, that each value names a record or a valid
// IPv4 alias, and that the index finds every range at its first and last
// address.
func (db *DB) verifyV6() error {
	nrec := uint32(len(db.records))
	f6 := &db.v6
	n6 := f6.len()
	if n6 < 1 || f6.start(0) != (u128{}) || f6.r[n6] != (range6{}) {
		return errors.New("IPv6 ranges do not start at :: or lack the sentinel")
	}
	for i := range n6 {
		s := f6.start(i)
		if i > 0 && !f6.start(i-1).less(s) {
			return fmt.Errorf("IPv6 range %d out of order", i)
		}
		v := f6.val(i)
		switch {
		case v&valueAlias != 0:
			d := v &^ valueAlias
			if d > 96 || s.and(lowMask(128-int(d))) != (u128{}) || f6.end(i) != s.or(lowMask(128-int(d))) {
				return fmt.Errorf("IPv6 range %d: bad IPv4 alias", i)
			}
		case v >= nrec:
			return fmt.Errorf("IPv6 range %d: record %d out of range", i, v)
		}
		for _, a := range [2]u128{s, f6.end(i)} {
			j, w := f6.find(a)
			ok := j == i || j < 0 && w&wordRecMask == v &&
				(v == 0 || int(w>>wordRecBits&0xFF) == 128-netBits128(a, s, f6.end(i)))
			if !ok {
				return fmt.Errorf("IPv6 index finds range %d (%#x) for %x, want %d", j, w, a, i)
			}
		}
	}
	return nil
}

// VerifyFile checks the MMDB file at path thoroughly: maxminddb-golang's
// Reader.Verify (metadata, search tree, data section), the types of the
// ipintel keys in every record, and that the lookup engine builds from
// it and passes [DB.Verify].
func VerifyFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	if err := r.Verify(); err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	seen := make(map[uintptr]bool)
	for res := range r.Networks() {
		if err := res.Err(); err != nil {
			return fmt.Errorf("verify %s: %w", path, err)
		}
		if seen[res.Offset()] {
			continue
		}
		seen[res.Offset()] = true
		var m map[string]any
		if err := res.Decode(&m); err != nil {
			continue // not a map: no ipintel keys
		}
		if err := checkSchema(m); err != nil {
			return fmt.Errorf("verify %s: network %s: %w", path, res.Prefix(), err)
		}
	}
	db, err := build(r, b)
	if err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	if err := db.Verify(); err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	return nil
}

// checkSchema checks the types of the ipintel keys of one record.
func checkSchema(m map[string]any) error {
	for _, c := range schema.Categories() {
		if v, ok := m[c.Key()]; ok {
			if _, isBool := v.(bool); !isBool {
				return fmt.Errorf("%s: %T, want bool", c.Key(), v)
			}
		}
	}
	if v, ok := m[schema.KeyIsAnonymous]; ok {
		if _, isBool := v.(bool); !isBool {
			return fmt.Errorf("%s: %T, want bool", schema.KeyIsAnonymous, v)
		}
	}
	if v, ok := m[schema.KeyASN]; ok {
		if n, ok := schema.Unsigned(v); !ok || n > math.MaxUint32 {
			return fmt.Errorf("%s: %v (%T), want uint32", schema.KeyASN, v, v)
		}
	}
	if v, ok := m[schema.KeyASOrg]; ok {
		if _, isStr := v.(string); !isStr {
			return fmt.Errorf("%s: %T, want string", schema.KeyASOrg, v)
		}
	}
	if v, ok := m[schema.KeyRiskScore]; ok {
		if n, ok := schema.Unsigned(v); !ok || n > 100 {
			return fmt.Errorf("%s: %v (%T), want 0-100", schema.KeyRiskScore, v, v)
		}
	}
	if v, ok := m[schema.KeyProviderName]; ok {
		if _, isStr := v.(string); !isStr {
			return fmt.Errorf("%s: %T, want string", schema.KeyProviderName, v)
		}
	}
	if v, ok := m[schema.KeyAnonymizerConfidence]; ok {
		if n, ok := schema.Unsigned(v); !ok || n < 1 || n > 99 {
			return fmt.Errorf("%s: %v (%T), want 1-99", schema.KeyAnonymizerConfidence, v, v)
		}
	}
	for _, k := range []string{schema.KeyNetworkFirstSeen, schema.KeyNetworkLastSeen} {
		if v, ok := m[k]; ok {
			s, isStr := v.(string)
			if !isStr {
				return fmt.Errorf("%s: %T, want a YYYY-MM-DD string", k, v)
			}
			if _, err := parseDate(s); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	if v, ok := m[schema.KeyCleared]; ok {
		if err := checkCleared(v); err != nil {
			return fmt.Errorf("%s: %w", schema.KeyCleared, err)
		}
	}
	if v, ok := m[schema.KeySources]; ok {
		a, isArr := v.([]any)
		if !isArr {
			return fmt.Errorf("%s: %T, want array of strings", schema.KeySources, v)
		}
		for _, e := range a {
			if _, isStr := e.(string); !isStr {
				return fmt.Errorf("%s: element %T, want string", schema.KeySources, e)
			}
		}
	}
	return nil
}

// checkCleared checks the shape of a cleared value: an array of maps
// whose feed, category and by keys are strings.
func checkCleared(v any) error {
	a, isArr := v.([]any)
	if !isArr {
		return fmt.Errorf("%T, want array of maps", v)
	}
	for _, e := range a {
		m, isMap := e.(map[string]any)
		if !isMap {
			return fmt.Errorf("element %T, want map", e)
		}
		for _, k := range [...]string{"feed", "category", "by"} {
			if _, isStr := m[k].(string); !isStr {
				return fmt.Errorf("element key %s: %T, want string", k, m[k])
			}
		}
	}
	return nil
}
