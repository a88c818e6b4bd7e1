package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/internal/testhttp"
	"github.com/ipintel/ipintel/lookup"
)

// badDBs are databases Open refuses, by the reason it gives.
func badDBs(t *testing.T) []struct{ name, path, reason, msg string } {
	sample := readDB(t, "sample.mmdb")
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.mmdb")
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(truncated, sample[:len(sample)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(garbage, []byte("this is not an MMDB file"), 0o644); err != nil {
		t.Fatal(err)
	}
	return []struct{ name, path, reason, msg string }{
		{"empty", copyDB(t, "empty.mmdb"), RefusedEmpty, "no networks"},
		{"truncated", truncated, RefusedUnreadable, "truncated.mmdb"},
		{"garbage", garbage, RefusedUnreadable, "garbage.mmdb"},
		{"fails verify", copyDB(t, "unverified.mmdb"), RefusedVerify, `source "not-a-feed" is not a feed of the manifest`},
	}
}

// Open refuses a database that is empty, broken or fails verify, with a
// *RefusedError naming the file and the reason.
func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range badDBs(t) {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(context.Background(), tc.path, Options{})
			re, ok := errors.AsType[*RefusedError](err)
			if !ok || re.Reason != tc.reason || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "refusing to serve ") {
				t.Fatalf("Open(%s) = %v, want a refusal for %s saying %q", tc.name, err, tc.reason, tc.msg)
			}
		})
	}
	if _, err := Open(context.Background(), copyDB(t, "empty.mmdb"), Options{AllowEmpty: true}); err != nil {
		t.Errorf("Open(empty, AllowEmpty) = %v, want it served", err)
	}
}

// A reload to an empty, broken or unverified database is refused, logged
// and counted by reason; the old database keeps serving and /readyz keeps
// reporting it.
func TestRefusesReload(t *testing.T) {
	t.Parallel()
	for _, tc := range badDBs(t) {
		if tc.name == "garbage" {
			continue // TestBrokenReplacement
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := copyDB(t, "sample.mmdb")
			ts := startServer(t, path, Options{})
			before := testhttp.GetReadyz(t, ts.url)
			bad, err := os.ReadFile(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			done := ts.reloaded()
			replaceFile(t, path, bad)
			waitReload(t, done)
			metric := `ipintel_db_reload_refused_total{reason="` + tc.reason + `"}`
			if v := testhttp.MetricValue(t, ts.url, metric); v != "1" {
				t.Errorf("%s = %s, want 1", metric, v)
			}
			if v := testhttp.MetricValue(t, ts.url, "ipintel_reload_failures_total"); v != "1" {
				t.Errorf("ipintel_reload_failures_total = %s, want 1", v)
			}
			if v := testhttp.MetricValue(t, ts.url, "ipintel_reloads_total"); v != "0" {
				t.Errorf("ipintel_reloads_total = %s, want 0", v)
			}
			if a := testhttp.GetAnswer[Answer](t, ts.url, "192.0.2.10"); a.Action != "block" {
				t.Errorf("after the refused reload 192.0.2.10 = %s, want the old block", a.Action)
			}
			if after := testhttp.GetReadyz(t, ts.url); after.Code != 200 || after.Networks != before.Networks {
				t.Errorf("/readyz after the refusal = %+v, want still ready with %d networks", after, before.Networks)
			}
			if log := ts.log.String(); !strings.Contains(log, "reload refused") || !strings.Contains(log, "reason="+tc.reason) {
				t.Errorf("log lacks the refusal and its reason:\n%s", log)
			}
		})
	}
}

