package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/internal/mmdbcheck"
	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/lookup/httpguard"
	"github.com/ipintel/ipintel/schema"
)

func init() {
	register(&command{
		Name:      "serve",
		UsageLine: "ipintel serve -db file|url [-listen addr] [-trusted-proxy cidr]... [-max-age d]",
		Short:     "answer lookups over HTTP, with forward-auth for proxies",
		Long: `
Serve answers lookups over HTTP from an in-memory copy of the database:

	GET  /v1/ip/{addr}        the "ipintel lookup" JSON object
	POST /v1/ips              a JSON array of addresses → an array of objects
	GET  /json/{addr}         flat drop-in shape (is_vpn, is_proxy, is_tor, …)
	GET  /v1/reputation?ip=   {"ip":…,"security":{…},"asn":{…}}
	ANY  /v1/auth             forward-auth: 200 allow, 401 challenge, 403 block
	GET  /healthz, /readyz, /metrics

The database file is polled every -watch-interval; when it changes (a new
file renamed over it) or on SIGHUP the new one is loaded beside the old one
and swapped in without dropping a request. Every database, at start and at
each reload, must pass the checks of "ipintel verify" and hold at least one
network: an empty database would answer "allow" for every address. Serve
refuses to start on one that does not (exit status 1); a reload to one is
refused, logged and counted (ipintel_db_reload_refused_total, by reason),
and the old database keeps serving. -allow-empty accepts a database with no
networks, for the rare deployment that wants one.

With an http(s) URL as -db, the URL is polled with conditional GET every
-poll into a local copy (-cache), so a fleet of servers follows one
builder.

/v1/auth takes the client address from X-Forwarded-For, Forwarded or
X-Real-IP, walking from the right past trusted proxies: loopback, plus each
-trusted-proxy network. If the forwarded address is garbled the request is
allowed (fail open) with an X-Ipintel-Error header, so a proxy
misconfiguration degrades protection rather than availability. Behind
nginx's auth_request, set X-Forwarded-For to $proxy_add_x_forwarded_for
(nginx appends the peer it saw), not to $http_x_forwarded_for, which any
client can choose.

The action of every answer comes from the stored risk_score and the
thresholds -block-at and -challenge-at, which can differ from the ones the
database was built with.

Serve listens on loopback unless -listen says otherwise and shuts down
gracefully on SIGINT or SIGTERM.`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
			cfg := serveConfig{}
			fs.StringVar(&cfg.db, "db", "", "database `file` or http(s) URL (required)")
			fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8080", "listen `address`")
			fs.Func("trusted-proxy", "trust forwarding headers from this `cidr` (repeatable; loopback is always trusted)", func(s string) error {
				p, err := parseCIDROrAddr(s)
				if err != nil {
					return err
				}
				cfg.trusted = append(cfg.trusted, p)
				return nil
			})
			fs.DurationVar(&cfg.maxAge, "max-age", 0, "/readyz fails when the database's build_epoch is older than this `duration` (0: no limit)")
			fs.DurationVar(&cfg.watch, "watch-interval", time.Second, "how often to stat the database file for changes (0: only on SIGHUP)")
			fs.DurationVar(&cfg.poll, "poll", time.Minute, "how often to poll an http(s) -db URL")
			fs.StringVar(&cfg.cache, "cache", "", "local copy of an http(s) -db URL (default: in the user cache directory)")
			fs.IntVar(&cfg.maxBatch, "max-batch", 1000, "most addresses in one POST /v1/ips")
			fs.IntVar(&cfg.blockAt, "block-at", schema.DefaultBlockThreshold, "block at or above this risk `score`")
			fs.BoolVar(&cfg.allowEmpty, "allow-empty", false, "serve a database with no networks instead of refusing it")
			fs.IntVar(&cfg.challengeAt, "challenge-at", schema.DefaultChallengeThreshold, "challenge at or above this risk `score`")
			return func(ctx context.Context, e *env, args []string) int {
				if len(args) > 0 {
					return report(e, "serve", usageError("unexpected arguments %q", args))
				}
				return runServe(ctx, e, cfg)
			}
		},
	})
}

