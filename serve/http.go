package serve

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/lookup/httpguard"
)

// Header values shared by every response; never modified.
var (
	hdrJSON    = []string{"application/json"}
	hdrNoStore = []string{"no-store"}
)

// bufPool holds response buffers for the lookup endpoints.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// handler is the http.Handler of a [Server].
type handler struct{ s *Server }

// ServeHTTP routes a request. A hand-written switch instead of
// http.ServeMux keeps the hot path free of pattern matching and lets every
// error (404, 405) be JSON.
func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.s.serveHTTP(w, r)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	route := routeOther
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/v1/ip/"):
		route = routeIP
		if s.allow(w, r, "GET, HEAD") {
			s.handleIP(w, p[len("/v1/ip/"):])
		}
	case p == "/v1/ips":
		route = routeIPs
		if r.Method != http.MethodPost {
			methodNotAllowed(w, "POST")
		} else {
			s.handleIPs(w, r)
		}
	case p == "/json" || strings.HasPrefix(p, "/json/"):
		route = routeJSON
		if s.allow(w, r, "GET, HEAD") {
			s.handleFlat(w, r, strings.TrimPrefix(strings.TrimPrefix(p, "/json"), "/"))
		}
	case p == "/v1/reputation":
		route = routeReputation
		if s.allow(w, r, "GET, HEAD") {
			s.handleReputation(w, r)
		}
	case p == "/v1/auth":
		// Any method: nginx's auth_request subrequest keeps the method of
		// the request it guards.
		route = routeAuth
		s.auth.ServeHTTP(w, r)
	case p == "/healthz":
		route = routeHealthz
		if s.allow(w, r, "GET, HEAD") {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}
	case p == "/readyz":
		route = routeReadyz
		if s.allow(w, r, "GET, HEAD") {
			s.handleReady(w)
		}
	case p == "/metrics":
		route = routeMetrics
		if s.allow(w, r, "GET, HEAD") {
			s.m.handler.ServeHTTP(w, r)
		}
	default:
		writeError(w, http.StatusNotFound, "not found")
	}
	s.m.duration[route].Observe(time.Since(start).Seconds())
}

// allow reports whether r's method is GET or HEAD, answering 405 if not.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, allowed string) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	methodNotAllowed(w, allowed)
	return false
}

func methodNotAllowed(w http.ResponseWriter, allowed string) {
	w.Header().Set("Allow", allowed)
	writeError(w, http.StatusMethodNotAllowed, "method not allowed")
}