// TestBrokenReplacement renames garbage over the database: the reload is
// refused, counted, not retried while the file stays the same, and the old
// database keeps serving until a good file replaces it.
func TestBrokenReplacement(t *testing.T) {
	t.Parallel()
	path := copyDB(t, "sample.mmdb")
	ts := startServer(t, path, Options{})
	done := ts.reloaded()
	replaceFile(t, path, []byte("this is not an MMDB file"))
	waitReload(t, done)
	if v := testhttp.MetricValue(t, ts.url, "ipintel_reload_failures_total"); v != "1" {
		t.Errorf("ipintel_reload_failures_total = %s, want 1", v)
	}
	if a := testhttp.GetAnswer[Answer](t, ts.url, "192.0.2.10"); a.Action != "block" {
		t.Errorf("after a broken replacement 192.0.2.10 = %s, want the old block", a.Action)
	}
	time.Sleep(100 * time.Millisecond)
	if v := testhttp.MetricValue(t, ts.url, "ipintel_reload_failures_total"); v != "1" {
		t.Errorf("ipintel_reload_failures_total = %s after waiting, want still 1", v)
	}
	if !strings.Contains(ts.log.String(), "reload refused") {
		t.Errorf("log lacks the refusal:\n%s", ts.log.String())
	}
	replaceFile(t, path, readDB(t, "sample-new.mmdb"))
	testhttp.WaitFor(t, "the good replacement", func() bool { return testhttp.GetAnswer[Answer](t, ts.url, "2001:db8:3::1").Found })
}

// TestReloadRequest checks the path SIGHUP takes: with file watching off,
// a replaced file is only picked up when a reload is requested.
func TestReloadRequest(t *testing.T) {
	t.Parallel()
	path := copyDB(t, "sample.mmdb")
	ts := startServer(t, path, Options{WatchInterval: -1})
	replaceFile(t, path, readDB(t, "sample-new.mmdb"))
	time.Sleep(50 * time.Millisecond)
	if testhttp.GetAnswer[Answer](t, ts.url, "2001:db8:3::1").Found {
		t.Fatal("new database served before any reload request")
	}
	done := ts.reloaded()
	ts.Reload()
	waitReload(t, done)
	if !testhttp.GetAnswer[Answer](t, ts.url, "2001:db8:3::1").Found {
		t.Fatal("new database not served after the reload request")
	}
}

// goodCopy returns the bytes of the Fetcher's good copy of name, or nil.
func goodCopy(t *testing.T, f *feeds.Fetcher, name string) []byte {
	t.Helper()
	d, err := f.LastGood(name)
	if err != nil {
		return nil
	}
	b, err := os.ReadFile(d.Path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestURL follows a database published over HTTP with conditional GET.
func TestURL(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	body := readDB(t, "sample.mmdb")
	etag := `"v1"`
	var conditional, full, fresh atomic.Int64
	origin := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("If-None-Match") == etag {
			conditional.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		if r.Header.Get("If-None-Match") == "" {
			fresh.Add(1) // a request without validators
		}
		w.Header().Set("ETag", etag)
		_, _ = w.Write(body)
	}), ReadHeaderTimeout: time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = origin.Serve(ln) }()
	t.Cleanup(func() { _ = origin.Close() })
	src := "http://" + ln.Addr().String() + "/ipintel.mmdb"

	fetcher := &feeds.Fetcher{CacheDir: filepath.Join(t.TempDir(), "cache")}
	opts := Options{Fetcher: fetcher, CacheName: "db"}
	ts := startServer(t, src, opts)
	if a := testhttp.GetAnswer[Answer](t, ts.url, "192.0.2.10"); a.Action != "block" {
		t.Fatalf("served %s, want block", a.Action)
	}
	testhttp.WaitFor(t, "a conditional GET", func() bool { return conditional.Load() > 0 })

	nb := readDB(t, "sample-new.mmdb")
	mu.Lock()
	body, etag = nb, `"v2"`
	mu.Unlock()
	testhttp.WaitFor(t, "the new database", func() bool { return testhttp.GetAnswer[Answer](t, ts.url, "2001:db8:3::1").Found })
	if got := goodCopy(t, fetcher, "db"); string(got) != string(nb) {
		t.Error("the good copy is not the new database")
	}
	if f := full.Load(); f != 2 {
		t.Errorf("%d full downloads, want 2", f)
	}

	// A broken upload is refused once, the old database keeps serving.
	mu.Lock()
	body, etag = []byte("garbage"), `"v3"`
	mu.Unlock()
	testhttp.WaitFor(t, "the refused download", func() bool { return testhttp.MetricValue(t, ts.url, "ipintel_reload_failures_total") == "1" })
	n := full.Load()
	testhttp.WaitFor(t, "another poll", func() bool { return full.Load() > n+1 })
	if v := testhttp.MetricValue(t, ts.url, "ipintel_reload_failures_total"); v != "1" {
		t.Errorf("ipintel_reload_failures_total = %s after more polls of the same bytes, want still 1", v)
	}
	if !testhttp.GetAnswer[Answer](t, ts.url, "2001:db8:3::1").Found {
		t.Error("old database not serving after a broken download")
	}
	if got := goodCopy(t, fetcher, "db"); string(got) != string(nb) {
		t.Error("the good copy was overwritten by a broken download")
	}

	// A restart serves the good copy and asks with its validators: the
	// origin (still broken) answers 304 and is not downloaded again.
	mu.Lock()
	etag = `"v2"`
	mu.Unlock()
	ts2 := startServer(t, src, opts)
	if !testhttp.GetAnswer[Answer](t, ts2.url, "2001:db8:3::1").Found {
		t.Error("restarted server does not serve the good copy")
	}
	if f := fresh.Load(); f != 1 {
		t.Errorf("%d GETs without If-None-Match, want only the first server's first: validators not kept", f)
	}
}