// serveConfig holds the serve command's settings.
type serveConfig struct {
	db       string
	listen   string
	trusted  []netip.Prefix // in addition to loopback
	maxAge   time.Duration
	watch    time.Duration
	poll     time.Duration
	cache    string
	maxBatch int
	maxBody  int64 // bytes of a POST body; 0 means 1 MiB

	// allowEmpty serves a database with no networks instead of refusing it.
	allowEmpty bool

	// blockAt and challengeAt are the policy's thresholds; 0 means the
	// defaults of docs/design.md §4.
	blockAt, challengeAt int

	// readHeaderTimeout bounds how long a client may take to send its
	// headers (slowloris); 0 means 5s. Tests shorten it.
	readHeaderTimeout time.Duration
}

// parseCIDROrAddr parses a -trusted-proxy value, a CIDR or a single
// address, with the feeds' normalisation: masked, IPv4-mapped unmapped,
// zones refused.
func parseCIDROrAddr(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return feeds.ParsePrefix(s)
	}
	a, err := feeds.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return feeds.HostPrefix(a), nil
}

func runServe(ctx context.Context, e *env, cfg serveConfig) int {
	if cfg.db == "" {
		return report(e, "serve", usageError("-db is required"))
	}
	if cfg.maxBatch < 1 {
		return report(e, "serve", usageError("-max-batch must be at least 1"))
	}
	if cfg.blockAt < 1 || cfg.blockAt > 101 || cfg.challengeAt < 1 || cfg.challengeAt > cfg.blockAt {
		return report(e, "serve", usageError("want 1 ≤ -challenge-at ≤ -block-at ≤ 101 (101 never blocks)"))
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	s, err := newServer(ctx, cfg, log)
	if err != nil {
		return report(e, "serve", err)
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return report(e, "serve", err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				s.requestReload()
			}
		}
	}()
	if err := s.serve(ctx, ln); err != nil {
		return report(e, "serve", err)
	}
	return exitOK
}

// server is one running "ipintel serve".
type server struct {
	cfg     serveConfig
	log     *slog.Logger
	h       *lookup.Handle
	auth    http.Handler // forward-auth
	policy  lookup.Policy
	trusted []netip.Prefix
	m       *metrics

	// cur is what the handle serves, with its network count; it changes
	// with every Store of h, under reloadMu.
	cur atomic.Pointer[servedDB]

	reloadMu sync.Mutex    // serialises reloads
	reloadCh chan struct{} // SIGHUP and tests ask for a reload here
	loadedCh chan struct{} // closed-and-replaced after every reload attempt (tests)

	// url mode
	isURL    bool
	local    string // path of the database file (the local copy in url mode)
	etag     string
	lastMod  string
	client   *http.Client
	maxBytes int64

	lastStat os.FileInfo // of the file when it was loaded at start
}

