package builder_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/oschwald/maxminddb-golang/v2"
	"go4.org/netipx"

	"github.com/ipintel/ipintel/internal/testenv"
)

// needTool returns whether a reader for the interop test is present; when
// it is not, the test is skipped, except under CI=true where it fails.
func needTool(t *testing.T, name string, check func() error) {
	t.Helper()
	if err := check(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true (apt-get install mmdb-bin python3-maxminddb): %v", name, err)
		}
		t.Skipf("%s not available: %v", name, err)
	}
}

const debianPython = "/usr/bin/python3" // Debian's python3-maxminddb installs for it alone

// buildWithCLI builds the ipintel binary without the race detector and
// runs `ipintel build` on a config, as a user would. It returns the
// database and how long the build took.
func buildWithCLI(t *testing.T, config string) (string, time.Duration) {
	t.Helper()
	dir := t.TempDir()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	bin := filepath.Join(dir, "ipintel")
	cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/ipintel")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "ipintel.mmdb")
	cmd = exec.Command(bin, "build", "-config", config, "-out", db, "-epoch", "1767225600", "-quiet")
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ipintel build -config %s: %v\n%s", config, err, out)
	}
	return db, time.Since(start)
}

// interopConfig is the full-size config when the shared corpus is there,
// else the testdata one (under CI=true the corpus must be there).
func interopConfig(t *testing.T) string {
	root := testenv.RepoRoot()
	if _, err := os.Stat(filepath.Join(root, "..", "shared", "feeds", "MANIFEST.md")); err == nil {
		return filepath.Join(root, "scripts", "shared-feeds.toml")
	}
	if os.Getenv("CI") == "true" {
		testenv.SharedFeeds(t) // fails
	}
	return filepath.Join(root, "testdata", "ipintel.toml")
}

// canonical re-encodes a decoded record so that three readers' views
// compare as strings: sorted keys, numbers as JSON numbers.
func canonical(t *testing.T, v any) string {
	t.Helper()
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(js, &x); err != nil {
		t.Fatal(err)
	}
	js, _ = json.Marshal(x)
	return string(js)
}

func TestInterop(t *testing.T) {
	t.Parallel()
	needTool(t, "mmdblookup", func() error { _, err := exec.LookPath("mmdblookup"); return err })
	needTool(t, "Debian python3-maxminddb", func() error {
		return exec.Command(debianPython, "-c", "import maxminddb").Run()
	})
	config := interopConfig(t)
	path, took := buildWithCLI(t, config)
	t.Logf("built %s in %v", filepath.Base(config), took)

	db, err := maxminddb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}

	// Sample addresses: inside networks spread over the whole file, and at
	// random (mostly misses).
	r := rand.New(rand.NewPCG(7, 7))
	var nets []netip.Prefix
	for res := range db.Networks() {
		nets = append(nets, res.Prefix())
	}
	var addrs []netip.Addr
	step := max(1, len(nets)/250)
	for i := 0; i < len(nets); i += step {
		rg := netipx.RangeOfPrefix(nets[i])
		addrs = append(addrs, rg.From(), rg.To(), randomIn(r, nets[i]))
	}
	for range 100 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}))
	}
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "10.0.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"} {
		addrs = append(addrs, netip.MustParseAddr(s))
	}

	// maxminddb-golang.
	golang := make([]string, len(addrs))
	found := 0
	for i, a := range addrs {
		res := db.Lookup(a)
		var v map[string]any
		if err := res.Decode(&v); err != nil {
			t.Fatalf("Lookup(%v): %v", a, err)
		}
		if !res.Found() {
			golang[i] = "null"
			continue
		}
		found++
		golang[i] = canonical(t, v)
	}
	if found < len(addrs)/2 {
		t.Fatalf("only %d of %d sampled addresses found", found, len(addrs))
	}

	// Python's maxminddb (Debian's), in one process.
	var in bytes.Buffer
	for _, a := range addrs {
		fmt.Fprintln(&in, a)
	}
	py := exec.Command(debianPython, "-c", `import json, sys, maxminddb
r = maxminddb.open_database(sys.argv[1])
for line in sys.stdin:
    print(json.dumps(r.get(line.strip())))`, path)
	py.Stdin = &in
	out, err := py.Output()
	if err != nil {
		t.Fatalf("python3 maxminddb: %v", err)
	}
	pyLines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(pyLines) != len(addrs) {
		t.Fatalf("python printed %d lines for %d addresses", len(pyLines), len(addrs))
	}

	bad := 0
	for i, a := range addrs {
		var pv any
		if err := json.Unmarshal([]byte(pyLines[i]), &pv); err != nil {
			t.Fatalf("python output %q: %v", pyLines[i], err)
		}
		ml := mmdblookup(t, path, a)
		p := canonical(t, pv)
		if p != golang[i] || ml != golang[i] {
			bad++
			if bad <= 5 {
				t.Errorf("%v:\n  maxminddb-golang %s\n  python maxminddb %s\n  mmdblookup       %s", a, golang[i], p, ml)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d addresses differ between readers", bad, len(addrs))
	}
}

// mmdblookup runs libmaxminddb's mmdblookup for one address and returns
// its answer in canonical JSON, "null" for a miss.
func mmdblookup(t *testing.T, path string, a netip.Addr) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("mmdblookup", "--file", path, "--ip", a.String())
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if strings.Contains(stderr.String()+stdout.String(), "Could not find an entry") {
		return "null"
	}
	if err != nil {
		t.Fatalf("mmdblookup %v: %v\n%s", a, err, stderr.String())
	}
	v, err := parseMMDBLookup(stdout.String())
	if err != nil {
		t.Fatalf("mmdblookup %v output: %v\n%s", a, err, stdout.String())
	}
	return canonical(t, v)
}

