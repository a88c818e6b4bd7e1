package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// lookupStdin runs "ipintel lookup -db db" with stdin and returns the exit
// status, the "ip" of each answer and stderr.
func lookupStdin(t *testing.T, db, stdin string) (code int, ips []string, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), []string{"lookup", "-db", db}, strings.NewReader(stdin), &out, &errb)
	for line := range strings.Lines(out.String()) {
		var a struct {
			IP string `json:"ip"`
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("answer %q: %v", line, err)
		}
		ips = append(ips, a.IP)
	}
	return code, ips, errb.String()
}

func TestLookupStdin(t *testing.T) {
	t.Parallel()
	db := sampleDB(t)
	long := strings.Repeat("x", 2<<20) // 2 MiB, twice the old scanner's limit
	for _, tc := range []struct {
		name   string
		stdin  string
		code   int
		ips    []string
		stderr []string // each must appear; none when empty
	}{
		{
			name:  "blank lines and comments are skipped silently",
			stdin: "# addresses to check\n\n192.0.2.1\n   \n\t# indented comment\n2001:db8:2::1  # a Tor exit\r\n198.51.100.7\r\n",
			code:  exitOK,
			ips:   []string{"192.0.2.1", "2001:db8:2::1", "198.51.100.7"},
		},
		{
			name:   "a 2 MiB line is reported and the rest go on",
			stdin:  "192.0.2.1\n" + long + "\n2001:db8:2::1\n198.51.100.7\n",
			code:   exitRuntime,
			ips:    []string{"192.0.2.1", "2001:db8:2::1", "198.51.100.7"},
			stderr: []string{"line 2: longer than 4096 bytes"},
		},
		{
			name:   "a 2 MiB last line without a newline",
			stdin:  "192.0.2.1\n" + long,
			code:   exitRuntime,
			ips:    []string{"192.0.2.1"},
			stderr: []string{"line 2: longer than"},
		},
		{
			name:   "a 2 MiB line of spaces is still one line",
			stdin:  strings.Repeat(" ", 2<<20) + "\n192.0.2.1\n",
			code:   exitRuntime,
			ips:    []string{"192.0.2.1"},
			stderr: []string{"line 1: longer than"},
		},
		{
			name:   "bad lines are numbered and the rest go on",
			stdin:  "192.0.2.1\nnot-an-address\n\n# comment\nfe80::1%eth0\n192.0.2.300\n2001:db8:2::1",
			code:   exitRuntime,
			ips:    []string{"192.0.2.1", "2001:db8:2::1"},
			stderr: []string{"line 2: ", "line 5: ", "line 6: "},
		},
		{
			name:  "a line just under the limit is read",
			stdin: "192.0.2.1" + strings.Repeat(" ", 4000) + "\n198.51.100.7",
			code:  exitOK,
			ips:   []string{"192.0.2.1", "198.51.100.7"},
		},
		{name: "empty input", stdin: "", code: exitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, ips, stderr := lookupStdin(t, db, tc.stdin)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			if strings.Join(ips, " ") != strings.Join(tc.ips, " ") {
				t.Errorf("answered %q, want %q", ips, tc.ips)
			}
			if len(tc.stderr) == 0 && stderr != "" {
				t.Errorf("stderr %q, want nothing", stderr)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q lacks %q", stderr, want)
				}
			}
			if len(stderr) > 1000 {
				t.Errorf("stderr is %d bytes: a long line was echoed", len(stderr))
			}
		})
	}
}
