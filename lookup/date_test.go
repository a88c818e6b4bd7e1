package lookup

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/ipintel/ipintel/internal/testdb"
	"github.com/ipintel/ipintel/schema"
)

// mustDate parses a "YYYY-MM-DD" day of a test.
func mustDate(tb testing.TB, s string) Date {
	tb.Helper()
	d, err := parseDate(s)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func TestDate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want Date
		err  string
	}{
		{in: "", want: 0},
		{in: "1970-01-02", want: 1},
		{in: "2026-01-02", want: Date(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC).Unix() / 86400)},
		{in: "2024-02-29", want: Date(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).Unix() / 86400)},
		{in: "2149-06-06", want: 65535},
		{in: "1970-01-01", err: "outside"},
		{in: "2149-06-07", err: "outside"},
		{in: "1969-12-31", err: "outside"},
		{in: "2025-02-29", err: "not a YYYY-MM-DD date"},
		{in: "2026-1-02", err: "not a YYYY-MM-DD date"},
		{in: "2026-01-02T00:00:00Z", err: "not a YYYY-MM-DD date"},
		{in: "yesterday", err: "not a YYYY-MM-DD date"},
	} {
		got, err := parseDate(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseDate(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseDate(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
		if s := got.String(); s != tt.in {
			t.Errorf("Date(%d).String() = %q, want %q", got, s, tt.in)
		}
		if got.IsZero() != (tt.in == "") || got.Time().IsZero() != (tt.in == "") {
			t.Errorf("Date(%d): IsZero %v, Time %v", got, got.IsZero(), got.Time())
		}
	}
	if a, b := mustDate(t, "2025-12-31"), mustDate(t, "2026-01-01"); !(a < b) || b-a != 1 {
		t.Errorf("dates do not order by day: %d, %d", a, b)
	}
}

// TestRecordSize keeps the engine's tables at 16 bytes an entry, four to
// a cache line.
func TestRecordSize(t *testing.T) {
	t.Parallel()
	if n := unsafe.Sizeof(record{}); n != 16 {
		t.Errorf("record is %d bytes, want 16", n)
	}
	if n := unsafe.Sizeof(detail{}); n != 16 {
		t.Errorf("detail is %d bytes, want 16", n)
	}
	if n := unsafe.Sizeof(Record{}); n > 88 {
		t.Errorf("Record is %d bytes, want at most 88", n)
	}
}

// TestBadDetails checks that a malformed provider, confidence or date is
// refused with a message naming the key, by Open (types and dates) or by
// VerifyFile (what Open tolerates).
func TestBadDetails(t *testing.T) {
	t.Parallel()
	nets := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	for _, tt := range []struct {
		name     string
		rec      mmdbtype.Map
		open     string // Open's error, "" for none
		verify   string // VerifyFile's error
		wantConf uint8
	}{
		{name: "first seen malformed", rec: mmdbtype.Map{schema.KeyNetworkFirstSeen: mmdbtype.String("2026-13-01")},
			open: `network_first_seen: "2026-13-01" is not a YYYY-MM-DD date`, verify: `network_first_seen: "2026-13-01" is not a YYYY-MM-DD date`},
		{name: "last seen as a number", rec: mmdbtype.Map{schema.KeyNetworkLastSeen: mmdbtype.Uint32(20260102)},
			open: "network_last_seen", verify: "network_last_seen: uint64, want a YYYY-MM-DD string"},
		{name: "provider as a number", rec: mmdbtype.Map{schema.KeyProviderName: mmdbtype.Uint16(7)},
			open: "provider_name", verify: "provider_name: uint64, want string"},
		{name: "confidence 0", rec: mmdbtype.Map{schema.KeyAnonymizerConfidence: mmdbtype.Uint16(0)},
			verify: "anonymizer_confidence: 0 (uint64), want 1-99"},
		{name: "confidence 100", rec: mmdbtype.Map{schema.KeyAnonymizerConfidence: mmdbtype.Uint16(100)},
			verify: "anonymizer_confidence: 100 (uint64), want 1-99", wantConf: 99},
		{name: "confidence as a string", rec: mmdbtype.Map{schema.KeyAnonymizerConfidence: mmdbtype.String("high")},
			open: "anonymizer_confidence", verify: "anonymizer_confidence: high (string), want 1-99"},
		{name: "cleared not an array", rec: mmdbtype.Map{schema.KeyCleared: mmdbtype.String("dc")},
			verify: "cleared: string, want array of maps"},
		{name: "cleared without by", rec: mmdbtype.Map{schema.KeyCleared: mmdbtype.Slice{mmdbtype.Map{"feed": mmdbtype.String("dc"), "category": mmdbtype.String("hosting")}}},
			verify: "cleared: element key by: <nil>, want string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeDB(t, testdb.Options{DatabaseType: "test", RecordSize: 24, Description: map[string]string{"en": "test"}},
				nets, []mmdbtype.Map{tt.rec})
			db, err := Open(path)
			switch {
			case tt.open != "":
				if err == nil || !strings.Contains(err.Error(), tt.open) {
					t.Errorf("Open: %v, want an error containing %q", err, tt.open)
				}
			case err != nil:
				t.Errorf("Open: %v", err)
			default:
				if rec, _ := db.Lookup(netip.MustParseAddr("192.0.2.1")); rec.Confidence != tt.wantConf {
					t.Errorf("Confidence = %d, want %d", rec.Confidence, tt.wantConf)
				}
			}
			if err := VerifyFile(path); err == nil || !strings.Contains(err.Error(), tt.verify) {
				t.Errorf("VerifyFile: %v, want an error containing %q", err, tt.verify)
			}
			_ = os.Remove(path)
		})
	}
}