// Following a URL, an empty database is refused at start (with no good
// copy) and on reload (the old one and the good copy stay).
func TestURLRefusesEmpty(t *testing.T) {
	t.Parallel()
	var body atomic.Pointer[[]byte]
	empty, good := readDB(t, "empty.mmdb"), readDB(t, "sample.mmdb")
	body.Store(&empty)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := *body.Load()
		w.Header().Set("ETag", fmt.Sprintf(`"%x"`, len(b)))
		_, _ = w.Write(b)
	}))
	t.Cleanup(origin.Close)
	fetcher := &feeds.Fetcher{CacheDir: filepath.Join(t.TempDir(), "cache")}
	opts := Options{Fetcher: fetcher, CacheName: "db"}
	if _, err := Open(context.Background(), origin.URL+"/ipintel.mmdb", opts); err == nil {
		t.Error("Open on an empty URL succeeded")
	}
	if goodCopy(t, fetcher, "db") != nil {
		t.Error("the refused database became the good copy")
	}

	body.Store(&good)
	ts := startServer(t, origin.URL+"/ipintel.mmdb", opts)
	body.Store(&empty)
	metric := `ipintel_db_reload_refused_total{reason="empty"}`
	testhttp.WaitFor(t, "the refused empty download", func() bool {
		n, err := strconv.Atoi(testhttp.MetricValue(t, ts.url, metric))
		return err == nil && n >= 1
	})
	if a := testhttp.GetAnswer[Answer](t, ts.url, "192.0.2.10"); a.Action != "block" {
		t.Errorf("after the refused download 192.0.2.10 = %s, want the old block", a.Action)
	}
	if got := goodCopy(t, fetcher, "db"); string(got) != string(good) {
		t.Error("the good copy is no longer the last good database")
	}
}

// A Server made by New answers 503 until its Handle holds a database.
func TestNewWithoutDatabase(t *testing.T) {
	t.Parallel()
	s := New(new(lookup.Handle), Options{})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	for _, p := range []string{"/v1/ip/192.0.2.1", "/json/192.0.2.1", "/v1/reputation?ip=192.0.2.1", "/readyz"} {
		if r := testhttp.Do(t, "GET", hs.URL+p, nil, nil); r.Status != http.StatusServiceUnavailable {
			t.Errorf("GET %s = %d %s, want 503", p, r.Status, r.Body)
		}
	}
	if r := testhttp.Do(t, "POST", hs.URL+"/v1/ips", nil, strings.NewReader(`["192.0.2.1"]`)); r.Status != http.StatusServiceUnavailable {
		t.Errorf("POST /v1/ips = %d %s, want 503", r.Status, r.Body)
	}
	if r := testhttp.Do(t, "GET", hs.URL+"/healthz", nil, nil); r.Status != 200 {
		t.Errorf("GET /healthz = %d, want 200", r.Status)
	}
	if r := testhttp.Do(t, "GET", hs.URL+"/v1/auth", nil, nil); r.Status != 200 || r.Header.Get("X-Ipintel-Action") != "allow" {
		t.Errorf("GET /v1/auth = %d %q, want 200 allow", r.Status, r.Header.Get("X-Ipintel-Action"))
	}
}

