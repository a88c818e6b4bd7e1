package builder_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/ipintel/ipintel/builder"
	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/internal/testenv"
	"github.com/ipintel/ipintel/schema"
)

// feedServer serves an ip-list of 20 addresses, or misbehaves.
type feedServer struct {
	*httptest.Server
	mode atomic.Value // "ok", "500", "empty", "truncated", "html"
}

func newFeedServer(t *testing.T) *feedServer {
	s := &feedServer{}
	s.mode.Store("ok")
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		for i := 1; i <= 20; i++ {
			fmt.Fprintf(&b, "45.1.1.%d\n", i)
		}
		switch s.mode.Load().(string) {
		case "500":
			http.Error(w, "upstream broke", http.StatusInternalServerError)
		case "empty":
		case "truncated":
			fmt.Fprint(w, b.String()[:30])
		case "html":
			fmt.Fprint(w, "<html><body>Rate limited</body></html>\n")
		default:
			fmt.Fprint(w, b.String())
		}
	}))
	t.Cleanup(s.Close)
	return s
}

type faultEnv struct {
	cfg     *builder.Config
	out     string
	fetcher *feeds.Fetcher
}

func newFaultEnv(t *testing.T, url, policy string) *faultEnv {
	t.Helper()
	dir := t.TempDir()
	data := fmt.Sprintf(`
[[feed]]
name = "blocklist"
kind = "abuse"
format = "ip-list"
url = %q
on_gate_failure = %q
`, url, policy)
	cfg, err := builder.ParseConfig([]byte(data), filepath.Join(dir, "ipintel.toml"))
	if err != nil {
		t.Fatal(err)
	}
	return &faultEnv{cfg: cfg, out: filepath.Join(dir, "ipintel.mmdb"),
		fetcher: &feeds.Fetcher{CacheDir: filepath.Join(dir, "cache"), Retries: -1}}
}

func (e *faultEnv) run() (*builder.Summary, error) {
	return builder.Run(context.Background(), e.cfg, builder.RunOptions{Out: e.out, Fetcher: e.fetcher, Epoch: 1})
}

func isAbuse(t *testing.T, path, addr string) bool {
	t.Helper()
	db, err := maxminddb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var r dbRecord
	if err := db.Lookup(netip.MustParseAddr(addr)).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r.IsAbuse
}

func TestRunFallback(t *testing.T) {
	t.Parallel()
	srv := newFeedServer(t)
	e := newFaultEnv(t, srv.URL+"/list.txt", "fallback")
	sum, err := e.run()
	if err != nil {
		t.Fatal(err)
	}
	if g := sum.Feeds[0].Gate; g != schema.GateOK {
		t.Fatalf("first build gate = %q, want ok", g)
	}
	for _, tc := range []struct{ mode, reason string }{
		{"500", "500 Internal Server Error"},
		{"empty", "no valid entries"},
		{"html", "no valid entries"},
		{"truncated", "shrank by more than max_shrink"},
	} {
		srv.mode.Store(tc.mode)
		sum, err := e.run()
		if err != nil {
			t.Fatalf("%s: Run: %v", tc.mode, err)
		}
		f := sum.Feeds[0]
		if f.Gate != schema.GateFallback || !f.FromCache || !strings.Contains(f.GateReason, tc.reason) {
			t.Errorf("%s: gate %q from_cache %v reason %q; want fallback from cache saying %q", tc.mode, f.Gate, f.FromCache, f.GateReason, tc.reason)
		}
		if f.Records != 20 {
			t.Errorf("%s: fallback copy has %d entries, want the last good 20", tc.mode, f.Records)
		}
		if !isAbuse(t, e.out, "45.1.1.20") {
			t.Errorf("%s: 45.1.1.20 lost: the fallback did not keep what the previous build knew", tc.mode)
		}
	}
	// The gates compare with the previous build: after the fallbacks, a
	// good copy passes again.
	srv.mode.Store("ok")
	if sum, err := e.run(); err != nil || sum.Feeds[0].Gate != schema.GateOK {
		t.Errorf("recovery: %v, %+v", err, sum)
	}
}

