package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/ipintel/ipintel/builder"
	"github.com/ipintel/ipintel/schema"
)

func init() {
	register(&command{
		Name:      "build",
		UsageLine: "ipintel build [-config file] [-out file] [-state-dir dir] [-offline] [-epoch N] [-json] [-every interval] [-quiet]",
		Short:     "build the database from the feeds of a config",
		Long: `
Build fetches every feed of the config (default ipintel.toml), parses it,
checks it against its sanity gates, merges all feeds and writes one MMDB
file. A feed that fails its gates falls back to its last good cached copy
with a warning, or fails the build when its on_gate_failure is "fail". The
database is written to a temporary file beside the output and renamed over
it, so a failed or killed build leaves the previous database untouched.

-out wins over the config's out; -state-dir wins over its state_dir, the
directory of the history (first and last seen dates, retained entries).
The history is written after the database is published: a build that
fails, is gated or interrupted leaves it as it was. -offline builds URL feeds from the cache
only. The build_epoch of the file is -epoch, else $SOURCE_DATE_EPOCH, else
the newest Last-Modified of the copies used (so the same copies rebuild
into the same bytes), else the current time.

On a terminal, progress is shown on standard error; a summary table (per
feed and per category) follows the build unless -quiet is given. -json
prints the same summary as JSON on standard output. Per feed, records and
invalid count what "ipintel feeds check" counts for the same copy;
entries are the prefixes the parser gave (a repeated prefix counts again,
so they can exceed feeds check's distinct prefixes), reserved the entries
dropped as reserved space. Networks are MMDB networks, as "ipintel info"
counts them.

-out (or the config's out) must be a regular file, a symbolic link to one,
or a new name in an existing writable directory; anything else (a
directory, a device such as /dev/null, a named pipe) is a usage error,
reported before any feed is read.

-every 1h rebuilds on that schedule until interrupted (SIGINT or SIGTERM):
runs never overlap, and a run that fails is logged and leaves the previous
database in place; the next run goes on as planned.

SIGINT or SIGTERM stops a running build at once: nothing is published, the
previous database stays as it was, and the exit status is 130 (SIGINT) or
143 (SIGTERM), as for a process the signal killed. With -every, a signal
during a run abandons that run the same way; a signal between runs stops
the schedule with status 0. A second signal kills the process outright
(the previous database is still untouched).

A build also fails, and publishes nothing, when a required feed has
neither a fresh valid copy nor a last good one (optional = true leaves it
out instead), or when the merged database fails a whole-database gate: no
networks, a category that lost more than [gates] max_category_shrink of
its networks, or one whose addresses grew more than max_category_growth
times against the previous build of the same config. -force publishes
anyway and lists what it overrode in the manifest. -check reads and
checks the config and exits.

Exit status: 0 on success, 1 when the build (or the config) failed, 2 for
a usage error, 130 or 143 when a signal stopped the build.`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
			var o buildOpts
			fs.StringVar(&o.config, "config", "ipintel.toml", "config `file`")
			fs.StringVar(&o.out, "out", "", "output database `file` (default: the config's out)")
			fs.StringVar(&o.stateDir, "state-dir", "", "history `directory` (default: the config's state_dir)")
			fs.BoolVar(&o.offline, "offline", false, "use cached copies of URL feeds; never touch the network")
			fs.StringVar(&o.epoch, "epoch", "", "build_epoch in Unix `seconds` (default $SOURCE_DATE_EPOCH, else the newest input)")
			fs.BoolVar(&o.json, "json", false, "print the summary as JSON on standard output")
			fs.DurationVar(&o.every, "every", 0, "rebuild every `interval` (e.g. 1h) until interrupted")
			fs.BoolVar(&o.quiet, "quiet", false, "no progress display and no summary table")
			fs.BoolVar(&o.force, "force", false, "publish even if a whole-database gate fails or a required feed has no copy; the manifest lists what was overridden")
			fs.BoolVar(&o.check, "check", false, "check the config (keys, kinds, formats, gates, outputs) and exit without building")
			return func(ctx context.Context, e *env, args []string) int {
				if len(args) > 0 {
					return report(e, "build", usageError("unexpected arguments %q", args))
				}
				return runBuild(ctx, e, o)
			}
		},
	})
}

