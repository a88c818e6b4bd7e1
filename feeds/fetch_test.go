package feeds

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipintel/ipintel/internal/testenv"
)

// testServer is an httptest server whose behaviour a test sets and which
// records every request and counts the body bytes it wrote.
type testServer struct {
	*httptest.Server
	mu      sync.Mutex
	handler http.HandlerFunc
	reqs    []*http.Request
	written []int64 // body bytes written, per request
}

func newTestServer(t *testing.T, h http.HandlerFunc) *testServer {
	t.Helper()
	ts := &testServer{handler: h}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		ts.reqs = append(ts.reqs, r.Clone(context.Background()))
		ts.written = append(ts.written, 0)
		i := len(ts.written) - 1
		h := ts.handler
		ts.mu.Unlock()
		h(&countingWriter{ResponseWriter: w, ts: ts, i: i}, r)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) setHandler(h http.HandlerFunc) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.handler = h
}

// requests returns the requests received so far and the body bytes
// written for each.
func (ts *testServer) requests() ([]*http.Request, []int64) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]*http.Request(nil), ts.reqs...), append([]int64(nil), ts.written...)
}

func (ts *testServer) count() int {
	r, _ := ts.requests()
	return len(r)
}

type countingWriter struct {
	http.ResponseWriter
	ts *testServer
	i  int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.ts.mu.Lock()
	c.ts.written[c.i] += int64(n)
	c.ts.mu.Unlock()
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// serve answers like a static file server: ETag and Last-Modified when
// given, conditional requests answered with 304 by net/http.
func serve(body []byte, etag string, mod time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if etag != "" {
			w.Header().Set("ETag", etag)
		}
		http.ServeContent(w, r, "", mod, bytes.NewReader(body))
	}
}

// status answers every request with code.
func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, http.StatusText(code), code)
	}
}

// sequence answers the i-th request with hs[i], and later ones with the last.
func sequence(hs ...http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hs[min(n, len(hs)-1)]
		n++
		mu.Unlock()
		h(w, r)
	}
}

// cutConnection sends a 200 without Content-Length, then part of body,
// and closes the connection: a clean end of file to the client.
func cutConnection(part []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		// Write errors only mean the client went away: nothing to check.
		_, _ = fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/octet-stream\r\n\r\n")
		_, _ = buf.Write(part)
		_ = buf.Flush()
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testFetcher returns a Fetcher with a fresh cache directory, quick
// retries and a captured log.
func testFetcher(t *testing.T) (*Fetcher, *syncBuffer) {
	t.Helper()
	log := new(syncBuffer)
	return &Fetcher{
		CacheDir:     t.TempDir(),
		Timeout:      5 * time.Second,
		Retries:      2,
		RetryWait:    time.Millisecond,
		MaxRetryWait: 20 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(log, nil)),
	}, log
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fetch", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// body reads a Download's body through Open.
func body(t *testing.T, d *Download) []byte {
	t.Helper()
	rc, err := d.Open()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", d.Path, err)
	}
	return b
}

// commitGood fetches want from ts as the feed "feed" and commits it.
func commitGood(t *testing.T, f *Fetcher, ts *testServer, want []byte, entries int) *Download {
	t.Helper()
	d, err := f.Fetch(t.Context(), "feed", ts.URL+"/feed", "")
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if got := body(t, d); !bytes.Equal(got, want) {
		t.Fatalf("Fetch body = %d bytes, want %d", len(got), len(want))
	}
	if err := d.Commit(entries); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return d
}

// checkGood asserts that name's last good copy is exactly want, with entries.
func checkGood(t *testing.T, f *Fetcher, name string, want []byte, entries int) {
	t.Helper()
	d, err := f.LastGood(name)
	if err != nil {
		t.Fatalf("LastGood(%q): %v", name, err)
	}
	if got := body(t, d); !bytes.Equal(got, want) {
		t.Fatalf("LastGood(%q) body = %d bytes, sha256 %s; want %d bytes, sha256 %s", name, len(got), sum(got), len(want), sum(want))
	}
	if d.SHA256 != sum(want) || d.Size != int64(len(want)) || d.Entries != entries || !d.FromCache {
		t.Fatalf("LastGood(%q) = {SHA256 %s, Size %d, Entries %d, FromCache %v}, want {%s, %d, %d, true}",
			name, d.SHA256, d.Size, d.Entries, d.FromCache, sum(want), len(want), entries)
	}
}

// checkNoTemps asserts that no temporary file is left in dir.
func checkNoTemps(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), tempExt) {
			t.Errorf("temporary file %s left in the cache directory", e.Name())
		}
	}
}

