package main

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
	authErrors     prometheus.Counter
	duration       [numRoutes]prometheus.Observer
	handler        http.Handler
}

func newMetrics(s *server) *metrics {
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
		Help: "New databases refused because they failed to load; the old one kept serving.",
	})
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
		if s.h == nil {
			return nil
		}
		return s.h.Load()
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
		Help: "Networks in the serving database.",
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
	m.reg.MustRegister(lookups, m.reloads, m.reloadFailures, m.authErrors, dur, age, networks, size,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: nil})
	return m
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
