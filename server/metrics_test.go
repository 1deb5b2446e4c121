package server_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/eidermail/eider/api"
)

// metricValue returns the value of the series written exactly as series
// (name and label set) in a Prometheus text exposition, or -1.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return -1
}

// /metrics covers more than HTTP: deliveries by result, open sessions
// (here: live update streams) and the Go runtime.
func TestMetricsBeyondHTTP(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, tok := e.user("zoe", "pw", "zoe@example.com")
	a := e.client(tok)
	scrape := func() string {
		m, err := e.client("").GetMetricsWithResponse(ctx)
		if err != nil || m.StatusCode() != 200 {
			t.Fatalf("metrics: %v", err)
		}
		return string(m.Body)
	}
	const delivered = `eider_deliveries_total{result="delivered"}`
	before := max(metricValue(t, scrape(), delivered), 0)
	r, err := a.SubmitMessageWithResponse(ctx, "me", api.Submission{To: &[]api.EmailAddress{{Address: "zoe@example.com"}}, Text: strPtr("x")})
	if err != nil || r.JSON201 == nil || len(r.JSON201.Delivered) != 1 {
		t.Fatalf("submit: %v %s", err, r.Body)
	}
	body := scrape()
	if after := metricValue(t, body, delivered); after < before+1 {
		t.Fatalf("%s went from %v to %v after a delivery", delivered, before, after)
	}
	for _, series := range []string{`eider_sessions{protocol="updates"}`, "go_goroutines", "go_memstats_heap_alloc_bytes"} {
		if metricValue(t, body, series) < 0 {
			t.Errorf("no %s in:\n%s", series, body)
		}
	}
	if !strings.Contains(body, "# TYPE eider_deliveries_total counter") {
		t.Error("eider_deliveries_total has no TYPE line")
	}
}