// TestFetchConditional serves real feeds with validators, then checks that
// the second fetch sends them back, gets a 304 without a body, and yields
// the committed copy.
func TestFetchConditional(t *testing.T) {
	t.Parallel()
	mod := time.Date(2026, 8, 22, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		corpus string // file in the shared corpus; else testdata/fetch
		file   string
		etag   string
		mod    time.Time
	}{
		{name: "testdata-etag-and-date", file: "list.txt", etag: `"v1"`, mod: mod},
		{name: "testdata-gzip-etag-only", file: "list.txt.gz", etag: `W/"gz-1"`},
		{name: "testdata-date-only", file: "list.txt", mod: mod},
		{name: "spamhaus-drop", corpus: "abuse/spamhaus-drop_2025-01-17.txt", etag: `"drop"`, mod: mod},
		{name: "ip2asn-v6-gzip", corpus: "asn/ip2asn-v6_2023-12-08.tsv.gz", etag: `"ip2asn"`, mod: mod},
		{name: "tor-exit-addresses", corpus: "tor/tor-exit-addresses_2024-03-12.txt", mod: mod},
		{name: "onionoo", corpus: "tor/onionoo-details-running_2026-08-22.json", etag: `"onionoo"`},
		{name: "edrop-empty", corpus: "abuse/spamhaus-edrop-merged-empty_2024-10-18.txt", etag: `"e"`, mod: mod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var want []byte
			if tt.corpus != "" {
				b, err := os.ReadFile(filepath.Join(testenv.SharedFeeds(t), tt.corpus))
				if err != nil {
					t.Fatal(err)
				}
				want = b
			} else {
				want = readTestdata(t, tt.file)
			}
			ts := newTestServer(t, serve(want, tt.etag, tt.mod))
			f, _ := testFetcher(t)
			src := ts.URL + "/feed"

			d1, err := f.Fetch(t.Context(), "feed", src, "")
			if err != nil {
				t.Fatalf("first Fetch: %v", err)
			}
			if d1.NotModified || d1.FromCache {
				t.Errorf("first Fetch: NotModified %v, FromCache %v; want a fresh candidate", d1.NotModified, d1.FromCache)
			}
			if filepath.Dir(d1.Path) != f.CacheDir || !strings.HasSuffix(d1.Path, tempExt) {
				t.Errorf("first Fetch: Path = %s, want a temporary file in %s", d1.Path, f.CacheDir)
			}
			if got := body(t, d1); !bytes.Equal(got, want) {
				t.Fatalf("first Fetch: body differs from the served file (%d vs %d bytes)", len(got), len(want))
			}
			if d1.SHA256 != sum(want) || d1.Size != int64(len(want)) || d1.ETag != tt.etag || d1.URL != src {
				t.Errorf("first Fetch: SHA256 %s Size %d ETag %q URL %q; want %s %d %q %q",
					d1.SHA256, d1.Size, d1.ETag, d1.URL, sum(want), len(want), tt.etag, src)
			}
			if err := d1.Commit(1234); err != nil {
				t.Fatalf("Commit: %v", err)
			}

			d2, err := f.Fetch(t.Context(), "feed", src, "")
			if err != nil {
				t.Fatalf("second Fetch: %v", err)
			}
			reqs, written := ts.requests()
			if len(reqs) != 2 {
				t.Fatalf("server saw %d requests, want 2", len(reqs))
			}
			if got := reqs[1].Header.Get("If-None-Match"); got != tt.etag {
				t.Errorf("If-None-Match = %q, want %q", got, tt.etag)
			}
			wantIMS := ""
			if !tt.mod.IsZero() {
				wantIMS = tt.mod.Format(http.TimeFormat)
			}
			if got := reqs[1].Header.Get("If-Modified-Since"); got != wantIMS {
				t.Errorf("If-Modified-Since = %q, want %q", got, wantIMS)
			}
			if reqs[0].Header.Get("If-None-Match") != "" || reqs[0].Header.Get("If-Modified-Since") != "" {
				t.Errorf("first request was conditional with an empty cache")
			}
			if written[1] != 0 {
				t.Errorf("second request wrote %d body bytes, want 0 (304)", written[1])
			}
			if !d2.NotModified || !d2.FromCache || d2.Path != d1.Path || d2.Entries != 1234 {
				t.Errorf("second Fetch = {NotModified %v FromCache %v Path %s Entries %d}, want {true true %s 1234}",
					d2.NotModified, d2.FromCache, d2.Path, d2.Entries, d1.Path)
			}
			if got := body(t, d2); !bytes.Equal(got, want) {
				t.Errorf("second Fetch: body differs from the served file")
			}
			// Committing the 304 records a new count and keeps the body.
			if err := d2.Commit(1300); err != nil {
				t.Fatalf("Commit after 304: %v", err)
			}
			checkGood(t, f, "feed", want, 1300)
			checkNoTemps(t, f.CacheDir)
		})
	}
}

// TestFetchRetries checks that transient failures are retried, with a
// warning each, until a success.
func TestFetchRetries(t *testing.T) {
	t.Parallel()
	want := readTestdata(t, "list.txt.gz")
	tests := []struct {
		name     string
		failures []http.HandlerFunc
	}{
		{"500-then-ok", []http.HandlerFunc{status(500)}},
		{"503-502-then-ok", []http.HandlerFunc{status(503), status(502)}},
		{"429-then-ok", []http.HandlerFunc{status(429)}},
		{"cut-gzip-then-ok", []http.HandlerFunc{cutConnection(want[:len(want)/2])}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, sequence(append(tt.failures, serve(want, `"x"`, time.Time{}))...))
			f, log := testFetcher(t)
			d, err := f.Fetch(t.Context(), "feed", ts.URL, "")
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if got := body(t, d); !bytes.Equal(got, want) {
				t.Errorf("body differs from the served file")
			}
			if got, want := ts.count(), len(tt.failures)+1; got != want {
				t.Errorf("server saw %d requests, want %d", got, want)
			}
			if got := strings.Count(log.String(), "retrying"); got != len(tt.failures) {
				t.Errorf("logged %d retry warnings, want %d:\n%s", got, len(tt.failures), log)
			}
			if err := d.Discard(); err != nil {
				t.Fatal(err)
			}
			checkNoTemps(t, f.CacheDir)
		})
	}
}

