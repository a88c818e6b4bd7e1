package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipintel/ipintel/internal/testenv"
	"github.com/ipintel/ipintel/lookup"
)

// builtDB builds the repository's testdata/ipintel.toml (small excerpts of
// real feeds) with the build command and returns the database's path.
func builtDB(t *testing.T) string {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	out := filepath.Join(t.TempDir(), "ipintel.mmdb")
	var stdout, stderr bytes.Buffer
	cfg := filepath.Join(testenv.RepoRoot(), "testdata", "ipintel.toml")
	if code := run(context.Background(), []string{"build", "-config", cfg, "-out", out, "-epoch", "1767225600", "-quiet"}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("ipintel build: exit %d\n%s", code, stderr.String())
	}
	return out
}

// TestBuiltDatabase runs the read-side commands on a database the builder
// wrote: verify passes, and for every network explain's arithmetic over the
// manifest's feed weights reproduces the risk_score the builder stored.
func TestBuiltDatabase(t *testing.T) {
	path := builtDB(t)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"verify", "-db", path}, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("verify: exit %d\n%s", code, stderr.String())
	}
	db, err := lookup.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := db.Manifest(); !ok {
		t.Fatal("built database has no manifest")
	}
	n, bad := 0, 0
	for pfx, rec := range db.All() {
		n++
		x := explain(db, pfx.Addr())
		if x.Score.Computed != int(rec.Score) {
			if bad++; bad <= 10 {
				t.Errorf("explain %s: %s, but the builder stored %d (sources %v, categories %v)",
					pfx, x.Score.Formula, rec.Score, db.SourceNames(rec.Sources), rec.Categories)
			}
		}
	}
	if n == 0 {
		t.Fatal("built database has no networks")
	}
	info, err := collectInfo(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if info.Engine.Ranges != db.Len() || info.Engine.Bytes != db.Bytes() || info.Networks.Networks != n || info.Manifest == nil {
		t.Errorf("info: engine %+v, %d networks, manifest %v; want %d ranges, %d bytes, %d networks, a manifest",
			info.Engine, info.Networks.Networks, info.Manifest != nil, db.Len(), db.Bytes(), n)
	}
	if bad > 0 {
		t.Errorf("%d of %d networks: explain disagrees with the stored score", bad, n)
	}
}