// newServer loads the database and prepares the handlers.
func newServer(ctx context.Context, cfg serveConfig, log *slog.Logger) (*server, error) {
	if cfg.maxBody == 0 {
		cfg.maxBody = 1 << 20
	}
	if cfg.maxBatch == 0 {
		cfg.maxBatch = 1000
	}
	if cfg.readHeaderTimeout == 0 {
		cfg.readHeaderTimeout = 5 * time.Second
	}
	s := &server{
		cfg:      cfg,
		log:      log,
		policy:   lookup.Policy{BlockAt: cfg.blockAt, ChallengeAt: cfg.challengeAt},
		trusted:  append(httpguard.Loopback(), cfg.trusted...),
		reloadCh: make(chan struct{}, 1),
		loadedCh: make(chan struct{}),
		local:    cfg.db,
		maxBytes: 4 << 30,
	}
	s.isURL = strings.HasPrefix(cfg.db, "https://") || strings.HasPrefix(cfg.db, "http://")
	s.m = newMetrics(s)
	var db *lookup.DB
	if s.isURL {
		s.client = &http.Client{Timeout: 5 * time.Minute}
		s.local = cfg.cache
		if s.local == "" {
			dir, err := os.UserCacheDir()
			if err != nil {
				dir = os.TempDir()
			}
			sum := sha256.Sum256([]byte(cfg.db))
			s.local = filepath.Join(dir, "ipintel", "serve-"+hex.EncodeToString(sum[:8])+".mmdb")
		}
		if err := os.MkdirAll(filepath.Dir(s.local), 0o755); err != nil {
			return nil, fmt.Errorf("cache directory: %w", err)
		}
		// Start from the last good copy when there is one, then ask the URL.
		if d, err := s.openChecked(ctx, s.local); err == nil {
			db = d.db
			s.cur.Store(d)
			s.etag, s.lastMod = readValidators(s.local)
			log.Info("loaded cached copy", "path", s.local, "networks", d.networks, "ranges", d.db.Len())
		} else if !errors.Is(err, fs.ErrNotExist) {
			log.Warn("cached copy refused", "path", s.local, "err", err)
		}
		s.h = lookup.NewHandle(db)
		if err := s.fetch(ctx); err != nil {
			if db == nil {
				return nil, fmt.Errorf("fetch %s: %w", cfg.db, err)
			}
			log.Warn("fetch failed; serving the cached copy", "url", cfg.db, "err", err)
		}
	} else {
		// Stat before loading, so a replacement during the load is seen.
		s.lastStat, _ = os.Stat(cfg.db)
		d, err := s.openChecked(ctx, cfg.db)
		if err != nil {
			return nil, fmt.Errorf("refusing to serve %w", err)
		}
		s.h = lookup.NewHandle(d.db)
		s.cur.Store(d)
	}
	guard := httpguard.New(s.h, httpguard.Options{Policy: &s.policy, TrustedProxies: s.trusted})
	s.auth = guard.ForwardAuth(httpguard.AuthOptions{Observe: func(r *http.Request, v lookup.Verdict, err error) {
		if err != nil {
			s.m.authErrors.Inc()
			s.log.Warn("forward-auth: no usable client address; allowing", "peer", r.RemoteAddr, "err", err)
		}
		s.m.countLookup(v.Action)
	}})
	return s, nil
}

// requestReload asks the watcher for a reload without blocking.
func (s *server) requestReload() {
	select {
	case s.reloadCh <- struct{}{}:
	default:
	}
}

// reloadFile loads path and swaps it in; a failure keeps the old database.
func (s *server) reloadFile(path, why string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	start := time.Now()
	d, err := s.openChecked(context.Background(), path)
	re, isRefused := errors.AsType[*refusedError](err)
	switch {
	case isRefused:
		s.m.reloadFailures.Inc()
		s.m.refused(re.reason).Inc()
		s.log.Error("reload refused; the current database keeps serving", "path", path, "trigger", why,
			"reason", re.reason, "err", err)
	case err != nil:
		s.log.Info("reload skipped; the current database keeps serving", "path", path, "trigger", why, "err", err)
	default:
		// cur first: whenever h serves a database, cur describes one.
		s.cur.Store(d)
		s.h.Store(d.db)
		s.m.reloads.Inc()
		s.log.Info("database reloaded", "path", path, "trigger", why, "networks", d.networks, "ranges", d.db.Len(),
			"build_epoch", d.db.Metadata().BuildEpoch.UTC().Format(time.RFC3339), "took", time.Since(start).Round(time.Millisecond))
	}
	close(s.loadedCh)
	s.loadedCh = make(chan struct{})
	return err
}

// reloaded returns a channel closed after the next reload attempt.
func (s *server) reloaded() <-chan struct{} {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return s.loadedCh
}