// TestFetchFailuresKeepGoodCopy commits a good copy, then makes the server
// misbehave in every way we know: each fetch must fail with the right
// error, naming the URL, leave no temporary file, and leave the good copy
// byte-identical.
func TestFetchFailuresKeepGoodCopy(t *testing.T) {
	t.Parallel()
	good := readTestdata(t, "list.txt.gz")
	next := bytes.Repeat(good, 3) // a bigger, different body for the bad fetches
	plain := readTestdata(t, "list.txt")
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		tweak    func(*Fetcher)
		wantReqs int // requests for the failing fetch; 0: don't check
		check    func(error) bool
	}{
		{
			name:     "500-forever",
			handler:  status(500),
			wantReqs: 3, // Retries 2
			check: func(err error) bool {
				se, ok := errors.AsType[*StatusError](err)
				return ok && se.StatusCode == http.StatusInternalServerError && strings.Contains(err.Error(), "after 3 attempts")
			},
		},
		{
			name:     "404-not-retried",
			handler:  status(404),
			wantReqs: 1,
			check: func(err error) bool {
				se, ok := errors.AsType[*StatusError](err)
				return ok && se.StatusCode == http.StatusNotFound && strings.Contains(err.Error(), "404 Not Found")
			},
		},
		{
			name: "slow-body-beyond-timeout",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(len(next)))
				_, _ = w.Write(next[:100])
				_ = http.NewResponseController(w).Flush()
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			},
			tweak:    func(f *Fetcher) { f.Timeout = 200 * time.Millisecond; f.Retries = -1 },
			wantReqs: 1,
			check:    func(err error) bool { return errors.Is(err, context.DeadlineExceeded) },
		},
		{
			name: "slow-headers-beyond-timeout",
			handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			},
			tweak:    func(f *Fetcher) { f.Timeout = 200 * time.Millisecond; f.Retries = 1 },
			wantReqs: 2,
			check:    func(err error) bool { return errors.Is(err, context.DeadlineExceeded) },
		},
		{
			name: "content-length-lie",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(len(next)))
				_, _ = w.Write(next[:len(next)/2])
			},
			wantReqs: 3,
			check:    func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) },
		},
		{
			name: "content-length-lie-plain",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(len(plain)))
				_, _ = w.Write(plain[:len(plain)/2])
			},
			wantReqs: 3,
			check: func(err error) bool {
				return errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, errTruncatedGzip)
			},
		},
		{
			name:     "truncated-gzip-clean-eof",
			handler:  cutConnection(next[:len(good)-10]),
			wantReqs: 3,
			check:    func(err error) bool { return errors.Is(err, errTruncatedGzip) },
		},
		{
			name:     "gzip-header-only",
			handler:  cutConnection(next[:10]),
			wantReqs: 3,
			check:    func(err error) bool { return errors.Is(err, errTruncatedGzip) },
		},
		{
			name: "corrupt-gzip",
			handler: func(w http.ResponseWriter, r *http.Request) {
				bad := bytes.Clone(good)
				bad[len(bad)-5] ^= 0xff // the trailer's ISIZE no longer matches
				serve(bad, "", time.Time{})(w, r)
			},
			check: func(err error) bool { return errors.Is(err, gzip.ErrChecksum) },
		},
		{
			name:     "oversized-content-length",
			handler:  serve(next, "", time.Time{}),
			tweak:    func(f *Fetcher) { f.MaxSize = int64(len(next)) - 1 },
			wantReqs: 1,
			check:    func(err error) bool { return errors.Is(err, errTooLarge) },
		},
		{
			name: "oversized-chunked",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				for range 100 { // no Content-Length: chunked, so only the cap stops it
					_, _ = w.Write(next)
					_ = http.NewResponseController(w).Flush()
				}
			},
			tweak:    func(f *Fetcher) { f.MaxSize = 4 * int64(len(next)) },
			wantReqs: 1,
			check:    func(err error) bool { return errors.Is(err, errTooLarge) },
		},
		{
			name: "redirect-loop",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.Path, http.StatusFound)
			},
			wantReqs: 11,
			check:    func(err error) bool { return errors.Is(err, errTooManyRedirects) },
		},
		{
			name:     "partial-content",
			handler:  func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusPartialContent) },
			wantReqs: 1,
			check: func(err error) bool {
				se, ok := errors.AsType[*StatusError](err)
				return ok && se.StatusCode == http.StatusPartialContent
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, serve(good, `"good"`, time.Time{}))
			f, _ := testFetcher(t)
			commitGood(t, f, ts, good, 77)
			ts.setHandler(tt.handler)
			before := ts.count()
			if tt.tweak != nil {
				tt.tweak(f)
			}
			src := ts.URL + "/feed"
			start := time.Now()
			d, err := f.Fetch(t.Context(), "feed", src, "")
			if err == nil {
				t.Fatalf("Fetch succeeded (%d bytes at %s), want an error", d.Size, d.Path)
			}
			if el := time.Since(start); el > 10*time.Second { // only a hang takes this long
				t.Errorf("Fetch took %v", el)
			}
			if !tt.check(err) {
				t.Errorf("Fetch error = %v: not the expected kind", err)
			}
			if !strings.Contains(err.Error(), src) {
				t.Errorf("Fetch error %q does not name the URL %s", err, src)
			}
			if got := ts.count() - before; tt.wantReqs != 0 && got != tt.wantReqs {
				t.Errorf("server saw %d requests, want %d", got, tt.wantReqs)
			}
			checkGood(t, f, "feed", good, 77)
			checkNoTemps(t, f.CacheDir)
		})
	}
}

