package httpguard_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/lookup/httpguard"
)

func TestForwardAuth(t *testing.T) {
	t.Parallel()
	g := httpguard.New(lookup.NewHandle(openFixture(t)), httpguard.Options{})
	var mu sync.Mutex
	var observed []string
	h := g.ForwardAuth(httpguard.AuthOptions{Observe: func(_ *http.Request, v lookup.Verdict, err error) {
		mu.Lock()
		defer mu.Unlock()
		observed = append(observed, v.Action.String()+" "+map[bool]string{true: "err", false: "ok"}[err != nil])
	}})
	for _, tt := range []struct {
		name, method, peer, xff string
		status                  int
		action, score, source   string
		cats, client            string
		body, errHeader         string
		observed                string
	}{
		{name: "blocked", method: "GET", peer: "127.0.0.1:1", xff: "192.0.2.7", status: 403,
			action: "block", score: "90", source: "stored", cats: "tor_exit", client: "192.0.2.7",
			body: `{"error":"blocked"}` + "\n", observed: "block ok"},
		{name: "challenged, any method", method: "DELETE", peer: "127.0.0.1:1", xff: "198.51.100.7", status: 401,
			action: "challenge", score: "50", source: "stored", cats: "vpn", client: "198.51.100.7",
			body: `{"error":"challenge"}` + "\n", observed: "challenge ok"},
		{name: "allowed", method: "GET", peer: "127.0.0.1:1", xff: "203.0.113.9", status: 200,
			action: "allow", score: "0", source: "policy", cats: "none", client: "203.0.113.9", observed: "allow ok"},
		{name: "untrusted peer's header ignored", method: "GET", peer: "203.0.113.1:1", xff: "192.0.2.7", status: 200,
			action: "allow", score: "0", source: "policy", cats: "none", client: "203.0.113.1", observed: "allow ok"},
		{name: "garbled header fails open", method: "GET", peer: "127.0.0.1:1", xff: "192.0.2.7, junk", status: 200,
			action: "allow", errHeader: "junk", observed: "allow err"},
		{name: "trusted proxy without header", method: "GET", peer: "127.0.0.1:1", status: 200,
			action: "allow", score: "0", source: "policy", cats: "none", client: "127.0.0.1",
			errHeader: "no forwarding header", observed: "allow ok"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			observed = observed[:0]
			mu.Unlock()
			req := httptest.NewRequest(tt.method, "/v1/auth", nil)
			req.RemoteAddr = tt.peer
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			rr := httptest.NewRecorder()
			h.ServeHTTP(rr, req)
			if rr.Code != tt.status {
				t.Errorf("status %d, want %d", rr.Code, tt.status)
			}
			for k, want := range map[string]string{
				"X-Ipintel-Action": tt.action, "X-Ipintel-Score": tt.score, "X-Ipintel-Score-Source": tt.source,
				"X-Ipintel-Categories": tt.cats, "X-Ipintel-Client": tt.client, "Cache-Control": "no-store",
			} {
				if got := rr.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got := rr.Header().Get("X-Ipintel-Error"); (tt.errHeader == "") != (got == "") || !strings.Contains(got, tt.errHeader) {
				t.Errorf("X-Ipintel-Error = %q, want one containing %q", got, tt.errHeader)
			}
			if got := rr.Body.String(); got != tt.body {
				t.Errorf("body %q, want %q", got, tt.body)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(observed) != 1 || observed[0] != tt.observed {
				t.Errorf("observed %q, want [%q]", observed, tt.observed)
			}
		})
	}
}

// With no Observe and no database loaded every request is allowed.
func TestForwardAuthNoDatabase(t *testing.T) {
	t.Parallel()
	g := httpguard.New(new(lookup.Handle), httpguard.Options{TrustedProxies: []netip.Prefix{}})
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "192.0.2.7:1"
	rr := httptest.NewRecorder()
	g.ForwardAuth(httpguard.AuthOptions{}).ServeHTTP(rr, req)
	if rr.Code != 200 || rr.Header().Get("X-Ipintel-Action") != "allow" {
		t.Errorf("no database: %d %q, want 200 allow", rr.Code, rr.Header().Get("X-Ipintel-Action"))
	}
}
