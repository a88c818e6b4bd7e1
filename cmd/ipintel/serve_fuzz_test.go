package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	fuzzServerOnce sync.Once
	fuzzServer     *server
	fuzzServerErr  error
)

// FuzzServeHTTP sends arbitrary methods, paths, forwarding headers and
// bodies to the router: no input may produce a 5xx or a panic, every
// error is a JSON object, and a 200 from /v1/ip is valid JSON.
func FuzzServeHTTP(f *testing.F) {
	db := sampleDB(f)
	fuzzServerOnce.Do(func() {
		fuzzServer, fuzzServerErr = newServer(context.Background(), serveConfig{db: db, watch: time.Hour}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	})
	if fuzzServerErr != nil {
		f.Fatal(fuzzServerErr)
	}
	s := fuzzServer
	f.Add("GET", "/v1/ip/192.0.2.10", "", "")
	f.Add("GET", "/v1/ip/fe80::1%eth0", "", "")
	f.Add("POST", "/v1/ips", "", `["192.0.2.10","x",1]`)
	f.Add("POST", "/v1/ips", "", `[`+strings.Repeat(`"1.2.3.4",`, 5)+`"::1"]`)
	f.Add("GET", "/v1/auth", "192.0.2.10, junk", "")
	f.Add("PUT", "/json/", `for="[::1]:80"`, "")
	f.Add("GET", "/v1/reputation?ip=%zz", "", "")
	f.Add("DELETE", "/metrics", "", "")
	f.Fuzz(func(t *testing.T, method, target, xff, body string) {
		if !validMethod(method) || !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\x00") || strings.ContainsAny(xff, "\r\n\x00") {
			t.Skip()
		}
		req, err := http.NewRequest(method, "http://127.0.0.1"+target, strings.NewReader(body))
		if err != nil {
			t.Skip()
		}
		req.RemoteAddr = "127.0.0.1:1234"
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		rr := httptest.NewRecorder()
		s.ServeHTTP(rr, req)
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
