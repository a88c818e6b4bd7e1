package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/ipintel/ipintel/internal/mmdbcheck"
	"github.com/ipintel/ipintel/lookup"
)

// Reasons a database is refused: [RefusedError.Reason], and the reason
// label of the metric ipintel_db_reload_refused_total.
const (
	RefusedUnreadable = "unreadable" // not an MMDB file, or cut short: it does not load
	RefusedVerify     = "verify"     // loads, but fails the checks of "ipintel verify"
	RefusedEmpty      = "empty"      // no networks, and not Options.AllowEmpty
)

var refusedReasons = []string{RefusedUnreadable, RefusedVerify, RefusedEmpty}

// RefusedError is a database that a [Server] will not serve.
type RefusedError struct {
	Path   string // the file refused
	Reason string // RefusedUnreadable, RefusedVerify or RefusedEmpty
	Err    error  // what is wrong with it
}

var _ error = (*RefusedError)(nil)

func (e *RefusedError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// errChangedWhileChecked means the file was replaced while it was being
// checked; the watcher sees the new file and checks that one.
var errChangedWhileChecked = errors.New("replaced while being checked")

// Open returns a Server following src: a database file, or an http(s) URL
// from which the database is downloaded.
//
// Every database, at start and at each reload, must pass the checks of
// "ipintel verify" (the MMDB structure, the engine's invariants and the
// record schema) and hold at least one network, unless
// Options.AllowEmpty: an empty database would answer allow for every
// address. A database that does not is refused with a [*RefusedError]: at
// start Open returns it; at a reload it is logged and counted in
// ipintel_db_reload_refused_total by reason, and the current database
// keeps serving.
//
// A file is reloaded when [Server.Watch] sees it replaced (a new file
// renamed over it) or on [Server.Reload]. The new database is loaded
// beside the old one and swapped in without dropping a request.
//
// A URL is fetched with Options.Fetcher, which sends conditional
// requests, retries and caps the size, and keeps the last database served
// as its good copy: a download is committed only once it passed the checks
// above. Open starts from that copy when there is one, then asks the URL;
// it fails only when neither gives a database. A download refused once is
// not checked again while the URL serves the same bytes.
func Open(ctx context.Context, src string, opts Options) (*Server, error) {
	s := New(new(lookup.Handle), opts)
	s.src = src
	s.isURL = strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://")
	if !s.isURL {
		s.local = src
		// Stat before loading, so a replacement during the load is seen.
		s.lastStat, _ = os.Stat(src)
		d, err := s.check(ctx, src)
		if err != nil {
			return nil, fmt.Errorf("refusing to serve %w", err)
		}
		s.counted.Store(d)
		s.h.Store(d.db)
		return s, nil
	}
	if opts.Fetcher != nil {
		s.fetcher = *opts.Fetcher
	}
	if s.fetcher.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		s.fetcher.CacheDir = filepath.Join(dir, "ipintel")
	}
	if s.fetcher.MaxSize == 0 {
		s.fetcher.MaxSize = 4 << 30
	}
	if s.fetcher.Timeout == 0 {
		s.fetcher.Timeout = 5 * time.Minute
	}
	if s.fetcher.Logger == nil {
		s.fetcher.Logger = s.log
	}
	s.name = opts.CacheName
	if s.name == "" {
		sum := sha256.Sum256([]byte(src))
		s.name = "serve-" + hex.EncodeToString(sum[:8])
	}
	// Start from the last good copy when there is one, then ask the URL.
	if good, err := s.fetcher.LastGood(s.name); err == nil {
		if d, err := s.check(ctx, good.Path); err == nil {
			s.counted.Store(d)
			s.h.Store(d.db)
			s.log.Info("loaded cached copy", "path", good.Path, "networks", d.networks, "ranges", d.db.Len())
		} else {
			s.log.Warn("cached copy refused", "path", good.Path, "err", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("cached copy unusable", "err", err)
	}
	if err := s.fetch(ctx); err != nil {
		if s.h.Load() == nil {
			return nil, fmt.Errorf("fetch %s: %w", src, err)
		}
		s.log.Warn("fetch failed; serving the cached copy", "url", src, "err", err)
	}
	return s, nil
}

// Reload asks [Server.Watch] to reload the followed file, or to ask the
// followed URL, without waiting; a request made while one is pending is
// merged with it. A service calls it on SIGHUP. It does nothing for a
// Server made by [New].
func (s *Server) Reload() {
	select {
	case s.reloadCh <- struct{}{}:
	default:
	}
}

// reloaded returns a channel closed after the next reload attempt.
func (s *Server) reloaded() <-chan struct{} {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return s.loadedCh
}

// Watch follows the file or URL of a Server made by [Open] until ctx is
// done: it polls every Options.WatchInterval or Options.PollInterval and
// serves [Server.Reload] requests. Polling a file's size, modification
// time and identity works the same on every OS and file system; a rename
// over the file changes its identity. A refused file is not checked again
// until it changes. Watch runs in the caller's goroutine; for a Server made
// by [New] it only waits for ctx.
func (s *Server) Watch(ctx context.Context) {
	if s.src == "" {
		<-ctx.Done()
		return
	}
	var tick <-chan time.Time
	interval := s.opts.WatchInterval
	if s.isURL {
		interval = s.opts.PollInterval
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
			_ = s.reloadFile(ctx, s.local, "signal")
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
			_ = s.reloadFile(ctx, s.local, "file changed")
		}
	}
}

func (s *Server) fetchAndLog(ctx context.Context) {
	if err := s.fetch(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("fetch failed; the current database keeps serving", "url", s.src, "err", err)
	}
}

// fetch asks the URL for a new database. A new body is checked and served
// before it is committed as the good copy, so the copy on disk is always
// the last good database.
func (s *Server) fetch(ctx context.Context) error {
	d, err := s.fetcher.Fetch(ctx, s.name, s.src, "")
	if err != nil {
		return err
	}
	if d.FromCache {
		if s.h.Load() == nil {
			return errors.New("not modified, and the cached copy was refused")
		}
		return nil
	}
	if d.SHA256 == s.refusedSHA256 {
		return d.Discard()
	}
	if err := s.reloadFile(ctx, d.Path, "url changed"); err != nil {
		if _, ok := errors.AsType[*RefusedError](err); ok {
			s.refusedSHA256 = d.SHA256
		}
		_ = d.Discard()
		return errors.New("fetched database refused (see the reload error)")
	}
	s.refusedSHA256 = ""
	_, networks := s.served()
	if err := d.Commit(networks); err != nil {
		// Serving the new database already; only the copy on disk is stale.
		return fmt.Errorf("keep local copy: %w", err)
	}
	return nil
}

// reloadFile checks path and swaps it in; a failure keeps the current
// database.
func (s *Server) reloadFile(ctx context.Context, path, why string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	start := time.Now()
	d, err := s.check(ctx, path)
	re, isRefused := errors.AsType[*RefusedError](err)
	switch {
	case isRefused:
		s.m.reloadFailures.Inc()
		s.m.refused(re.Reason).Inc()
		s.log.Error("reload refused; the current database keeps serving", "path", path, "trigger", why,
			"reason", re.Reason, "err", err)
	case err != nil:
		s.log.Info("reload skipped; the current database keeps serving", "path", path, "trigger", why, "err", err)
	default:
		s.counted.Store(d)
		s.h.Store(d.db)
		s.m.reloads.Inc()
		s.log.Info("database reloaded", "path", path, "trigger", why, "networks", d.networks, "ranges", d.db.Len(),
			"build_epoch", d.db.Metadata().BuildEpoch.UTC().Format(time.RFC3339), "took", time.Since(start).Round(time.Millisecond))
	}
	close(s.loadedCh)
	s.loadedCh = make(chan struct{})
	return err
}

// check loads the database at path and checks it as "ipintel verify"
// does: the MMDB structure (maxminddb's Reader.Verify), the engine's
// invariants (lookup's DB.Verify) and the record schema; and, unless
// Options.AllowEmpty, that it holds at least one network. A database that
// fails is returned as a *RefusedError naming the reason.
func (s *Server) check(ctx context.Context, path string) (*servedDB, error) {
	before, err := os.Stat(path)
	if err != nil {
		return nil, err // gone or unreadable: nothing to refuse yet
	}
	refuse := func(reason string, err error) (*servedDB, error) {
		return nil, &RefusedError{Path: path, Reason: reason, Err: err}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return refuse(RefusedUnreadable, err)
	}
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return refuse(RefusedUnreadable, err)
	}
	if err := r.Verify(); err != nil {
		return refuse(RefusedVerify, err)
	}
	db, err := lookup.OpenBytes(b)
	if err != nil {
		return refuse(RefusedUnreadable, err)
	}
	if err := db.Verify(); err != nil {
		return refuse(RefusedVerify, err)
	}
	networks := countNetworks(db)
	if networks == 0 && !s.opts.AllowEmpty {
		return refuse(RefusedEmpty, errors.New("no networks: an empty database answers allow for every address (-allow-empty serves it anyway)"))
	}
	problems, _, _, _, err := mmdbcheck.Schema(ctx, path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err // stopped, not refused
		}
		return refuse(RefusedVerify, err)
	}
	after, err := os.Stat(path)
	if err != nil || !sameFile(before, after) {
		return nil, fmt.Errorf("%s: %w", path, errChangedWhileChecked)
	}
	if len(problems) > 0 {
		return refuse(RefusedVerify, fmt.Errorf("%d schema problems; the first: %s", len(problems), problems[0]))
	}
	return &servedDB{db: db, networks: networks}, nil
}

// sameFile reports whether a and b describe the same file, unchanged.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
