package feeds

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of the [Fetcher] fields, as documented there.
const (
	defaultTimeout      = 60 * time.Second
	defaultRetries      = 3
	defaultRetryWait    = 500 * time.Millisecond
	defaultMaxRetryWait = 30 * time.Second
	defaultMaxSize      = 512 << 20
)

// maxRedirects is how many redirects a fetch follows.
const maxRedirects = 10

// Fetcher fetches feeds and keeps, per feed name, the last good copy of
// each in a cache directory.
//
// # Sources
//
// A source is an http:// or https:// URL, a file: URL (file:///abs/path, or
// file:rel/path relative to the base directory), or a plain path; a
// relative path is resolved against the base directory passed to
// [Fetcher.Fetch], normally the directory of the config file.
//
// # The last good copy
//
// The cache directory holds, per feed name, the body of the last copy the
// caller accepted (bytes exactly as downloaded: a gzip file stays gzip) and
// a JSON sidecar with its URL, validators, fetch time, SHA-256, size and the
// entry count the caller recorded. Fetch never writes the good copy: an
// HTTP body is downloaded into a temporary candidate file beside it, and
// only [Download.Commit], called once the caller has parsed the candidate
// and its sanity gates passed, makes the candidate the new good copy.
// [Download.Discard] drops a candidate that failed its gates. A failed
// fetch (network error, time-out, non-2xx status, size cap exceeded,
// truncated gzip stream) leaves no candidate behind and the good copy as it
// was, and [Fetcher.LastGood] returns the good copy for a fallback.
//
// A file feed is read in place, with no copy, but its Commit copies it into
// the cache too, so that a file later truncated in place can still fall
// back to its last good copy.
//
// # HTTP
//
// Requests carry If-None-Match and If-Modified-Since from the good copy's
// sidecar; a 304 yields the good copy ([Download.NotModified]). Network
// errors, time-outs, 5xx and 429 responses are retried with exponential
// back-off and jitter, honouring Retry-After up to MaxRetryWait. Other
// statuses fail at once with a [*StatusError]. At most 10 redirects are
// followed, never from https to plain http. The body is checked while it
// is written: its size against MaxSize, and a body that starts with the
// gzip magic bytes must be a complete gzip stream. A 200 with an empty
// body is returned as a candidate like any other: judging it (an empty
// list may be real, or an upstream accident) is the job of the caller's
// gates. A plain-text body cut short by a clean close without a
// Content-Length cannot be told from a complete one; the caller's gates
// (max_shrink) are what catch it.
//
// A Content-Encoding such as gzip is removed by the HTTP client, so the
// cached body is the feed file itself.
//
// # Offline
//
// With Offline set, a URL feed is answered from its good copy alone, and
// is an error wrapping [io/fs.ErrNotExist] when there is none. File feeds
// are read as usual: they need no network.
//
// # Concurrency
//
// A Fetcher is safe for concurrent use once configured and must not be
// modified while in use; it may be copied. Feeds of different names may be
// fetched and committed concurrently. For one name, Commit and LastGood
// are serialised within the process, so the cache stays consistent, but
// calls for one name should not overlap: a Commit replaces the good copy
// that a concurrent 304 or LastGood may have returned. Two processes must
// not share a cache directory at the same time (the builder's schedule
// never overlaps runs). The zero value of every field means its default.
type Fetcher struct {
	// CacheDir holds the last good copies and the download candidates.
	// Required for http(s) feeds; without it file feeds are read but
	// Commit keeps no copy of them. Created when missing.
	CacheDir string
	// Client sends the requests. Default: a client with dial and TLS
	// handshake time-outs (Timeout bounds the rest), honouring the proxy
	// environment variables. Its CheckRedirect, when nil, is replaced
	// by one that stops after 10 redirects and refuses https to http.
	Client *http.Client
	// UserAgent is sent with every request. Default
	// "ipintel/<version> (+https://github.com/ipintel/ipintel)".
	UserAgent string
	// Timeout bounds one attempt, from sending the request to the end of
	// the body. Default 60s.
	Timeout time.Duration
	// Retries is the number of extra attempts after a network error, a
	// time-out, a truncated body, a 5xx or a 429. Default 3; a negative
	// value means none.
	Retries int
	// RetryWait is the back-off before the first retry; it doubles for each
	// further one, with jitter. Default 500ms.
	RetryWait time.Duration
	// MaxRetryWait caps any single wait between attempts, including one
	// asked for by Retry-After. Default 30s.
	MaxRetryWait time.Duration
	// MaxSize caps the size of a downloaded body; a larger body is an
	// error and is not retried. Default 512 MiB. File feeds are not capped.
	MaxSize int64
	// Offline answers URL feeds from the cache alone, never touching the
	// network.
	Offline bool
	// Logger receives a warning for each retry. Default: discard.
	Logger *slog.Logger
}