// TestFetchRetryAfter checks that a 429's Retry-After is honoured up to
// MaxRetryWait, and that a parent context cancelled during the wait ends
// the fetch at once.
func TestFetchRetryAfter(t *testing.T) {
	t.Parallel()
	want := readTestdata(t, "list.txt")
	tooMany := func(after string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", after)
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}
	}
	t.Run("capped", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, sequence(tooMany("10"), serve(want, "", time.Time{})))
		f, _ := testFetcher(t)
		f.MaxRetryWait = 150 * time.Millisecond // RetryWait is 1ms: only Retry-After explains the wait
		start := time.Now()
		if _, err := f.Fetch(t.Context(), "feed", ts.URL, ""); err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if el := time.Since(start); el < 150*time.Millisecond || el > 5*time.Second {
			t.Errorf("Fetch took %v, want the Retry-After of 10s capped to 150ms", el)
		}
		if ts.count() != 2 {
			t.Errorf("server saw %d requests, want 2", ts.count())
		}
	})
	t.Run("cancelled-while-waiting", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, tooMany("3600"))
		f, _ := testFetcher(t)
		f.MaxRetryWait = time.Hour
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := f.Fetch(ctx, "feed", ts.URL, "")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Fetch error = %v, want context.DeadlineExceeded", err)
		}
		if se, ok := errors.AsType[*StatusError](err); !ok || se.StatusCode != http.StatusTooManyRequests {
			t.Errorf("Fetch error = %v, want it to wrap the 429 too", err)
		}
		if el := time.Since(start); el > 5*time.Second { // not the hour it was asked to wait
			t.Errorf("Fetch took %v after its context ended", el)
		}
	})
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"99999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	f := &Fetcher{} // defaults: 500ms doubling, capped at 30s
	for attempt := range 10 {
		full := min(defaultRetryWait<<attempt, defaultMaxRetryWait)
		for range 50 {
			if got := f.backoff(attempt, 0); got < full/2 || got > full {
				t.Fatalf("backoff(%d, 0) = %v, want in [%v, %v]", attempt, got, full/2, full)
			}
		}
	}
	if got := f.backoff(0, 10*time.Second); got != 10*time.Second {
		t.Errorf("backoff(0, 10s) = %v, want the server's 10s", got)
	}
	if got := f.backoff(0, time.Hour); got != defaultMaxRetryWait {
		t.Errorf("backoff(0, 1h) = %v, want the cap %v", got, defaultMaxRetryWait)
	}
}

func TestFetchUserAgent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, set string
		check     func(string) bool
	}{
		{"default", "", func(ua string) bool {
			return strings.HasPrefix(ua, "ipintel/") && strings.HasSuffix(ua, " (+https://github.com/ipintel/ipintel)")
		}},
		{"custom", "acme-bot/2.0", func(ua string) bool { return ua == "acme-bot/2.0" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, sequence(status(500), serve([]byte("192.0.2.1\n"), "", time.Time{})))
			f, _ := testFetcher(t)
			f.UserAgent = tt.set
			d, err := f.Fetch(t.Context(), "feed", ts.URL, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Discard(); err != nil {
				t.Fatal(err)
			}
			reqs, _ := ts.requests()
			for i, r := range reqs { // retries carry it too
				if ua := r.Header.Get("User-Agent"); !tt.check(ua) {
					t.Errorf("request %d: User-Agent = %q", i, ua)
				}
			}
		})
	}
}

func TestFetchOffline(t *testing.T) {
	t.Parallel()
	want := readTestdata(t, "list.txt")
	t.Run("without-cache", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, serve(want, "", time.Time{}))
		f, _ := testFetcher(t)
		f.Offline = true
		_, err := f.Fetch(t.Context(), "feed", ts.URL, "")
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("offline Fetch with an empty cache: error = %v, want fs.ErrNotExist", err)
		}
		if ts.count() != 0 {
			t.Errorf("offline Fetch made %d requests", ts.count())
		}
	})
	t.Run("with-cache", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, serve(want, `"a"`, time.Time{}))
		f, _ := testFetcher(t)
		commitGood(t, f, ts, want, 9)
		ts.setHandler(status(500))
		before := ts.count()
		f.Offline = true
		d, err := f.Fetch(t.Context(), "feed", ts.URL+"/feed", "")
		if err != nil {
			t.Fatalf("offline Fetch: %v", err)
		}
		if ts.count() != before {
			t.Errorf("offline Fetch made %d requests", ts.count()-before)
		}
		if !d.FromCache || d.NotModified || d.Entries != 9 || d.ETag != `"a"` {
			t.Errorf("offline Fetch = {FromCache %v NotModified %v Entries %d ETag %s}, want {true false 9 \"a\"}",
				d.FromCache, d.NotModified, d.Entries, d.ETag)
		}
		if got := body(t, d); !bytes.Equal(got, want) {
			t.Errorf("offline body differs from the committed one")
		}
	})
}

