package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipintel/ipintel/builder"
)

// -check validates a config without building; a bad one exits 1 naming
// its line.
func TestBuildCheck(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "never.mmdb")
	code, stdout, stderr := runBuildCmd(t, context.Background(), "-check", "-config", testdataConfig, "-out", out)
	if code != exitOK || !strings.Contains(stdout, "ok") {
		t.Fatalf("-check on the bundled config: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("-check wrote a database")
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[[feed]]\nname = \"x\"\nkind = \"nope\"\nformat = \"ip-list\"\nurl = \"x.txt\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runBuildCmd(t, context.Background(), "-check", "-config", bad)
	if code != exitRuntime || !strings.Contains(stderr, "bad.toml:3") {
		t.Errorf("-check on a bad kind: exit %d, stderr %q; want 1 naming line 3", code, stderr)
	}
}

// A required feed with no copy fails the build and keeps the previous
// database; -force leaves it out and the manifest says so.
func TestBuildForce(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("SOURCE_DATE_EPOCH", "")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("45.1.1.1\n45.1.1.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "ipintel.toml")
	if err := os.WriteFile(cfg, []byte(`
[[feed]]
name = "a"
kind = "abuse"
format = "ip-list"
url = "a.txt"

[[feed]]
name = "gone"
kind = "abuse"
format = "ip-list"
url = "missing.txt"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "ipintel.mmdb")
	before := []byte("the previous database")
	if err := os.WriteFile(out, before, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runBuildCmd(t, context.Background(), "-config", cfg, "-out", out, "-quiet", "-epoch", "1767225600")
	if code != exitRuntime || !strings.Contains(stderr, "gone") {
		t.Fatalf("build with a missing required feed: exit %d, stderr %q; want 1 naming the feed", code, stderr)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, before) {
		t.Fatal("a failed build changed the database")
	}
	code, _, stderr = runBuildCmd(t, context.Background(), "-config", cfg, "-out", out, "-quiet", "-force", "-epoch", "1767225600")
	if code != exitOK {
		t.Fatalf("-force: exit %d, stderr %q", code, stderr)
	}
	m, _, err := builder.ReadManifest(out)
	if err != nil || m == nil || len(m.Forced) != 1 || !strings.Contains(m.Forced[0], "gone") {
		t.Errorf("manifest after -force: %+v, %v; want the left-out feed in forced", m, err)
	}
}