// Download is the result of [Fetcher.Fetch] or [Fetcher.LastGood]: where
// the body is and what is known about it. Only those two make usable
// Downloads; a zero Download cannot be committed. A candidate (a fresh
// HTTP body) must end with [Download.Commit] or [Download.Discard];
// otherwise its temporary file stays in the cache directory until a Fetch
// of the same feed an hour or more later removes it. A Download is not
// safe for concurrent use and should not be copied.
type Download struct {
	// Name is the feed name.
	Name string
	// URL is the source as given to Fetch (or as recorded in the cache).
	URL string
	// Path is the local file holding the body: a temporary candidate file
	// in the cache directory, the cached good copy, or for a file feed the
	// source file itself. Commit of a candidate changes it to the cached
	// copy.
	Path string
	// ETag and LastModified are the validators the server sent, as sent.
	// For a file feed LastModified is the file's modification time in
	// HTTP date format.
	ETag, LastModified string
	// FetchedAt is when the body was fetched, or for a 304 when the server
	// confirmed it unchanged; for an offline or fallback copy it is read
	// from the cache.
	FetchedAt time.Time
	// SHA256 is the lower-case hex SHA-256 of the body.
	SHA256 string
	// Size is the length of the body in bytes.
	Size int64
	// NotModified reports a 304: Path is the cached good copy.
	NotModified bool
	// FromCache reports that Path is the cached good copy (a 304, an
	// offline fetch, or [Fetcher.LastGood]).
	FromCache bool
	// Entries is the entry count recorded by Commit; for a cached copy it
	// is read back from the cache.
	Entries int

	f     *Fetcher
	state downloadState
}

type downloadState uint8

const (
	stateCandidate downloadState = iota // Path is a temp file owned by this Download
	stateFile                           // Path is a file feed's source file
	stateCached                         // Path is the cached good copy
	stateDiscarded                      // the candidate was removed
)

// StatusError reports an HTTP response whose status is neither 2xx nor
// 304 (after any retries). [Fetcher.Fetch] wraps it in an error naming the
// feed and the URL.
type StatusError struct {
	URL        string
	StatusCode int
	Status     string // as in http.Response.Status, e.g. "404 Not Found"
}

var _ error = (*StatusError)(nil)

func (e *StatusError) Error() string {
	return "unexpected HTTP status " + e.Status
}

var (
	errTooLarge          = errors.New("body exceeds the size cap")
	errTooManyRedirects  = errors.New("stopped after 10 redirects")
	errInsecureRedirect  = errors.New("refusing a redirect from https to plain http")
	errTruncatedGzip     = errors.New("truncated gzip stream")
	errUnexpected304     = errors.New("304 Not Modified without a conditional request")
	errNoCacheDir        = errors.New("no cache directory configured")
	errUnsupportedScheme = errors.New("unsupported URL scheme")
	errCacheMismatch     = errors.New("cached copy does not match its sidecar")
	errDone              = errors.New("download already committed or discarded")
)