// serve runs the HTTP server on ln and the database watcher until ctx is
// done, then shuts down gracefully.
func (s *server) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.readHeaderTimeout,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	wctx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.watch(wctx) })
	defer func() { stopWatch(); wg.Wait() }()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	cur := s.cur.Load()
	s.log.Info("serving", "addr", ln.Addr().String(), "db", s.cfg.db, "networks", cur.networks, "ranges", cur.db.Len())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.log.Info("shutting down")
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// watch polls the database file (or URL) for changes and serves reload
// requests until ctx is done. Polling the file's size, modification time
// and identity (inode) is simple and works the same on every OS and file
// system; a rename over the file changes its identity.
func (s *server) watch(ctx context.Context) {
	var tick <-chan time.Time
	interval := s.cfg.watch
	if s.isURL {
		interval = s.cfg.poll
	}
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	last := s.lastStat
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.reloadCh:
			if s.isURL {
				s.fetchAndLog(ctx)
				continue
			}
			last, _ = os.Stat(s.local)
			_ = s.reloadFile(s.local, "signal")
		case <-tick:
			if s.isURL {
				s.fetchAndLog(ctx)
				continue
			}
			fi, err := os.Stat(s.local)
			if err != nil {
				continue // being replaced, or gone: keep serving what we have
			}
			if last != nil && fi.Size() == last.Size() && fi.ModTime().Equal(last.ModTime()) && os.SameFile(fi, last) {
				continue
			}
			last = fi
			// A failure is not retried until the file changes again.
			_ = s.reloadFile(s.local, "file changed")
		}
	}
}

func (s *server) fetchAndLog(ctx context.Context) {
	if err := s.fetch(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("fetch failed; the current database keeps serving", "url", s.cfg.db, "err", err)
	}
}

// servedDB is a database that passed [server.openChecked], with its
// number of MMDB networks (what "ipintel info" and "ipintel build" call
// networks; the engine's ranges are DB.Len).
type servedDB struct {
	db       *lookup.DB
	networks int
}

// Reasons a database is refused: the reason label of
// ipintel_db_reload_refused_total.
const (
	refusedUnreadable = "unreadable" // not an MMDB file, or cut short: it does not load
	refusedVerify     = "verify"     // loads, but fails the checks of "ipintel verify"
	refusedEmpty      = "empty"      // no networks, and no -allow-empty
)

var refusedReasons = []string{refusedUnreadable, refusedVerify, refusedEmpty}

// refusedError is a database that serve will not serve.
type refusedError struct {
	reason string
	err    error
}

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// errChangedWhileChecked means the file was replaced while it was being
// checked; the watcher sees the new file and checks that one.
var errChangedWhileChecked = errors.New("replaced while being checked")

// openChecked loads the database at path and checks it as "ipintel
// verify" does: the MMDB structure (maxminddb's Reader.Verify), the
// engine's invariants (lookup's DB.Verify) and the record schema; and,
// unless -allow-empty, that it holds at least one network. A database that
// fails is returned as a *refusedError naming the reason.
func (s *server) openChecked(ctx context.Context, path string) (*servedDB, error) {
	before, err := os.Stat(path)
	if err != nil {
		return nil, err // gone or unreadable: nothing to refuse yet
	}
	refuse := func(reason string, err error) (*servedDB, error) {
		return nil, &refusedError{reason: reason, err: fmt.Errorf("%s: %w", path, err)}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return refuse(refusedUnreadable, err)
	}
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return refuse(refusedUnreadable, err)
	}
	if err := r.Verify(); err != nil {
		return refuse(refusedVerify, err)
	}
	db, err := lookup.OpenBytes(b)
	if err != nil {
		return refuse(refusedUnreadable, err)
	}
	if err := db.Verify(); err != nil {
		return refuse(refusedVerify, err)
	}
	networks := 0
	for range db.All() {
		networks++
	}
	if networks == 0 && !s.cfg.allowEmpty {
		return refuse(refusedEmpty, errors.New("no networks: an empty database answers allow for every address (-allow-empty serves it anyway)"))
	}
	problems, _, _, _, err := mmdbcheck.Schema(ctx, path)
	if err != nil {
		return refuse(refusedVerify, err)
	}
	after, err := os.Stat(path)
	if err != nil || !sameFile(before, after) {
		return nil, fmt.Errorf("%s: %w", path, errChangedWhileChecked)
	}
	if len(problems) > 0 {
		return refuse(refusedVerify, fmt.Errorf("%d schema problems; the first: %s", len(problems), problems[0]))
	}
	return &servedDB{db: db, networks: networks}, nil
}

// sameFile reports whether a and b describe the same file, unchanged.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