// TestDetailsShared checks that records differing only in their ASN or
// score share one detail, and that All yields the details Lookup does.
func TestDetailsShared(t *testing.T) {
	t.Parallel()
	var nets []netip.Prefix
	var recs []mmdbtype.Map
	for i := range 6 {
		nets = append(nets, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(2 * i), 0, 0}), 16))
		m := mmdbtype.Map{
			schema.KeyASN:            mmdbtype.Uint32(100 + i),
			schema.KeyASOrg:          mmdbtype.String("Org"),
			schema.KeyIsAnonymousVPN: mmdbtype.Bool(true),
			schema.KeyRiskScore:      mmdbtype.Uint16(50),
		}
		if i%2 == 1 {
			m[schema.KeyProviderName] = mmdbtype.String("Org") // the same name: one copy in the blob
			m[schema.KeyAnonymizerConfidence] = mmdbtype.Uint16(30 + i)
			m[schema.KeyNetworkLastSeen] = mmdbtype.String("2026-01-02")
		}
		recs = append(recs, m)
	}
	db, err := Open(writeDB(t, testdb.Options{DatabaseType: "test", RecordSize: 24}, nets, recs))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Verify(); err != nil {
		t.Fatal(err)
	}
	if len(db.records) != 7 || len(db.details) != 3 || db.names != "Org" {
		t.Errorf("%d records, %d details, names %q; want 7, 3, \"Org\"", len(db.records), len(db.details), db.names)
	}
	n := 0
	for pfx, rec := range db.All() {
		got, _ := db.Lookup(pfx.Addr())
		if got != rec {
			t.Errorf("All yields %+v for %v, Lookup %+v", rec, pfx, got)
		}
		i := int(pfx.Addr().As4()[1] / 2)
		want := Record{Network: pfx, ASN: uint32(100 + i), Org: "Org", Categories: CategoryVPN, Score: 50, Scored: true, Sources: rec.Sources}
		if i%2 == 1 {
			want.Provider, want.Confidence, want.LastSeen = "Org", uint8(30+i), mustDate(t, "2026-01-02")
		}
		if rec != want {
			t.Errorf("All: %v = %+v, want %+v", pfx, rec, want)
		}
		n++
	}
	if n != 6 {
		t.Errorf("All yielded %d networks, want 6", n)
	}
}