// TestFetchDiscard checks that a discarded candidate goes away and the
// good copy stays, and that a discarded candidate cannot be committed.
func TestFetchDiscard(t *testing.T) {
	t.Parallel()
	v1 := readTestdata(t, "list.txt")
	v2 := []byte("203.0.113.1\n")
	ts := newTestServer(t, serve(v1, `"1"`, time.Time{}))
	f, _ := testFetcher(t)
	commitGood(t, f, ts, v1, 121)
	ts.setHandler(serve(v2, `"2"`, time.Time{}))

	d, err := f.Fetch(t.Context(), "feed", ts.URL+"/feed", "")
	if err != nil {
		t.Fatal(err)
	}
	if d.FromCache || !bytes.Equal(body(t, d), v2) {
		t.Fatalf("Fetch did not return the new body as a candidate")
	}
	checkGood(t, f, "feed", v1, 121) // a candidate is not the good copy until Commit
	cand := d.Path
	if err := d.Discard(); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	if _, err := os.Stat(cand); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("candidate %s still exists after Discard (%v)", cand, err)
	}
	if err := d.Discard(); err != nil {
		t.Errorf("second Discard: %v", err)
	}
	if err := d.Commit(1); !errors.Is(err, errDone) {
		t.Errorf("Commit after Discard = %v, want errDone", err)
	}
	if _, err := d.Open(); err == nil {
		t.Errorf("Open after Discard succeeded")
	}
	checkGood(t, f, "feed", v1, 121)

	// Discarding a cached copy (a fallback the caller gave up on) is a
	// no-op: it never removes the good copy.
	g, err := f.LastGood("feed")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Discard(); err != nil {
		t.Fatal(err)
	}
	checkGood(t, f, "feed", v1, 121)
	checkNoTemps(t, f.CacheDir)
}

// TestFetchCommitReplaces checks that a second commit replaces the good
// copy and removes the previous body, and that bodies are stored as
// downloaded (gzip stays gzip).
func TestFetchCommitReplaces(t *testing.T) {
	t.Parallel()
	v1 := readTestdata(t, "list.txt")
	v2 := readTestdata(t, "list.txt.gz")
	ts := newTestServer(t, serve(v1, `"1"`, time.Time{}))
	f, _ := testFetcher(t)
	commitGood(t, f, ts, v1, 1)
	ts.setHandler(serve(v2, `"2"`, time.Time{}))
	d := commitGood(t, f, ts, v2, 2)
	checkGood(t, f, "feed", v2, 2)
	if d.Path != filepath.Join(f.CacheDir, bodyName("feed", sum(v2))) {
		t.Errorf("Path after Commit = %s, want the cached body", d.Path)
	}
	ents, err := os.ReadDir(f.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if fi, err := e.Info(); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600: the cache is private", e.Name(), fi.Mode(), err)
		}
	}
	want := []string{bodyName("feed", sum(v2)), "feed.json"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("cache directory holds %v, want %v", names, want)
	}
}

// TestCacheCrashSafety simulates a crash between renaming a new body into
// place and writing its sidecar, and a crash mid-download: the good copy
// survives both, and the leftovers are cleaned up later.
func TestCacheCrashSafety(t *testing.T) {
	t.Parallel()
	v1 := readTestdata(t, "list.txt")
	ts := newTestServer(t, serve(v1, `"1"`, time.Time{}))
	f, _ := testFetcher(t)
	commitGood(t, f, ts, v1, 5)

	orphan := filepath.Join(f.CacheDir, bodyName("feed", sum([]byte("new")))) // renamed, sidecar never written
	if err := os.WriteFile(orphan, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	staleTemp := filepath.Join(f.CacheDir, ".feed.12345"+tempExt)
	freshTemp := filepath.Join(f.CacheDir, ".feed.67890"+tempExt)
	otherTemp := filepath.Join(f.CacheDir, ".feed-b.12345"+tempExt) // another feed's
	for _, p := range []string{staleTemp, freshTemp, otherTemp} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTempAge)
	for _, p := range []string{staleTemp, otherTemp} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	checkGood(t, f, "feed", v1, 5)

	d, err := f.Fetch(t.Context(), "feed", ts.URL+"/feed", "") // a 304
	if err != nil {
		t.Fatal(err)
	}
	if !d.NotModified {
		t.Errorf("Fetch after a crash: NotModified = false, want a 304 from the intact good copy")
	}
	for p, want := range map[string]bool{staleTemp: false, freshTemp: true, otherTemp: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	if err := d.Commit(6); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphan); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("orphaned body still present after Commit (%v)", err)
	}
	checkGood(t, f, "feed", v1, 6)
}

// TestLastGoodCorrupt checks that a damaged cached body is detected and
// not used as a validator: the next fetch is unconditional.
func TestLastGoodCorrupt(t *testing.T) {
	t.Parallel()
	v1 := readTestdata(t, "list.txt")
	ts := newTestServer(t, serve(v1, `"1"`, time.Time{}))
	f, log := testFetcher(t)
	d := commitGood(t, f, ts, v1, 3)
	if err := os.WriteFile(d.Path, v1[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.LastGood("feed"); !errors.Is(err, errCacheMismatch) {
		t.Errorf("LastGood of a truncated body: error = %v, want errCacheMismatch", err)
	}
	d2, err := f.Fetch(t.Context(), "feed", ts.URL+"/feed", "")
	if err != nil {
		t.Fatal(err)
	}
	reqs, _ := ts.requests()
	if inm := reqs[len(reqs)-1].Header.Get("If-None-Match"); inm != "" || d2.NotModified {
		t.Errorf("Fetch with a damaged cache sent If-None-Match %q (NotModified %v), want an unconditional GET", inm, d2.NotModified)
	}
	if !strings.Contains(log.String(), "unusable cached copy") {
		t.Errorf("no warning about the damaged cache in the log:\n%s", log)
	}
	if err := d2.Commit(3); err != nil {
		t.Fatal(err)
	}
	checkGood(t, f, "feed", v1, 3)
}

func TestFetchUnexpected304(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotModified) })
	f, _ := testFetcher(t)
	if _, err := f.Fetch(t.Context(), "feed", ts.URL, ""); !errors.Is(err, errUnexpected304) {
		t.Errorf("Fetch = %v, want errUnexpected304", err)
	}
	if _, err := f.LastGood("feed"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LastGood = %v, want fs.ErrNotExist", err)
	}
}