// A required feed with neither a fresh copy nor a last good one fails the
// build; an optional one is left out and the manifest says so.
func TestRunFallbackWithoutGoodCopy(t *testing.T) {
	t.Parallel()
	srv := newFeedServer(t)
	srv.mode.Store("500")
	e := newFaultEnv(t, srv.URL+"/list.txt", "fallback")
	_, err := e.run()
	ge, ok := errors.AsType[*builder.GateError](err)
	if !ok || !ge.Missing || !strings.Contains(ge.Reason, "500") {
		t.Fatalf("Run = %v; want a *GateError for a missing feed, naming the status", err)
	}
	if _, err := os.Stat(e.out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed build wrote %s (%v)", e.out, err)
	}
	e.cfg.Feeds[0].Optional = true
	e.cfg.Feeds = append(e.cfg.Feeds, builder.FeedConfig{Name: "local", Kind: "abuse", Format: feeds.FormatIPList,
		URL: writeTemp(t, "45.2.2.2\n"), MaxShrink: builder.DefaultMaxShrink, MaxEntrySize: builder.DefaultMaxEntrySize})
	sum, err := e.run()
	if err != nil {
		t.Fatal(err)
	}
	if f := sum.Feeds[0]; f.Gate != schema.GateFailed || !f.Optional || !strings.Contains(f.GateReason, "500") {
		t.Errorf("feed %+v; want failed and optional, naming the status", f)
	}
	m, _, err := builder.ReadManifest(e.out)
	if err != nil || m == nil || !m.Feeds[0].Optional || m.Feeds[0].Gate != schema.GateFailed {
		t.Errorf("manifest %+v, %v; want the optional feed marked failed", m, err)
	}
}

func writeTemp(t *testing.T, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunFailPolicyKeepsOldDB(t *testing.T) {
	t.Parallel()
	srv := newFeedServer(t)
	e := newFaultEnv(t, srv.URL+"/list.txt", "fail")
	if _, err := e.run(); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(e.out)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ mode, reason string }{
		{"empty", "no valid entries"},
		{"500", "500 Internal Server Error"},
		{"truncated", "shrank"},
	} {
		srv.mode.Store(tc.mode)
		_, err := e.run()
		ge, ok := errors.AsType[*builder.GateError](err)
		if !ok {
			t.Fatalf("%s: Run error = %v, want a *GateError", tc.mode, err)
		}
		if ge.Feed != "blocklist" || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), "blocklist") {
			t.Errorf("%s: error %q does not name the feed and say %q", tc.mode, err, tc.reason)
		}
		now, _ := os.ReadFile(e.out)
		if !bytes.Equal(now, old) {
			t.Errorf("%s: the old database changed", tc.mode)
		}
	}
}

func TestRunMaxAge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	if err := os.WriteFile(list, []byte("45.1.1.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(list, old, old); err != nil {
		t.Fatal(err)
	}
	cfg, err := builder.ParseConfig([]byte(`
[[feed]]
name = "stale"
kind = "abuse"
format = "ip-list"
url = "list.txt"
max_age = "24h"
on_gate_failure = "fail"
`), filepath.Join(dir, "ipintel.toml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = builder.Run(context.Background(), cfg, builder.RunOptions{Out: filepath.Join(dir, "x.mmdb"), CacheDir: filepath.Join(dir, "c")})
	if err == nil || !strings.Contains(err.Error(), "older than max_age 24h") {
		t.Errorf("Run = %v, want a max_age failure", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.mmdb")); err == nil {
		t.Error("a failed build wrote its output")
	}
}

// A build that dies after writing its temporary file but before the
// rename (killed, disk full at close) leaves the old database and no
// temporary file.
func TestRunInterruptedKeepsOldDB(t *testing.T) {
	srv := newFeedServer(t)
	e := newFaultEnv(t, srv.URL+"/list.txt", "fallback")
	if _, err := e.run(); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(e.out)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"killed", errors.New("killed"), "killed"},
		{"disk full", syscall.ENOSPC, "no space left on device"},
	} {
		restore := builder.SetBeforeRename(func(tmp string) error {
			if _, err := os.Stat(tmp); err != nil {
				t.Errorf("%s: temporary file missing before rename: %v", tc.name, err)
			}
			return tc.err
		})
		srv.mode.Store("truncated") // a different database would be written
		_, err := e.run()
		restore()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), e.out) {
			t.Errorf("%s: Run = %v, want an error naming %s and saying %q", tc.name, err, e.out, tc.want)
		}
		now, _ := os.ReadFile(e.out)
		if !bytes.Equal(now, old) {
			t.Errorf("%s: the old database changed", tc.name)
		}
		left, _ := filepath.Glob(filepath.Join(filepath.Dir(e.out), ".*.tmp"))
		if len(left) > 0 {
			t.Errorf("%s: temporary files left: %v", tc.name, left)
		}
	}
}

func TestRunReadOnlyOutDir(t *testing.T) {
	t.Parallel()
	srv := newFeedServer(t)
	e := newFaultEnv(t, srv.URL+"/list.txt", "fallback")
	if os.Geteuid() == 0 {
		// root writes through directory permissions; sysfs refuses even root.
		e.out = "/sys/ipintel-test.mmdb"
	} else {
		if _, err := e.run(); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Dir(e.out), 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(filepath.Dir(e.out), 0o755) })
	}
	old, _ := os.ReadFile(e.out)
	_, err := e.run()
	if err == nil || !strings.Contains(err.Error(), e.out) || !errors.Is(err, os.ErrPermission) {
		t.Errorf("Run = %v, want a permission error naming %s", err, e.out)
	}
	if now, _ := os.ReadFile(e.out); !bytes.Equal(now, old) {
		t.Error("the old database changed")
	}
}

