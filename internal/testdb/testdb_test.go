package testdb_test

import (
	"math/big"
	"net/netip"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/ipintel/ipintel/internal/testdb"
)

// TestWrite writes every kind of value Record.Data takes and reads it
// back with maxminddb-golang.
func TestWrite(t *testing.T) {
	t.Parallel()
	path := testdb.WriteTemp(t, "t.mmdb", testdb.Options{DatabaseType: "test", IPVersion: 4, RecordSize: 24},
		testdb.Net("192.0.2.0/24", map[string]any{"n": "outer"}),
		testdb.Net("192.0.2.128/25", map[string]any{
			"b": true, "s": "x", "u16": uint16(7), "u32": uint32(8), "u64": uint64(9), "i32": int32(-1),
			"f32": float32(1.5), "f64": 2.5, "bytes": []byte{1}, "u128": big.NewInt(10),
			"strs": []string{"a", "b"}, "any": []any{"c", uint32(1)}, "map": map[string]any{"k": "v"},
		}))
	r, err := maxminddb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Metadata.DatabaseType != "test" || r.Metadata.IPVersion != 4 || r.Metadata.RecordSize != 24 ||
		r.Metadata.BuildEpoch != testdb.Epoch {
		t.Errorf("metadata %+v", r.Metadata)
	}
	var outer, inner map[string]any
	if err := r.Lookup(netip.MustParseAddr("192.0.2.1")).Decode(&outer); err != nil || outer["n"] != "outer" {
		t.Errorf("192.0.2.1: %v, %v", outer, err)
	}
	if err := r.Lookup(netip.MustParseAddr("192.0.2.200")).Decode(&inner); err != nil || len(inner) != 13 ||
		inner["u32"] != uint64(8) || inner["s"] != "x" {
		t.Errorf("192.0.2.200: %v, %v", inner, err)
	}
}
