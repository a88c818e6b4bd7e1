package serve

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ipintel/ipintel/lookup"
)

// Routes, as the "route" label of the request duration histogram. A fixed
// set keeps the label's cardinality bounded whatever paths clients send.
const (
	routeIP = iota
	routeIPs
	routeJSON
	routeReputation
	routeAuth
	routeHealthz
	routeReadyz
	routeMetrics
	routeOther
	numRoutes
)

var routeNames = [numRoutes]string{"/v1/ip", "/v1/ips", "/json", "/v1/reputation", "/v1/auth", "/healthz", "/readyz", "/metrics", "other"}

// metrics are the Prometheus metrics of one server, in their own registry
// so that several servers (in tests) do not collide.
type metrics struct {
	reg            *prometheus.Registry
	lookups        [3]prometheus.Counter // by action: allow, challenge, block
	reloads        prometheus.Counter
	reloadFailures prometheus.Counter
	refusedVec     *prometheus.CounterVec // by reason, see refusedReasons
	authErrors     prometheus.Counter
	duration       [numRoutes]prometheus.Observer
	handler        http.Handler
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipintel_lookups_total",
		Help: "Addresses looked up, by the action the policy chose.",
	}, []string{"action"})
	for i, a := range []lookup.Action{lookup.ActionAllow, lookup.ActionChallenge, lookup.ActionBlock} {
		m.lookups[i] = lookups.WithLabelValues(a.String())
	}
	m.reloads = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ipintel_reloads_total",
		Help: "Databases successfully loaded and swapped in after start-up.",
	})
	m.reloadFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ipintel_reload_failures_total",
		Help: "New databases refused, for any reason; the old one kept serving.",
	})
	m.refusedVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipintel_db_reload_refused_total",
		Help: "New databases refused, by reason: unreadable (does not load), verify (fails the checks of ipintel verify), empty (no networks); the old one kept serving.",
	}, []string{"reason"})
	for _, r := range refusedReasons {
		m.refusedVec.WithLabelValues(r) // present at 0 from the start
	}
	m.authErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ipintel_auth_client_address_errors_total",
		Help: "Forward-auth requests whose client address could not be determined (allowed, fail open).",
	})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ipintel_request_duration_seconds",
		Help:    "Time to answer HTTP requests, by route.",
		Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1},
	}, []string{"route"})
	for i, n := range routeNames {
		m.duration[i] = dur.WithLabelValues(n)
	}
	db := func() *lookup.DB {
		db, _ := s.served()
		return db
	}
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ipintel_db_age_seconds",
		Help: "Seconds since the serving database's build_epoch.",
	}, func() float64 {
		if d := db(); d != nil {
			return time.Since(d.Metadata().BuildEpoch).Seconds()
		}
		return 0
	})
	networks := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ipintel_db_networks",
		Help: "MMDB networks (prefixes of the search tree with data) in the serving database, as ipintel info counts them.",
	}, func() float64 {
		_, n := s.served()
		return float64(n)
	})
	ranges := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ipintel_db_ranges",
		Help: "Ranges in the serving database's lookup engine: runs of adjacent networks with the same record, and the gaps between them.",
	}, func() float64 {
		if d := db(); d != nil {
			return float64(d.Len())
		}
		return 0
	})
	size := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ipintel_db_bytes",
		Help: "Memory held by the serving database's lookup engine.",
	}, func() float64 {
		if d := db(); d != nil {
			return float64(d.Bytes())
		}
		return 0
	})
	m.reg.MustRegister(lookups, m.reloads, m.reloadFailures, m.refusedVec, m.authErrors, dur, age, networks, ranges, size,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: nil})
	return m
}

// refused returns the counter of databases refused for reason.
func (m *metrics) refused(reason string) prometheus.Counter {
	return m.refusedVec.WithLabelValues(reason)
}

// countLookup counts one lookup by its action.
func (m *metrics) countLookup(a lookup.Action) {
	switch a {
	case lookup.ActionBlock:
		m.lookups[2].Inc()
	case lookup.ActionChallenge:
		m.lookups[1].Inc()
	default:
		m.lookups[0].Inc()
	}
}
