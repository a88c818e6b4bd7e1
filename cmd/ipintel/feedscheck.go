package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ipintel/ipintel/feeds"
)

func init() {
	register(&command{
		Name:      "feeds",
		UsageLine: "ipintel feeds check -format fmt [-json] [-min-count n] [-cidr-column c] [-start-column c] [-end-column c] [-json-keys k,...] [-max-bad-lines n] file ...",
		Short:     "parse feed files and report their counts and bad lines",
		Long: `Feeds check parses each file in the given feed format and reports what a
build would take from it: records (data lines or records accepted),
prefixes (distinct prefixes after normalisation and range splitting, before
aggregation or reserved-space filtering), ipv4 and ipv6 (the split of
prefixes), asns (distinct ASNs carried by the entries), invalid (rejected
lines) and skipped (records left out on purpose, such as ipsum lines below
-min-count). Gzip-compressed files are read transparently. For the json
format, -json-keys keeps only the string values under the named keys
(comma-separated), as the config's json_keys does.

Formats: ` + formatList() + `.

The counts go to stdout: an aligned table, or with -json exactly one JSON
object per file, with the keys file, format, records, prefixes, ipv4, ipv6,
asns, invalid and skipped, plus error when the file could not be read to
its end. The first 10 bad lines of each file go to stderr as file:line.

Exit status: 0 when every file was read to its end, whether or not it had
bad lines, since reporting them is the point of the command; 1 when a file
could not be opened or read (an I/O error, a broken gzip stream, a JSON
document cut short), was not the feed at all (an empty body, an HTML page,
a JSON document without an address), or had more than -max-bad-lines invalid lines; 2 for a
usage error such as an unknown format.`,
		Flags: feedsFlags,
	})
}

// maxShownBadLines is how many bad lines per file feeds check prints.
const maxShownBadLines = 10

// formatList names every registered format, comma-separated, broken into
// lines of at most 72 columns for the help text.
func formatList() string {
	var b strings.Builder
	col := len("Formats: ")
	for i, f := range feeds.Formats() {
		name := string(f)
		if i > 0 {
			b.WriteByte(',')
			col++
			if col+1+len(name)+1 > 72 {
				b.WriteByte('\n')
				col = 0
			} else {
				b.WriteByte(' ')
				col++
			}
		}
		b.WriteString(name)
		col += len(name)
	}
	return b.String()
}

func feedsFlags(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) int {
	format := fs.String("format", "", "feed `format` of the files (required)")
	asJSON := fs.Bool("json", false, "print one JSON object per file")
	minCount := fs.Int("min-count", 0, "ipsum: keep lines whose count is at least `n` (default 1)")
	cidrCol := fs.String("cidr-column", "", "csv: network `column`, a 0-based index or header name")
	startCol := fs.String("start-column", "", "csv: range start `column`, a 0-based index or header name")
	endCol := fs.String("end-column", "", "csv: range end `column`, a 0-based index or header name")
	jsonKeys := fs.String("json-keys", "", "json: read only the values under these `keys`, comma-separated")
	maxBad := fs.Int("max-bad-lines", -1, "fail a file with more than `n` invalid lines (-1: no limit)")
	return func(ctx context.Context, e *env, args []string) int {
		if len(args) == 0 || args[0] != "check" {
			return report(e, "feeds", usageError("missing subcommand check"))
		}
		// Flags may also follow "check": ipintel feeds check -format x f.
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printCommandUsage(e.stdout, findCommand("feeds"), fs)
				return exitOK
			}
			return report(e, "feeds", usageError("%v", err))
		}
		files := fs.Args()
		switch {
		case *format == "":
			return report(e, "feeds", usageError("-format is required"))
		case !slices.Contains(feeds.Formats(), feeds.Format(*format)):
			return report(e, "feeds", usageError("unknown format %q (known: %s)", *format, strings.ReplaceAll(formatList(), "\n", " ")))
		case len(files) == 0:
			return report(e, "feeds", usageError("no files given"))
		case *minCount < 0:
			return report(e, "feeds", usageError("-min-count must not be negative"))
		case *minCount != 0 && *format != string(feeds.FormatIPSum):
			return report(e, "feeds", usageError("-min-count applies to -format ipsum only"))
		case (*cidrCol != "" || *startCol != "" || *endCol != "") && *format != string(feeds.FormatCSV):
			return report(e, "feeds", usageError("-cidr-column, -start-column and -end-column apply to -format csv only"))
		case *jsonKeys != "" && *format != string(feeds.FormatJSON):
			return report(e, "feeds", usageError("-json-keys applies to -format json only"))
		}
		var keys []string
		for k := range strings.SplitSeq(*jsonKeys, ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
		opts := feeds.Options{
			Format:        feeds.Format(*format),
			MinCount:      *minCount,
			CIDRColumn:    *cidrCol,
			StartColumn:   *startCol,
			EndColumn:     *endCol,
			JSONKeys:      keys,
			MaxLineErrors: maxShownBadLines,
		}
		return feedsCheck(ctx, e, opts, files, *asJSON, *maxBad)
	}
}

