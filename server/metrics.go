package server

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/eidermail/eider/mail/metrics"
)

// latencyBuckets are the upper bounds (seconds) of the request latency
// histogram.
var latencyBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// httpMetrics counts requests per route template and status and keeps one
// latency histogram per route, rendered in the Prometheus text exposition
// format (version 0.0.4).
type httpMetrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64 // route, status → count
	latency  map[string]*histogram
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	n      uint64
}

func newMetrics() *httpMetrics {
	return &httpMetrics{requests: map[[2]string]uint64{}, latency: map[string]*histogram{}}
}

func (m *httpMetrics) middleware(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath() // the template, so ids do not blow up the label set
	if route == "" {
		route = "unmatched"
	}
	d := time.Since(start).Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{route, fmt.Sprint(c.Writer.Status())}]++
	h := m.latency[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets))}
		m.latency[route] = h
	}
	for i, b := range latencyBuckets {
		if d <= b {
			h.counts[i]++
			break
		}
	}
	h.sum += d
	h.n++
}

func (m *httpMetrics) render() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	b.WriteString("# HELP eider_http_requests_total HTTP requests by route and status.\n# TYPE eider_http_requests_total counter\n")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) })
	for _, k := range keys {
		fmt.Fprintf(&b, "eider_http_requests_total{route=%q,code=%q} %d\n", k[0], k[1], m.requests[k])
	}
	b.WriteString("# HELP eider_http_request_duration_seconds HTTP request latency by route.\n# TYPE eider_http_request_duration_seconds histogram\n")
	routes := make([]string, 0, len(m.latency))
	for r := range m.latency {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, r := range routes {
		h := m.latency[r]
		var cum uint64
		for i, le := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "eider_http_request_duration_seconds_bucket{route=%q,le=\"%g\"} %d\n", r, le, cum)
		}
		fmt.Fprintf(&b, "eider_http_request_duration_seconds_bucket{route=%q,le=\"+Inf\"} %d\n", r, h.n)
		fmt.Fprintf(&b, "eider_http_request_duration_seconds_sum{route=%q} %g\n", r, h.sum)
		fmt.Fprintf(&b, "eider_http_request_duration_seconds_count{route=%q} %d\n", r, h.n)
	}
	// Deliveries, sessions of every front-end in this process, runtime.
	metrics.Default.WriteTo(&b)
	return b.String()
}
