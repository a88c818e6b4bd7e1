package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/ipintel/ipintel/builder"
	"github.com/ipintel/ipintel/internal/testenv"
)

var testdataConfig = filepath.Join(testenv.RepoRoot(), "testdata", "ipintel.toml")

func runBuildCmd(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, append([]string{"build"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestBuildCommand(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("SOURCE_DATE_EPOCH", "")
	out := filepath.Join(t.TempDir(), "ipintel.mmdb")
	code, stdout, stderr := runBuildCmd(t, context.Background(), "-config", testdataConfig, "-out", out, "-json", "-epoch", "1767225600")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var sum builder.Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("-json output: %v\n%s", err, stdout)
	}
	if sum.Out != out || sum.Networks == 0 || sum.BuildEpoch != 1767225600 || len(sum.Feeds) != 14 {
		t.Errorf("summary = %+v", sum)
	}
	for _, f := range sum.Feeds {
		if f.Gate != builder.GateOK || f.Entries == 0 {
			t.Errorf("feed %s: gate %q, %d entries", f.Name, f.Gate, f.Entries)
		}
	}
	for _, want := range []string{"feed", "firehol-level1", "category", "tor_exit", "ipv4 addresses", "wrote " + out} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary table on stderr lacks %q:\n%s", want, stderr)
		}
	}
	db, err := maxminddb.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Metadata.BuildEpoch != 1767225600 || db.Metadata.DatabaseType != "ipintel" || db.Metadata.IPVersion != 6 {
		t.Errorf("metadata = %+v", db.Metadata)
	}
	m, found, err := builder.ReadManifest(out)
	if err != nil || !found || len(m.Feeds) != 14 || m.Networks != sum.Networks || m.Feeds[0].SHA256 == "" {
		t.Errorf("ReadManifest = %+v, %v, %v", m, found, err)
	}

	// -quiet: nothing on stdout or stderr; SOURCE_DATE_EPOCH pins the epoch.
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	code, stdout, stderr = runBuildCmd(t, context.Background(), "-config", testdataConfig, "-out", out, "-quiet")
	if code != exitOK || stdout != "" || stderr != "" {
		t.Errorf("-quiet: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	db2, err := maxminddb.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if db2.Metadata.BuildEpoch != 1700000000 {
		t.Errorf("build_epoch = %d, want SOURCE_DATE_EPOCH 1700000000", db2.Metadata.BuildEpoch)
	}
}

func TestBuildCommandErrors(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[[feed]]\nname = \"x\"\nkind = \"tor\"\nformat = \"nope\"\nurl = \"x.txt\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	failing := filepath.Join(dir, "failing.toml")
	if err := os.WriteFile(failing, []byte("out = \"out.mmdb\"\n[[feed]]\nname = \"gone\"\nkind = \"tor\"\nformat = \"ip-list\"\nurl = \"missing.txt\"\non_gate_failure = \"fail\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"extra argument", []string{"-config", testdataConfig, "extra"}, exitUsage, "unexpected arguments"},
		{"bad epoch", []string{"-config", testdataConfig, "-epoch", "yesterday"}, exitUsage, "-epoch"},
		{"negative every", []string{"-config", testdataConfig, "-every", "-1s"}, exitUsage, "-every"},
		{"unknown flag", []string{"-nope"}, exitUsage, "flag provided but not defined"},
		{"missing config", []string{"-config", filepath.Join(dir, "none.toml")}, exitRuntime, "none.toml"},
		{"bad config", []string{"-config", bad}, exitRuntime, "bad.toml:4: feed \"x\": unknown format \"nope\""},
		{"no output", []string{"-config", testdataConfig}, exitRuntime, "no output file"},
		{"gate failure", []string{"-config", failing}, exitRuntime, "feed gone: fetch failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runBuildCmd(t, context.Background(), tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d saying %q", code, stderr, tc.code, tc.msg)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "out.mmdb")); err == nil {
		t.Error("a failed build wrote its output")
	}
}

// -every rebuilds until the context ends; a failing run is logged and the
// schedule goes on.
func TestBuildEvery(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	cfgPath := filepath.Join(dir, "ipintel.toml")
	if err := os.WriteFile(cfgPath, []byte("out = \"out.mmdb\"\n[[feed]]\nname = \"l\"\nkind = \"abuse\"\nformat = \"ip-list\"\nurl = \"list.txt\"\non_gate_failure = \"fail\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"build", "-config", cfgPath, "-every", "20ms", "-quiet"}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()
	// The list does not exist yet: runs fail and the schedule goes on.
	waitUntil(t, func() bool { return strings.Count(stderr.String(), "build failed") >= 2 })
	if err := os.WriteFile(list, []byte("45.1.1.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { _, err := os.Stat(filepath.Join(dir, "out.mmdb")); return err == nil })
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after cancel, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("build -every did not stop when its context ended")
	}
	if !strings.Contains(stderr.String(), "feed l: fetch failed") {
		t.Errorf("the failed runs' log does not say what failed:\n%s", stderr.String())
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
