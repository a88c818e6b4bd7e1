package serve

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipintel/ipintel/internal/testhttp"
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

// testServer is a Server following its source, behind an httptest server.
type testServer struct {
	*Server
	url string
	log *testhttp.LockedBuffer
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
	logs := &testhttp.LockedBuffer{}
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