// Fetch fetches the feed name from src (an http(s) URL, a file: URL or a
// path; relative ones resolve against baseDir) and returns where its body
// is. See [Fetcher] for what each kind of source yields. The error names
// the feed and the URL and wraps the cause; a *StatusError is among them
// for an unwanted HTTP status.
func (f *Fetcher) Fetch(ctx context.Context, name, src, baseDir string) (*Download, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	kind, loc, err := classify(src, baseDir)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", name, err)
	}
	var d *Download
	switch {
	case kind == sourceFile:
		d, err = f.fetchFile(name, src, loc)
	case f.Offline:
		d, err = f.LastGood(name)
		if err != nil {
			err = fmt.Errorf("offline and no usable cached copy: %w", err)
		} else if d.URL != src {
			f.logger().Warn("offline: using the cached copy of another URL",
				"feed", name, "url", redact(src), "cached_url", redact(d.URL))
		}
	default:
		d, err = f.fetchHTTP(ctx, name, src)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch %s from %s: %w", name, redact(src), err)
	}
	return d, nil
}

// redact hides the password of a URL with user information, for errors
// and logs.
func redact(src string) string { return RedactURL(src) }

// RedactURL returns src with the secrets a feed URL may carry replaced by
// "xxxxx": the password of its user information, and the value of every
// query parameter whose name suggests a credential (key, token, secret,
// password, auth, license — MaxMind's license_key, for one). Paths and
// other strings that are not URLs are returned unchanged. Errors, logs and
// the build manifest show only redacted URLs, so a database never carries
// a download credential.
func RedactURL(src string) string {
	u, err := url.Parse(src)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return src
	}
	changed := false
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			changed = true
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for name, vals := range q {
			if !secretParam(name) {
				continue
			}
			for i := range vals {
				vals[i] = "xxxxx"
			}
			changed = true
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	if !changed {
		return src
	}
	return u.String()
}

