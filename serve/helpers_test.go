package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fixtures in testdata, written by cmd/ipintel's test database writer
// (its TestServeFixtures checks and rewrites all but mixed.mmdb):
// sample.mmdb and sample-new.mmdb are the old and new sample databases
// (in the new one 192.0.2.10 is no Tor exit and 2001:db8:3::/64 appeared),
// empty.mmdb has no networks, unverified.mmdb names a source that is not
// a feed of its manifest, and mixed.mmdb (no manifest) mixes records with
// and without a stored risk_score.

// copyDB copies testdata/name into a temporary directory and returns the
// copy's path, which the test may replace.
func copyDB(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// readDB returns the bytes of testdata/name.
func readDB(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// lockedBuffer collects a server's log for printing when a test fails.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testServer is a Server following its source, behind an httptest server.
type testServer struct {
	*Server
	url string
	log *lockedBuffer
}

// startServer opens src and serves it until the test ends. A zero
// WatchInterval or PollInterval means 20ms; a negative one means none.
func startServer(t *testing.T, src string, opts Options) *testServer {
	t.Helper()
	for _, d := range []*time.Duration{&opts.WatchInterval, &opts.PollInterval} {
		if *d == 0 {
			*d = 20 * time.Millisecond
		} else if *d < 0 {
			*d = 0
		}
	}
	logs := &lockedBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Open(ctx, src, opts)
	if err != nil {
		cancel()
		t.Fatalf("Open: %v\nlog:\n%s", err, logs.String())
	}
	hs := httptest.NewServer(s.Handler())
	done := make(chan struct{})
	go func() { s.Watch(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		hs.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &testServer{Server: s, url: hs.URL, log: logs}
}

type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, header http.Header, body io.Reader) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return httpResult{resp.StatusCode, resp.Header, b}
}

func getAnswer(t *testing.T, base, addr string) Answer {
	t.Helper()
	r := do(t, "GET", base+"/v1/ip/"+addr, nil, nil)
	if r.status != 200 {
		t.Fatalf("GET /v1/ip/%s = %d %s", addr, r.status, r.body)
	}
	var a Answer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("GET /v1/ip/%s: %v in %s", addr, err, r.body)
	}
	return a
}

func metricValue(t *testing.T, base, name string) string {
	t.Helper()
	r := do(t, "GET", base+"/metrics", nil, nil)
	for line := range strings.SplitSeq(string(r.body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	t.Fatalf("metric %s not found", name)
	return ""
}

type readyzAnswer struct {
	status   int
	Status   string `json:"status"`
	Networks int    `json:"networks"`
	Ranges   int    `json:"ranges"`
}

func readyz(t *testing.T, base string) readyzAnswer {
	t.Helper()
	r := do(t, "GET", base+"/readyz", nil, nil)
	var a readyzAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("/readyz body %q: %v", r.body, err)
	}
	a.status = r.status
	return a
}

// replaceFile writes a new file beside path and renames it over path, as
// a build publishes a database.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitReload waits for the reload attempt that done (from s.reloaded)
// announces.
func waitReload(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no reload attempt")
	}
}
