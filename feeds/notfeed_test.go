package feeds

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ipintel/ipintel/internal/testenv"
)

// TestNotFeed checks which bodies every format refuses with ErrNotFeed
// and which it reads as a (possibly empty) feed.
func TestNotFeed(t *testing.T) {
	t.Parallel()
	html500 := "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n</body>\r\n</html>\r\n"
	tests := []struct {
		name    string
		in      string
		notFeed bool
	}{
		{"zero bytes", "", true},
		{"white space", " \n\t\r\n \v\f", true},
		{"byte order mark and newline", "\ufeff\n", true},
		{"HTML page", html500, true},
		{"HTML after white space and BOM", "\ufeff \n<HTML lang=en>", true},
		{"doctype", "<!DOCTYPE html>\n<html>", true},
		{"doctype lower case", "\n\n<!doctype HTML>", true},
		{"html cut short", "<htm", false},
		{"XML is not HTML", "<?xml version=\"1.0\"?>", false},
		{"comments only", "; Spamhaus EDROP\n; EOF\n", false},
		{"one comment, no newline", "#", false},
	}
	for _, f := range Formats() {
		for _, tc := range tests {
			if f == FormatMMDB && !tc.notFeed {
				continue // not an MMDB anyway
			}
			notFeed := tc.notFeed
			if f == FormatMMDB && strings.Contains(tc.in, "<") {
				notFeed = false // a binary format is never sniffed for HTML
			}
			t.Run(string(f)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				got := parseText(tc.in, Options{Format: f})
				isNotFeed := len(got.fatal) == 1 && errors.Is(got.fatal[0], ErrNotFeed)
				if notFeed && !isNotFeed {
					t.Fatalf("Parse(%q) errors %v, want one wrapping ErrNotFeed", tc.in, got.fatal)
				}
				if !notFeed && isNotFeed && f != FormatMMDB && !jsonLike(f) {
					t.Fatalf("Parse(%q) = %v, want a feed (of no records)", tc.in, got.fatal)
				}
				if notFeed && (len(got.entries) != 0 || got.stats != (Stats{})) {
					t.Errorf("Parse(%q): %d entries, stats %+v; want nothing", tc.in, len(got.entries), got.stats)
				}
			})
		}
	}
}

// jsonLike reports whether f is a JSON format, in which a document with no
// address is itself not the feed.
func jsonLike(f Format) bool { return f == FormatJSON || f == FormatVPNServers }

// TestNotFeedGzip checks that the body is judged after decompression.
func TestNotFeedGzip(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "\n\n", "<html><body>x</body></html>"} {
		got := parseText(string(gzipBytes(t, []byte(in))), Options{Format: FormatIPList})
		if len(got.fatal) != 1 || !errors.Is(got.fatal[0], ErrNotFeed) {
			t.Errorf("gzip of %q: errors %v, want ErrNotFeed", in, got.fatal)
		}
	}
}

// TestNotFeedReadsByteByByte checks that the look at the start of the body
// does not lose or repeat bytes when they arrive one at a time.
func TestNotFeedReadsByteByByte(t *testing.T) {
	t.Parallel()
	in := "\ufeff \n\n 192.0.2.1\n<b>\n198.51.100.0/24"
	var lines []int
	st, err := Parse(iotest.OneByteReader(strings.NewReader(in)), Options{Format: FormatIPList}, func(e Entry) {
		lines = append(lines, e.Line)
	})
	if st.Records != 2 || st.Invalid != 1 || len(lines) != 2 || lines[0] != 3 || lines[1] != 5 {
		t.Errorf("records %d invalid %d lines %v (err %v), want 2 records on lines 3 and 5, 1 invalid", st.Records, st.Invalid, lines, err)
	}
}

// TestNotFeedCorpus parses the real error page and the real empty lists.
func TestNotFeedCorpus(t *testing.T) {
	t.Parallel()
	dir := testenv.SharedFeeds(t)
	for _, tc := range []struct {
		file    string
		format  Format
		notFeed bool
	}{
		// An HTTP 500 page a mirror committed as Cloudflare's ips-v4.
		{"cloud/cloudflare-ips-v4-http500-page_2024-10-29.txt", FormatIPList, true},
		{"cloud/cloudflare-ips-v4-http500-page_2024-10-29.txt", FormatProxyList, true},
		{"cloud/cloudflare-ips-v4-http500-page_2024-10-29.txt", FormatGeofeed, true},
		// Real empty lists: comments and no data are a feed of 0 records.
		{"abuse/spamhaus-edrop-merged-empty_2024-10-18.txt", FormatSpamhausDrop, false},
		{"vpn/x4bnet-input-vpn-ips-Manual_2026-08-22.txt", FormatIPList, false},
	} {
		data, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		st, err := Parse(bytes.NewReader(data), Options{Format: tc.format}, func(Entry) {})
		if got := errors.Is(err, ErrNotFeed); got != tc.notFeed || st.Records != 0 {
			t.Errorf("%s as %s: records %d, err %v; want ErrNotFeed %v", tc.file, tc.format, st.Records, err, tc.notFeed)
		}
		if !tc.notFeed && err != nil {
			t.Errorf("%s as %s: %v, want no error", tc.file, tc.format, err)
		}
	}
}