// TestFetchEmptyBody checks that an empty 200 is a candidate like any
// other: the gates judge it, not the fetcher.
func TestFetchEmptyBody(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, serve(nil, `"empty"`, time.Time{}))
	f, _ := testFetcher(t)
	d, err := f.Fetch(t.Context(), "feed", ts.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if d.Size != 0 || d.SHA256 != sum(nil) || d.FromCache {
		t.Errorf("empty body: Size %d SHA256 %s FromCache %v", d.Size, d.SHA256, d.FromCache)
	}
	if err := d.Commit(0); err != nil {
		t.Fatal(err)
	}
	checkGood(t, f, "feed", nil, 0)
}

func TestFetchInvalid(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, status(200))
	tests := []struct {
		name, feed, src string
		noCache         bool
	}{
		{"empty-name", "", ts.URL, false},
		{"upper-case", "Tor", ts.URL, false},
		{"dot", "a.b", ts.URL, false},
		{"traversal", "../x", ts.URL, false},
		{"slash", "a/b", ts.URL, false},
		{"too-long", strings.Repeat("a", maxNameLen+1), ts.URL, false},
		{"empty-source", "feed", "", false},
		{"ftp", "feed", "ftp://example.org/x", false},
		{"no-host", "feed", "http:///x", false},
		{"remote-file-url", "feed", "file://example.org/x", false},
		{"no-cache-dir", "feed", ts.URL, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := testFetcher(t)
			if tt.noCache {
				f.CacheDir = ""
			}
			if d, err := f.Fetch(t.Context(), tt.feed, tt.src, ""); err == nil {
				t.Errorf("Fetch(%q, %q) = %+v, want an error", tt.feed, tt.src, d)
			}
		})
	}
	if n := ts.count(); n != 0 {
		t.Errorf("invalid fetches made %d requests", n)
	}
}

