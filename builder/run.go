package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/schema"
)

// RunOptions configure [Run]. The zero value of every field means its default.
type RunOptions struct {
	// Out is the database to write; it wins over the config's out.
	Out string
	// CacheDir holds the feeds' last good copies; it wins over the
	// config's cache_dir. Default: <user cache dir>/ipintel/<hash of the
	// config file's path>.
	CacheDir string
	// Offline builds URL feeds from their cached copies only.
	Offline bool
	// Epoch is the MMDB build_epoch (Unix seconds). Default: the newest
	// Last-Modified among the copies used, so rebuilding the same copies
	// gives the same file; when no copy has one, the current time.
	Epoch int64
	// Fetcher fetches the feeds. Default: a feeds.Fetcher over CacheDir.
	Fetcher *feeds.Fetcher
	// Logger receives warnings (gate failures, fallbacks, bad lines).
	// Default: discard.
	Logger *slog.Logger
	// Progress, when set, is called as each feed moves through its stages.
	// Feeds are fetched and parsed ahead, two at a time, so the calls of
	// two feeds may interleave; they never overlap.
	Progress func(Progress)
	// Version is recorded in the manifest as "ipintel <Version>".
	Version string
	// Now returns the current time for max_age. Default time.Now.
	Now func() time.Time
	// StateDir holds the history (docs/design.md §4 History); it wins over the
	// config's state_dir. "" and no state_dir: no history.
	StateDir string
	// Force publishes a database that fails a whole-database gate, and
	// leaves out required feeds that have no copy; the manifest lists what
	// was overridden.
	Force bool
}

// Progress reports one step of a build.
type Progress struct {
	Feed string // "" for whole-build stages
	// Stage is "fetching" or "parsing" for a feed on its way, then the
	// feed's [schema.Gate] outcome ("ok", "fallback", "failed"); "merging",
	// "writing" and "done" for the whole build.
	Stage   string
	Entries int // entries parsed so far (parsing) or used (ok, fallback)
}

// FeedSummary is one feed's line of a [Summary].
type FeedSummary struct {
	Name       string      `json:"name"`
	Kind       schema.Kind `json:"kind"`
	Format     string      `json:"format"`
	Records    int         `json:"records"` // data records accepted, as feeds check counts them
	Invalid    int         `json:"invalid"` // rejected lines, as feeds check counts them
	Entries    int         `json:"entries"` // prefixes as parsed, repeats included
	IPv4       int         `json:"ipv4"`    // of which IPv4
	IPv6       int         `json:"ipv6"`    // of which IPv6
	ASNs       int         `json:"asns,omitempty"`
	Reserved   int         `json:"reserved_dropped,omitempty"` // entries dropped as reserved or aliased space
	Retained   int         `json:"retained,omitempty"`         // entries no longer listed, kept from the history
	Inferred   int         `json:"inferred,omitempty"`         // blocks added by block inference
	TooLarge   int         `json:"too_large,omitempty"`        // invalid lines larger than max_entry_size
	Gate       schema.Gate `json:"gate"`
	GateReason string      `json:"gate_reason,omitempty"`
	FromCache  bool        `json:"from_cache,omitempty"`
	Optional   bool        `json:"optional,omitempty"`
}

// CategorySummary is one category's line of a [Summary].
type CategorySummary struct {
	Category string `json:"category"`
	CategoryStats
}

// Summary describes a finished build.
type Summary struct {
	Out        string            `json:"out"`
	Size       int64             `json:"size"`
	BuildEpoch int64             `json:"build_epoch"`
	Networks   int               `json:"networks"`
	Records    int               `json:"records"`
	Reserved   int               `json:"reserved_dropped"` // entries dropped as wholly reserved
	Aliased    int               `json:"aliased_dropped"`  // IPv6 entries dropped as wholly aliased to IPv4
	Feeds      []FeedSummary     `json:"feeds"`
	Categories []CategorySummary `json:"categories"`
	Outputs    []OutputSummary   `json:"outputs,omitempty"` // companion files written
	Forced     []string          `json:"forced,omitempty"`  // gates a forced build overrode
	History    string            `json:"history,omitempty"` // the history file written, "" without a state_dir
	// HistoryEntries and HistorySize count the history written.
	HistoryEntries int     `json:"history_entries,omitempty"`
	HistorySize    int64   `json:"history_size,omitempty"`
	Seconds        float64 `json:"seconds"`
}

