package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/schema"
	"github.com/ipintel/ipintel/serve"
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
				s.srv.Reload()
			}
		}
	}()
	if err := s.serve(ctx, ln); err != nil {
		return report(e, "serve", err)
	}
	return exitOK
}

// server is one running "ipintel serve": the library's Server and the
// HTTP server around it.
type server struct {
	cfg serveConfig
	log *slog.Logger
	srv *serve.Server
}

// newServer loads the database and prepares the handlers.
func newServer(ctx context.Context, cfg serveConfig, log *slog.Logger) (*server, error) {
	if cfg.readHeaderTimeout == 0 {
		cfg.readHeaderTimeout = 5 * time.Second
	}
	opts := serve.Options{
		Policy:         &lookup.Policy{BlockAt: cfg.blockAt, ChallengeAt: cfg.challengeAt},
		TrustedProxies: cfg.trusted,
		MaxAge:         cfg.maxAge,
		MaxBatch:       cfg.maxBatch,
		MaxBody:        cfg.maxBody,
		AllowEmpty:     cfg.allowEmpty,
		Logger:         log,
		WatchInterval:  cfg.watch,
		PollInterval:   cfg.poll,
		Fetcher:        &feeds.Fetcher{UserAgent: "ipintel-serve/" + version()},
	}
	if cfg.cache != "" {
		opts.Fetcher.CacheDir = filepath.Dir(cfg.cache)
		opts.CacheName = cacheName(filepath.Base(cfg.cache))
	}
	srv, err := serve.Open(ctx, cfg.db, opts)
	if err != nil {
		return nil, err
	}
	return &server{cfg: cfg, log: log, srv: srv}, nil
}

// cacheName turns the file name of -cache into the name of the copy in
// its directory: the name without its extension, in [a-z0-9_-].
func cacheName(base string) string {
	base = strings.TrimSuffix(base, filepath.Ext(base))
	b := []byte(strings.ToLower(base))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			b[i] = '-'
		}
	}
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}

// serve runs the HTTP server on ln and the database watcher until ctx is
// done, then shuts down gracefully.
func (s *server) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.srv.Handler(),
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
	wg.Go(func() { s.srv.Watch(wctx) })
	defer func() { stopWatch(); wg.Wait() }()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	db := s.srv.Handle().Load()
	networks := 0
	for range db.All() {
		networks++
	}
	s.log.Info("serving", "addr", ln.Addr().String(), "db", s.cfg.db, "networks", networks, "ranges", db.Len())
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