type buildOpts struct {
	config, out, epoch string
	stateDir           string
	offline, json      bool
	quiet, force       bool
	check              bool
	every              time.Duration
}

func runBuild(ctx context.Context, e *env, o buildOpts) int {
	epoch, err := buildEpoch(o.epoch)
	if err != nil {
		return report(e, "build", err)
	}
	if o.every < 0 {
		return report(e, "build", usageError("-every %v is negative", o.every))
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if o.every == 0 || o.check {
		err := buildOnce(ctx, e, o, epoch, log)
		if code, ok := abandoned(ctx, e, err); ok {
			return code
		}
		return report(e, "build", err)
	}
	for {
		start := time.Now()
		err := buildOnce(ctx, e, o, epoch, log)
		if code, ok := abandoned(ctx, e, err); ok {
			return code
		}
		if errors.Is(err, errUsage) {
			return report(e, "build", err)
		}
		if ctx.Err() != nil {
			// Stopped by its caller rather than a signal, or by a signal
			// after the run published: a clean stop.
			return exitOK
		}
		if err != nil {
			log.Error("build failed; the previous database stays", "err", err)
		}
		next := start.Add(o.every)
		if !o.quiet {
			fmt.Fprintf(e.stderr, "next build at %s\n", next.Format(time.RFC3339))
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			// Between runs nothing is abandoned: a clean stop.
			t.Stop()
			return exitOK
		case <-t.C:
		}
	}
}

// abandoned reports whether a signal stopped a build that then failed
// (the builder publishes nothing once its context is cancelled), and
// returns the exit status for it: 128 plus the signal's number, as a shell
// reports a process the signal killed (130 for SIGINT, 143 for SIGTERM). A
// build that completed before the signal was seen published its database
// and is not abandoned.
func abandoned(ctx context.Context, e *env, err error) (int, bool) {
	ie, ok := interruption(ctx)
	if !ok || err == nil {
		return 0, false
	}
	fmt.Fprintf(e.stderr, "ipintel build: %v: stopped, nothing published\n", ie)
	return ie.exitCode(), true
}

// buildEpoch returns the -epoch flag, else $SOURCE_DATE_EPOCH, else 0
// (the builder's default).
func buildEpoch(flagValue string) (int64, error) {
	v, what := flagValue, "-epoch"
	if v == "" {
		v, what = os.Getenv("SOURCE_DATE_EPOCH"), "SOURCE_DATE_EPOCH"
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		err := fmt.Errorf("%s %q: want a positive number of Unix seconds", what, v)
		if what == "-epoch" {
			return 0, usageError("%v", err)
		}
		return 0, err
	}
	return n, nil
}

func buildOnce(ctx context.Context, e *env, o buildOpts, epoch int64, log *slog.Logger) error {
	cfg, err := builder.LoadConfig(o.config)
	if err != nil {
		return err
	}
	if o.check {
		fmt.Fprintf(e.stdout, "%s: %d feeds, %d outputs: ok\n", o.config, len(cfg.Feeds), len(cfg.Outputs))
		return nil
	}
	out := o.out
	if out == "" {
		out = cfg.Out
	}
	if out != "" {
		if err := checkOutputPath(out); err != nil {
			if o.out != "" {
				return usageError("-out %v", err)
			}
			return fmt.Errorf("config %s: out %w", o.config, err)
		}
	}
	var prog *progressLine
	if !o.quiet && isTerminal(e.stderr) {
		prog = &progressLine{w: e.stderr}
	}
	opts := builder.RunOptions{
		Out:      out,
		StateDir: o.stateDir,
		Offline:  o.offline,
		Epoch:    epoch,
		Logger:   log,
		Version:  version(),
		Force:    o.force,
	}
	if prog != nil {
		opts.Progress = prog.update
	}
	sum, err := builder.Run(ctx, cfg, opts)
	if prog != nil {
		prog.clear()
	}
	if err != nil {
		return err
	}
	if !o.quiet {
		writeSummary(e.stderr, sum)
	}
	if o.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return fmt.Errorf("write summary: %w", err)
		}
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressLine redraws one status line per feed on a terminal.
type progressLine struct {
	w    io.Writer
	feed string
}

func (p *progressLine) update(ev builder.Progress) {
	switch ev.Stage {
	case string(schema.GateOK), string(schema.GateFallback), string(schema.GateFailed):
		fmt.Fprintf(p.w, "\r\033[K%-28s %-9s %d entries\n", ev.Feed, ev.Stage, ev.Entries)
		p.feed = ""
	case "fetching", "parsing":
		fmt.Fprintf(p.w, "\r\033[K%-28s %-9s", ev.Feed, ev.Stage)
		if ev.Entries > 0 {
			fmt.Fprintf(p.w, " %d entries", ev.Entries)
		}
		p.feed = ev.Feed
	case "merging", "writing":
		fmt.Fprintf(p.w, "\r\033[K%s", ev.Stage)
	}
}

func (p *progressLine) clear() { fmt.Fprint(p.w, "\r\033[K") }

// writeSummary prints the build summary tables. Each count keeps the one
// meaning it has everywhere (README "What the counts mean"): per feed,
// records and invalid as "ipintel feeds check" counts them for the same
// copy; entries, the prefixes the parser gave (a range once per prefix it
// splits into, a repeated prefix again; so not feeds check's distinct
// prefixes); asns, distinct ASNs; reserved, entries dropped as reserved or
// aliased space. Per category and in total, networks are MMDB networks,
// as "ipintel info" counts them.
func writeSummary(w io.Writer, s *builder.Summary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "feed\tkind\trecords\tinvalid\tentries\tasns\treserved\tgate\t")
	for _, f := range s.Feeds {
		gate := string(f.Gate)
		if f.GateReason != "" {
			gate += " (" + f.GateReason + ")"
		}
		// The summary's Entries are the records accepted, its Prefixes
		// the prefix entries.
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n",
			f.Name, f.Kind, f.Records, f.Invalid, f.Entries, f.ASNs, f.Reserved, gate)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "category\tnetworks\tipv4 addresses\tipv6 /64s\t")
	for _, c := range s.Categories {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", c.Category, c.Networks, c.IPv4, c.IPv6)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nwrote %s: %d networks, %d distinct records, %s bytes, build_epoch %d, %.1fs\n",
		s.Out, s.Networks, s.Records, groupDigits(s.Size), s.BuildEpoch, s.Seconds)
	if s.History != "" {
		fmt.Fprintf(w, "history %s: %d entries, %s bytes\n", s.History, s.HistoryEntries, groupDigits(s.HistorySize))
	}
}