// feedCounts is one file's line of output; the field order is the JSON
// key order.
type feedCounts struct {
	File     string `json:"file"`
	Format   string `json:"format"`
	Records  int    `json:"records"`
	Prefixes int    `json:"prefixes"`
	IPv4     int    `json:"ipv4"`
	IPv6     int    `json:"ipv6"`
	ASNs     int    `json:"asns"`
	Invalid  int    `json:"invalid"`
	Skipped  int    `json:"skipped"`
	Error    string `json:"error,omitempty"`
}

func feedsCheck(ctx context.Context, e *env, opts feeds.Options, files []string, asJSON bool, maxBad int) int {
	code := exitOK
	var tw *tabwriter.Writer
	if !asJSON {
		tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "records\tprefixes\tipv4\tipv6\tasns\tinvalid\tskipped\t  file")
	}
	enc := json.NewEncoder(e.stdout)
	for _, file := range files {
		if err := ctx.Err(); err != nil {
			fmt.Fprintf(e.stderr, "ipintel feeds: %v\n", err)
			code = exitRuntime
			break
		}
		c, err := checkFile(opts, file, e)
		if err == nil && maxBad >= 0 && c.Invalid > maxBad {
			err = fmt.Errorf("%s: %d invalid lines, more than -max-bad-lines %d", file, c.Invalid, maxBad)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "ipintel feeds: %v\n", err)
			c.Error = err.Error()
			code = exitRuntime
		}
		if asJSON {
			if err := enc.Encode(c); err != nil {
				return report(e, "feeds", err)
			}
			continue
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t  %s\n",
			c.Records, c.Prefixes, c.IPv4, c.IPv6, c.ASNs, c.Invalid, c.Skipped, file)
	}
	if tw != nil {
		if err := tw.Flush(); err != nil {
			return report(e, "feeds", err)
		}
	}
	return code
}

// checkFile parses one file and counts what it yields. Bad lines are
// printed to stderr; the returned error is an I/O or file-level error.
func checkFile(opts feeds.Options, file string, e *env) (feedCounts, error) {
	c := feedCounts{File: file, Format: string(opts.Format)}
	f, err := os.Open(file)
	if err != nil {
		return c, err
	}
	defer f.Close()
	opts.Source = file
	pfxs := make(map[netip.Prefix]struct{})
	asns := make(map[uint32]struct{})
	st, err := feeds.Parse(f, opts, func(en feeds.Entry) {
		if en.Prefix.IsValid() {
			pfxs[en.Prefix] = struct{}{}
		}
		if en.ASN != 0 {
			asns[en.ASN] = struct{}{}
		}
	})
	c.Records, c.Invalid, c.Skipped = st.Records, st.Invalid, st.Skipped
	c.Prefixes, c.ASNs = len(pfxs), len(asns)
	for p := range pfxs {
		if p.Addr().Is4() {
			c.IPv4++
		} else {
			c.IPv6++
		}
	}
	var fatal []error
	for _, err := range splitErrors(err) {
		if le, ok := errors.AsType[*feeds.LineError](err); ok {
			fmt.Fprintf(e.stderr, "%s:%d: %v: %q\n", file, le.Line, le.Err, le.Text)
			continue
		}
		fatal = append(fatal, err)
	}
	if more := c.Invalid - maxShownBadLines; more > 0 {
		fmt.Fprintf(e.stderr, "%s: %d more bad lines not shown\n", file, more)
	}
	return c, errors.Join(fatal...)
}

// splitErrors undoes errors.Join.
func splitErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