// TestSwapUnderLoad renames a new database over the served one while
// several clients keep asking: no request fails, and the new answers appear.
func TestSwapUnderLoad(t *testing.T) {
	t.Parallel()
	path := copyDB(t, "sample.mmdb")
	ts := startServer(t, path, Options{})

	ctx, stop := context.WithCancel(context.Background())
	var requests, failures atomic.Int64
	var sawNew atomic.Bool
	var firstErr atomic.Value
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for range 6 {
		wg.Go(func() {
			for ctx.Err() == nil {
				for _, addr := range []string{"192.0.2.10", "2001:db8:3::1", "198.51.100.5"} {
					resp, err := client.Get(ts.url + "/v1/ip/" + addr)
					requests.Add(1)
					if err != nil {
						failures.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						continue
					}
					var a Answer
					err = json.NewDecoder(resp.Body).Decode(&a)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 || a.IP != addr {
						failures.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %d %v", addr, resp.StatusCode, err))
						continue
					}
					if addr == "2001:db8:3::1" && a.Found {
						sawNew.Store(true)
					}
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	replaceFile(t, path, readDB(t, "sample-new.mmdb"))
	testhttp.WaitFor(t, "the new database's answers", sawNew.Load)
	time.Sleep(100 * time.Millisecond)
	stop()
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed during the swap; first: %v", n, requests.Load(), firstErr.Load())
	}
	t.Logf("%d requests, 0 failures", requests.Load())
	if a := testhttp.GetAnswer[Answer](t, ts.url, "192.0.2.10"); a.Action != "challenge" || a.RiskScore != 76 {
		t.Errorf("after swap 192.0.2.10 = %s %d, want challenge 76", a.Action, a.RiskScore)
	}
	if v := testhttp.MetricValue(t, ts.url, "ipintel_reloads_total"); v != "1" {
		t.Errorf("ipintel_reloads_total = %s, want 1", v)
	}
}

// With AllowEmpty an empty database is served, at start and on reload.
func TestAllowEmpty(t *testing.T) {
	t.Parallel()
	path := copyDB(t, "empty.mmdb")
	ts := startServer(t, path, Options{AllowEmpty: true})
	if a := testhttp.GetAnswer[Answer](t, ts.url, "192.0.2.10"); a.Found || a.Action != "allow" {
		t.Errorf("192.0.2.10 in the empty database = found %v, %s; want not found, allow", a.Found, a.Action)
	}
	if r := testhttp.GetReadyz(t, ts.url); r.Code != 200 || r.Networks != 0 {
		t.Errorf("/readyz = %+v, want ready with 0 networks", r)
	}
	replaceFile(t, path, readDB(t, "sample.mmdb"))
	testhttp.WaitFor(t, "the sample database", func() bool { return testhttp.GetAnswer[Answer](t, ts.url, "192.0.2.10").Found })
	replaceFile(t, path, readDB(t, "empty.mmdb"))
	testhttp.WaitFor(t, "the empty database again", func() bool { return !testhttp.GetAnswer[Answer](t, ts.url, "192.0.2.10").Found })
	if v := testhttp.MetricValue(t, ts.url, `ipintel_db_reload_refused_total{reason="empty"}`); v != "0" {
		t.Errorf("refused empty = %s with AllowEmpty, want 0", v)
	}
}