// writeError writes {"error":msg} with the given status.
func writeError(w http.ResponseWriter, status int, msg string) {
	b := append(appendJSONString([]byte(`{"error":`), msg), "}\n"...)
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalLine(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header()["Content-Type"] = hdrJSON
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// decide looks addr up in the current database and applies the policy,
// counting the action. With no database loaded it answers 503 itself and
// returns a nil DB.
func (s *Server) decide(w http.ResponseWriter, addr netip.Addr) (*lookup.DB, lookup.Record, bool, lookup.Verdict) {
	db := s.h.Load()
	if db == nil {
		writeError(w, http.StatusServiceUnavailable, "no database loaded")
		return nil, lookup.Record{}, false, lookup.Verdict{}
	}
	rec, found := db.Lookup(addr)
	v := s.policy.Decide(rec)
	s.m.countLookup(v.Action)
	return db, rec, found, v
}

// handleIP is the hot path: GET /v1/ip/{addr}. It allocates nothing of its
// own: the address parses into a value, the lookup returns a value, the
// answer is appended to a pooled buffer.
func (s *Server) handleIP(w http.ResponseWriter, raw string) {
	addr, err := ParseAddr(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad address: "+err.Error())
		return
	}
	db, rec, found, v := s.decide(w, addr)
	if db == nil {
		return
	}
	bp := bufPool.Get().(*[]byte)
	b := AppendAnswer((*bp)[:0], addr, rec, found, db.SourceNames(rec.Sources), v)
	b = append(b, '\n')
	w.Header()["Content-Type"] = hdrJSON
	_, _ = w.Write(b)
	*bp = b
	bufPool.Put(bp)
}

// handleIPs is POST /v1/ips: a JSON array of address strings in, an array
// of answers out, in the same order. An address that does not parse gets
// {"ip":…,"error":…} in its place; the others are answered.
func (s *Server) handleIPs(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, "body larger than "+strconv.FormatInt(s.opts.MaxBody, 10)+" bytes")
			return
		}
		writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	var addrs []string
	if err := json.Unmarshal(body, &addrs); err != nil || addrs == nil {
		writeError(w, http.StatusBadRequest, "body must be a JSON array of address strings")
		return
	}
	if len(addrs) > s.opts.MaxBatch {
		writeError(w, http.StatusRequestEntityTooLarge, "more than "+strconv.Itoa(s.opts.MaxBatch)+" addresses")
		return
	}
	// Parse every address first, then look them all up in one batch; an
	// address that does not parse stays the zero Addr, which never matches.
	parsed := make([]netip.Addr, len(addrs))
	errs := make([]error, len(addrs))
	for i, raw := range addrs {
		parsed[i], errs[i] = ParseAddr(raw)
	}
	db := s.h.Load()
	if db == nil {
		writeError(w, http.StatusServiceUnavailable, "no database loaded")
		return
	}
	recs := make([]lookup.Record, len(addrs))
	db.LookupBatch(parsed, recs)
	b := make([]byte, 0, 64+len(addrs)*400)
	b = append(b, '[')
	for i, raw := range addrs {
		if i > 0 {
			b = append(b, ',')
		}
		addr, err := parsed[i], errs[i]
		if err != nil {
			b = append(b, `{"ip":`...)
			b = appendJSONString(b, raw)
			b = append(b, `,"error":`...)
			b = appendJSONString(b, "bad address: "+err.Error())
			b = append(b, '}')
			continue
		}
		rec := recs[i]
		v := s.policy.Decide(rec)
		s.m.countLookup(v.Action)
		b = AppendAnswer(b, addr, rec, rec.Network.IsValid(), db.SourceNames(rec.Sources), v)
	}
	b = append(b, "]\n"...)
	w.Header()["Content-Type"] = hdrJSON
	_, _ = w.Write(b)
}

// flatAnswer is GET /json/{addr}: the flat shape of hosted "is this a VPN"
// APIs, so code written for them can call ipintel unchanged. risk_score is
// the score the policy decided on; risk_score_source says whose it is, as
// in the lookup answer.
type flatAnswer struct {
	IP              string  `json:"ip"`
	Found           bool    `json:"found"`
	Network         *string `json:"network"`
	IsVPN           bool    `json:"is_vpn"`
	IsProxy         bool    `json:"is_proxy"` // public or residential proxy
	IsTor           bool    `json:"is_tor"`
	IsHosting       bool    `json:"is_hosting"`
	IsCrawler       bool    `json:"is_crawler"`
	IsAbuse         bool    `json:"is_abuse"`
	IsRelay         bool    `json:"is_relay"`
	ASN             uint32  `json:"asn"`
	ISP             string  `json:"isp"`
	Provider        string  `json:"provider"` // "" when none
	RiskScore       uint8   `json:"risk_score"`
	RiskScoreSource string  `json:"risk_score_source"`
}

// handleFlat is GET /json/{addr}; with no address it answers for the
// caller's own address, as the hosted APIs do.
func (s *Server) handleFlat(w http.ResponseWriter, r *http.Request, raw string) {
	var addr netip.Addr
	var err error
	if raw == "" {
		addr, err = httpguard.ClientAddr(r, s.trusted...)
	} else {
		addr, err = ParseAddr(raw)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad address: "+err.Error())
		return
	}
	db, rec, found, v := s.decide(w, addr)
	if db == nil {
		return
	}
	c := rec.Categories
	writeJSON(w, http.StatusOK, flatAnswer{
		IP: addr.String(), Found: found, Network: networkPtr(rec, found),
		IsVPN: c&lookup.CategoryVPN != 0, IsProxy: c&(lookup.CategoryPublicProxy|lookup.CategoryResidentialProxy) != 0,
		IsTor: c&lookup.CategoryTorExit != 0, IsHosting: c&lookup.CategoryHosting != 0,
		IsCrawler: c&lookup.CategoryCrawler != 0, IsAbuse: c&lookup.CategoryAbuse != 0,
		IsRelay: c&lookup.CategoryRelay != 0,
		ASN:     rec.ASN, ISP: rec.Org, Provider: rec.Provider,
		RiskScore: v.Score, RiskScoreSource: v.Source.String(),
	})
}

