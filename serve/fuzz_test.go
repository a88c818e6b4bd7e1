package serve

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

var (
	fuzzServerOnce sync.Once
	fuzzServer     http.Handler
	fuzzServerErr  error
)

// FuzzServeHTTP sends arbitrary methods, paths, forwarding headers and
// bodies to the handler: no input may produce a 5xx or a panic, every
// error is a JSON object, and a 200 from /v1/ip is valid JSON.
func FuzzServeHTTP(f *testing.F) {
	fuzzServerOnce.Do(func() {
		var s *Server
		s, fuzzServerErr = Open(context.Background(), "testdata/sample.mmdb", Options{})
		if fuzzServerErr == nil {
			fuzzServer = s.Handler()
		}
	})
	if fuzzServerErr != nil {
		f.Fatal(fuzzServerErr)
	}
	for _, sd := range serveFuzzSeeds {
		f.Add(sd.method, sd.target, sd.xff, sd.body)
	}
	f.Fuzz(func(t *testing.T, method, target, xff, body string) {
		req, ok := fuzzRequest(method, target, xff, body)
		if !ok {
			t.Skip()
		}
		rr := httptest.NewRecorder()
		fuzzServer.ServeHTTP(rr, req)
		if rr.Code >= 500 {
			t.Fatalf("%s %q (X-Forwarded-For %q, body %q) = %d %s", method, target, xff, body, rr.Code, rr.Body)
		}
		if rr.Code >= 400 {
			var e struct{ Error string }
			if err := json.Unmarshal(rr.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%s %q = %d with a non-JSON error body %q", method, target, rr.Code, rr.Body)
			}
		}
		if rr.Code == 200 && strings.HasPrefix(req.URL.Path, "/v1/ip") && !json.Valid(rr.Body.Bytes()) {
			t.Fatalf("%s %q = 200 with invalid JSON %q", method, target, rr.Body)
		}
	})
}

// serveFuzzSeeds are the seed corpus of FuzzServeHTTP, each with the
// status the router gives it, which TestServeFuzzSeedsReachHandler checks:
// a seed that the request construction skips would test nothing.
var serveFuzzSeeds = []struct {
	method, target, xff, body string
	status                    int
}{
	{"GET", "/v1/ip/192.0.2.10", "", "", 200},
	// A zone: "%" must be escaped in a request target, so the handler sees
	// fe80::1%eth0 (a raw "%eth0" is not a valid escape and never gets there).
	{"GET", "/v1/ip/fe80::1%25eth0", "", "", 400},
	{"POST", "/v1/ips", "", `["192.0.2.10","x",1]`, 400},
	{"POST", "/v1/ips", "", `[` + strings.Repeat(`"1.2.3.4",`, 5) + `"::1"]`, 200},
	{"GET", "/v1/auth", "192.0.2.10, junk", "", 200},
	{"PUT", "/json/", `for="[::1]:80"`, "", 405},
	{"GET", "/v1/reputation?ip=%zz", "", "", 400},
	{"DELETE", "/metrics", "", "", 405},
}

// fuzzRequest builds the request of one fuzz input, and reports whether
// it is one a client could send (else the input is skipped).
func fuzzRequest(method, target, xff, body string) (*http.Request, bool) {
	if !validMethod(method) || !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\x00") || strings.ContainsAny(xff, "\r\n\x00") {
		return nil, false
	}
	req, err := http.NewRequest(method, "http://127.0.0.1"+target, strings.NewReader(body))
	if err != nil {
		return nil, false
	}
	req.RemoteAddr = "127.0.0.1:1234"
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	return req, true
}

// Every seed of FuzzServeHTTP reaches the handler, with the status it is
// there for; the zone seed is refused for its zone, not for its escape.
func TestServeFuzzSeedsReachHandler(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), "testdata/sample.mmdb", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sd := range serveFuzzSeeds {
		req, ok := fuzzRequest(sd.method, sd.target, sd.xff, sd.body)
		if !ok {
			t.Errorf("seed %s %q is skipped before the handler", sd.method, sd.target)
			continue
		}
		rr := httptest.NewRecorder()
		s.Handler().ServeHTTP(rr, req)
		if rr.Code != sd.status {
			t.Errorf("seed %s %q = %d %s, want %d", sd.method, sd.target, rr.Code, rr.Body, sd.status)
		}
		if strings.Contains(sd.target, "%25eth0") && !strings.Contains(rr.Body.String(), "zone") {
			t.Errorf("seed %s %q = %s, want a refusal of the zone", sd.method, sd.target, rr.Body)
		}
	}
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
