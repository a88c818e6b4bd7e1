package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/ipintel/ipintel/serve"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/internal/testdb"
	"github.com/ipintel/ipintel/internal/testhttp"
	"github.com/ipintel/ipintel/schema"
)

// emptyDB writes a valid database with no networks, as a build from
// feeds that all came back empty would.
func emptyDB(t *testing.T) string {
	return writeTestDB(t, filepath.Join(t.TempDir(), "empty.mmdb"), nil, testManifest(0))
}

// truncatedDB writes the first half of the sample database.
func truncatedDB(t *testing.T) string {
	b, err := os.ReadFile(sampleDB(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "truncated.mmdb")
	if err := os.WriteFile(path, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// unverifiedDB writes a database that loads but fails "ipintel verify":
// a record names a source that is not a feed of its manifest.
func unverifiedDB(t *testing.T) string {
	nets := append([]testdb.Record(nil), sampleNets...)
	nets = append(nets, testdb.Net("2001:db8:9::/48", map[string]any{schema.KeyRiskScore: uint16(0), schema.KeySources: []string{"not-a-feed"}}))
	return writeTestDB(t, filepath.Join(t.TempDir(), "unverified.mmdb"), nets, testManifest(len(nets)))
}

// serve refuses to start on a database that is empty, broken or fails
// verify: exit status 1 and a message naming the file and the reason.
func TestServeRefusesToStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, path, want string
	}{
		{"empty", emptyDB(t), "no networks"},
		{"truncated", truncatedDB(t), "truncated.mmdb"},
		{"garbage", garbageDB(t), "garbage.mmdb"},
		{"fails verify", unverifiedDB(t), `source "not-a-feed" is not a feed of the manifest`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, []string{"serve", "-db", tc.path, "-listen", "127.0.0.1:0"}, strings.NewReader(""), &stdout, &stderr)
			if code != exitRuntime {
				t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr.String())
			}
			if msg := stderr.String(); !strings.Contains(msg, "refusing to serve") || !strings.Contains(msg, tc.want) {
				t.Errorf("stderr %q, want a refusal saying %q", msg, tc.want)
			}
			if strings.Contains(stderr.String(), "msg=serving") {
				t.Error("serve started listening")
			}
		})
	}
}

// garbageDB writes a file that is not an MMDB at all.
func garbageDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "garbage.mmdb")
	if err := os.WriteFile(path, []byte("this is not an MMDB file"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// /readyz, the metrics and the log count networks as info and build do
// (MMDB networks) and the engine's ranges separately.
func TestServeNetworksAndRanges(t *testing.T) {
	t.Parallel()
	ts := startServe(t, serveConfig{db: sampleDB(t)})
	r := testhttp.GetReadyz(t, ts.url)
	if r.Networks == 0 || r.Ranges == 0 || r.Ranges == r.Networks {
		t.Errorf("/readyz = %+v, want the networks and the engine's ranges, two different counts", r)
	}
	if v := testhttp.MetricValue(t, ts.url, "ipintel_db_networks"); v != strconv.Itoa(r.Networks) {
		t.Errorf("ipintel_db_networks = %s, want %d", v, r.Networks)
	}
	if v := testhttp.MetricValue(t, ts.url, "ipintel_db_ranges"); v != strconv.Itoa(r.Ranges) {
		t.Errorf("ipintel_db_ranges = %s, want %d", v, r.Ranges)
	}
	if want := fmt.Sprintf("networks=%d ranges=%d", r.Networks, r.Ranges); !strings.Contains(ts.log.String(), want) {
		t.Errorf("the serving log line lacks %q:\n%s", want, ts.log.String())
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"info", "-db", ts.cfg.db, "-json"}, strings.NewReader(""), &out, &out); code != exitOK {
		t.Fatalf("info: exit %d: %s", code, out.String())
	}
	var info struct {
		Networks struct {
			Networks int `json:"networks"`
		} `json:"networks"`
		Engine struct {
			Ranges int `json:"ranges"`
		} `json:"engine"`
	}
	if err := json.Unmarshal(out.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	if info.Networks.Networks != r.Networks || info.Engine.Ranges != r.Ranges {
		t.Errorf("info says %d networks, %d ranges; /readyz says %d, %d", info.Networks.Networks, info.Engine.Ranges, r.Networks, r.Ranges)
	}
}

// Following a URL, an empty database is refused at start (with no local
// copy) and on reload (the old one and the local copy stay).
func TestServeURLRefusesEmpty(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var body atomic.Pointer[[]byte]
	empty, err := os.ReadFile(emptyDB(t))
	if err != nil {
		t.Fatal(err)
	}
	body.Store(&empty)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := *body.Load()
		w.Header().Set("ETag", fmt.Sprintf(`"%x"`, len(b)))
		_, _ = w.Write(b)
	}))
	t.Cleanup(origin.Close)
	cache := filepath.Join(dir, "cache", "db.mmdb")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	code := run(ctx, []string{"serve", "-db", origin.URL + "/ipintel.mmdb", "-cache", cache, "-listen", "127.0.0.1:0"},
		strings.NewReader(""), &bytes.Buffer{}, &stderr)
	if code != exitRuntime || !strings.Contains(stderr.String(), "reason=empty") {
		t.Errorf("start on an empty URL: exit %d, stderr:\n%s\nwant exit 1 and the refusal", code, stderr.String())
	}
	// -cache names the local copy: the Fetcher's copy "db" in its directory.
	copyOf := func() []byte {
		d, err := (&feeds.Fetcher{CacheDir: filepath.Dir(cache)}).LastGood("db")
		if err != nil {
			return nil
		}
		b, _ := os.ReadFile(d.Path)
		return b
	}
	if copyOf() != nil {
		t.Error("the refused database became the local copy")
	}

	good, err := os.ReadFile(sampleDB(t))
	if err != nil {
		t.Fatal(err)
	}
	body.Store(&good)
	ts := startServe(t, serveConfig{db: origin.URL + "/ipintel.mmdb", cache: cache})
	body.Store(&empty)
	metric := `ipintel_db_reload_refused_total{reason="empty"}`
	// The poll may fetch and refuse the empty file more than once before
	// this looks: at least one refusal is the point.
	testhttp.WaitFor(t, "the refused empty download", func() bool {
		n, err := strconv.Atoi(testhttp.MetricValue(t, ts.url, metric))
		return err == nil && n >= 1
	})
	if a := testhttp.GetAnswer[serve.Answer](t, ts.url, "192.0.2.10"); a.Action != "block" {
		t.Errorf("after the refused download 192.0.2.10 = %s, want the old block", a.Action)
	}
	if got := copyOf(); !bytes.Equal(got, good) {
		t.Error("the local copy is no longer the last good database")
	}
}