// secretParam reports whether a query parameter name suggests a credential.
func secretParam(name string) bool {
	name = strings.ToLower(name)
	for _, w := range []string{"key", "token", "secret", "password", "passwd", "auth", "license", "signature", "sig"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

type sourceKind uint8

const (
	sourceFile sourceKind = iota
	sourceHTTP
)

// classify tells a URL from a path and resolves file sources to a path.
func classify(src, baseDir string) (sourceKind, string, error) {
	lower := strings.ToLower(src)
	switch {
	case src == "":
		return 0, "", errors.New("empty source")
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		u, err := url.Parse(src)
		if err != nil {
			return 0, "", err
		}
		if u.Host == "" {
			return 0, "", fmt.Errorf("no host in %q", src)
		}
		return sourceHTTP, src, nil
	case strings.HasPrefix(lower, "file:"):
		u, err := url.Parse(src)
		if err != nil {
			return 0, "", err
		}
		if u.Host != "" && u.Host != "localhost" {
			return 0, "", fmt.Errorf("file URL %q names a remote host", src)
		}
		p := u.Path
		if u.Opaque != "" { // file:rel/path
			if p, err = url.PathUnescape(u.Opaque); err != nil {
				return 0, "", err
			}
		}
		if p == "" {
			return 0, "", fmt.Errorf("no path in %q", src)
		}
		return sourceFile, resolve(filepath.FromSlash(p), baseDir), nil
	case strings.Contains(src, "://"):
		return 0, "", fmt.Errorf("%w in %q", errUnsupportedScheme, src)
	}
	return sourceFile, resolve(src, baseDir), nil
}

func resolve(p, baseDir string) string {
	if filepath.IsAbs(p) || baseDir == "" {
		return filepath.Clean(p)
	}
	return filepath.Join(baseDir, p)
}

// fetchFile hashes a local file in place.
func (f *Fetcher) fetchFile(name, src, path string) (*Download, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	h := sha256.New()
	n, err := copyChecked(h, fh)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &Download{
		Name:         name,
		URL:          src,
		Path:         path,
		LastModified: fi.ModTime().UTC().Format(http.TimeFormat),
		FetchedAt:    time.Now().UTC(),
		SHA256:       hex.EncodeToString(h.Sum(nil)),
		Size:         n,
		f:            f,
		state:        stateFile,
	}, nil
}

// fetchHTTP runs the attempts of one HTTP fetch.
func (f *Fetcher) fetchHTTP(ctx context.Context, name, src string) (*Download, error) {
	if f.CacheDir == "" {
		return nil, errNoCacheDir
	}
	if err := os.MkdirAll(f.CacheDir, cacheDirPerm); err != nil {
		return nil, err
	}
	f.removeStaleTemps(name)
	// The good copy's validators are sent only when it came from this
	// URL: a copy of another URL (the config changed) says nothing about
	// this one.
	good, err := f.LastGood(name)
	switch {
	case err != nil:
		if !errors.Is(err, fs.ErrNotExist) {
			f.logger().Warn("ignoring unusable cached copy", "feed", name, "err", err)
		}
		good = nil
	case good.URL != src:
		f.logger().Info("cached copy is from another URL, fetching unconditionally",
			"feed", name, "url", redact(src), "cached_url", redact(good.URL))
		good = nil
	}
	retries := f.Retries
	if retries == 0 {
		retries = defaultRetries
	}
	retries = max(retries, 0)
	for attempt := 0; ; attempt++ {
		d, wait, err := f.attempt(ctx, name, src, good)
		if err == nil {
			return d, nil
		}
		if wait < 0 || attempt >= retries || ctx.Err() != nil {
			if attempt > 0 {
				err = fmt.Errorf("giving up after %d attempts: %w", attempt+1, err)
			}
			return nil, err
		}
		wait = f.backoff(attempt, wait)
		f.logger().Warn("fetch failed, retrying", "feed", name, "url", redact(src),
			"attempt", attempt+1, "of", retries+1, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (after: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// attempt makes one request. A nil error returns the Download; otherwise
// wait is negative when the error is permanent, and else the delay the
// server asked for (0 when it did not).
func (f *Fetcher) attempt(ctx context.Context, name, src string, good *Download) (d *Download, wait time.Duration, err error) {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, src, nil)
	if err != nil {
		return nil, -1, err
	}
	req.Header.Set("User-Agent", f.userAgent())
	if good != nil {
		if good.ETag != "" {
			req.Header.Set("If-None-Match", good.ETag)
		}
		if good.LastModified != "" {
			req.Header.Set("If-Modified-Since", good.LastModified)
		}
	}
	resp, err := f.client().Do(req)
	if err != nil {
		if permanent(ctx, err) {
			return nil, -1, err
		}
		return nil, 0, err
	}
	defer resp.Body.Close()
	now := time.Now().UTC()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		if good == nil || (good.ETag == "" && good.LastModified == "") {
			return nil, -1, errUnexpected304
		}
		nm := *good
		nm.URL = src
		nm.NotModified = true
		nm.FetchedAt = now
		if v := resp.Header.Get("ETag"); v != "" {
			nm.ETag = v
		}
		if v := resp.Header.Get("Last-Modified"); v != "" {
			nm.LastModified = v
		}
		return &nm, 0, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, retryAfter(resp.Header.Get("Retry-After"), now), statusError(src, resp)
	case resp.StatusCode < 200 || resp.StatusCode > 299 || resp.StatusCode == http.StatusPartialContent:
		return nil, -1, statusError(src, resp)
	}
	limit := f.maxSize()
	if resp.ContentLength > limit {
		return nil, -1, fmt.Errorf("%w: Content-Length %d > %d", errTooLarge, resp.ContentLength, limit)
	}
	tmp, err := f.createTemp(name)
	if err != nil {
		return nil, -1, err
	}
	h := sha256.New()
	n, err := copyChecked(io.MultiWriter(tmp, h), &capReader{r: resp.Body, left: limit})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		if errors.Is(err, errTooLarge) || ctx.Err() != nil {
			return nil, -1, err
		}
		if pe, ok := errors.AsType[*os.PathError](err); ok && pe.Path == tmp.Name() { // a local write error
			return nil, -1, err
		}
		return nil, 0, fmt.Errorf("read body: %w", err)
	}
	return &Download{
		Name:         name,
		URL:          src,
		Path:         tmp.Name(),
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
		FetchedAt:    now,
		SHA256:       hex.EncodeToString(h.Sum(nil)),
		Size:         n,
		f:            f,
		state:        stateCandidate,
	}, 0, nil
}

// permanent reports whether a request error is not worth retrying: the
// caller's context ended, the redirect limit was hit, or the server's
// certificate is not trusted.
func permanent(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, errTooManyRedirects) || errors.Is(err, errInsecureRedirect) {
		return true
	}
	_, bad := errors.AsType[*tls.CertificateVerificationError](err)
	return bad
}

func statusError(src string, resp *http.Response) error {
	// Drain a little so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	return &StatusError{URL: src, StatusCode: resp.StatusCode, Status: resp.Status}
}

// retryAfter parses a Retry-After value (delay-seconds or an HTTP date,
// RFC 9110 §10.2.3); 0 when absent or unparsable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		if s > int64(24*time.Hour/time.Second) {
			s = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff returns the wait before retry attempt+1: exponential from
// RetryWait with jitter in [d/2, d), or the server's Retry-After when that
// is longer, capped at MaxRetryWait.
func (f *Fetcher) backoff(attempt int, asked time.Duration) time.Duration {
	base := f.RetryWait
	if base <= 0 {
		base = defaultRetryWait
	}
	limit := f.MaxRetryWait
	if limit <= 0 {
		limit = defaultMaxRetryWait
	}
	d := base << min(attempt, 20)
	if d <= 0 || d > limit {
		d = limit
	}
	d = d/2 + rand.N(d/2+1) // jitter spreads retries; it needs no cryptographic randomness
	return min(max(d, asked), limit)
}

func (f *Fetcher) maxSize() int64 {
	if f.MaxSize > 0 {
		return f.MaxSize
	}
	return defaultMaxSize
}

func (f *Fetcher) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (f *Fetcher) userAgent() string {
	if f.UserAgent != "" {
		return f.UserAgent
	}
	return defaultUserAgent()
}

var defaultUserAgent = sync.OnceValue(func() string {
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "ipintel/" + v + " (+https://github.com/ipintel/ipintel)"
})

// client returns the configured client, or the default one, with the
// redirect limit in place.
func (f *Fetcher) client() *http.Client {
	if f.Client == nil {
		return defaultClient()
	}
	if f.Client.CheckRedirect != nil {
		return f.Client
	}
	c := *f.Client
	c.CheckRedirect = checkRedirect
	return &c
}

var defaultClient = sync.OnceValue(func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ExpectContinueTimeout = time.Second
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t, CheckRedirect: checkRedirect}
})