// TestFetchFileSources reads file: URLs and paths, relative ones against
// the base directory, with no network and no copy.
func TestFetchFileSources(t *testing.T) {
	t.Parallel()
	want := readTestdata(t, "list.txt.gz")
	base := t.TempDir()
	abs := filepath.Join(base, "sub", "list.txt.gz")
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(abs, want, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, src string }{
		{"relative-path", filepath.Join("sub", "list.txt.gz")},
		{"dot-relative-path", "./sub/list.txt.gz"},
		{"absolute-path", abs},
		{"file-url", "file://" + filepath.ToSlash(abs)},
		{"file-url-localhost", "file://localhost" + filepath.ToSlash(abs)},
		{"file-url-relative", "file:sub/list.txt.gz"},
		{"file-url-escaped", "file:sub/list%2Etxt.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, _ := testFetcher(t)
			f.Offline = true // file feeds need no network, so offline changes nothing
			d, err := f.Fetch(t.Context(), "feed", tt.src, base)
			if err != nil {
				t.Fatalf("Fetch(%q): %v", tt.src, err)
			}
			if d.Path != abs || d.URL != tt.src || d.FromCache || d.NotModified {
				t.Errorf("Fetch(%q) = {Path %s URL %s FromCache %v NotModified %v}, want {%s %s false false}",
					tt.src, d.Path, d.URL, d.FromCache, d.NotModified, abs, tt.src)
			}
			if d.SHA256 != sum(want) || d.Size != int64(len(want)) || d.LastModified == "" {
				t.Errorf("Fetch(%q): SHA256 %s Size %d LastModified %q", tt.src, d.SHA256, d.Size, d.LastModified)
			}
			if !bytes.Equal(body(t, d), want) {
				t.Errorf("Fetch(%q): body differs", tt.src)
			}
			if err := d.Discard(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(abs); err != nil {
				t.Fatalf("Discard touched the source file: %v", err)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		f, _ := testFetcher(t)
		if _, err := f.Fetch(t.Context(), "feed", "nope.txt", base); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Fetch of a missing file: %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		t.Parallel()
		f, _ := testFetcher(t)
		if _, err := f.Fetch(t.Context(), "feed", "sub", base); err == nil {
			t.Errorf("Fetch of a directory succeeded")
		}
	})
}

// TestFetchFileFallback commits a file feed, truncates the file in place,
// and checks that the cache still holds the earlier bytes; and that a
// file changed between Fetch and Commit is not committed.
func TestFetchFileFallback(t *testing.T) {
	t.Parallel()
	v1 := readTestdata(t, "list.txt")
	gz := readTestdata(t, "list.txt.gz")
	dir := t.TempDir()
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("list.txt", v1)
	write("list.txt.gz", gz)
	f, _ := testFetcher(t)

	d, err := f.Fetch(t.Context(), "plain", "list.txt", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(129); err != nil {
		t.Fatal(err)
	}
	if d.Path != filepath.Join(dir, "list.txt") {
		t.Errorf("Path after Commit = %s, want the source file", d.Path)
	}
	write("list.txt", v1[:200]) // truncated in place
	d2, err := f.Fetch(t.Context(), "plain", "list.txt", dir)
	if err != nil {
		t.Fatal(err)
	}
	if d2.Size != 200 {
		t.Errorf("Fetch of the truncated file: Size %d, want 200 (gating is the caller's job)", d2.Size)
	}
	checkGood(t, f, "plain", v1, 129)

	// Changed after Fetch, before Commit: the hash no longer matches.
	write("list.txt", []byte("203.0.113.9\n"))
	if err := d2.Commit(1); err == nil || !strings.Contains(err.Error(), "changed since it was fetched") {
		t.Errorf("Commit of a file changed since Fetch = %v, want an error", err)
	}
	checkGood(t, f, "plain", v1, 129)

	// A gzip file truncated in place fails at Fetch.
	d3, err := f.Fetch(t.Context(), "gz", "list.txt.gz", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d3.Commit(129); err != nil {
		t.Fatal(err)
	}
	write("list.txt.gz", gz[:len(gz)/2])
	if _, err := f.Fetch(t.Context(), "gz", "list.txt.gz", dir); !errors.Is(err, errTruncatedGzip) {
		t.Errorf("Fetch of a truncated gzip file = %v, want errTruncatedGzip", err)
	}
	checkGood(t, f, "gz", gz, 129)
	checkNoTemps(t, f.CacheDir)

	// Without a cache directory a file feed is still read; Commit keeps nothing.
	nf := &Fetcher{}
	d4, err := nf.Fetch(t.Context(), "gz", "list.txt", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d4.Commit(1); err != nil {
		t.Errorf("Commit without a cache directory: %v", err)
	}
	if _, err := nf.LastGood("gz"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LastGood without a cache directory = %v, want fs.ErrNotExist", err)
	}
}

// TestFetchConcurrent fetches and commits many feeds at once through one
// Fetcher (run with -race).
func TestFetchConcurrent(t *testing.T) {
	t.Parallel()
	base := readTestdata(t, "list.txt")
	bodyFor := func(name string) []byte { return append([]byte("# "+name+"\n"), base...) }
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		serve(bodyFor(name), `"`+name+`"`, time.Time{})(w, r)
	})
	f, _ := testFetcher(t)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("feed-%d", i)
			d, err := f.Fetch(t.Context(), name, ts.URL+"/"+name, "")
			if err == nil {
				err = d.Commit(i)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("feed-%d: %v", i, err)
			continue
		}
		name := fmt.Sprintf("feed-%d", i)
		checkGood(t, f, name, bodyFor(name), i)
	}
	checkNoTemps(t, f.CacheDir)
}

// TestFetchURLChanged checks that the validators of a copy fetched from
// another URL are not sent: its ETag says nothing about the new URL.
func TestFetchURLChanged(t *testing.T) {
	t.Parallel()
	v1 := readTestdata(t, "list.txt")
	ts := newTestServer(t, serve(v1, `"same"`, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
	f, _ := testFetcher(t)
	commitGood(t, f, ts, v1, 1)
	d, err := f.Fetch(t.Context(), "feed", ts.URL+"/moved", "")
	if err != nil {
		t.Fatal(err)
	}
	reqs, written := ts.requests()
	last := reqs[len(reqs)-1]
	if last.Header.Get("If-None-Match") != "" || last.Header.Get("If-Modified-Since") != "" || d.NotModified {
		t.Errorf("Fetch of a new URL sent validators of the old one (NotModified %v)", d.NotModified)
	}
	if written[len(written)-1] != int64(len(v1)) || d.URL != ts.URL+"/moved" {
		t.Errorf("Fetch of a new URL: %d body bytes, URL %s", written[len(written)-1], d.URL)
	}
	if err := d.Commit(2); err != nil {
		t.Fatal(err)
	}
	g, err := f.LastGood("feed")
	if err != nil || g.URL != ts.URL+"/moved" {
		t.Errorf("LastGood after the move = %+v, %v; want the new URL", g, err)
	}
}

// TestCommitConcurrentSameName commits many candidates of one feed at
// once: the cache must end up holding exactly one of them, whole, with no
// other body left (run with -race).
func TestCommitConcurrentSameName(t *testing.T) {
	t.Parallel()
	base := readTestdata(t, "list.txt")
	bodyFor := func(v string) []byte { return append([]byte("# version "+v+"\n"), base...) }
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		serve(bodyFor(r.URL.Query().Get("v")), "", time.Time{})(w, r)
	})
	f, _ := testFetcher(t)
	const n = 12
	var ds []*Download
	for i := range n {
		d, err := f.Fetch(t.Context(), "feed", fmt.Sprintf("%s/feed?v=%d", ts.URL, i), "")
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() {
			if err := d.Commit(i); err != nil {
				t.Errorf("Commit %d: %v", i, err)
			}
		})
		wg.Go(func() {
			// A reader during the commits sees a whole good copy or none.
			// (A later Commit may remove the body it returned: that is
			// the documented limit of overlapping calls for one name.)
			g, err := f.LastGood("feed")
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("LastGood during commits: %v", err)
				}
				return
			}
			b, err := os.ReadFile(g.Path)
			if err == nil && sum(b) != g.SHA256 {
				t.Errorf("LastGood during commits returned a body that does not match its hash")
			}
		})
	}
	wg.Wait()
	g, err := f.LastGood("feed")
	if err != nil {
		t.Fatal(err)
	}
	checkGood(t, f, "feed", bodyFor(strconv.Itoa(g.Entries)), g.Entries)
	ents, err := os.ReadDir(f.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	bodies := 0
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), bodyExt) {
			bodies++
		}
	}
	if bodies != 1 {
		t.Errorf("cache holds %d bodies after concurrent commits, want 1", bodies)
	}
	checkNoTemps(t, f.CacheDir)
}

// TestFetchRedactsPassword checks that a password in a feed URL appears
// neither in errors nor in the log.
func TestFetchRedactsPassword(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, status(503))
	f, log := testFetcher(t)
	src := strings.Replace(ts.URL, "http://", "http://reader:s3cret@", 1) + "/feed"
	_, err := f.Fetch(t.Context(), "feed", src, "")
	if err == nil {
		t.Fatal("Fetch succeeded against a 503")
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(log.String(), "s3cret") {
		t.Errorf("password leaked:\nerror: %v\nlog:\n%s", err, log)
	}
	if !strings.Contains(err.Error(), "reader:xxxxx@") {
		t.Errorf("error %q does not name the redacted URL", err)
	}
}

