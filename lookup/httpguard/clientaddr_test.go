package httpguard

import (
	"errors"
	"net/http"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	corp := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name    string
		peer    string
		header  http.Header
		trusted []netip.Prefix // nil: the default, loopback
		want    string
		wantErr string // the AddrError's Header, or "peer"
	}{
		{name: "untrusted peer ignores headers", peer: "203.0.113.9:5555", header: http.Header{"X-Forwarded-For": {"192.0.2.1"}}, want: "203.0.113.9"},
		{name: "trusted peer without headers", peer: "127.0.0.1:5555", want: "127.0.0.1"},
		{name: "ipv6 peer", peer: "[2001:db8::5]:80", want: "2001:db8::5"},
		{name: "mapped peer unmapped", peer: "[::ffff:203.0.113.9]:80", want: "203.0.113.9"},
		{name: "zoned peer", peer: "[fe80::1%eth0]:80", want: "fe80::1"},
		{name: "xff single", peer: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"192.0.2.1"}}, want: "192.0.2.1"},
		{name: "xff rightmost untrusted wins", peer: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"198.51.100.1, 192.0.2.1"}}, want: "192.0.2.1"},
		{name: "xff walks past trusted", peer: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"198.51.100.1, 192.0.2.1, 10.1.1.1, 127.0.0.2"}}, trusted: corp, want: "192.0.2.1"},
		{name: "xff all trusted gives leftmost", peer: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"10.1.1.1, 127.0.0.2"}}, trusted: corp, want: "10.1.1.1"},
		{name: "xff several lines", peer: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"192.0.2.1", "127.0.0.5"}}, want: "192.0.2.1"},
		{name: "xff ports and brackets", peer: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"[2001:db8::7]:443, 127.0.0.1:80"}}, want: "2001:db8::7"},
		{name: "xff v4 port", peer: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"192.0.2.1:8080"}}, want: "192.0.2.1"},
		{name: "xff empty elements", peer: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"192.0.2.1, , "}}, want: "192.0.2.1"},
		{name: "xff mapped", peer: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"::ffff:192.0.2.1"}}, want: "192.0.2.1"},
		{name: "xff garbage nearest", peer: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"192.0.2.1, junk"}}, wantErr: "X-Forwarded-For"},
		{name: "xff garbage beyond client is ignored", peer: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"junk, 192.0.2.1"}}, want: "192.0.2.1"},
		{name: "xff bad port", peer: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"192.0.2.1:http"}}, wantErr: "X-Forwarded-For"},
		{name: "xff wins over forwarded", peer: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"192.0.2.1"}, "Forwarded": {"for=192.0.2.99"}}, want: "192.0.2.1"},
		{name: "forwarded", peer: "127.0.0.1:1", header: http.Header{"Forwarded": {"for=192.0.2.60;proto=http;by=203.0.113.43"}}, want: "192.0.2.60"},
		{name: "forwarded quoted v6", peer: "127.0.0.1:1", header: http.Header{"Forwarded": {`for="[2001:db8:cafe::17]:4711"`}}, want: "2001:db8:cafe::17"},
		{name: "forwarded list", peer: "127.0.0.1:1", header: http.Header{"Forwarded": {"for=198.51.100.17, For=192.0.2.43;proto=https", "for=127.0.0.3"}}, want: "192.0.2.43"},
		{name: "forwarded quoted comma", peer: "127.0.0.1:1", header: http.Header{"Forwarded": {`for=192.0.2.43;ext="a,b"`}}, want: "192.0.2.43"},
		{name: "forwarded unknown", peer: "127.0.0.1:1", header: http.Header{"Forwarded": {"for=unknown"}}, wantErr: "Forwarded"},
		{name: "forwarded obfuscated", peer: "127.0.0.1:1", header: http.Header{"Forwarded": {"for=_hidden"}}, wantErr: "Forwarded"},
		{name: "forwarded without for", peer: "127.0.0.1:1", header: http.Header{"Forwarded": {"proto=https"}}, wantErr: "Forwarded"},
		{name: "real ip", peer: "127.0.0.1:1", header: http.Header{"X-Real-Ip": {" 192.0.2.8 "}}, want: "192.0.2.8"},
		{name: "real ip garbage", peer: "127.0.0.1:1", header: http.Header{"X-Real-Ip": {"x"}}, wantErr: "X-Real-IP"},
		{name: "trust nothing", peer: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"192.0.2.1"}}, trusted: []netip.Prefix{}, want: "127.0.0.1"},
		{name: "bad peer", peer: "pipe", wantErr: "peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &http.Request{RemoteAddr: tt.peer, Header: tt.header}
			if r.Header == nil {
				r.Header = http.Header{}
			}
			got, err := ClientAddr(r, tt.trusted...)
			if tt.wantErr != "" {
				ae, ok := errors.AsType[*AddrError](err)
				if !ok {
					t.Fatalf("ClientAddr = %v, %v, want an *AddrError", got, err)
				}
				if h := ae.Header; h != tt.wantErr && (tt.wantErr != "peer" || h != "") {
					t.Fatalf("ClientAddr error header %q (%v), want %q", ae.Header, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != netip.MustParseAddr(tt.want) {
				t.Fatalf("ClientAddr = %v, %v, want %v", got, err, tt.want)
			}
		})
	}
}

func TestClientAddrAllocs(t *testing.T) {
	r := &http.Request{RemoteAddr: "127.0.0.1:5555", Header: http.Header{"X-Forwarded-For": {"198.51.100.1, 192.0.2.1"}}}
	if n := testing.AllocsPerRun(1000, func() { _, _ = ClientAddr(r) }); n != 0 {
		t.Errorf("ClientAddr allocates %v times, want 0", n)
	}
}

func FuzzClientAddr(f *testing.F) {
	f.Add("192.0.2.1, 127.0.0.1", `for="[2001:db8::1]:80";by=x`, "192.0.2.9")
	f.Add(",,,", `for="\"`, "")
	f.Add("[::1", "for=", "[")
	f.Fuzz(func(t *testing.T, xff, fwd, real string) {
		for _, h := range []http.Header{{"X-Forwarded-For": {xff}}, {"Forwarded": {fwd}}, {"X-Real-Ip": {real}}} {
			a, err := ClientAddr(&http.Request{RemoteAddr: "127.0.0.1:1", Header: h})
			if err == nil && (!a.IsValid() || a.Zone() != "" || a.Is4In6()) {
				t.Fatalf("ClientAddr(%v) = %v: not a valid, zoneless, unmapped address", h, a)
			}
		}
	})
}
