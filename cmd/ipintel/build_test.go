package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/ipintel/ipintel/builder"
	"github.com/ipintel/ipintel/internal/testenv"
	"github.com/ipintel/ipintel/internal/testhttp"
	"github.com/ipintel/ipintel/schema"
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
	if sum.Out != out || sum.Networks == 0 || sum.BuildEpoch != 1767225600 || len(sum.Feeds) != 20 {
		t.Errorf("summary = %+v", sum)
	}
	for _, f := range sum.Feeds {
		if f.Gate != schema.GateOK || f.Records == 0 {
			t.Errorf("feed %s: gate %q, %d entries", f.Name, f.Gate, f.Records)
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
	if err != nil || !found || len(m.Feeds) != 20 || m.Networks != sum.Networks || m.Feeds[0].SHA256 == "" {
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
	var stderr testhttp.LockedBuffer
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

// checkOutputPath accepts what a rename can replace and refuses the rest.
func TestCheckOutputPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	regular := filepath.Join(dir, "old.mmdb")
	if err := os.WriteFile(regular, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := func(name, target string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		want       string // "" for accepted, else part of the error
	}{
		{"regular file", regular, ""},
		{"new name", filepath.Join(dir, "new.mmdb"), ""},
		{"link to a regular file", link("to-file", regular), ""},
		{"/dev/null", "/dev/null", "a device"},
		{"/dev/full", "/dev/full", "a device"},
		{"directory", dir, "a directory"},
		{"trailing slash", dir + "/", "a directory"},
		{"named pipe", fifo, "a named pipe"},
		{"link to a device", link("to-null", "/dev/null"), "symbolic link to a device"},
		{"link to a directory", link("to-dir", dir), "symbolic link to a directory"},
		{"link to a named pipe", link("to-fifo", fifo), "symbolic link to a named pipe"},
		{"dangling link", link("dangling", filepath.Join(dir, "none")), "cannot be followed"},
		{"missing directory", filepath.Join(dir, "none", "x.mmdb"), "no such file"},
		{"parent is a file", filepath.Join(regular, "x.mmdb"), "not a directory"},
		{"read-only directory", filepath.Join(readOnly, "x.mmdb"), "not writable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "read-only directory" && os.Geteuid() == 0 {
				// root writes anywhere; the probe file finds that out too.
				tc.want = ""
			}
			err := checkOutputPath(tc.path)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("checkOutputPath(%q) = %v, want nil", tc.path, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("checkOutputPath(%q) = %v, want an error saying %q", tc.path, err, tc.want)
			case err != nil && !strings.Contains(err.Error(), tc.path):
				t.Errorf("checkOutputPath(%q) = %v, does not name the path", tc.path, err)
			}
		})
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(left) > 0 {
		t.Errorf("the writability probe left %q", left)
	}
}

// A bad -out is a usage error found before any feed is read: the build
// neither runs nor touches the path.
func TestBuildRefusesBadOut(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	for _, out := range []string{"/dev/null", "/dev/full", dir} {
		code, _, stderr := runBuildCmd(t, context.Background(), "-config", testdataConfig, "-out", out, "-quiet")
		if code != exitUsage || !strings.Contains(stderr, "-out "+out+": ") || strings.Contains(stderr, "feed") {
			t.Errorf("-out %s: exit %d, stderr %q; want exit 2 naming -out before any feed", out, code, stderr)
		}
	}
	// With -every too: a usage error ends the schedule at once.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if code, _, stderr := runBuildCmd(t, ctx, "-config", testdataConfig, "-out", "/dev/null", "-every", "1h", "-quiet"); code != exitUsage || ctx.Err() != nil {
		t.Errorf("-every 1h -out /dev/null: exit %d, stderr %q; want exit 2 at once", code, stderr)
	}
	if fi, err := os.Stat("/dev/null"); err != nil || fi.Mode()&os.ModeDevice == 0 {
		t.Errorf("/dev/null after the build: %v, %v", fi, err)
	}
	// The config's out is checked too, as a config error.
	cfg := filepath.Join(dir, "ipintel.toml")
	if err := os.WriteFile(cfg, []byte("out = \"/dev/null\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runBuildCmd(t, context.Background(), "-config", cfg, "-quiet")
	if code != exitRuntime || !strings.Contains(stderr, "out /dev/null: a device") {
		t.Errorf("config out = /dev/null: exit %d, stderr %q; want exit 1 naming it", code, stderr)
	}
}

// slowBuildConfig writes a config of four generated feeds (600,000
// networks, a 12 MB database: a few seconds of CPU, long enough to be
// caught in every stage) into dir, with a valid database at its out, and
// returns the config's path and the out's path.
func slowBuildConfig(t *testing.T, dir string) (cfgPath, out string) {
	t.Helper()
	var cfg strings.Builder
	cfg.WriteString("out = \"out.mmdb\"\n")
	for i, kind := range []string{"abuse", "vpn", "hosting", "tor"} {
		var b []byte
		for k := range 150000 {
			a := uint32(20+i)<<24 + uint32(k)*4 + uint32(i%2)
			b = fmt.Appendf(b, "%d.%d.%d.%d\n", a>>24, a>>16&255, a>>8&255, a&255)
		}
		name := fmt.Sprintf("list%d", i)
		if err := os.WriteFile(filepath.Join(dir, name+".txt"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&cfg, "[[feed]]\nname = %q\nkind = %q\nformat = \"ip-list\"\nurl = \"%s.txt\"\n", name, kind, name)
	}
	cfgPath = filepath.Join(dir, "ipintel.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out = writeTestDB(t, filepath.Join(dir, "out.mmdb"), sampleNets, testManifest(len(sampleNets)))
	return cfgPath, out
}

// A signal stops the real binary's build at any stage within a second
// (two here, for loaded test machines): nothing is published, the
// previous database keeps its bytes, no temporary file is left, and the
// exit status is 128 plus the signal's number. The moments are events of
// the build, not delays, so each stage is hit whatever the machine's
// speed: the temporary file appears when the merge starts and grows while
// the database is written.
func TestBuildBinaryStopsOnSignal(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM on Windows")
	}
	bin := ipintelBinary(t)
	tmpExists := func(dir string) func() bool {
		return func() bool {
			m, _ := filepath.Glob(filepath.Join(dir, ".out.mmdb.*.tmp"))
			return len(m) > 0
		}
	}
	tmpWritten := func(dir string) func() bool {
		return func() bool {
			m, _ := filepath.Glob(filepath.Join(dir, ".out.mmdb.*.tmp"))
			for _, p := range m {
				if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
					return true
				}
			}
			return false
		}
	}
	for _, tc := range []struct {
		name  string
		sig   syscall.Signal
		every bool
		when  func(dir string) func() bool // nil: at once
		delay time.Duration                // after when
	}{
		{name: "at start", sig: syscall.SIGTERM},
		{name: "reading feeds", sig: syscall.SIGTERM, delay: 300 * time.Millisecond},
		{name: "SIGINT reading feeds", sig: syscall.SIGINT, delay: 300 * time.Millisecond},
		{name: "merging", sig: syscall.SIGTERM, when: tmpExists},
		{name: "writing", sig: syscall.SIGTERM, when: tmpWritten},
		{name: "every, reading feeds", sig: syscall.SIGTERM, every: true, delay: 300 * time.Millisecond},
		{name: "every, merging", sig: syscall.SIGTERM, every: true, when: tmpExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfgPath, out := slowBuildConfig(t, dir)
			before, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"build", "-config", cfgPath, "-offline", "-quiet", "-epoch", "1767225600"}
			if tc.every {
				args = append(args, "-every", "1h")
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
			var stderr testhttp.LockedBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
			if tc.when != nil {
				cond := tc.when(dir)
				for !cond() {
					select {
					case <-done:
						t.Fatalf("the build ended before the moment to signal it; stderr:\n%s", stderr.String())
					case <-time.After(time.Millisecond):
					}
				}
			}
			time.Sleep(tc.delay)
			sent := time.Now()
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatalf("the build did not stop within 60s of %v; stderr:\n%s", tc.sig, stderr.String())
			}
			if took := time.Since(sent); took > 2*time.Second {
				t.Errorf("the build took %v to stop after %v, want at most a second", took.Round(time.Millisecond), tc.sig)
			}
			// A signal that comes before the runtime has installed its
			// handler kills the process, which a shell reports with the
			// same status.
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			killed := ws.Signaled() && ws.Signal() == tc.sig
			if got, want := cmd.ProcessState.ExitCode(), 128+int(tc.sig); got != want && !killed {
				t.Errorf("exit status %d after %v, want %d; stderr:\n%s", got, tc.sig, want, stderr.String())
			}
			if !killed && !strings.Contains(stderr.String(), "nothing published") {
				t.Errorf("stderr does not say that nothing was published:\n%s", stderr.String())
			}
			after, err := os.ReadFile(out)
			if err != nil || !bytes.Equal(after, before) {
				t.Errorf("the previous database changed (%d bytes, was %d; %v): the interrupted build published", len(after), len(before), err)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".out.mmdb.*")); len(left) > 0 {
				t.Errorf("temporary files left behind: %q", left)
			}
		})
	}
}