// TestFetchTLS fetches over https with a client that trusts the test
// server, and checks that an untrusted certificate fails at once, without
// retries.
func TestFetchTLS(t *testing.T) {
	t.Parallel()
	want := readTestdata(t, "list.txt")
	ts := httptest.NewUnstartedServer(serve(want, `"tls"`, time.Time{}))
	ts.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // the failed handshake below is expected
	ts.StartTLS()
	t.Cleanup(ts.Close)

	f, _ := testFetcher(t)
	f.Client = ts.Client()
	d, err := f.Fetch(t.Context(), "feed", ts.URL+"/feed", "")
	if err != nil {
		t.Fatalf("https Fetch: %v", err)
	}
	if !bytes.Equal(body(t, d), want) {
		t.Errorf("https body differs")
	}
	if err := d.Discard(); err != nil {
		t.Fatal(err)
	}

	u, log := testFetcher(t) // the default client does not trust the test CA
	_, err = u.Fetch(t.Context(), "feed", ts.URL+"/feed", "")
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); !ok {
		t.Errorf("Fetch with an untrusted certificate = %v, want a *tls.CertificateVerificationError", err)
	}
	if strings.Contains(log.String(), "retrying") {
		t.Errorf("an untrusted certificate was retried:\n%s", log)
	}
}

// TestFetchCorpusTruncated serves the real gzip snapshots cut short
// without any sign of it at the HTTP level (no Content-Length, a clean
// close): down to the last byte of the trailer, the gzip check must catch
// it, and the whole file must pass. (TestFetchConditional fetches the
// whole ip2asn file.)
func TestFetchCorpusTruncated(t *testing.T) {
	t.Parallel()
	dir := testenv.SharedFeeds(t)
	for _, name := range []string{"asn/ip2asn-v6_2023-12-08.tsv.gz", "asn/pyasn-ipasn_2014-05-13.dat.gz"} {
		full, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		cuts := []int{len(full) - 1} // one byte of the trailer's length field missing
		if strings.HasPrefix(filepath.Base(name), "ip2asn") {
			cuts = append(cuts, len(full)/2, len(full)-8) // mid-stream; the whole trailer missing
		}
		for _, cut := range cuts {
			t.Run(fmt.Sprintf("%s/%d-of-%d", filepath.Base(name), cut, len(full)), func(t *testing.T) {
				t.Parallel()
				ts := newTestServer(t, cutConnection(full[:cut]))
				f, _ := testFetcher(t)
				f.Retries = -1
				if _, err := f.Fetch(t.Context(), "feed", ts.URL, ""); !errors.Is(err, errTruncatedGzip) {
					t.Errorf("Fetch of %d of %d bytes = %v, want errTruncatedGzip", cut, len(full), err)
				}
				checkNoTemps(t, f.CacheDir)
			})
		}
		if !strings.HasPrefix(filepath.Base(name), "pyasn") {
			continue
		}
		t.Run(filepath.Base(name)+"/whole", func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, cutConnection(full))
			f, _ := testFetcher(t)
			d, err := f.Fetch(t.Context(), "feed", ts.URL, "")
			if err != nil {
				t.Fatalf("Fetch of the whole file: %v", err)
			}
			if d.SHA256 != sum(full) || !bytes.Equal(body(t, d), full) {
				t.Errorf("whole file: body differs from the snapshot")
			}
			if err := d.Discard(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestFetchRedirects follows redirects within the limit and refuses a
// downgrade from https to plain http.
func TestFetchRedirects(t *testing.T) {
	t.Parallel()
	want := readTestdata(t, "list.txt")
	plain := newTestServer(t, serve(want, "", time.Time{}))
	hops := func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if n < maxRedirects {
			http.Redirect(w, r, fmt.Sprintf("/feed?n=%d", n+1), http.StatusMovedPermanently)
			return
		}
		serve(want, "", time.Time{})(w, r)
	}

	t.Run("ten-hops", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, hops)
		f, _ := testFetcher(t)
		d, err := f.Fetch(t.Context(), "feed", ts.URL+"/feed?n=0", "")
		if err != nil {
			t.Fatalf("Fetch through %d redirects: %v", maxRedirects, err)
		}
		if !bytes.Equal(body(t, d), want) || ts.count() != maxRedirects+1 {
			t.Errorf("Fetch through redirects: body or request count (%d) wrong", ts.count())
		}
		if d.URL != ts.URL+"/feed?n=0" {
			t.Errorf("URL = %s, want the source as given", d.URL)
		}
		if err := d.Discard(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("https-to-http", func(t *testing.T) {
		t.Parallel()
		secure := httptest.NewTLSServer(http.RedirectHandler(plain.URL+"/feed", http.StatusFound))
		t.Cleanup(secure.Close)
		f, log := testFetcher(t)
		f.Client = secure.Client()
		_, err := f.Fetch(t.Context(), "feed", secure.URL+"/feed", "")
		if !errors.Is(err, errInsecureRedirect) {
			t.Errorf("Fetch redirected from https to http = %v, want errInsecureRedirect", err)
		}
		if plain.count() != 0 || strings.Contains(log.String(), "retrying") {
			t.Errorf("the http server got %d requests; log:\n%s", plain.count(), log)
		}
	})
}