// beforeRename is a test hook run after the temporary file is written and
// synced, just before it is renamed over the output.
var beforeRename func(tmp string) error

// DefaultCacheDir returns the cache directory used for a config file that
// names none: one per config file under the user's cache directory, so
// that building the bundled testdata never writes into the repository.
func DefaultCacheDir(configPath string) string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	abs, err := filepath.Abs(configPath)
	if err != nil {
		abs = configPath
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(base, "ipintel", hex.EncodeToString(sum[:6]))
}

// Run builds the database a config describes: it fetches and parses every
// feed, applies the sanity gates (falling back to a feed's last good copy,
// or failing, per its on_gate_failure), merges, and writes the MMDB
// through a temporary file in the output directory that is synced and
// renamed over the old one, so a failed or killed build leaves the old
// database intact. A feed that fails with on_gate_failure = "fail", or a
// required feed with neither a fresh valid copy nor a last good one, fails
// the build with a *GateError; a database that fails a whole-database gate
// (see [Gates]) is not published and Run returns a *DatabaseGateError,
// unless opts.Force. When ctx is cancelled Run stops at its next check
// (every stage checks), publishes nothing and returns ctx's error.
func Run(ctx context.Context, cfg *Config, opts RunOptions) (*Summary, error) {
	start := time.Now()
	r, err := newBuildRun(cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := r.addFeeds(ctx); err != nil {
		return nil, err
	}
	r.progress(Progress{Stage: "merging"})
	if err := r.b.Merge(ctx); err != nil {
		return nil, err
	}
	st := r.b.Stats()
	r.fillManifest(st)
	if err := r.checkDatabase(st); err != nil {
		return nil, err
	}
	r.progress(Progress{Stage: "writing"})
	if err := r.publish(ctx, st); err != nil {
		return nil, err
	}
	r.sum.Seconds = time.Since(start).Seconds()
	r.progress(Progress{Stage: "done"})
	return r.sum, nil
}

// buildRun is one call of [Run]: the config and options with their
// defaults applied, and what the build has gathered so far.
type buildRun struct {
	cfg      *Config
	opts     RunOptions
	out      string // the database to write
	stateDir string // "" without history
	log      *slog.Logger
	now      func() time.Time
	progress func(Progress) // serialised: never called concurrently
	fetcher  *feeds.Fetcher
	prev     *schema.Manifest // the previous build's, nil when none
	b        *Builder
	manifest *schema.Manifest
	sum      *Summary
}

// newBuildRun applies the defaults of opts, reads the previous build's
// manifest and the history, and starts the manifest and the [Builder].
func newBuildRun(cfg *Config, opts RunOptions) (*buildRun, error) {
	r := &buildRun{cfg: cfg, opts: opts, out: opts.Out, stateDir: opts.StateDir,
		log: opts.Logger, now: opts.Now, fetcher: opts.Fetcher}
	if r.out == "" {
		r.out = cfg.Out
	}
	if r.out == "" {
		return nil, errors.New("no output file: set out in the config or pass -out")
	}
	for _, o := range cfg.Outputs {
		if filepath.Clean(o.Path) == filepath.Clean(r.out) {
			return nil, fmt.Errorf("output %s (config line %d) is the database itself", o.Path, o.Line)
		}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.progress = func(Progress) {}
	if opts.Progress != nil {
		var mu sync.Mutex
		r.progress = func(p Progress) {
			mu.Lock()
			defer mu.Unlock()
			opts.Progress(p)
		}
	}
	if r.fetcher == nil {
		dir := opts.CacheDir
		if dir == "" {
			dir = cfg.CacheDir
		}
		if dir == "" {
			dir = DefaultCacheDir(cfg.Path)
		}
		r.fetcher = &feeds.Fetcher{CacheDir: dir, Offline: opts.Offline, Logger: r.log}
	}

	prev, _, err := ReadManifest(r.out)
	if err != nil {
		r.log.Warn("previous build's manifest unreadable: max_shrink gates skipped", "err", err)
	}
	r.prev = prev

	if r.stateDir == "" {
		r.stateDir = cfg.StateDir
	}
	var hist *History
	if r.stateDir != "" {
		if hist, err = ReadHistory(r.stateDir); err != nil {
			return nil, err
		}
	}
	r.b, err = New(Options{
		IPv6Prefix:     cfg.IPv6Prefix,
		KeepReserved:   cfg.KeepReserved,
		DatabaseType:   cfg.DatabaseType,
		History:        hist,
		HistoryHorizon: cfg.HistoryHorizon,
	})
	if err != nil {
		return nil, err
	}
	r.manifest = &schema.Manifest{
		Builder:       strings.TrimSpace("ipintel " + opts.Version),
		SchemaVersion: schema.SchemaVersion,
		DatabaseType:  cfg.DatabaseType,
		ConfigSHA256:  cfg.SHA256,
		IPv6Prefix:    cfg.IPv6Prefix,
		Weights:       cfg.CategoryWeights(),
		Block:         schema.DefaultBlockThreshold,
		Challenge:     schema.DefaultChallengeThreshold,
	}
	r.sum = &Summary{Out: r.out}
	return r, nil
}

// prevFeed returns the previous build's manifest line of a feed, or nil.
func (r *buildRun) prevFeed(name string) *schema.ManifestFeed {
	if r.prev == nil {
		return nil
	}
	for i := range r.prev.Feeds {
		if r.prev.Feeds[i].Name == name {
			return &r.prev.Feeds[i]
		}
	}
	return nil
}

// addFeeds fetches and parses every feed (ahead of its turn, see
// [prefetcher]), gates each one in config order and adds the copy it
// settles on to the builder, recording the feed in the manifest and the
// summary. It then sets the build epoch: opts.Epoch, else the newest
// Last-Modified among the copies used, else now.
func (r *buildRun) addFeeds(ctx context.Context) error {
	var newest time.Time
	pre := prefetch(ctx, r.cfg, r.fetcher, r.progress)
	defer pre.close()
	for i, fc := range r.cfg.Feeds {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.b.AddFeed(r.cfg.BuilderFeed(fc)); err != nil {
			return err
		}
		mf, err := runFeed(ctx, r.cfg, fc, pre.take(i), r.b, r.fetcher, r.prevFeed(fc.Name), r.now(), r.log, r.progress)
		if err != nil {
			ge, ok := errors.AsType[*GateError](err)
			if !ok || !ge.Missing || !r.opts.Force {
				return err
			}
			r.log.Warn("required feed has no copy: left out of this forced build", "feed", fc.Name, "reason", ge.Reason)
			r.manifest.Forced = append(r.manifest.Forced, fmt.Sprintf("feed %s: %s", fc.Name, ge.Reason))
			mf.Gate, mf.GateReason = schema.GateFailed, ge.Reason
		}
		if mf.Gate == schema.GateFallback {
			r.b.setStale(fc.Name)
		}
		if t, err := http.ParseTime(mf.LastModified); err == nil && t.After(newest) {
			newest = t
		}
		fs, _ := r.b.FeedStats(fc.Name)
		mf.Entries = fs.IPv4 + fs.IPv6
		mf.ASNs = fs.ASNs
		r.manifest.Feeds = append(r.manifest.Feeds, mf)
		r.sum.Feeds = append(r.sum.Feeds, FeedSummary{
			Name: fc.Name, Kind: fc.Kind, Format: string(fc.Format),
			Records: mf.Records, Invalid: mf.Invalid, Entries: mf.Entries,
			IPv4: fs.IPv4, IPv6: fs.IPv6, ASNs: fs.ASNs, Reserved: fs.Reserved + fs.Aliased,
			TooLarge: mf.TooLarge,
			Gate:     mf.Gate, GateReason: mf.GateReason, FromCache: mf.FromCache, Optional: fc.Optional,
		})
	}

	epoch := r.opts.Epoch
	if epoch == 0 {
		epoch = newest.Unix()
		if newest.IsZero() {
			epoch = r.now().Unix()
		}
	}
	r.manifest.BuildEpoch = epoch
	r.b.opts.BuildEpoch = epoch
	r.b.opts.Manifest = r.manifest
	return nil
}

// fillManifest records what only the merge knows: the blocks each feed's
// inference added, the entries it retained, and the per-category counts
// that the next build's whole-database gates compare with.
func (r *buildRun) fillManifest(st Stats) {
	for i := range r.manifest.Feeds {
		if fs, ok := st.Feeds[r.manifest.Feeds[i].Name]; ok {
			r.manifest.Feeds[i].Inferred = fs.Inferred
			r.sum.Feeds[i].Inferred = fs.Inferred
			r.sum.Feeds[i].Retained = fs.Retained
		}
	}
	r.manifest.Categories = map[string]schema.ManifestCategory{}
	for name, cs := range st.Categories {
		r.manifest.Categories[name] = schema.ManifestCategory{Networks: cs.Networks, IPv4: cs.IPv4, IPv6: cs.IPv6}
	}
}

// checkDatabase applies the whole-database gates: it returns a
// *DatabaseGateError when the merged database must not be published, or,
// in a forced build, records the gates it overrides in the manifest.
func (r *buildRun) checkDatabase(st Stats) error {
	reasons := checkDatabase(r.cfg, r.prev, st)
	if len(reasons) == 0 {
		return nil
	}
	if !r.opts.Force {
		return &DatabaseGateError{Reasons: reasons}
	}
	for _, reason := range reasons {
		r.log.Warn("database gate overridden by force", "reason", reason)
	}
	r.manifest.Forced = append(r.manifest.Forced, reasons...)
	return nil
}

// publish writes the database and its companions together, then the
// history, and completes the summary.
func (r *buildRun) publish(ctx context.Context, st Stats) error {
	size, outputs, err := writeBuild(ctx, r.b, r.out, r.cfg.Outputs)
	if err != nil {
		return err
	}
	sum := r.sum
	if r.stateDir != "" {
		// Only once the database is published: a build that fails before
		// leaves the history as it was. A build killed between the two
		// renames leaves the previous history, which the next build reads
		// as it would after a failed build.
		h := r.b.History()
		n, err := writeHistory(r.stateDir, h)
		if err != nil {
			return fmt.Errorf("database published, but its history was not saved: %w", err)
		}
		sum.History = filepath.Join(r.stateDir, HistoryFile)
		sum.HistoryEntries, sum.HistorySize = h.Len(), n
	}
	sum.Outputs = outputs
	sum.Size = size
	sum.Forced = r.manifest.Forced
	sum.BuildEpoch = r.manifest.BuildEpoch
	sum.Networks = st.Networks
	sum.Records = st.Records
	sum.Reserved = st.Reserved
	sum.Aliased = st.Aliased
	for _, c := range schema.Categories() {
		sum.Categories = append(sum.Categories, CategorySummary{Category: c.Name(), CategoryStats: st.Categories[c.Name()]})
	}
	return nil
}

// fetchedCopy is a feed's fresh copy, fetched and parsed ahead of its turn.
type fetchedCopy struct {
	d   *feeds.Download // nil when the fetch failed
	p   *parsed         // nil when the fetch or the read failed
	err error           // the fetch error, or the read error
}

// prefetcher fetches and parses the feeds of a config ahead of the main
// loop, at most prefetchAhead at a time, in config order. Fetching and
// parsing are independent per feed; everything that depends on other
// feeds (gates against the previous build, fallbacks, the merge) stays in
// the main loop, in config order, so the result is the same as a
// sequential build.
type prefetcher struct {
	results []chan fetchedCopy
	slots   chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	next    int // first result not taken
}

const prefetchAhead = 2

func prefetch(ctx context.Context, cfg *Config, f *feeds.Fetcher, progress func(Progress)) *prefetcher {
	ctx, cancel := context.WithCancel(ctx)
	pf := &prefetcher{
		results: make([]chan fetchedCopy, len(cfg.Feeds)),
		slots:   make(chan struct{}, prefetchAhead),
		cancel:  cancel,
	}
	for i := range pf.results {
		pf.results[i] = make(chan fetchedCopy, 1)
	}
	pf.wg.Go(func() {
		for i, fc := range cfg.Feeds {
			select {
			case pf.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			pf.wg.Go(func() { pf.results[i] <- fetchCopy(ctx, cfg, fc, f, progress) })
		}
	})
	return pf
}

// take waits for feed i's copy; feeds must be taken in order.
func (pf *prefetcher) take(i int) fetchedCopy {
	c := <-pf.results[i]
	pf.next = i + 1
	<-pf.slots
	return c
}

// close stops prefetching and discards the copies never taken.
func (pf *prefetcher) close() {
	pf.cancel()
	pf.wg.Wait()
	for _, ch := range pf.results[pf.next:] {
		select {
		case c := <-ch:
			if c.d != nil {
				c.d.Discard()
			}
		default:
		}
	}
}

func fetchCopy(ctx context.Context, cfg *Config, fc FeedConfig, f *feeds.Fetcher, progress func(Progress)) fetchedCopy {
	progress(Progress{Feed: fc.Name, Stage: "fetching"})
	d, err := f.Fetch(ctx, fc.Name, fc.URL, cfg.Dir)
	if err != nil {
		return fetchedCopy{err: err}
	}
	progress(Progress{Feed: fc.Name, Stage: "parsing"})
	p, err := parseCopy(ctx, cfg, fc, d, progress)
	return fetchedCopy{d: d, p: p, err: err}
}

// runFeed gates one feed's fresh copy and adds the copy it settles on to
// b. It returns the feed's manifest line; an error only when the build
// must fail.
func runFeed(ctx context.Context, cfg *Config, fc FeedConfig, fresh fetchedCopy, b *Builder, f *feeds.Fetcher,
	prev *schema.ManifestFeed, now time.Time, log *slog.Logger, progress func(Progress)) (schema.ManifestFeed, error) {
	mf := schema.ManifestFeed{
		Name: fc.Name, Kind: fc.Kind, Format: string(fc.Format), URL: feeds.RedactURL(fc.URL),
		Weight: cfg.EffectiveWeight(fc), Optional: fc.Optional,
	}
	if err := ctx.Err(); err != nil {
		return mf, err
	}
	var reason string
	var cause error
	d, p := fresh.d, fresh.p
	switch {
	case d == nil:
		reason, cause = fmt.Sprintf("fetch failed: %v", fresh.err), fresh.err
	case fresh.err != nil:
		reason, cause = fmt.Sprintf("read failed: %v", fresh.err), fresh.err
	default:
		reason = checkGates(fc, d, p.stats.Records, prev, now)
	}
	if reason == "" {
		if err := p.addTo(b, fc.Name); err != nil {
			return mf, err
		}
		if err := d.Commit(p.stats.Records); err != nil {
			log.Warn("could not keep the copy as the last good one", "feed", fc.Name, "err", err)
		}
		if p.stats.Invalid > 0 {
			log.Warn("feed has invalid lines; they were skipped", "feed", fc.Name,
				"invalid", p.stats.Invalid, "entries", p.stats.Records, "first", p.firstBad)
		}
		if p.tooLarge > 0 {
			log.Warn("feed has lines covering more than max_entry_size; they were skipped", "feed", fc.Name,
				"lines", p.tooLarge, "first", p.firstTooLarge)
		}
		p.fill(&mf, d, schema.GateOK, "")
		progress(Progress{Feed: fc.Name, Stage: string(schema.GateOK), Entries: p.stats.Records})
		return mf, nil
	}
	if d != nil {
		if err := d.Discard(); err != nil {
			log.Warn("could not discard the rejected copy", "feed", fc.Name, "err", err)
		}
	}
	if fc.OnGateFailure == OnGateFail {
		progress(Progress{Feed: fc.Name, Stage: string(schema.GateFailed)})
		return mf, &GateError{Feed: fc.Name, Reason: reason + " (on_gate_failure = fail)", Err: cause}
	}
	good, err := f.LastGood(fc.Name)
	if err == nil {
		var gp *parsed
		gp, err = parseCopy(ctx, cfg, fc, good, progress)
		if err == nil {
			if err := gp.addTo(b, fc.Name); err != nil {
				return mf, err
			}
			log.Warn("feed failed its gate: using its last good copy", "feed", fc.Name, "reason", reason,
				"copy_fetched_at", good.FetchedAt.Format(time.RFC3339), "entries", gp.stats.Records)
			gp.fill(&mf, good, schema.GateFallback, reason)
			mf.FromCache = true
			progress(Progress{Feed: fc.Name, Stage: string(schema.GateFallback), Entries: gp.stats.Records})
			return mf, nil
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		return mf, cerr
	}
	progress(Progress{Feed: fc.Name, Stage: string(schema.GateFailed)})
	if !fc.Optional {
		return mf, &GateError{Feed: fc.Name, Missing: true,
			Reason: reason + "; no usable last good copy, and the feed is not optional", Err: cause}
	}
	log.Warn("optional feed failed its gate and has no usable last good copy: left out of this build",
		"feed", fc.Name, "reason", reason, "err", err)
	mf.Gate, mf.GateReason = schema.GateFailed, reason+"; left out (optional)"
	return mf, nil
}

// parsed is one copy of a feed, parsed and held until its gates pass.
type parsed struct {
	entries       [][]feeds.Entry // in chunks, so a long feed is never copied to grow
	n             int             // entries held
	stats         feeds.Stats
	sha256        string
	firstBad      error // the first rejected line, if any
	tooLarge      int   // lines rejected for covering more than max_entry_size
	firstTooLarge error
}

func parseCopy(ctx context.Context, cfg *Config, fc FeedConfig, d *feeds.Download, progress func(Progress)) (*parsed, error) {
	r, err := d.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	p := &parsed{sha256: d.SHA256}
	opts := feeds.Options{
		Format: fc.Format, Source: fc.Name, MinCount: fc.MinCount,
		CIDRColumn: fc.CIDRColumn, StartColumn: fc.StartColumn, EndColumn: fc.EndColumn,
		JSONKeys: fc.JSONKeys,
	}
	limit := entryLimit{bits: fc.MaxEntrySize}
	st, err := feeds.Parse(ctxReader{ctx, r}, opts, func(e feeds.Entry) {
		if fc.Kind != schema.KindASN && e.Prefix.IsValid() && limit.exceeds(e.Prefix) {
			p.tooLarge++
			if p.firstTooLarge == nil {
				p.firstTooLarge = &feeds.LineError{Source: fc.Name, Line: e.Line, Text: e.Prefix.String(), Err: ErrEntryTooLarge}
			}
			return
		}
		if k := len(p.entries); k == 0 || len(p.entries[k-1]) == cap(p.entries[k-1]) {
			p.entries = append(p.entries, make([]feeds.Entry, 0, entryChunk))
		}
		last := &p.entries[len(p.entries)-1]
		*last = append(*last, e)
		if p.n++; p.n%100000 == 0 {
			progress(Progress{Feed: fc.Name, Stage: "parsing", Entries: p.n})
		}
	})
	st.Records -= p.tooLarge
	st.Invalid += p.tooLarge
	p.stats = st
	if err := fatalParseError(err); err != nil {
		return nil, err
	}
	if p.firstBad == nil && p.firstTooLarge != nil {
		p.firstBad = p.firstTooLarge
	}
	if le, ok := errors.AsType[*feeds.LineError](err); ok {
		p.firstBad = le
	}
	return p, nil
}

// fatalParseError returns the errors of a Parse that are not bad lines: a
// read error, a broken gzip stream, an unknown format.
func fatalParseError(err error) error {
	if err == nil {
		return nil
	}
	var all []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		all = j.Unwrap()
	} else {
		all = []error{err}
	}
	var fatal []error
	for _, e := range all {
		if _, ok := errors.AsType[*feeds.LineError](e); !ok {
			fatal = append(fatal, e)
		}
	}
	return errors.Join(fatal...)
}

func (p *parsed) addTo(b *Builder, name string) error {
	b.grow(name, p.n)
	for _, chunk := range p.entries {
		for _, e := range chunk {
			if err := b.Add(name, e); err != nil {
				return err
			}
		}
	}
	p.entries = nil
	return nil
}

// entryChunk is how many parsed entries one chunk of a parsed copy holds.
const entryChunk = 1 << 14

func (p *parsed) fill(mf *schema.ManifestFeed, d *feeds.Download, gate schema.Gate, reason string) {
	mf.Records = p.stats.Records
	mf.Invalid = p.stats.Invalid
	mf.TooLarge = p.tooLarge
	mf.SHA256 = p.sha256
	mf.LastModified = d.LastModified
	mf.ETag = d.ETag
	if isURL(d.URL) && !d.FetchedAt.IsZero() {
		// A file feed is read, not fetched: leaving out the time it was
		// read keeps rebuilds from the same files byte-identical.
		mf.FetchedAt = d.FetchedAt.UTC().Format(time.RFC3339)
	}
	mf.Gate, mf.GateReason = gate, reason
	mf.FromCache = d.FromCache && isURL(d.URL)
}

func isURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}