// checkRedirect follows up to maxRedirects redirects; via holds the
// requests made so far, the first one and one per redirect followed. A
// feed asked for over https is not handed over to plain http, where
// anyone on the path could rewrite it.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return errTooManyRedirects
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("%w to %s", errInsecureRedirect, req.URL.Redacted())
	}
	return nil
}

// capReader returns errTooLarge once more than left bytes were read.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errTooLarge
	}
	return n, err
}

// copyChecked copies r to w and returns the number of bytes copied. When
// the data start with the gzip magic bytes (RFC 1952 §2.3.1), it must be a
// complete gzip stream: every member whole, its CRC-32 and length right.
// This catches a body cut short at a clean end of file, which the HTTP
// client cannot notice when the server sent no Content-Length.
func copyChecked(w io.Writer, r io.Reader) (int64, error) {
	cw := &countWriter{w: w}
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		_, err := br.WriteTo(cw)
		return cw.n, err
	}
	// Everything gzip reads passes through the tee, so the writer sees
	// the exact bytes; gzip reads on to EOF to look for further members.
	zr, err := gzip.NewReader(io.TeeReader(br, cw))
	if err == nil {
		_, err = io.Copy(io.Discard, zr)
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return cw.n, fmt.Errorf("%w: %w", errTruncatedGzip, err)
		}
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errTooLarge) {
			return cw.n, err
		}
		return cw.n, fmt.Errorf("corrupt gzip stream: %w", err)
	}
	// Anything gzip left unread (there should be nothing) is copied too.
	_, err = br.WriteTo(cw)
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