func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// checkOutputPath checks, before any work, that a build can publish to
// path by renaming a temporary file of its directory over it: path must
// be a regular file (or a symbolic link to one), or a new name in an
// existing writable directory. A directory, a device (/dev/null,
// /dev/full), a named pipe or a socket, or a link to one, would be
// replaced by a regular file or refuse the rename only after the whole
// build. The error names path.
func checkOutputPath(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A new name: its directory must exist and be writable.
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("%s: a symbolic link that cannot be followed: %w", path, errors.Unwrap(err))
		}
		if what := notRegular(target.Mode()); what != "" {
			return fmt.Errorf("%s: a symbolic link to %s, not to a regular file", path, what)
		}
	default:
		if what := notRegular(fi.Mode()); what != "" {
			return fmt.Errorf("%s: %s, not a regular file", path, what)
		}
	}
	dir := filepath.Dir(path)
	di, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: directory %s: %w", path, dir, errors.Unwrap(err))
	}
	if !di.IsDir() {
		return fmt.Errorf("%s: %s is not a directory", path, dir)
	}
	// Creating the temporary file is the real test: it covers permissions,
	// ACLs and read-only file systems alike.
	probe, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("%s: directory %s is not writable: %w", path, dir, errors.Unwrap(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// notRegular names the kind of file mode m is, or returns "" for a
// regular file.
func notRegular(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return ""
	case m.IsDir():
		return "a directory"
	case m&fs.ModeCharDevice != 0, m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "an irregular file (" + m.Type().String() + ")"
}
