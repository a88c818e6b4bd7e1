// Package testdb writes MMDB files for tests.
//
// Write takes records as plain maps and writes them with mmdbwriter,
// inserting each network as given: it is for databases the builder would
// never produce, such as MaxMind-shaped records without a risk_score,
// values that break the schema on purpose, IPv4-only search trees or
// other record sizes. Tests that want ipintel's own semantics build their
// databases with the builder instead.
//
// Only tests import this package; it is the one place outside the builder
// that writes MMDB files.
package testdb

import (
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"go4.org/netipx"
)

// Epoch is the build_epoch of a database whose Options leave it unset:
// 2026-01-02T03:04:05Z.
const Epoch = 1767323045

// Options describe the metadata and search tree of a database. The zero
// value is an IPv6 tree with 28-bit records and IPv4 aliases.
type Options struct {
	DatabaseType string
	Description  map[string]string
	Languages    []string
	BuildEpoch   int64 // 0 means Epoch
	IPVersion    int   // 4 or 6; 0 means 6
	RecordSize   int   // 24, 28 or 32; 0 means 28
	// DisableIPv4Aliasing leaves out the aliases of ::/96
	// (::ffff:0:0/96, 2001::/32, 2002::/16) from an IPv6 tree.
	DisableIPv4Aliasing bool
}

// Record is one network of a database and its data: usually a
// map[string]any, whose values are bool, string, uint16, uint32, uint64,
// int32, float32, float64, []byte, *big.Int (uint128), []string, []any and
// map[string]any, nested freely. An mmdbtype.DataType is written as it is.
type Record struct {
	Network netip.Prefix
	Data    any
}

// Net returns the Record of cidr and data.
func Net(cidr string, data any) Record {
	return Record{Network: netip.MustParsePrefix(cidr), Data: data}
}

// Write writes a database of recs to path, inserting them in order (a
// later network paints over an earlier one it overlaps), and returns
// path. Reserved networks are allowed, so the documentation ranges of
// RFC 5737 and RFC 3849 can be used. Any error fails tb.
func Write(tb testing.TB, path string, opts Options, recs ...Record) string {
	tb.Helper()
	if opts.BuildEpoch == 0 {
		opts.BuildEpoch = Epoch
	}
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:              opts.BuildEpoch,
		DatabaseType:            opts.DatabaseType,
		Description:             opts.Description,
		Languages:               opts.Languages,
		IPVersion:               opts.IPVersion,
		RecordSize:              opts.RecordSize,
		DisableIPv4Aliasing:     opts.DisableIPv4Aliasing,
		IncludeReservedNetworks: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range recs {
		v, err := value(r.Data)
		if err != nil {
			tb.Fatalf("record of %s: %v", r.Network, err)
		}
		if err := tree.Insert(netipx.PrefixIPNet(r.Network), v); err != nil {
			tb.Fatalf("insert %s: %v", r.Network, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		f.Close()
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// WriteTemp is Write to a file named name in a new temporary directory.
func WriteTemp(tb testing.TB, name string, opts Options, recs ...Record) string {
	tb.Helper()
	return Write(tb, filepath.Join(tb.TempDir(), name), opts, recs...)
}

// value converts a Go value of Record.Data to its MMDB type.
func value(v any) (mmdbtype.DataType, error) {
	switch v := v.(type) {
	case mmdbtype.DataType:
		return v, nil
	case bool:
		return mmdbtype.Bool(v), nil
	case string:
		return mmdbtype.String(v), nil
	case uint16:
		return mmdbtype.Uint16(v), nil
	case uint32:
		return mmdbtype.Uint32(v), nil
	case uint64:
		return mmdbtype.Uint64(v), nil
	case int32:
		return mmdbtype.Int32(v), nil
	case float32:
		return mmdbtype.Float32(v), nil
	case float64:
		return mmdbtype.Float64(v), nil
	case []byte:
		return mmdbtype.Bytes(v), nil
	case *big.Int:
		u := mmdbtype.Uint128(*v)
		return &u, nil
	case []string:
		s := make(mmdbtype.Slice, len(v))
		for i, x := range v {
			s[i] = mmdbtype.String(x)
		}
		return s, nil
	case []any:
		s := make(mmdbtype.Slice, len(v))
		for i, x := range v {
			e, err := value(x)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			s[i] = e
		}
		return s, nil
	case map[string]any:
		m := make(mmdbtype.Map, len(v))
		for k, x := range v {
			e, err := value(x)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			m[mmdbtype.String(k)] = e
		}
		return m, nil
	}
	return nil, fmt.Errorf("no MMDB type for %T", v)
}
