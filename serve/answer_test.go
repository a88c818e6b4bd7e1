package serve

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/ipintel/ipintel/lookup"
)

// TestAppendAnswerMatchesStruct checks that the reflection-free encoder of
// the hot path writes exactly what encoding/json writes for the answer
// struct, whose field order is the documented key order.
func TestAppendAnswerMatchesStruct(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(42, 42))
	orgs := []string{"", "Example Hosting", `quote " back \ slash`, "<html> & co", "ctl \x00\x01\n\r\t\x1f", "bad utf8 \xff\xfe", "line\u2028sep\u2029", "Zürich ✓ 日本"}
	sources := [][]string{nil, {"a"}, {"hosting-asn", "ipsum", "tor-exits"}, {`we"ird`}}
	for i := range 2000 {
		var addr netip.Addr
		if i%2 == 0 {
			addr = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		} else {
			var b [16]byte
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			addr = netip.AddrFrom16(b)
		}
		found := rng.IntN(3) > 0
		rec := lookup.Record{
			Categories: lookup.Category(rng.Uint32()) & 0x1ff,
			ASN:        rng.Uint32(),
			Org:        orgs[rng.IntN(len(orgs))],
			Provider:   orgs[rng.IntN(len(orgs))],
			Confidence: uint8(rng.IntN(100)),
			FirstSeen:  lookup.Date(rng.IntN(3) * rng.IntN(1<<16)),
			LastSeen:   lookup.Date(rng.IntN(3) * rng.IntN(1<<16)),
			Score:      uint8(rng.IntN(101)),
		}
		if found {
			rec.Network = netip.PrefixFrom(addr, rng.IntN(addr.BitLen()+1)).Masked()
		}
		src := sources[rng.IntN(len(sources))]
		v := lookup.Verdict{Action: lookup.Action(rng.IntN(3)), Score: uint8(rng.IntN(101)), Source: lookup.ScoreSource(rng.IntN(2))}
		want, err := json.Marshal(NewAnswer(addr, rec, found, src, v))
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendAnswer(nil, addr, rec, found, src, v); !bytes.Equal(got, want) {
			t.Fatalf("AppendAnswer(%v, %+v) =\n%s\nwant (encoding/json)\n%s", addr, rec, got, want)
		}
	}
}

func TestAppendAnswerAllocs(t *testing.T) {
	rec := lookup.Record{Network: netip.MustParsePrefix("192.0.2.0/24"), Categories: lookup.CategoryTorExit, ASN: 64500, Org: "Example",
		Provider: "Example VPN", Confidence: 99, FirstSeen: 20000, LastSeen: 20454, Score: 90, Scored: true}
	addr := netip.MustParseAddr("192.0.2.1")
	src := []string{"tor-exits"}
	v := lookup.DefaultPolicy().Decide(rec)
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(1000, func() { buf = AppendAnswer(buf[:0], addr, rec, true, src, v) }); n != 0 {
		t.Errorf("appendAnswer allocates %v times, want 0", n)
	}
}

func TestParseAddr(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"192.0.2.1", "192.0.2.1", true},
		{"::ffff:192.0.2.1", "192.0.2.1", true},
		{"2001:db8::1", "2001:db8::1", true},
		{"fe80::1%eth0", "", false},
		{"", "", false},
		{"192.0.2.0/24", "", false},
		{"[::1]", "", false},
		{" 192.0.2.1", "", false},
	} {
		got, err := ParseAddr(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != netip.MustParseAddr(tt.want)) {
			t.Errorf("ParseAddr(%q) = %v, %v, want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