// parseMMDBLookup parses mmdblookup's data dump: JSON-like, without commas,
// each scalar followed by its type in angle brackets.
func parseMMDBLookup(s string) (any, error) {
	p := &dumpParser{s: s}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("trailing text at %d", p.i)
	}
	return v, nil
}

type dumpParser struct {
	s string
	i int
}

func (p *dumpParser) space() {
	for p.i < len(p.s) && unicode.IsSpace(rune(p.s[p.i])) {
		p.i++
	}
}

func (p *dumpParser) value() (any, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, errors.New("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		m := map[string]any{}
		for {
			p.space()
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return m, nil
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, fmt.Errorf("no colon after key %q", k)
			}
			p.i++
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
	case c == '[':
		p.i++
		var a []any
		for {
			p.space()
			if p.i < len(p.s) && p.s[p.i] == ']' {
				p.i++
				return a, nil
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	default:
		var v any
		if c == '"' {
			s, err := p.str()
			if err != nil {
				return nil, err
			}
			v = s
		} else {
			j := p.i
			for j < len(p.s) && !unicode.IsSpace(rune(p.s[j])) {
				j++
			}
			tok := p.s[p.i:j]
			p.i = j
			switch tok {
			case "true", "false":
				v = tok == "true"
			default:
				n, err := strconv.ParseFloat(tok, 64)
				if err != nil {
					return nil, fmt.Errorf("bad scalar %q", tok)
				}
				v = n
			}
		}
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '<' { // the type annotation
			end := strings.IndexByte(p.s[p.i:], '>')
			if end < 0 {
				return nil, errors.New("unterminated type")
			}
			p.i += end + 1
		}
		return v, nil
	}
}

func (p *dumpParser) str() (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", fmt.Errorf("want a string at %d", p.i)
	}
	j := p.i + 1
	for j < len(p.s) && p.s[j] != '"' {
		if p.s[j] == '\\' {
			j++
		}
		j++
	}
	if j >= len(p.s) {
		return "", errors.New("unterminated string")
	}
	var s string
	if err := json.Unmarshal([]byte(p.s[p.i:j+1]), &s); err != nil {
		s = p.s[p.i+1 : j]
	}
	p.i = j + 1
	return s, nil
}