// reputation is GET /v1/reputation?ip=: the nested shape of hosted
// reputation APIs. security.risk_score is the score the action was
// decided on; risk_score_source says whose it is, as in the lookup answer.
type reputation struct {
	IP       string  `json:"ip"`
	Found    bool    `json:"found"`
	Network  *string `json:"network"`
	Security struct {
		VPN             bool   `json:"vpn"`
		Proxy           bool   `json:"proxy"`
		Tor             bool   `json:"tor"`
		Hosting         bool   `json:"hosting"`
		Abuse           bool   `json:"abuse"`
		Crawler         bool   `json:"crawler"`
		Relay           bool   `json:"relay"`
		Provider        string `json:"provider"` // "" when none
		RiskScore       uint8  `json:"risk_score"`
		RiskScoreSource string `json:"risk_score_source"`
		Action          string `json:"action"`
	} `json:"security"`
	ASN struct {
		Number       uint32 `json:"number"`
		Organization string `json:"organization"`
	} `json:"asn"`
}

func (s *Server) handleReputation(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !q.Has("ip") {
		writeError(w, http.StatusBadRequest, "missing ip parameter")
		return
	}
	addr, err := ParseAddr(q.Get("ip"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad address: "+err.Error())
		return
	}
	db, rec, found, v := s.decide(w, addr)
	if db == nil {
		return
	}
	c := rec.Categories
	var out reputation
	out.IP, out.Found, out.Network = addr.String(), found, networkPtr(rec, found)
	out.Security.VPN = c&lookup.CategoryVPN != 0
	out.Security.Proxy = c&(lookup.CategoryPublicProxy|lookup.CategoryResidentialProxy) != 0
	out.Security.Tor = c&lookup.CategoryTorExit != 0
	out.Security.Hosting = c&lookup.CategoryHosting != 0
	out.Security.Abuse = c&lookup.CategoryAbuse != 0
	out.Security.Crawler = c&lookup.CategoryCrawler != 0
	out.Security.Relay = c&lookup.CategoryRelay != 0
	out.Security.Provider = rec.Provider
	out.Security.RiskScore = v.Score
	out.Security.RiskScoreSource = v.Source.String()
	out.Security.Action = v.Action.String()
	out.ASN.Number, out.ASN.Organization = rec.ASN, rec.Org
	writeJSON(w, http.StatusOK, out)
}

func networkPtr(rec lookup.Record, found bool) *string {
	if !found {
		return nil
	}
	s := rec.Network.String()
	return &s
}

// handleReady is /readyz: 200 when a database is loaded and, with
// MaxAge, its build_epoch is recent enough; 503 otherwise.
func (s *Server) handleReady(w http.ResponseWriter) {
	db, networks := s.served()
	if db == nil {
		writeError(w, http.StatusServiceUnavailable, "no database loaded")
		return
	}
	built := db.Metadata().BuildEpoch
	age := time.Since(built)
	out := map[string]any{
		"status":      "ready",
		"build_epoch": built.UTC().Format(time.RFC3339),
		"age_seconds": int64(age.Seconds()),
		"networks":    networks,
		"ranges":      db.Len(),
	}
	if s.opts.MaxAge > 0 && age > s.opts.MaxAge {
		out["status"] = "stale"
		out["error"] = "database older than -max-age " + s.opts.MaxAge.String()
		writeJSON(w, http.StatusServiceUnavailable, out)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