// Rebuilding from the same inputs and config gives the same bytes, with
// the epoch pinned and with the default epoch (the newest input's time).
func TestRunRebuildIdentical(t *testing.T) {
	t.Parallel()
	cfg, err := builder.LoadConfig(filepath.Join(testenv.RepoRoot(), "testdata", "ipintel.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, epoch := range []int64{1767225600, 0} {
		var files [][]byte
		for i := range 2 {
			out := filepath.Join(t.TempDir(), fmt.Sprintf("db%d.mmdb", i))
			if _, err := builder.Run(context.Background(), cfg, builder.RunOptions{Out: out, CacheDir: t.TempDir(), Epoch: epoch}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, b)
		}
		if !bytes.Equal(files[0], files[1]) {
			t.Errorf("epoch %d: two builds differ", epoch)
		}
	}
}

// -offline builds URL feeds from their last good copies and never touches
// the network; with no copy, the feed fails its gate.
func TestRunOffline(t *testing.T) {
	t.Parallel()
	srv := newFeedServer(t)
	e := newFaultEnv(t, srv.URL+"/list.txt", "fail")
	if _, err := e.run(); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	e.fetcher.Offline = true
	sum, err := e.run()
	if err != nil {
		t.Fatalf("offline build: %v", err)
	}
	if f := sum.Feeds[0]; f.Gate != schema.GateOK || !f.FromCache || f.Records != 20 {
		t.Errorf("offline feed = %+v, want the cached copy", f)
	}
	fresh := newFaultEnv(t, srv.URL+"/list.txt", "fail")
	fresh.fetcher.Offline = true
	if _, err := fresh.run(); err == nil || !strings.Contains(err.Error(), "offline") {
		t.Errorf("offline build with an empty cache = %v, want an error saying offline", err)
	}
}

// keep_reserved in the config keeps FireHOL's bogons; by default they are
// dropped and counted.
func TestRunKeepReserved(t *testing.T) {
	t.Parallel()
	path := filepath.Join(testenv.RepoRoot(), "testdata", "ipintel.toml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []bool{false, true} {
		cfg, err := builder.ParseConfig(append([]byte(fmt.Sprintf("keep_reserved = %v\n", keep)), data...), path)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "db.mmdb")
		sum, err := builder.Run(context.Background(), cfg, builder.RunOptions{Out: out, CacheDir: t.TempDir(), Epoch: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{"10.1.2.3", "192.168.7.7", "224.0.0.251", "127.0.0.1"} {
			if got := isAbuse(t, out, a); got != keep {
				t.Errorf("keep_reserved = %v: %s is_abuse = %v", keep, a, got)
			}
		}
		if !isAbuse(t, out, "1.10.16.1") {
			t.Errorf("keep_reserved = %v: the public 1.10.16.0/20 of firehol-level1 is missing", keep)
		}
		if dropped := sum.Reserved > 0; dropped == keep {
			t.Errorf("keep_reserved = %v: %d reserved entries dropped", keep, sum.Reserved)
		}
	}
}

// A file feed truncated in place (here a gzip file cut short) falls back to
// the copy the last good build kept in the cache: file feeds keep a last
// good copy as URL feeds do.
func TestRunTruncatedFileFeed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "45.%d.%d.1\n", i/250, i%250)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(b.String()))
	zw.Close()
	list := filepath.Join(dir, "list.txt.gz")
	if err := os.WriteFile(list, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := builder.ParseConfig([]byte("[[feed]]\nname = \"l\"\nkind = \"abuse\"\nformat = \"ip-list\"\nurl = \"list.txt.gz\"\n"),
		filepath.Join(dir, "ipintel.toml"))
	if err != nil {
		t.Fatal(err)
	}
	opts := builder.RunOptions{Out: filepath.Join(dir, "db.mmdb"), CacheDir: filepath.Join(dir, "cache"), Epoch: 1}
	if _, err := builder.Run(context.Background(), cfg, opts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(list, gz.Bytes()[:gz.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := builder.Run(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	f := sum.Feeds[0]
	if f.Gate != schema.GateFallback || f.Records != 5000 || !strings.Contains(f.GateReason, "truncated gzip stream") {
		t.Errorf("feed = %+v, want a fallback to the 5000 entries of the last good copy, saying the gzip stream is truncated", f)
	}
	if !isAbuse(t, opts.Out, "45.19.249.1") {
		t.Error("the last entry of the good copy is missing")
	}
}
