package serve

import (
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/lookup/httpguard"
)

// Options configures a [Server]. The zero value of every field means its
// default.
type Options struct {
	// Policy maps a record to an action in every answer. Nil means
	// [lookup.DefaultPolicy].
	Policy *lookup.Policy

	// TrustedProxies are the networks, in addition to loopback, whose
	// forwarding headers /v1/auth and /json/ believe.
	TrustedProxies []netip.Prefix

	// MaxAge makes /readyz answer 503 when the database's build_epoch is
	// older than this. Default: no limit.
	MaxAge time.Duration

	// MaxBatch is the most addresses one POST /v1/ips may hold. Default
	// 1000.
	MaxBatch int

	// MaxBody is the most bytes of a POST /v1/ips body. Default 1 MiB.
	MaxBody int64

	// AllowEmpty serves a database with no networks instead of refusing
	// it. See [Open].
	AllowEmpty bool

	// Logger receives reloads, refusals and forward-auth requests without
	// a usable client address. Default: discard.
	Logger *slog.Logger

	// WatchInterval is how often [Server.Watch] checks a followed file for
	// a replacement. Default: never; only [Server.Reload] reloads it.
	WatchInterval time.Duration

	// PollInterval is how often [Server.Watch] asks a followed URL for a
	// new database. Default: never; only [Server.Reload] asks.
	PollInterval time.Duration

	// Fetcher downloads a followed URL and keeps its last good copy in
	// its CacheDir. Nil means a Fetcher with its defaults; in the copy the
	// Server uses, an empty CacheDir means "ipintel" in the user cache
	// directory (else the temporary directory), and a zero MaxSize and
	// Timeout mean 4 GiB and 5 minutes, because a database is larger than
	// a feed.
	Fetcher *feeds.Fetcher

	// CacheName names the URL's copy among the Fetcher's cached copies
	// ([a-z0-9_-]+). Default: "serve-" and a hash of the URL.
	CacheName string
}

// Server is ipintel's HTTP API over a [lookup.Handle]. Create it with
// [New] to serve a Handle you manage, or with [Open] to follow a database
// file or URL; the zero value is not usable. A Server is safe for
// concurrent use and must not be copied.
type Server struct {
	h      *lookup.Handle
	opts   Options
	policy lookup.Policy
	// trusted is loopback plus Options.TrustedProxies.
	trusted []netip.Prefix
	log     *slog.Logger
	m       *metrics
	auth    http.Handler // forward-auth

	// counted is the served database with its number of MMDB networks,
	// counted once per database.
	counted atomic.Pointer[servedDB]

	// Following, set by Open; src is "" for a Server made by New.
	src      string
	isURL    bool
	local    string // the followed file
	fetcher  feeds.Fetcher
	name     string      // the URL's cache name
	lastStat os.FileInfo // of the file when it was loaded at start

	reloadMu sync.Mutex    // serialises reloads
	reloadCh chan struct{} // Reload asks Watch here
	loadedCh chan struct{} // closed and replaced after every reload attempt (tests)
	// refusedSHA256 is the hash of the last download refused; the same
	// bytes are not checked and refused again at every poll.
	refusedSHA256 string
}

// servedDB is a database with its number of MMDB networks (what "ipintel
// info" and "ipintel build" call networks; the engine's ranges are
// [lookup.DB.Len]).
type servedDB struct {
	db       *lookup.DB
	networks int
}

// New returns a Server answering from h, which the caller keeps current
// (with [lookup.Handle.Store], or through [Open]). Until h holds a database
// the lookup endpoints and /readyz answer 503.
func New(h *lookup.Handle, opts Options) *Server {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1000
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	s := &Server{
		h:        h,
		opts:     opts,
		trusted:  append(httpguard.Loopback(), opts.TrustedProxies...),
		log:      opts.Logger,
		reloadCh: make(chan struct{}, 1),
		loadedCh: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.Policy != nil {
		s.policy = *opts.Policy
	} else {
		s.policy = lookup.DefaultPolicy()
	}
	s.m = newMetrics(s)
	guard := httpguard.New(h, httpguard.Options{Policy: &s.policy, TrustedProxies: s.trusted})
	s.auth = guard.ForwardAuth(httpguard.AuthOptions{Observe: func(r *http.Request, v lookup.Verdict, err error) {
		if err != nil {
			s.m.authErrors.Inc()
			s.log.Warn("forward-auth: no usable client address; allowing", "peer", r.RemoteAddr, "err", err)
		}
		s.m.countLookup(v.Action)
	}})
	return s
}

// Handler returns the HTTP API. Its paths are absolute (/v1/ip/…); to
// mount it under a prefix, strip the prefix with [net/http.StripPrefix].
// Every error, 404 and 405 included, is a JSON object {"error":…}.
func (s *Server) Handler() http.Handler { return handler{s} }

// Handle returns the Handle the Server answers from.
func (s *Server) Handle() *lookup.Handle { return s.h }

// served returns the served database and its number of networks, counting
// them once for each new database.
func (s *Server) served() (*lookup.DB, int) {
	db := s.h.Load()
	if db == nil {
		return nil, 0
	}
	if c := s.counted.Load(); c != nil && c.db == db {
		return db, c.networks
	}
	c := &servedDB{db: db, networks: countNetworks(db)}
	s.counted.Store(c)
	return db, c.networks
}

// countNetworks counts the MMDB networks of db.
func countNetworks(db *lookup.DB) int {
	n := 0
	for range db.All() {
		n++
	}
	return n
}
